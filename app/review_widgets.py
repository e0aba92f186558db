"""Widgets the oversight pages share: texts shown safely, and a notice left for the next run."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.oversight.history import TURN_HEADINGS


def show_text(text: str, height: int | str = "content", key: str | None = None) -> None:
    """Markdown with HTML escaped (Streamlit's default): a <script> in an answer is shown as text, never run.
    A fixed height scrolls, so long answers stay readable side by side (the judging pages cap heights by `key`)."""
    with st.container(border=True, height=height, key=key):
        st.markdown(text)


RECENT_TURNS = 3  # turns before the question shown open; older ones fold into an expander


def show_conversation(prompt: str, turns: Sequence[dict[str, str]], key: str) -> None:
    """The question, after the conversation that led to it as chat messages (texts as `show_text` shows them); a
    one-turn conversation is the question alone."""
    if not turns:
        show_text(prompt, key=key)
        return
    older, recent = turns[:-RECENT_TURNS], turns[-RECENT_TURNS:]
    with st.container(border=True, key=f"{key}-conversation"):
        if older:
            with st.expander(f"{len(older)} earlier turn{'s' if len(older) > 1 else ''} of the conversation"):
                for turn in older:
                    st.chat_message(turn["role"]).markdown(turn["text"])
        for turn in recent:
            st.chat_message(turn["role"]).markdown(turn["text"])
        st.chat_message("user").markdown(prompt)


def show_texts(texts: Sequence[tuple[str, str]], *, long: int, height: int) -> None:
    """An item's texts under their headings (core.oversight.history): a conversation's earlier turns as chat
    messages, the others in boxes; a text over `long` characters scrolls in a box `height` pixels high."""
    roles = {heading: role for role, heading in TURN_HEADINGS.items()}
    for heading, text in texts:
        if heading in roles:
            st.chat_message(roles[heading]).markdown(text)
            continue
        st.caption(heading)
        show_text(text, height=height if len(text) > long else "content")


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
