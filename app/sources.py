"""Which model wrote an answer, for expert leads and admins (rule sources.read); nothing for anyone else."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.auth import UserPublic, may
from core.oversight import service as oversight
from core.oversight.sources import AnswerSource


def answer_sources(user: UserPublic, answer_ids: Sequence[int]) -> dict[int, AnswerSource]:
    if not answer_ids or not may(user, "sources.read"):
        return {}
    return oversight.answer_sources(actor=user, answer_ids=answer_ids)


def show_sources(user: UserPublic, answer_ids: Sequence[int]) -> None:
    """A line naming each answer's model version and imported id, for those who may see them."""
    if found := answer_sources(user, answer_ids):
        named = " · ".join(f"#{i}: {s.version}, imported as {s.external_id}" for i, s in found.items())
        st.caption(f"Sources (leads only): {named}")
