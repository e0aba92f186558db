"""Widgets of the moderation pages: an item's text shown exactly as written, the label and adjudication forms, and
the table of an item's labels for the adjudicating expert."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.moderation.labels import AdjudicationIn, LabelIn
from core.review.views import ShownLabel
from core.store.models import CATEGORIES

LABELS = {"toxic": "Toxic", "not_toxic": "Not toxic"}
SOURCES = {"app": "app", "import": "imported"}  # others name the dataset: "imported (jigsaw)"
CATEGORY_NAMES = {
    "harassment": "Harassment",
    "hate": "Hate",
    "sexual": "Sexual",
    "violence": "Violence",
    "self_harm": "Self-harm",
    "spam": "Spam",
    "personal_data": "Personal data",
}


def show_item(text: str) -> None:
    """The comment exactly as written: no Markdown, no HTML (a <script> or a [link](...) stays plain text)."""
    with st.container(border=True):
        st.text(text, width="stretch")


def _label_fields(key: str, initial_label: str | None, initial_categories: Sequence[str], label_question: str):
    label = st.radio(
        label_question,
        options=list(LABELS),
        format_func=LABELS.get,
        index=None if initial_label is None else list(LABELS).index(initial_label),
        horizontal=True,
        key=f"{key}-label",
    )
    categories = st.multiselect(
        "Categories (for a toxic item: every one that applies)",
        options=list(CATEGORIES),
        default=list(initial_categories),
        format_func=CATEGORY_NAMES.get,
        key=f"{key}-categories",
    )
    return label, tuple(categories)


def _buttons(submit_label: str, skip: bool) -> tuple[bool, bool]:
    left, right = st.columns([1, 5])
    submitted = left.form_submit_button(submit_label, type="primary")
    skipped = skip and right.form_submit_button("Skip")
    return submitted, skipped


def label_form(
    *, key: str, initial: LabelIn | None = None, skip: bool = False, submit_label: str = "Submit"
) -> LabelIn | str | None:
    """A LabelIn when submitted (checked by the write path), "skip" when skipped, None otherwise."""
    with st.form(key):
        label, categories = _label_fields(
            key, initial.label if initial else None, initial.categories if initial else (), "Is this comment toxic?"
        )
        note = st.text_area(
            "Note (optional: why, when the case is close)", value=initial.note if initial else "", key=f"{key}-note"
        )
        submitted, skipped = _buttons(submit_label, skip)
    if skipped:
        return "skip"
    return LabelIn(label, categories, note) if submitted else None


def adjudication_form(*, key: str) -> AdjudicationIn | str | None:
    with st.form(key):
        label, categories = _label_fields(key, None, (), "Final label")
        reason = st.text_area("Reason (required: it is kept with the decision)", key=f"{key}-reason")
        submitted, skipped = _buttons("Decide", skip=True)
    if skipped:
        return "skip"
    return AdjudicationIn(label, categories, reason) if submitted else None


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
