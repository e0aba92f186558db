"""Alerts: the events an admin is told about, each raised once per occurrence and sent to the webhook
(core.jobs.webhook) by the worker, or shown on the admins' Home page when no webhook is set.

Two sorts of event:
- conditions, which the worker checks every few minutes (`check_conditions`): the within-SLA share below its
  threshold (the KPI report's turnaround), moderation drift (a version's weekly PSI above its threshold, from the KPI
  quality report) and an experiment's sample-ratio alarm (its report's SRM check). An alert is raised when a condition
  begins and stays open while it stands, so the next checks raise nothing; it is cleared when the condition ends, and
  a new alert is raised if it comes back.
- things that happen, raised where they happen, in the same transaction: a job failed (core.jobs.records) and the
  promotion gate promoted or held back a version (`gate_decision`).

An open key is unique in the store (a partial unique index), so an occurrence is one alert however many workers
check."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core import audit
from core.config import get_settings
from core.jobs import AlertError
from core.store.db import session_scope
from core.store.models import Alert, AlertDelivery, AlertSetting, Experiment, utcnow

log = logging.getLogger("core.jobs.alerts")

SUMMARY_CHARS = 300  # a job's error is cut to this in an alert's summary (the whole error is in the job's row)


# --- thresholds ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    name: str
    about: str  # what it sets, as the pages and the CLI say it
    default: float
    limits: tuple[float, float]  # the values allowed, both included


THRESHOLDS: dict[str, Threshold] = {
    t.name: t
    for t in (
        Threshold("sla_share", "alert when the within-SLA share falls below", 0.9, (0.01, 1.0)),
        Threshold("sla_hours", "the SLA: hours from an item's arrival to its final judgment", 48.0, (1.0, 8760.0)),
        Threshold("psi", "alert when a moderation version's weekly drift (PSI) exceeds", 0.25, (0.01, 10.0)),
        Threshold("window_days", "days over which the within-SLA share is measured", 7.0, (1.0, 365.0)),
    )
}


def thresholds(session: Session) -> dict[str, float]:
    """Every threshold: where an admin set it, else its default."""
    stored = dict(session.execute(select(AlertSetting.name, AlertSetting.value)).all())
    return {name: float(stored.get(name, t.default)) for name, t in THRESHOLDS.items()}


def configure(session: Session, *, values: dict[str, float | None], actor_id: int | None) -> dict[str, float]:
    """Set thresholds (a None stays as it is); one out of range refuses all, with the reason. Audited."""
    given = {name: value for name, value in values.items() if value is not None}
    for name, value in given.items():
        if name not in THRESHOLDS:
            raise AlertError(f"no alert threshold {name!r}: the thresholds are {', '.join(THRESHOLDS)}")
        low, high = THRESHOLDS[name].limits
        if not low <= value <= high:
            raise AlertError(f"{name} {value:g} is out of range: give {low:g} to {high:g} ({THRESHOLDS[name].about})")
        if name == "window_days" and value != int(value):
            raise AlertError(f"window_days {value:g} is not a whole number of days: give e.g. {int(value) or 1}")
    before = thresholds(session)
    now = utcnow()
    for name, value in given.items():
        row = session.get(AlertSetting, name, with_for_update=True) or AlertSetting(name=name, value=value)
        row.value, row.updated_at = float(value), now
        session.add(row)
    session.flush()
    after = thresholds(session)
    audit.record(
        session, actor_id=actor_id, action="alert_setting.update", entity="alert_setting", before=before, after=after
    )
    return after


# --- raising and clearing ------------------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON has no NaN nor infinity: they are sent as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def raise_event(session: Session, *, kind: str, key: str, summary: str, details: dict[str, Any]) -> int | None:
    """Record an alert in the caller's transaction; None (nothing written) when the occurrence `key` is open already.
    It waits for the webhook, or shows on the Home page only when none is set."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    status = "pending" if get_settings().alert_webhook_url else "unsent"
    values = {
        "kind": kind,
        "key": key,
        "summary": summary,
        "details": _finite(details),
        "status": status,
        "attempts": 0,
    }
    values |= {"raised_at": utcnow()}
    alert_id = session.execute(insert(Alert).values(values).on_conflict_do_nothing().returning(Alert.id)).scalar()
    if alert_id is not None:
        after = {"kind": kind, "key": key, "summary": summary}
        audit.record(session, actor_id=None, action="alert.raise", entity="alert", entity_id=alert_id, after=after)
        log.info("alert %s raised: %s", alert_id, summary)
    return alert_id


def clear(session: Session, key: str, *, now: datetime | None = None) -> bool:
    """The condition `key` ended: its open alert is closed (a later occurrence raises a new one)."""
    alert = session.execute(select(Alert).where(Alert.key == key, Alert.cleared_at.is_(None))).scalars().first()
    if alert is None:
        return False
    alert.cleared_at = now or utcnow()
    session.add(alert)
    audit.record(session, actor_id=None, action="alert.clear", entity="alert", entity_id=alert.id, after={"key": key})
    return True


def job_failed(session: Session, *, job_id: int, kind: str, attempt: int, error: str, retried: bool) -> int | None:
    """A job failed (raised by core.jobs.records when it marks the job failed)."""
    retry = "; it is retried once" if retried else ""
    short = error if len(error) <= SUMMARY_CHARS else error[: SUMMARY_CHARS - 1] + "…"
    return raise_event(
        session,
        kind="job_failed",
        key=f"job:{job_id}",
        summary=f"Job {job_id} ({kind}, attempt {attempt}) failed: {short}{retry}",
        details={"job_id": job_id, "job_kind": kind, "attempt": attempt, "error": error, "retried": retried},
    )


def gate_decision(
    session: Session,
    *,
    model_kind: str,
    version: str,
    promoted: bool,
    reason: str,
    details: dict[str, Any] | None = None,
) -> int | None:
    """The promotion gate promoted a candidate (`promoted`) or held it back: one alert per candidate and decision,
    raised in the gate's transaction. `model_kind` is "moderation" or "reward", `version` the candidate's name (a
    moderation version's, or "reward run <id>"), `reason` one line on the evidence ("F1 0.84 against 0.80, difference
    +0.04 [+0.01, +0.07]"), `details` the figures (JSON-ready) carried in the webhook's body."""
    decision = "promoted" if promoted else "held_back"
    said = "promoted" if promoted else "held back (it stays a candidate)"
    return raise_event(
        session,
        kind=f"gate_{decision}",
        key=f"gate:{model_kind}:{version}:{decision}",
        summary=f"The promotion gate {said} {model_kind} {version}: {reason}",
        details={"model_kind": model_kind, "version": version, "decision": decision, "reason": reason}
        | (details or {}),
    )


# --- the conditions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    summary: str
    details: dict[str, Any]


Check = Callable[[Session, dict[str, float], datetime], dict[str, Condition]]  # the standing conditions, by key


def sla_condition(session: Session, limits: dict[str, float], now: datetime) -> dict[str, Condition]:
    """The within-SLA share of the items finished over the last `window_days`, below `sla_share`."""
    from core.reports.kpi.report import turnaround, within_sla_share

    days, hours, threshold = int(limits["window_days"]), limits["sla_hours"], limits["sla_share"]
    found = turnaround(session, now - timedelta(days=days), now, hours)
    share = within_sla_share(found)
    if share is None or share >= threshold:
        return {}
    summary = (
        f"Within-SLA share {share:.1%} over the last {days} days, below {threshold:.1%}: "
        f"{sum(t.within_sla for t in found):,} of {sum(t.items for t in found):,} items finished within {hours:g} h"
    )
    queues = [{"queue": t.queue, "items": t.items, "within_sla": t.within_sla, "p95_hours": t.p95_hours} for t in found]
    details = {"within_sla_share": share, "threshold": threshold, "sla_hours": hours, "window_days": days}
    return {"sla": Condition(summary, details | {"queues": queues})}


def drift_conditions(session: Session, limits: dict[str, float], now: datetime) -> dict[str, Condition]:
    """Per moderation version, its latest weekly PSI (against the week before) above `psi`."""
    from core.reports.kpi.quality import drift

    start = (now - timedelta(days=21)).replace(hour=0, minute=0, second=0, microsecond=0)
    latest = {week.version: week for week in drift(session, start, now) if week.psi is not None}  # weeks in order
    threshold = limits["psi"]
    return {
        f"drift:{version}": Condition(
            f"Moderation drift: PSI {week.psi:.2f} for {version} in the week of {week.week} against the week before "
            f"(above {threshold:g})",
            {"version": version, "week": week.week, "psi": week.psi, "threshold": threshold, "scores": week.scores},
        )
        for version, week in latest.items()
        if week.psi > threshold
    }


def srm_conditions(session: Session, limits: dict[str, float], now: datetime) -> dict[str, Condition]:
    """Experiments running, or ended within `window_days`, whose sample-ratio check raises its alarm."""
    from core.reports.ab.experiments import experiment_report

    recent = now - timedelta(days=int(limits["window_days"]))
    names = session.execute(
        select(Experiment.name).where(or_(Experiment.ended_at.is_(None), Experiment.ended_at >= recent))
    ).scalars()
    found = {}
    for name in names:
        srm = experiment_report(session, name).srm
        if srm.alarm:
            units = ", ".join(f"{v}: {n:,}" for v, n in sorted(srm.observed.items()))
            found[f"srm:{name}"] = Condition(
                f"Sample ratio mismatch in experiment {name}: units per variant {units} do not fit the planned split "
                f"(p = {srm.p_value:.2g})",
                {"experiment": name, "units": srm.observed, "expected": srm.expected, "p_value": srm.p_value},
            )
    return found


CHECKS: dict[str, tuple[str, Check]] = {  # alert kind -> (the prefix of its keys, its check)
    "sla_share_low": ("sla", sla_condition),
    "drift": ("drift:", drift_conditions),
    "sample_ratio": ("srm:", srm_conditions),
}


def check_conditions(engine: Engine, *, now: datetime | None = None) -> list[int]:
    """Raise an alert for each condition that began, clear those that ended; the ids of the alerts raised. A check
    that fails is logged and leaves its own alerts as they were: the others go on."""
    now = now or utcnow()
    raised = []
    for kind, (_, check) in CHECKS.items():
        try:
            with session_scope(engine) as session:
                standing = check(session, thresholds(session), now)
        except Exception:
            log.exception("the %s check failed", kind)
            continue
        with session_scope(engine, write=True) as session:
            open_keys = set(
                session.execute(select(Alert.key).where(Alert.kind == kind, Alert.cleared_at.is_(None))).scalars()
            )
            for key in sorted(open_keys - standing.keys()):
                clear(session, key, now=now)
            for key, condition in standing.items():
                if key not in open_keys:
                    alert_id = raise_event(session, kind=kind, key=key, **condition.__dict__)
                    raised += [alert_id] if alert_id is not None else []
    return raised


# --- what admins see -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertView:
    id: int
    kind: str
    summary: str
    raised_at: datetime
    cleared_at: datetime | None
    status: str
    attempts: int
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeliveryView:
    alert_id: int
    kind: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    seconds: float

    @property
    def outcome(self) -> str:
        return self.error or f"HTTP {self.status_code}"


def recent_alerts(session: Session, limit: int = 20) -> list[AlertView]:
    """The newest alerts, newest first."""
    rows = session.execute(select(Alert).order_by(Alert.id.desc()).limit(limit)).scalars()
    fields = ("id", "kind", "summary", "raised_at", "cleared_at", "status", "attempts", "delivered_at")
    return [AlertView(*(getattr(row, name) for name in fields)) for row in rows]


def recent_deliveries(session: Session, limit: int = 20) -> list[DeliveryView]:
    """The delivery log: the newest attempts, newest first."""
    d = AlertDelivery
    rows = session.execute(
        select(d.alert_id, Alert.kind, d.attempt, d.at, d.status_code, d.error, d.seconds)
        .join(Alert, Alert.id == d.alert_id)
        .order_by(d.id.desc())
        .limit(limit)
    ).all()
    return [DeliveryView(*row) for row in rows]
