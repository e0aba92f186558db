"""The job table's life cycle, each step one transaction with its audit event (the system acts: no person does):

queue (by a trigger; at most one job of a kind waits or runs) -> claim (the oldest queued job; FOR UPDATE SKIP LOCKED
on PostgreSQL, BEGIN IMMEDIATE on SQLite, so two workers never take the same one) -> heartbeats with progress ->
done with a result, or failed with its error. A running job whose heartbeat is older than the timeout was killed: it
is marked failed and, on its first attempt, queued again once. A job whose worker is stopped goes back to the queue,
as it was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core import audit
from core.jobs import alerts
from core.store.db import session_scope
from core.store.models import Job, utcnow

RETRIES = 1  # a killed job is queued again this many times


@dataclass(frozen=True)
class JobView:
    """A job as pages and the CLI show it (a plain object, not a live row)."""

    id: int
    kind: str
    status: str
    reason: str
    attempt: int
    retry_of: int | None
    worker: str | None
    progress: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @property
    def fraction(self) -> float:
        return min(max(float(self.progress.get("fraction") or 0.0), 0.0), 1.0)

    @property
    def stage(self) -> str:
        return str(self.progress.get("stage") or "")

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            job.id,
            job.kind,
            job.status,
            job.reason,
            job.attempt,
            job.retry_of,
            job.worker,
            dict(job.progress),
            dict(job.result),
            job.error,
            job.created_at,
            job.started_at,
            job.heartbeat_at,
            job.finished_at,
        )


def _event(session: Session, job: Job, action: str, **after: Any) -> None:
    audit.record(
        session,
        actor_id=None,
        action=f"job.{action}",
        entity="job",
        entity_id=job.id,
        after={"kind": job.kind, "attempt": job.attempt} | after,
    )


def _failed(session: Session, job: Job, error: str, *, retried: bool) -> None:
    """The job failed: its audit event and its alert, in the transaction that marks it."""
    _event(session, job, "fail", error=error)
    alerts.job_failed(session, job_id=job.id, kind=job.kind, attempt=job.attempt, error=error, retried=retried)


def active_job(session: Session, kind: str) -> Job | None:
    """The kind's queued or running job, if any."""
    statement = select(Job).where(Job.kind == kind, Job.status.in_(("queued", "running")))
    return session.execute(statement).scalars().first()


def last_job(session: Session, kind: str) -> Job | None:
    return session.execute(select(Job).where(Job.kind == kind).order_by(Job.id.desc()).limit(1)).scalars().first()


def enqueue(engine: Engine, kind: str, *, reason: str) -> int | None:
    """Queue a job of this kind; None when one of the kind waits or runs already (then nothing is written)."""
    with session_scope(engine, write=True) as session:
        return _insert(session, kind, reason=reason)


def _insert(session: Session, kind: str, *, reason: str, attempt: int = 1, retry_of: int | None = None) -> int | None:
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    values = {"kind": kind, "status": "queued", "reason": reason, "attempt": attempt, "retry_of": retry_of}
    values |= {"progress": {}, "result": {}, "created_at": utcnow()}
    job_id = session.execute(insert(Job).values(values).on_conflict_do_nothing().returning(Job.id)).scalar()
    if job_id is not None:
        _event(session, session.get(Job, job_id), "queue", reason=reason)
    return job_id


def claim(engine: Engine, worker: str) -> JobView | None:
    """Take the oldest queued job for this worker: running, started and beating now."""
    with session_scope(engine, write=True) as session:
        statement = (
            select(Job).where(Job.status == "queued").order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        )
        job = session.execute(statement).scalars().first()
        if job is None:
            return None
        now = utcnow()
        job.status, job.worker, job.started_at, job.heartbeat_at = "running", worker, now, now
        job.progress = {"stage": "starting", "fraction": 0.0}
        session.add(job)
        session.flush()
        _event(session, job, "start", worker=worker)
        return JobView.of(job)


def _running(job_id: int, worker: str):
    return update(Job).where(Job.id == job_id, Job.status == "running", Job.worker == worker)


def heartbeat(engine: Engine, job_id: int, worker: str, progress: dict[str, Any]) -> bool:
    """Say the job is alive, with its progress; False if it is no longer this worker's running job."""
    with session_scope(engine, write=True) as session:
        done = session.execute(_running(job_id, worker).values(heartbeat_at=utcnow(), progress=progress))
        return done.rowcount == 1


def finish(engine: Engine, job_id: int, worker: str, *, result: dict[str, Any], progress: dict[str, Any]) -> bool:
    """Mark the job done; False (nothing written) if it was declared lost meanwhile."""
    return _end(engine, job_id, worker, "done", progress, result=result)


def fail(engine: Engine, job_id: int, worker: str, *, error: str, progress: dict[str, Any]) -> bool:
    """Mark the job failed with its error (not retried: a job that raised would raise again)."""
    return _end(engine, job_id, worker, "failed", progress, error=error)


def _end(engine: Engine, job_id: int, worker: str, status: str, progress: dict[str, Any], **outcome: Any) -> bool:
    """The running job ended (its outcome: result or error), with its audit event; False if it was lost meanwhile."""
    now = utcnow()
    with session_scope(engine, write=True) as session:
        values = {"status": status, "progress": progress, "finished_at": now, "heartbeat_at": now, **outcome}
        if session.execute(_running(job_id, worker).values(**values)).rowcount != 1:
            return False
        job = session.get(Job, job_id)
        if status == "done":
            _event(session, job, "done", **outcome)
        else:
            _failed(session, job, outcome["error"], retried=False)
        return True


def requeue(engine: Engine, job_id: int, worker: str) -> bool:
    """Put a job whose worker is stopping back in the queue, as it was before it started."""
    with session_scope(engine, write=True) as session:
        values = {"status": "queued", "worker": None, "started_at": None, "heartbeat_at": None, "progress": {}}
        if session.execute(_running(job_id, worker).values(**values)).rowcount != 1:
            return False
        _event(session, session.get(Job, job_id), "requeue", worker=worker)
        return True


def recover_lost(engine: Engine, timeout_seconds: float) -> list[int]:
    """Running jobs whose heartbeat is older than the timeout (their worker was killed): each marked failed, and
    queued again when it was its first attempt. The ids of the retries queued."""
    now = utcnow()
    cutoff = now - timedelta(seconds=timeout_seconds)
    retries = []
    with session_scope(engine, write=True) as session:
        statement = (
            select(Job)
            .where(Job.status == "running", Job.heartbeat_at < cutoff)
            .order_by(Job.id)
            .with_for_update(skip_locked=True)
        )
        for job in session.execute(statement).scalars().all():
            job.status, job.finished_at = "failed", now
            job.error = (
                f"lost: its worker {job.worker} stopped sending heartbeats at {job.heartbeat_at:%Y-%m-%d %H:%M:%S} "
                f"UTC (killed, or its machine stopped)"
            )
            session.add(job)
            session.flush()
            _failed(session, job, job.error, retried=job.attempt <= RETRIES)
            if job.attempt <= RETRIES:
                reason = f"retry of job {job.id}, which was lost"
                retry = _insert(session, job.kind, reason=reason, attempt=job.attempt + 1, retry_of=job.id)
                retries += [retry] if retry is not None else []
    return retries


def recent_jobs(session: Session, limit: int = 20) -> list[JobView]:
    """The newest jobs, newest first."""
    statement = select(Job).order_by(Job.id.desc()).limit(limit)
    return [JobView.of(job) for job in session.execute(statement).scalars()]
