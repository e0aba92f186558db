"""The worker: `python -m core worker`. Every few seconds it finds the jobs whose worker was killed (their heartbeat
stopped), queues the kinds that are due, claims one queued job and runs it, beating its heartbeat (with the job's
progress) from a thread while the job works. Stopping it (SIGTERM, Ctrl-C) puts the running job back in the queue, so
nothing is lost; a killed worker's job is found by the next worker, marked failed and retried once."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from core.jobs import JobError, alerts, records
from core.jobs.kinds import KINDS, JobKind, Pending
from core.jobs.settings import KindSettings, all_settings
from core.jobs.webhook import Webhook, configured_webhook, deliver_due
from core.moderation import ModerationError
from core.reward import RewardError
from core.store.db import StoreError, get_engine, require_current_schema, session_scope
from core.store.models import Job, utcnow

log = logging.getLogger("core.jobs.worker")

POLL_SECONDS = 5.0
TIMEOUT_SECONDS = 120.0  # a running job without a heartbeat for this long was killed
CHECK_SECONDS = 60.0  # how often the triggers count what is new (the counts aggregate whole tables)
ALERT_CHECK_SECONDS = 300.0  # how often the alerts' conditions are checked (SLA share, drift, sample ratio)
FAILED_PAUSE_HOURS = 1  # a kind whose last job failed is not started again by its trigger before this
LIMITS = {"poll": (0.1, 3600.0), "timeout": (1.0, 86400.0), "check": (0.0, 86400.0), "alert_check": (0.0, 86400.0)}
REFUSALS = (ModerationError, RewardError, StoreError, JobError)  # errors that say what to do: shown without a trace


@dataclass(frozen=True)
class WorkerOptions:
    poll: float = POLL_SECONDS
    timeout: float = TIMEOUT_SECONDS
    check: float = CHECK_SECONDS
    alert_check: float = ALERT_CHECK_SECONDS

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                option = name.replace("_", "-")
                raise JobError(f"--{option} {value:g} is out of range: give {low:g} to {high:g} seconds")

    @property
    def heartbeat(self) -> float:
        """Seconds between heartbeats: several within the timeout."""
        return min(5.0, self.timeout / 4)


def due_reason(
    kind: JobKind, settings: KindSettings, pending: Pending, *, last_failed_at: datetime | None = None
) -> str | None:
    """Why the kind should run now (None: it should not): its threshold is reached, or its hours have passed and
    anything new waits. A kind whose last job failed waits FAILED_PAUSE_HOURS before its trigger starts it again."""
    now = utcnow()
    if pending.count <= 0:
        return None
    if last_failed_at is not None and (now - last_failed_at).total_seconds() < FAILED_PAUSE_HOURS * 3600:
        return None
    if pending.count >= settings.threshold:
        return f"{pending.count:,} {kind.counts} (at least {settings.threshold:,})"
    hours = settings.every_hours
    if hours and pending.since is not None and (now - pending.since).total_seconds() >= hours * 3600:
        return f"{pending.count:,} {kind.counts}, {hours} h after the last version"
    return None


def queue_due_jobs(engine: Engine) -> list[int]:
    """Queue every kind that is due and has no job waiting or running; the new jobs' ids."""
    with session_scope(engine) as session:
        settings = {s.kind: s for s in all_settings(session)}
        idle = {name: records.last_job(session, name) for name in KINDS if records.active_job(session, name) is None}
    queued = []
    for name, last in idle.items():
        if not settings[name].enabled:  # a kind that is off is not even counted
            continue
        kind = KINDS[name]
        failed_at = last.finished_at if last is not None and last.status == "failed" else None
        try:
            pending = kind.pending(engine)
        except Exception:  # one kind's count failing stops neither the others nor the worker
            log.exception("could not count what is new for %s", name)
            continue
        reason = due_reason(kind, settings[name], pending, last_failed_at=failed_at)
        if reason is not None and (job_id := records.enqueue(engine, name, reason=reason)) is not None:
            queued.append(job_id)
    return queued


@dataclass
class Heartbeat:
    """The running job's progress, kept here by the job and written with each heartbeat by a thread of its own."""

    engine: Engine
    job_id: int
    worker: str
    every: float
    state: dict[str, Any] = field(default_factory=lambda: {"stage": "starting", "fraction": 0.0})
    _stop: threading.Event = field(default_factory=threading.Event)

    def progress(self, stage: str, fraction: float, **details: Any) -> None:
        self.state = {"stage": stage, "fraction": round(float(fraction), 4)} | details

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not records.heartbeat(self.engine, self.job_id, self.worker, self.state):
                    log.warning("job %s is no longer this worker's: it was declared lost", self.job_id)
            except StoreError as error:  # a busy store: the next beat tries again
                log.warning("heartbeat of job %s not written: %s", self.job_id, error)

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.job_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Alerter:
    """The worker's alerts, in a thread of their own so that neither a long job nor a receiver that hangs holds up
    the other: every `alert_check` seconds the conditions are checked, and every `poll` the alerts due are sent to
    the webhook (when one is set)."""

    def __init__(self, engine: Engine, webhook: Webhook | None, options: WorkerOptions) -> None:
        self.engine, self.webhook, self.options = engine, webhook, options
        self.checked_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        """Check the conditions when it is time, then send what is due."""
        if self.checked_at is None or time.monotonic() - self.checked_at >= self.options.alert_check:
            self.checked_at = time.monotonic()
            alerts.check_conditions(self.engine)
        if self.webhook is not None:
            for attempt in deliver_due(self.engine, self.webhook):
                outcome = attempt.error or f"HTTP {attempt.status_code}"
                log.info("alert %s, attempt %s: %s", attempt.alert_id, attempt.attempt, outcome)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except StoreError as error:
                log.warning("alerts: the store is unavailable, trying again in %g s: %s", self.options.poll, error)
            except Exception:  # an alert that cannot be checked or sent never stops the worker
                log.exception("alerts: a pass failed")
            self._stop.wait(self.options.poll)

    def start(self) -> Alerter:
        self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the pass under way (an attempt under way ends within the webhook's timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Worker:
    def __init__(self, engine: Engine | None = None, options: WorkerOptions | None = None) -> None:
        self.engine = engine or get_engine()
        self.options = options or WorkerOptions()
        # host:pid, and a number that tells apart two workers of one process (the tests run two)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10_000}"
        self.checked_at = 0.0

    def run_once(self) -> records.JobView | None:
        """One pass: recover the killed jobs, queue the due kinds (at most every `check` seconds), run one job. The
        job it ran, as it ended (None: nothing was queued)."""
        for retry in records.recover_lost(self.engine, self.options.timeout):
            log.warning("a lost job was marked failed; its retry is job %s", retry)
        if time.monotonic() - self.checked_at >= self.options.check:
            self.checked_at = time.monotonic()
            for job_id in queue_due_jobs(self.engine):
                log.info("queued job %s", job_id)
        job = records.claim(self.engine, self.name)
        if job is None:
            return None
        self.run_job(job)
        with session_scope(self.engine) as session:
            return records.JobView.of(session.get(Job, job.id))

    def run_job(self, job: records.JobView) -> None:
        log.info("job %s (%s) started: %s", job.id, job.kind, job.reason)
        beat = Heartbeat(self.engine, job.id, self.name, self.options.heartbeat)
        try:
            with beat:
                result = KINDS[job.kind].run(self.engine, beat.progress)
        except KeyboardInterrupt:  # the worker is stopping: the job goes back to the queue, as it was
            records.requeue(self.engine, job.id, self.name)
            log.info("job %s put back in the queue: the worker is stopping", job.id)
            raise
        except Exception as error:
            known = isinstance(error, REFUSALS)
            message = str(error) if known else f"{type(error).__name__}: {error}"
            if not known:
                log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            records.fail(self.engine, job.id, self.name, error=message, progress=beat.state)
            log.warning("job %s (%s) failed: %s", job.id, job.kind, message)
            return
        records.finish(self.engine, job.id, self.name, result=result, progress=beat.state | {"fraction": 1.0})
        log.info("job %s (%s) done: %s", job.id, job.kind, result)

    def run_forever(self, *, should_stop: Callable[[], bool] = lambda: False, alerter: Alerter | None = None) -> None:
        """Poll until stopped; a pass that ran a job polls again at once. A store that is down or restarting is
        waited for: the worker says so and tries again at the next poll. The alerter, if given, runs beside."""
        try:
            if alerter is not None:
                alerter.start()
            self._poll(should_stop)
        finally:
            if alerter is not None:
                alerter.stop()

    def _poll(self, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            try:
                ran = self.run_once()
            except StoreError as error:
                log.warning("the store is unavailable, trying again in %g s: %s", self.options.poll, error)
                ran = None
            if ran is None:
                time.sleep(self.options.poll)


def serve(engine: Engine | None = None, options: WorkerOptions | None = None, *, once: bool = False) -> None:
    """The worker process: refused on a store of another schema, or with a webhook that is not http(s) or has no
    secret; SIGTERM stops it as Ctrl-C does."""
    engine = engine or get_engine()
    require_current_schema(engine)
    webhook = configured_webhook()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    worker = Worker(engine, options)
    alerter = Alerter(engine, webhook, worker.options)
    log.info("worker %s started on %s", worker.name, engine.url.render_as_string(hide_password=True))
    log.info("alerts go to %s", webhook.origin if webhook else "the admins' Home page only (no ALERT_WEBHOOK_URL)")
    try:
        if once:
            worker.run_once()
            alerter.run_once()
        else:
            worker.run_forever(alerter=alerter)
    except KeyboardInterrupt:
        log.info("worker %s stopped", worker.name)


def _interrupt(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop is enough: the job is being put back
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt
