"""The widgets that show a report: its verdict, its tables with their CSV downloads, its HTML download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.widgets import escape_markdown
from core.reports.ab import export
from core.reports.ab.tables import LABELS


def verdict_box(lines: list[str]) -> None:
    with st.container(border=True):
        st.markdown("**Verdict**\n\n" + "\n".join(f"- {escape_markdown(line)}" for line in lines))


def table(name: str, frame: pd.DataFrame, *, key: str) -> None:
    """The table as the person reads it (column names, rounded numbers) and its CSV download (raw numbers)."""
    shown = frame.rename(columns=lambda c: LABELS.get(c, c.replace("_", " ")))
    formats = {
        column: st.column_config.NumberColumn(format="%.3g")
        for column in shown.columns
        if pd.api.types.is_float_dtype(shown[column])
    }
    st.dataframe(shown, hide_index=True, column_config=formats)
    st.download_button(
        f"{name}.csv",
        data=lambda: export.csv_bytes(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"{key}-{name}-csv",
    )


def html_download(report, *, file_name: str, key: str) -> None:
    st.download_button(
        "Download the report (HTML)",
        data=lambda: export.to_html(report),
        file_name=file_name,
        mime="text/html",
        icon=":material/description:",
        type="primary",
        key=key,
    )
