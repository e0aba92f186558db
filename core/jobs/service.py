"""What the admin's Home page and `python -m core worker` call about background jobs and alerts: the kinds' settings
with the latest jobs, changing a kind's settings, the alerts with their delivery log, and changing the alert
thresholds. One function per action, each checked against the rule table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from core.auth import UserPublic, guarded
from core.jobs import AlertError, alerts, settings
from core.jobs.alerts import AlertView, DeliveryView
from core.jobs.records import JobView, recent_jobs
from core.jobs.settings import KindSettings
from core.jobs.webhook import configured_webhook
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


@dataclass(frozen=True)
class ThresholdValue:
    name: str
    about: str
    value: float
    default: float
    limits: tuple[float, float]


@dataclass(frozen=True)
class AlertsOverview:
    webhook: str | None  # where alerts are sent (the address's origin only); None: nowhere, the Home page shows them
    problem: str | None  # why the webhook's settings are refused (the worker does not start until they are fixed)
    thresholds: list[ThresholdValue]
    alerts: list[AlertView]  # the newest first
    deliveries: list[DeliveryView]  # the delivery log, the newest attempt first


def _webhook() -> tuple[str | None, str | None]:
    try:
        webhook = configured_webhook()
    except AlertError as refused:
        return None, str(refused)
    return (webhook.origin if webhook else None), None


@guarded("alerts.read")
def alerts_overview(*, actor: UserPublic, limit: int = 20, engine: Engine | None = None) -> AlertsOverview:
    """Where alerts go, the thresholds, the newest alerts and the newest delivery attempts."""
    webhook, problem = _webhook()
    with session_scope(engine) as session:
        values = alerts.thresholds(session)
        shown = [
            ThresholdValue(t.name, t.about, values[t.name], t.default, t.limits) for t in alerts.THRESHOLDS.values()
        ]
        return AlertsOverview(
            webhook, problem, shown, alerts.recent_alerts(session, limit), alerts.recent_deliveries(session, limit)
        )


@guarded("alerts.configure")
def configure_alerts(
    *,
    actor: UserPublic,
    sla_share: float | None = None,
    sla_hours: float | None = None,
    psi: float | None = None,
    window_days: float | None = None,
    engine: Engine | None = None,
) -> dict[str, float]:
    """Change alert thresholds (audited); a value out of range is refused with the reason and nothing is written."""
    values = {"sla_share": sla_share, "sla_hours": sla_hours, "psi": psi, "window_days": window_days}
    with session_scope(engine, write=True) as session:
        return alerts.configure(session, values=values, actor_id=actor.id)
