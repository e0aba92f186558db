"""The promotion gate: one decision for a new moderation version and for a new reward-model run, each against the
current one (the newest version feeding the moderation queue; the active reward-model run), on the same held-out items.

A candidate passes when
- it is better by the kind's metric (F1 of the "toxic" class; pairwise accuracy), and
- the 95% interval of the difference (candidate - current; a paired bootstrap over the items, both models' answers on
  an item drawn together: core.stats.classification.metric_differences) does not show it worse: its lower end is not
  below minus the kind's margin (default 0, so the interval must exclude a loss; a margin of 0.02 lets a candidate
  through whose loss is at most 2 points, as a non-inferiority test does).

A candidate that passes is promoted when automatic promotion is on for its kind (`python -m core worker configure
KIND --auto-promote on|off`); otherwise, and whenever it fails, it is held back as a candidate with the reason, and a
person can still promote it by hand. Without a current model (nothing to compare with) a candidate is held back: the
first one is promoted by hand.

Every decision is stored on the candidate (RewardModelRun.metrics["gate"], ModelVersion.meta["gate"]) and is an audit
event: "gate.promote" when it was promoted, "gate.hold" when it was held back (stable names: the alerts read them)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from sqlmodel import Session

from core import audit
from core.jobs import alerts
from core.store.models import JobSetting, utcnow

GATED = {"moderation": "moderation_retrain", "reward": "reward_train"}  # model kind -> the job kind that makes it
ROUNDS = 4000  # bootstrap draws
SEED = 0  # the same items give the same decision
METRICS = {"moderation": ("f1", "F1"), "reward": ("accuracy", "pairwise accuracy")}
PROMOTE, HOLD = "gate.promote", "gate.hold"  # the audit events' actions


@dataclass(frozen=True)
class GateDecision:
    """One decision with its figures; what is stored on the candidate and in the audit event."""

    kind: str  # moderation | reward
    candidate: str  # the version's name, or "run 7"
    current: str | None
    metric: str  # as people read it: "F1", "pairwise accuracy"
    candidate_value: float | None
    current_value: float | None
    difference: float | None  # candidate - current
    ci_low: float | None  # the difference's 95% interval
    ci_high: float | None
    items: int  # held-out items both models answered
    margin: float
    passed: bool
    auto_promote: bool
    outcome: str  # promoted | held back
    reason: str
    decided_at: str

    @property
    def promoted(self) -> bool:
        return self.outcome == "promoted"

    @property
    def action(self) -> str:
        return PROMOTE if self.promoted else HOLD

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GateDecision | None:
        if not data:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def interval(self) -> str:
        if self.ci_low is None or self.ci_high is None:
            return "–"
        return f"{self.ci_low:+.3f} to {self.ci_high:+.3f}"

    def line(self) -> str:
        """ "promoted: F1 0.812 vs 0.701 (+0.111, 95% CI +0.032 to +0.190) on 120 items" and the reason."""
        figures = ""
        if self.difference is not None:
            figures = (
                f": {self.metric} {self.candidate_value:.3f} vs {self.current_value:.3f} of {self.current} "
                f"({self.difference:+.3f}, 95% CI {self.interval()}) on {self.items:,} items"
            )
        return f"{self.outcome}{figures}; {self.reason}"

    def side_by_side(self) -> list[dict[str, Any]]:
        """The candidate beside the current model, one row per figure (what the pages show)."""
        return [
            {
                "figure": f"{self.metric} (held out)",
                "candidate": _fmt(self.candidate_value),
                "current": _fmt(self.current_value),
            },
            {"figure": "model", "candidate": self.candidate, "current": self.current or "–"},
            {"figure": "held-out items (both)", "candidate": f"{self.items:,}", "current": f"{self.items:,}"},
            {"figure": "difference (candidate - current)", "candidate": _signed(self.difference), "current": ""},
            {"figure": "95% interval of the difference", "candidate": self.interval(), "current": ""},
            {"figure": "decision", "candidate": self.outcome, "current": ""},
        ]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


def decide(
    *,
    kind: str,
    candidate: str,
    current: str | None,
    joint: np.ndarray | None,
    auto_promote: bool,
    margin: float = 0.0,
) -> GateDecision:
    """The decision from the eight joint cells of the held-out items both models answered (core.stats.classification
    .joint_cells: current as A, candidate as B). A reward model's pairs are items whose truth is always "the chosen
    answer is better" (positive): its pairwise accuracy is then the recall, computed and bootstrapped the same way."""
    from core.stats.classification import metric_differences, version_metrics

    key, label = METRICS[kind]
    stat = "recall" if key == "accuracy" else key
    base = _base(kind, candidate, current, auto_promote, margin)
    n = int(joint.sum()) if joint is not None else 0
    if current is None or n == 0:
        reason = (
            "no current model to compare with: promote the first one by hand"
            if current is None
            else f"no held-out items that both it and {current} answered: nothing to compare on"
        )
        return held_back(kind, candidate, current, reason, auto_promote=auto_promote, margin=margin)
    cells = np.asarray(joint, dtype=float).reshape(2, 2, 2)
    values = {side: _number(float(version_metrics(cells, side)[stat])) for side in (0, 1)}
    difference = next(
        d for d in metric_differences(joint, rounds=ROUNDS, rng=np.random.default_rng(SEED)) if d.metric == stat
    )
    figures = {
        "candidate_value": values[1],
        "current_value": values[0],
        "difference": _number(difference.difference),
        "ci_low": _number(difference.ci_low),
        "ci_high": _number(difference.ci_high),
    }
    passed, reason = _verdict(label, figures, margin)
    if passed and not auto_promote:
        reason = f"{reason}; automatic promotion is off for {kind} models: promote it by hand"
    outcome = "promoted" if passed and auto_promote else "held back"
    return GateDecision(**base, **figures, items=n, passed=passed, outcome=outcome, reason=reason)


def _base(kind: str, candidate: str, current: str | None, auto_promote: bool, margin: float) -> dict[str, Any]:
    return {
        "kind": kind,
        "candidate": candidate,
        "current": current,
        "metric": METRICS[kind][1],
        "margin": margin,
        "auto_promote": auto_promote,
        "decided_at": utcnow().isoformat(),
    }


def held_back(
    kind: str, candidate: str, current: str | None, reason: str, *, auto_promote: bool, margin: float
) -> GateDecision:
    """A decision without figures: there was nothing to compare, or the comparison could not be made."""
    empty = {"candidate_value": None, "current_value": None, "difference": None, "ci_low": None, "ci_high": None}
    base = _base(kind, candidate, current, auto_promote, margin)
    return GateDecision(**base, **empty, items=0, passed=False, outcome="held back", reason=reason)


def _verdict(label: str, figures: dict[str, float | None], margin: float) -> tuple[bool, str]:
    difference, low = figures["difference"], figures["ci_low"]
    if difference is None or low is None:
        return False, f"{label} is undefined on these items for one of the two models"
    if difference <= 0:
        return False, f"not better: {label} {difference:+.3f} against the current one"
    if low < -margin - 1e-12:
        worse = "worse" if margin == 0 else f"worse by more than {margin:.3f}"
        return False, (
            f"better by {difference:+.3f}, but the 95% interval of the difference reaches {low:+.3f}: "
            f"it may be {worse} (more held-out items would tell)"
        )
    return True, f"better by {difference:+.3f} and the 95% interval of the difference is not below {-margin:+.3f}"


@dataclass(frozen=True)
class GateSettings:
    auto_promote: bool = True
    margin: float = 0.0


def gate_settings(session: Session, model_kind: str) -> GateSettings:
    """The gate's settings for a model kind (moderation | reward), kept with its job kind's (core.jobs.settings)."""
    row = session.get(JobSetting, GATED[model_kind])
    return GateSettings() if row is None else GateSettings(row.auto_promote, row.gate_margin)


def record(session: Session, decision: GateDecision, *, entity: str, entity_id: int, actor_id: int | None) -> None:
    """The decision's audit event ("gate.promote" or "gate.hold"), with its figures, and its alert (core.jobs.alerts:
    sent to the webhook, or shown on the admins' Home page), in the transaction that decides."""
    audit.record(
        session, actor_id=actor_id, action=decision.action, entity=entity, entity_id=entity_id, after=decision.as_dict()
    )
    alerts.gate_decision(
        session,
        model_kind=decision.kind,
        version=decision.candidate,
        promoted=decision.promoted,
        reason=decision.reason,
        details=decision.as_dict(),
    )
