"""The keyboard for the judging pages: a components-v2 component (app/hotkeys.js, plain JavaScript, no build step)
that listens for keys on the page and reports how long the tab was hidden while an item was shown."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

KEY = "hotkeys"
_component = st.components.v2.component(
    "workbench_hotkeys", js=(Path(__file__).with_name("hotkeys.js")).read_text(encoding="utf-8")
)


def listen() -> None:
    """Mount the listener (once per page; it draws nothing)."""
    _component(key=KEY, on_hidden_change=lambda: None, height=0)


def hidden_seconds(item: str) -> float:
    """Seconds the tab was hidden while this item was shown (0 when it never was)."""
    state = st.session_state.get(KEY) or {}
    hidden = state.get("hidden") if isinstance(state, dict) else getattr(state, "hidden", None)
    if not isinstance(hidden, dict) or hidden.get("item") != item:
        return 0.0
    seconds = hidden.get("seconds")
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else 0.0
