"""Label Studio exports and store set-ups shared by the Label Studio tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from core.ingest import import_file
from core.labelstudio.label_config import result
from core.store.db import session_scope
from core.store.models import ModerationItem, WorkItem


def annotation(completed_by: Any, label: str, categories=(), note: str = "", **over) -> dict[str, Any]:
    return {
        "id": over.pop("id", 1),
        "completed_by": completed_by,
        "result": result(label, list(categories), note),
        "was_cancelled": False,
        "created_at": "2026-11-20T10:00:00Z",
        "updated_at": "2026-11-20T10:00:00Z",
        "lead_time": 12.5,
    } | over


def task(task_id: int, item_id: str, text: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {"id": task_id, "data": {"text": text, "item_id": item_id}, "annotations": list(annotations)}


def write_json(path: Path, content: Any) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def moderation_queue(engine: Engine, tmp_path: Path, scores: list[tuple[str, str, float, str]]) -> dict[str, int]:
    """Import scored items (external id, text, score, predicted label) and put each in the moderation queue (k=2)
    unless the queue holds it already; returns external id -> item id. The scores lie in the default borderline band,
    so once core.review.sync builds the moderation queue it holds these items too."""
    rows = [
        {"item_id": ext, "text": text, "model": "clf-v1", "score": score, "predicted_label": label}
        | ({"categories": ["harassment"]} if label == "toxic" else {})
        for ext, text, score, label in scores
    ]
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(path, "moderation", engine=engine)
    with session_scope(engine, write=True) as session:
        items = dict(session.execute(select(ModerationItem.external_id, ModerationItem.id)).all())
        queued = set(session.execute(select(WorkItem.subject_id).where(WorkItem.queue == "moderation")).scalars())
        session.add_all(
            WorkItem(queue="moderation", subject_id=items[ext], k=2) for ext, *_ in scores if items[ext] not in queued
        )
    return items
