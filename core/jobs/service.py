"""What the admin's Home page and `python -m core worker` call about background jobs: the kinds' settings with the
latest jobs, and changing a kind's settings. One function per action, each checked against the rule table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from core.auth import UserPublic, guarded
from core.jobs import settings
from core.jobs.records import JobView, recent_jobs
from core.jobs.settings import KindSettings
from core.store.db import session_scope


@dataclass(frozen=True)
class JobsOverview:
    settings: list[KindSettings]  # one per kind: when it starts
    jobs: list[JobView]  # the newest first


@guarded("jobs.read")
def jobs_overview(*, actor: UserPublic, limit: int = 20, engine: Engine | None = None) -> JobsOverview:
    """Each kind's trigger settings and the newest jobs with their status, progress and error."""
    with session_scope(engine) as session:
        return JobsOverview(settings.all_settings(session), recent_jobs(session, limit))


@guarded("jobs.configure")
def configure(
    *,
    actor: UserPublic,
    kind: str,
    threshold: int | None = None,
    every_hours: int | None = None,
    enabled: bool | None = None,
    auto_promote: bool | None = None,
    margin: float | None = None,
    engine: Engine | None = None,
) -> KindSettings:
    """Change when a kind of job starts, and its model's promotion gate (audited); a value out of range is refused
    with the reason."""
    with session_scope(engine, write=True) as session:
        return settings.configure(
            session,
            kind=kind,
            threshold=threshold,
            every_hours=every_hours,
            enabled=enabled,
            auto_promote=auto_promote,
            margin=margin,
            actor_id=actor.id,
        )
