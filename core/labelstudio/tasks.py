"""The tasks of a queue for Label Studio, used by a push and by the import file. Moderation: each open item's text
and our item id as data (never a model name), and the classifier's newest score of it as a pre-annotation (a
prediction). Rating: each open answer with its conversation (core/labelstudio/ratings.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, and_, func, select
from sqlmodel import Session

from core.labelstudio import label_config
from core.labelstudio.client import LabelStudioError
from core.labelstudio.ratings import task_of
from core.store.db import session_scope
from core.store.models import ModelVersion, ModerationItem, ModerationScore, Prompt, Response, WorkItem

QUEUES = ("moderation", "rating")  # the queues whose items Label Studio can label (a label config in data/labelstudio/)


@dataclass(frozen=True)
class QueueItem:
    item_id: int
    external_id: str
    text: str
    score: float | None  # the newest classifier score (probability of toxic), if any
    predicted_label: str | None
    categories: list[str]
    version: str | None

    def task(self) -> dict[str, Any]:
        """A task in Label Studio's import format."""
        task: dict[str, Any] = {"data": {label_config.TEXT: self.text, "item_id": self.external_id}}
        if self.score is not None:
            task["predictions"] = [
                {
                    "model_version": self.version,
                    "score": self.score,
                    "result": label_config.result(self.predicted_label, self.categories),
                }
            ]
        return task


@dataclass(frozen=True)
class AnswerItem:
    """An answer of the rating queue: its task shows the conversation and the answer, the model only in `meta`."""

    item_id: int  # the response's id
    external_id: str
    row: dict[str, Any]  # the `ratings` row fields the task needs

    def task(self) -> dict[str, Any]:
        return task_of(self.row)


def check_queue(queue: str) -> None:
    if queue not in QUEUES:
        raise LabelStudioError(f"the {queue!r} queue cannot go to Label Studio; queues: {', '.join(QUEUES)}")


def open_items(session: Session, queue: str) -> list[QueueItem] | list[AnswerItem]:
    """The queue's open items (not gold items: their answer is known), in the queue's order, with each moderation
    item's newest classifier score."""
    check_queue(queue)
    if queue == "rating":
        return _open_answers(session)
    in_queue = select(WorkItem.subject_id).where(WorkItem.queue == queue, WorkItem.open, ~WorkItem.is_gold)
    rank = func.row_number().over(
        partition_by=ModerationScore.item_id, order_by=(ModerationScore.created_at.desc(), ModerationScore.id.desc())
    )
    newest = (
        select(ModerationScore, rank.label("rank")).where(ModerationScore.item_id.in_(in_queue.scalar_subquery()))
    ).subquery()
    rows = session.execute(
        select(
            ModerationItem.id,
            ModerationItem.external_id,
            ModerationItem.text,
            newest.c.score,
            newest.c.predicted_label,
            newest.c.categories,
            ModelVersion.name,
        )
        .join(WorkItem, and_(WorkItem.subject_id == ModerationItem.id, WorkItem.queue == queue))
        .outerjoin(newest, and_(newest.c.item_id == ModerationItem.id, newest.c.rank == 1))
        .outerjoin(ModelVersion, ModelVersion.id == newest.c.model_version_id)
        .where(WorkItem.open, ~WorkItem.is_gold)
        .order_by(WorkItem.priority.desc(), WorkItem.id)
    )
    return [QueueItem(*row[:5], row[5] or [], row[6]) for row in rows]


def _open_answers(session: Session) -> list[AnswerItem]:
    rows = session.execute(
        select(
            Response.id,
            Response.external_id,
            Response.text,
            Prompt.external_id,
            Prompt.text,
            Prompt.turns,
            ModelVersion.name,
        )
        .join(WorkItem, and_(WorkItem.subject_id == Response.id, WorkItem.queue == "rating"))
        .join(Prompt, Prompt.id == Response.prompt_id)
        .join(ModelVersion, ModelVersion.id == Response.model_version_id)
        .where(WorkItem.open, ~WorkItem.is_gold)
        .order_by(WorkItem.priority.desc(), WorkItem.id)
    )
    return [
        AnswerItem(
            answer_id,
            external,
            {"response_id": external, "response": text, "prompt_id": prompt_id, "prompt": prompt}
            | {"turns": turns, "model": model},
        )
        for answer_id, external, text, prompt_id, prompt, turns, model in rows
    ]


def write_import_file(engine: Engine | None, queue: str, out: TextIO | Path) -> int:
    """Write the queue's open items as a Label Studio import file (a JSON list of tasks); returns the task count."""
    with session_scope(engine) as session:
        tasks = [item.task() for item in open_items(session, queue)]
    text = json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
    if isinstance(out, Path):
        out.write_text(text, encoding="utf-8")
    else:
        out.write(text)
    return len(tasks)
