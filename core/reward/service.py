"""What the Reward model page and `python -m core reward` call: the pairs, snapshots, training runs (started in a
process of their own, or in the foreground), promotion and scoring. One function per action, each checked against
the rule table; the work is done by the functions of core/reward/ these wrap, each in its own transactions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from core.auth import UserPublic, guarded
from core.reward import launch, pairs, registry
from core.reward import snapshot as snapshots
from core.reward import train as training
from core.reward.registry import RunView, SnapshotView
from core.reward.snapshot import EVAL_SHARE, SnapshotResult
from core.reward.train import RunResult, TrainParams
from core.store.db import get_engine

if TYPE_CHECKING:  # core.reward.score imports scipy: loaded by the two functions that score, not by every command
    from core.jobs.gate import GateDecision
    from core.reward.score import ScoreResult, VersionReward


def _store(engine: Engine | None) -> Engine:
    return engine or get_engine()


# --- reading -------------------------------------------------------------------------------------------------------


@guarded("reward.read")
def dataset_summary(*, actor: UserPublic, engine: Engine | None = None) -> pairs.PairSummary:
    """The store's preference pairs: usable ones per source, topic and version, and those left out."""
    return registry.dataset_summary(_store(engine))


@guarded("reward.read")
def list_snapshots(*, actor: UserPublic, engine: Engine | None = None) -> list[SnapshotView]:
    return registry.list_snapshots(_store(engine))


@guarded("reward.read")
def list_runs(*, actor: UserPublic, engine: Engine | None = None) -> list[RunView]:
    """Every run, newest first."""
    return registry.list_runs(_store(engine))


@guarded("reward.read")
def get_run(*, actor: UserPublic, run_id: int, engine: Engine | None = None) -> RunView:
    """One run (raises RewardError if there is none), as a page follows it while it trains."""
    return registry.get_run(_store(engine), run_id)


@guarded("reward.read")
def compare_runs(*, actor: UserPublic, run_ids: list[int], engine: Engine | None = None) -> list[dict[str, Any]]:
    """One row per figure, one column per run."""
    return registry.compare_runs(_store(engine), run_ids)


@guarded("reward.read")
def mean_reward_by_version(
    *, actor: UserPublic, run_id: int | None = None, engine: Engine | None = None
) -> list[VersionReward]:
    """Mean reward per chatbot version from a run's stored scores (the active run's by default)."""
    from core.reward import score as scoring

    return scoring.mean_reward_by_version(_store(engine), run_id)


# --- acting --------------------------------------------------------------------------------------------------------


@guarded("reward.snapshot")
def export_snapshot(
    *,
    actor: UserPublic,
    out: str | Path | None = None,
    with_ratings: bool = False,
    eval_share: float = EVAL_SHARE,
    dimension: str | None = None,
    with_spans: bool = False,
    engine: Engine | None = None,
) -> SnapshotResult:
    """Freeze the usable pairs into a snapshot (an identical one is reused; audited as the actor when new); pairs
    chosen by one rubric `dimension`'s preferences instead of the overall choice if given; with_spans adds each
    answer's error spans."""
    return snapshots.export_snapshot(
        _store(engine),
        out=out,
        with_ratings=with_ratings,
        eval_share=eval_share,
        actor_id=actor.id,
        dimension=dimension,
        with_spans=with_spans,
    )


@guarded("reward.train")
def create_run(
    *,
    actor: UserPublic,
    snapshot_id: int,
    base_model: str | None = None,
    params: TrainParams | None = None,
    out: str | Path | None = None,
    engine: Engine | None = None,
) -> int:
    """A queued run on a snapshot, to train with `train` (audited as the actor); its id."""
    return training.create_run(
        _store(engine), snapshot_id=snapshot_id, base_model=base_model, params=params, out=out, actor_id=actor.id
    )


@guarded("reward.train")
def start_training(
    *,
    actor: UserPublic,
    snapshot_id: int | None = None,
    with_ratings: bool = False,
    base_model: str | None = None,
    params: TrainParams | None = None,
    engine: Engine | None = None,
) -> int:
    """Create a queued run (on a fresh snapshot unless one is named) and start `python -m core reward train --run ID
    --as USER` in a process of its own, so that it goes on when the page reloads; the run's id. The snapshot, the run
    and the training process all act as the actor."""
    return launch.start_training(
        _store(engine),
        as_user=actor.username,
        snapshot_id=snapshot_id,
        with_ratings=with_ratings,
        base_model=base_model,
        params=params,
        actor_id=actor.id,
    )


@guarded("reward.train")
def train(
    *, actor: UserPublic, run_id: int, on_progress: training.Progress | None = None, engine: Engine | None = None
) -> RunResult:
    """Train a queued run in the foreground; a failure marks it failed and raises RewardError."""
    return training.train_run(_store(engine), run_id, on_progress=on_progress)


@guarded("reward.promote")
def promote(*, actor: UserPublic, run_id: int, engine: Engine | None = None) -> RunView:
    """Make a finished run the active reward model (audited as the actor)."""
    return registry.promote(_store(engine), run_id, actor_id=actor.id)


@guarded("reward.promote")
def gate(*, actor: UserPublic, run_id: int, engine: Engine | None = None) -> GateDecision:
    """Put a finished run through the promotion gate again, against the active run (audited; it promotes the run when
    it passes and automatic promotion is on)."""
    from core.reward import gate as gating

    return gating.check(_store(engine), run_id, actor_id=actor.id)


@guarded("reward.score")
def score(
    *,
    actor: UserPublic,
    run_id: int | None = None,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    engine: Engine | None = None,
) -> ScoreResult:
    """Score the chatbot answers the run (the active one by default) has not scored yet."""
    from core.reward import score as scoring

    return scoring.score_responses(_store(engine), run_id=run_id, batch_size=batch_size, progress=progress)
