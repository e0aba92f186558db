"""What the Data page and `python -m core labelstudio|export labelstudio` call: push a queue to Label Studio, pull its
annotations back as labels, write an import file. One function per action, each checked against the rule table."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine

from core.auth import UserPublic, guarded
from core.labelstudio import sync, tasks
from core.labelstudio.client import missing_settings, not_configured_message
from core.labelstudio.sync import Progress, PullSummary, PushSummary


def configuration_problem() -> str | None:
    """What to set before Label Studio can be used, or None when it is configured (reading settings is no action)."""
    missing = missing_settings()
    return not_configured_message(missing) if missing else None


@guarded("labelstudio.sync")
def push(
    *,
    actor: UserPublic,
    title: str,
    queue: str = "moderation",
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> PushSummary:
    """Send the queue's open items the project does not hold yet as tasks (audited as the actor)."""
    return sync.push(queue=queue, title=title, engine=engine, actor_id=actor.id, progress=progress)


@guarded("labelstudio.sync")
def pull(
    *, actor: UserPublic, title: str, progress: Progress | None = None, engine: Engine | None = None
) -> PullSummary:
    """Bring the project's annotations back as labels, imported as the actor; raises ImportRefused, writing nothing,
    if any annotation is bad."""
    return sync.pull(title=title, engine=engine, actor_id=actor.id, progress=progress)


@guarded("labelstudio.sync")
def write_import_file(*, actor: UserPublic, queue: str, out: TextIO | Path, engine: Engine | None = None) -> int:
    """The queue's open items as a Label Studio import file (to a stream or a file); returns how many tasks."""
    return tasks.write_import_file(engine, queue, out)
