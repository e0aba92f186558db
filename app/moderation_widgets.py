"""The table of an item's labels, for the adjudicating expert."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.review_forms import CATEGORY_NAMES, LABELS
from core.review.views import ShownLabel

SOURCES = {"app": "app", "import": "imported"}  # others name the dataset: "imported (jigsaw)"


def labels_table(labels: Sequence[ShownLabel]) -> None:
    """Every label of the item, with who gave it; notes shown as text."""
    st.dataframe(
        [
            {
                "Annotator": shown.annotator,
                "Label": LABELS.get(shown.label, shown.label),
                "Categories": ", ".join(CATEGORY_NAMES.get(c, c) for c in shown.categories),
                "Note": shown.note,
                "Source": SOURCES.get(shown.source, f"imported ({shown.source})"),
                "When (UTC)": shown.at,
            }
            for shown in labels
        ],
        hide_index=True,
        column_config={"When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )
