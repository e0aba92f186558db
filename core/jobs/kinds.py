"""The job kinds: what each one counts to know it is due, and what it runs. Adding a kind is one entry in KINDS with
its two functions; the worker, the settings, the CLI and the pages take it from there.

Each kind's `pending` says how many new things are waiting (final labels, usable pairs, unscored answers) and since
when (the newest version they would improve on); a kind is due when that count reaches its threshold, or when it has
anything at all and its `every_hours` have passed since then. `run` does the work by calling the action a person would
(the Retrain button, `python -m core reward train`, `... reward score`), acting as the system, and returns a summary
for the job's row. Heavy imports stay inside the functions, so the pages that list jobs load none of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, union

from core.config import get_settings
from core.moderation.final_labels import final_labels
from core.reward.pairs import usable_pair_count
from core.store.db import session_scope
from core.store.models import Adjudication, DatasetSnapshot, ModelVersion, ModerationLabel, RewardModelRun

Progress = Callable[..., None]  # progress(stage, fraction, **details)


@dataclass(frozen=True)
class Pending:
    count: int  # new things waiting
    since: datetime | None = None  # the newest version they would improve on (None: none yet)


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str  # what it does, as the pages say it
    counts: str  # what its threshold counts
    threshold: int  # the default threshold
    limits: tuple[int, int]  # the thresholds allowed
    pending: Callable[[Engine], Pending]
    run: Callable[[Engine, Progress], dict[str, Any]]
    every_hours: int | None = None  # the default; None: the kind never starts on time alone


EVERY_HOURS_LIMITS = (1, 24 * 365)


# --- retrain the moderation classifier -----------------------------------------------------------------------------


def new_final_labels(engine: Engine) -> Pending:
    """Final labels decided after the newest moderation version was registered (all of them before the first)."""
    with session_scope(engine) as session:
        since = session.execute(
            select(func.max(ModelVersion.created_at)).where(ModelVersion.kind == "moderation")
        ).scalar_one()
        if since is None:
            final = final_labels()
            return Pending(session.execute(select(func.count()).select_from(final)).scalar_one())
        label_time, adjudication_time = (
            (model.created_at > since) | (model.updated_at > since) for model in (ModerationLabel, Adjudication)
        )
        touched = union(
            select(ModerationLabel.item_id).where(label_time), select(Adjudication.item_id).where(adjudication_time)
        )
        final = final_labels(select(touched.subquery().c.item_id))
        count = session.execute(select(func.count()).select_from(final).where(final.c.decided_at > since)).scalar_one()
    return Pending(count, since)


def retrain_moderation(engine: Engine, progress: Progress) -> dict[str, Any]:
    from core.moderation.retrain import retrain

    summary = retrain(engine, progress=lambda stage, fraction: progress(stage, fraction))
    overall = summary.metrics["overall"]
    return {
        "version": summary.version,
        "labels": summary.labels,
        "f1": overall["f1"],
        "previous": summary.previous,
        "gate": summary.gate.get("outcome"),
    }


# --- train a reward model ------------------------------------------------------------------------------------------


def new_usable_pairs(engine: Engine) -> Pending:
    """Usable pairs beyond those of the snapshot the newest run trained on (not a failed one: its data is tried again).
    That run is the active one, or a newer candidate: a candidate waits to be promoted, it is not trained again."""
    with session_scope(engine) as session:
        usable = usable_pair_count(session)
        newest = session.execute(
            select(DatasetSnapshot.row_count, RewardModelRun.started_at)
            .join(DatasetSnapshot, DatasetSnapshot.id == RewardModelRun.snapshot_id)
            .where(RewardModelRun.status != "failed")
            .order_by(RewardModelRun.id.desc())
            .limit(1)
        ).first()
    return Pending(usable, None) if newest is None else Pending(usable - newest[0], newest[1])


def train_reward(engine: Engine, progress: Progress) -> dict[str, Any]:
    from core.reward.train import train_reward_model

    def report(state: dict[str, Any]) -> None:
        total = state.get("total") or 0
        progress(state["phase"], state.get("step", 0) / total if total else 0.0, step=state.get("step"), total=total)

    result = train_reward_model(engine, base_model=get_settings().reward_base_model, on_progress=report)
    gate = result.gate.outcome if result.gate else None
    return {
        "run_id": result.run_id,
        "accuracy": result.metrics.get("accuracy"),
        "pairs": result.metrics["train_pairs"],
        "gate": gate,
    }


# --- score new answers with the active reward model ----------------------------------------------------------------


def unscored_answers(engine: Engine) -> Pending:
    """Chatbot answers the active reward model has not scored (none without a finished active run)."""
    from core.reward.registry import active_run
    from core.reward.score import unscored_count

    run = active_run(engine)
    if run is None or run.status != "done" or not run.artifact_path:
        return Pending(0)
    with session_scope(engine) as session:
        return Pending(unscored_count(session, run.id), run.finished_at)


def score_answers(engine: Engine, progress: Progress) -> dict[str, Any]:
    from core.reward.score import score_responses

    result = score_responses(engine, progress=lambda done, total: progress("scoring", done / max(total, 1), done=done))
    return {"run_id": result.run_id, "scored": result.scored, "total": result.total}


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            "moderation_retrain",
            "Retrain the moderation classifier",
            "new final labels",
            200,
            (10, 1_000_000),
            new_final_labels,
            retrain_moderation,
            every_hours=24,
        ),
        JobKind(
            "reward_train",
            "Train a reward model",
            "new usable pairs",
            500,
            (10, 10_000_000),
            new_usable_pairs,
            train_reward,
        ),
        JobKind(
            "reward_score",
            "Score new answers with the active reward model",
            "unscored answers",
            1,
            (1, 1_000_000),
            unscored_answers,
            score_answers,
        ),
    )
}
