"""Small drawing helpers shared by pages."""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from core.reports.home import Count
from core.store.inventory import ImportLine

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|])")


def escape_markdown(text: str) -> str:
    """Show text as written where Streamlit would read it as Markdown (emphasis, links, HTML, LaTeX)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def metric_tiles(counts: Sequence[Count], *, per_row: int = 4) -> None:
    """One bordered st.metric per count, `per_row` to a row."""
    for start in range(0, len(counts), per_row):
        columns = st.columns(per_row)
        for column, count in zip(columns, counts[start : start + per_row], strict=False):
            value = f"{count.value:,}" if isinstance(count.value, int) else count.value
            column.metric(count.label, value, help=count.help or None, border=True)


def page_header(title: str, intro: str) -> None:
    st.title(title, anchor=False)
    st.caption(intro)


def bullet_message(header: str, lines: Sequence[str]) -> str:
    """A bold header and one bullet per line, each line shown literally."""
    return f"**{header}**\n\n" + "\n".join(f"- {escape_markdown(line)}" for line in lines)


def imports_table(imports: Sequence[ImportLine]) -> None:
    if not imports:
        st.info("Nothing has been imported yet.", icon=":material/info:")
        return
    numbers = {
        "Read": "Rows read from the file",
        "Added": "New records stored (answers, scores or judgments, by kind of file)",
        "Present": "Rows the store held already (a re-import adds nothing)",
        "Refused": "Rows with a problem (the whole file is then refused)",
    }
    st.dataframe(
        [
            {
                "Finished (UTC)": run.finished_at,
                "File": run.file_name,
                "Kind": run.kind,
                "Status": run.status,
                "Read": run.rows_read,
                "Added": run.rows_added,
                "Present": run.rows_present,
                "Refused": run.rows_refused,
            }
            for run in imports
        ],
        hide_index=True,
        column_config={
            "Finished (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            **{
                name: st.column_config.NumberColumn(format="localized", help=help, width="small")
                for name, help in numbers.items()
            },
        },
    )
