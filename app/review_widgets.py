"""Widgets the oversight pages share: texts shown safely, and a notice left for the next run."""

from __future__ import annotations

import streamlit as st


def show_text(text: str, height: int | str = "content", key: str | None = None) -> None:
    """Markdown with HTML escaped (Streamlit's default): a <script> in an answer is shown as text, never run.
    A fixed height scrolls, so long answers stay readable side by side (the judging pages cap heights by `key`)."""
    with st.container(border=True, height=height, key=key):
        st.markdown(text)


def show_plain(text: str, key: str | None = None) -> None:
    """A text exactly as written: no Markdown, no HTML (a moderation comment's <script> or [link](...) stays text)."""
    with st.container(border=True, key=key):
        st.text(text, width="stretch")


def show_notice(key: str) -> None:
    """A message left by the previous run (saved, skipped, item lost), shown once at the top."""
    if notice := st.session_state.pop(key, None):
        level, text = notice
        (st.warning if level == "warning" else st.success)(text)


def leave_notice(key: str, text: str, level: str = "success") -> None:
    st.session_state[key] = (level, text)
    st.rerun()
