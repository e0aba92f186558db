"""Each job kind's trigger settings: its threshold, how often it also starts on time alone, and whether it is on; for
a kind that makes a model (moderation_retrain, reward_train), its promotion gate's: whether a new model that passes
the gate is promoted by itself, and the margin (core.jobs.gate). Stored where an admin changed them (job_setting),
else the kind's defaults; a value out of range is refused whole, with the reason, and nothing is written."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from core import audit
from core.jobs import JobError
from core.jobs.gate import GATED
from core.jobs.kinds import EVERY_HOURS_LIMITS, KINDS, JobKind
from core.store.models import JobSetting, utcnow

MARGIN_LIMITS = (0.0, 0.2)
GATES = {job: model for model, job in GATED.items()}  # job kind -> the model kind it makes, gated


@dataclass(frozen=True)
class KindSettings:
    kind: str
    title: str
    counts: str  # what the threshold counts
    enabled: bool
    threshold: int
    every_hours: int | None
    limits: tuple[int, int]
    gate: str | None = None  # the model kind it makes, gated; None: no gate
    auto_promote: bool = True
    margin: float = 0.0

    def describe(self) -> str:
        """ "at least 200 new final labels, or every 24 h when there are any" (off: "off"), and its gate's settings."""
        every = f", or every {self.every_hours} h when there are any" if self.every_hours else ""
        trigger = f"at least {self.threshold:,} {self.counts}{every}" if self.enabled else "off"
        return f"{trigger} (promotion gate: {self.describe_gate()})" if self.gate else trigger

    def describe_gate(self) -> str:
        """ "auto-promote on, margin 0.000" or "auto-promote off"."""
        return f"auto-promote on, margin {self.margin:.3f}" if self.auto_promote else "auto-promote off"


def kind_of(name: str) -> JobKind:
    if name not in KINDS:
        raise JobError(f"no job kind {name!r}: the kinds are {', '.join(KINDS)}")
    return KINDS[name]


def _settings(kind: JobKind, row: JobSetting | None) -> KindSettings:
    head = (kind.name, kind.title, kind.counts)
    gate = GATES.get(kind.name)
    if row is None:
        return KindSettings(*head, True, kind.threshold, kind.every_hours, kind.limits, gate)
    every = row.every_hours if kind.every_hours is not None else None
    return KindSettings(*head, row.enabled, row.threshold, every, kind.limits, gate, row.auto_promote, row.gate_margin)


def all_settings(session: Session) -> list[KindSettings]:
    """Every kind's settings, in the order of KINDS."""
    rows = {row.kind: row for row in session.execute(select(JobSetting)).scalars()}
    return [_settings(kind, rows.get(name)) for name, kind in KINDS.items()]


def _check(kind: JobKind, threshold: int | None, every_hours: int | None, gated: bool, margin: float | None) -> None:
    if gated and kind.name not in GATES:
        raise JobError(f"{kind.name} makes no model: it has no promotion gate (--auto-promote, --margin)")
    if margin is not None and not MARGIN_LIMITS[0] <= margin <= MARGIN_LIMITS[1]:
        raise JobError(
            f"--margin {margin:g} is out of range: give {MARGIN_LIMITS[0]:g} to {MARGIN_LIMITS[1]:g} (the loss of the "
            "metric allowed at the low end of the interval, e.g. 0.02 for 2 points)"
        )
    low, high = kind.limits
    if threshold is not None and not low <= threshold <= high:
        raise JobError(
            f"threshold {threshold:,} for {kind.name} is out of range: give {low:,} to {high:,} {kind.counts}"
        )
    if every_hours is None:
        return
    if kind.every_hours is None:
        raise JobError(f"{kind.name} starts on its threshold alone: it takes no --every-hours")
    low, high = EVERY_HOURS_LIMITS
    if not low <= every_hours <= high:
        raise JobError(f"--every-hours {every_hours:,} is out of range: give {low} to {high:,} hours")


def configure(
    session: Session,
    *,
    kind: str,
    threshold: int | None = None,
    every_hours: int | None = None,
    enabled: bool | None = None,
    auto_promote: bool | None = None,
    margin: float | None = None,
    actor_id: int | None = None,
) -> KindSettings:
    """Change a kind's settings (what is not given stays); audited with the values before and after."""
    job_kind = kind_of(kind)
    _check(job_kind, threshold, every_hours, auto_promote is not None or margin is not None, margin)
    row = session.get(JobSetting, kind, with_for_update=True)
    before = _settings(job_kind, row)
    row = row or JobSetting(kind=kind, threshold=before.threshold, every_hours=before.every_hours)
    if threshold is not None:
        row.threshold = threshold
    if every_hours is not None:
        row.every_hours = every_hours
    if enabled is not None:
        row.enabled = enabled
    if auto_promote is not None:
        row.auto_promote = auto_promote
    if margin is not None:
        row.gate_margin = margin
    row.updated_at = utcnow()
    session.add(row)
    after = _settings(job_kind, row)
    fields = ("enabled", "threshold", "every_hours") + (("auto_promote", "margin") if kind in GATES else ())
    audit.record(
        session,
        actor_id=actor_id,
        action="job_setting.update",
        entity="job_setting",
        before={name: getattr(before, name) for name in fields} | {"kind": kind},
        after={name: getattr(after, name) for name in fields} | {"kind": kind},
    )
    return after
