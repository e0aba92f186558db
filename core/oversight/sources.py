"""Which model version wrote an answer, and the id it was imported with (which often names the version): shown to
expert leads and admins only (rule sources.read). Everywhere else on the oversight pages an answer is named by its
store id (#12), so that experts who judge blind can triage and audit without learning each model's style."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from core.store.models import ModelVersion, Response


@dataclass(frozen=True)
class AnswerSource:
    answer_id: int
    external_id: str
    version: str


def answer_name(answer_id: int) -> str:
    """An answer as the oversight pages name it to everyone: by its store id, which says nothing of its model."""
    return f"#{answer_id}"


def answer_sources(session: Session, answer_ids: Iterable[int]) -> dict[int, AnswerSource]:
    ids = sorted(set(answer_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Response.id, Response.external_id, ModelVersion.name)
        .join(ModelVersion, ModelVersion.id == Response.model_version_id)
        .where(Response.id.in_(ids))
    )
    return {i: AnswerSource(i, external, version) for i, external, version in rows}
