"""The runs: listed, compared, followed while they train, and promoted (exactly one active run scores answers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from core import audit
from core.reward import RewardError
from core.reward.baselines import BASELINES
from core.store.db import session_scope
from core.store.models import DatasetSnapshot, RewardModelRun, utcnow

STALE_MINUTES = 10  # a running run without a progress write for this long has probably lost its process


@dataclass(frozen=True)
class RunView:
    """A run as pages and the CLI show it (a plain object, not a live row)."""

    id: int
    status: str
    is_active: bool
    snapshot_id: int
    snapshot_hash: str
    base_model: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    progress: dict[str, Any]
    error: str | None
    artifact_path: str | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def loss_curve(self) -> list[tuple[int, float]]:
        return [(int(step), float(loss)) for step, loss in self.progress.get("history", [])]

    @property
    def fraction_done(self) -> float:
        total = self.progress.get("total") or 0
        return min(self.progress.get("step", 0) / total, 1.0) if total else 0.0

    @property
    def stale(self) -> bool:
        """Queued or running, but no progress written for STALE_MINUTES: its process may have died."""
        if self.status not in ("queued", "running"):
            return False
        updated = self.progress.get("updated_at")
        last = datetime.fromisoformat(updated) if updated else self.started_at
        return (utcnow() - last).total_seconds() > STALE_MINUTES * 60


def _view(run: RewardModelRun, snapshot_hash: str) -> RunView:
    return RunView(
        run.id,
        run.status,
        run.is_active,
        run.snapshot_id,
        snapshot_hash,
        run.base_model,
        dict(run.params),
        dict(run.metrics),
        dict(run.progress),
        run.error,
        run.artifact_path,
        run.started_at,
        run.finished_at,
    )


def _runs(engine: Engine, *where: Any) -> list[RunView]:
    statement = (
        select(RewardModelRun, DatasetSnapshot.content_hash)
        .join(DatasetSnapshot, DatasetSnapshot.id == RewardModelRun.snapshot_id)
        .where(*where)
        .order_by(RewardModelRun.id.desc())
    )
    with session_scope(engine) as session:
        return [_view(run, digest) for run, digest in session.execute(statement).all()]


def list_runs(engine: Engine) -> list[RunView]:
    """Every run, newest first."""
    return _runs(engine)


def get_run(engine: Engine, run_id: int) -> RunView:
    runs = _runs(engine, RewardModelRun.id == run_id)
    if not runs:
        raise RewardError(f"no reward model run {run_id}: `python -m core reward runs` lists them")
    return runs[0]


def active_run(engine: Engine) -> RunView | None:
    runs = _runs(engine, RewardModelRun.is_active)
    return runs[0] if runs else None


COMPARED = (
    ("accuracy", "held-out accuracy"),
    ("accuracy_ci", "95% interval"),
    ("n_eval_pairs", "held-out pairs"),
    ("expert_agreement", "agreement with app votes"),
    ("train_pairs", "pairs trained"),
    ("dropped_pairs", "pairs dropped (too long)"),
    ("final_loss", "final training loss"),
    ("pairs_per_second", "pairs/s"),
)
PARAMETERS = (("epochs", "epochs"), ("max_length", "max length"), ("learning_rate", "learning rate"))


def compare_runs(engine: Engine, run_ids: list[int]) -> list[dict[str, Any]]:
    """One row per figure (and per topic's accuracy), one column per run: the runs side by side."""
    runs = [get_run(engine, run_id) for run_id in run_ids]
    rows: list[dict[str, Any]] = []
    for key, label in (*COMPARED, *PARAMETERS):
        rows.append({"figure": label} | {f"run {r.id}": _figure(r, key) for r in runs})
    for name, label in BASELINES.items():  # the style baselines on the same held-out pairs
        for key, figure in (
            ("baselines", f"baseline: {label}"),
            ("where_baselines_wrong", f"right where {label} is wrong"),
        ):
            rows.append({"figure": figure} | {f"run {r.id}": _share(r.metrics.get(key, {}).get(name)) for r in runs})
    topics = sorted({topic for r in runs for topic in r.metrics.get("by_topic", {})})
    for topic in topics:
        rows.append(
            {"figure": f"accuracy: {topic}"}
            | {f"run {r.id}": _figure(r.metrics.get("by_topic", {}).get(topic) or {}, "accuracy") for r in runs}
        )
    return rows


def _figure(source: RunView | dict[str, Any], key: str) -> str:
    value = source.metrics.get(key, source.params.get(key)) if isinstance(source, RunView) else source.get(key)
    if value is None:
        return "–"
    if key == "expert_agreement":
        return f"{value['share']:.1%} of {value['n']}" if value.get("n") else "–"
    if key == "accuracy_ci":
        return f"{value[0]:.1%} – {value[1]:.1%}"
    if key == "accuracy":
        return f"{value:.1%}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _share(found: dict[str, Any] | None) -> str:
    """ "61.9% of 21" for a share measured on some pairs, "–" otherwise."""
    if not found or found.get("accuracy") is None:
        return "–"
    return f"{found['accuracy']:.1%} of {found['n']}"


def promote(engine: Engine, run_id: int, *, actor_id: int | None = None) -> RunView:
    """Make a finished run the active one (the one that scores answers); the previous one steps down. Audited."""
    with session_scope(engine, write=True) as session:
        run = session.get(RewardModelRun, run_id)
        if run is None:
            raise RewardError(f"no reward model run {run_id}: `python -m core reward runs` lists them")
        make_active(session, run, actor_id=actor_id)
    return get_run(engine, run_id)


def make_active(session: Session, run: RewardModelRun, *, actor_id: int | None) -> None:
    """In the caller's transaction: the run becomes the active one, the previous one steps down (audited; nothing
    happens to a run that is active already)."""
    if run.status != "done":
        raise RewardError(f"run {run.id} is {run.status}: only a finished run (done) can be promoted")
    previous = session.execute(select(RewardModelRun.id).where(RewardModelRun.is_active)).scalar_one_or_none()
    if previous == run.id:
        return
    session.execute(update(RewardModelRun).where(RewardModelRun.is_active).values(is_active=False))
    session.flush()
    run.is_active = True
    session.add(run)
    audit.record(
        session,
        actor_id=actor_id,
        action="reward_run.promote",
        entity="reward_model_run",
        entity_id=run.id,
        before={"active_run": previous},
        after={"active_run": run.id},
    )


@dataclass(frozen=True)
class SnapshotView:
    id: int
    content_hash: str
    pairs: int
    rows: dict[str, int]
    with_ratings: bool
    path: str
    created_at: datetime
    dimension: str | None = None  # the rubric dimension whose preferences chose the pairs (None: the overall choice)

    def label(self) -> str:
        ratings = ", with ratings" if self.with_ratings else ""
        by = f", by {self.dimension}" if self.dimension else ""
        return (
            f"#{self.id} · {self.content_hash[:10]} · {self.rows.get('train', 0):,} train / "
            f"{self.rows.get('eval', 0):,} eval pairs{ratings}{by} · {self.created_at:%Y-%m-%d %H:%M}"
        )


def list_snapshots(engine: Engine) -> list[SnapshotView]:
    """Reward-pair snapshots, newest first."""
    from core.reward.snapshot import KIND

    statement = select(DatasetSnapshot).where(DatasetSnapshot.kind == KIND).order_by(DatasetSnapshot.id.desc())
    with session_scope(engine) as session:
        return [
            SnapshotView(
                s.id,
                s.content_hash,
                s.row_count,
                dict(s.filters.get("rows", {})),
                bool(s.filters.get("with_ratings")),
                s.path,
                s.created_at,
                s.filters.get("dimension"),
            )
            for s in session.execute(statement).scalars()
        ]


def dataset_summary(engine: Engine):
    """The store's preference pairs: usable ones per source, topic and version, and those left out."""
    from core.reward.pairs import pair_summary

    with session_scope(engine) as session:
        return pair_summary(session)
