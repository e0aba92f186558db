"""The promotion gate for reward-model runs (the decision itself: core.jobs.gate). A run that has just finished
training is compared with the active run on the same held-out pairs: the pairs of the new run's held-out split whose
prompt the active run did not train on (splits are by prompt, so these are usually all of them). Both models score
both answers of every pair again, from their saved folders; a pair is right for a model when it gives the chosen
answer the higher reward.

The gate runs at the end of every training (`python -m core reward train`, the page's runs, the worker's jobs), and
again on demand (`python -m core reward gate RUN`). When it promotes, the run becomes the active one in the same
transaction as its decision and audit event."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from core.jobs.gate import GateDecision, decide, gate_settings, held_back, record
from core.reward import RewardError
from core.reward.registry import RunView, active_run, get_run, make_active
from core.store.db import session_scope
from core.store.models import DatasetSnapshot, RewardModelRun

log = logging.getLogger("core.reward.gate")


def name(run: RunView | None) -> str | None:
    return None if run is None else f"run {run.id}"


def shared_pairs(engine: Engine, candidate: RunView, current: RunView) -> list[dict[str, Any]]:
    """The candidate's held-out pairs, less those whose prompt the current run trained on."""
    from core.reward.snapshot import load_splits

    with session_scope(engine) as session:
        new, old = (session.get(DatasetSnapshot, run.snapshot_id) for run in (candidate, current))
        held_out = load_splits(new)["eval"].to_list()
        trained = set(load_splits(old)["train"]["prompt_id"]) if old.id != new.id else set()
    return [row for row in held_out if row["prompt_id"] not in trained]


def right_on(run: RunView, rows: list[dict[str, Any]]) -> np.ndarray:
    """Per pair, whether the run's model gives the chosen answer the higher reward."""
    from core.reward.inference import load_reward_model, pair_texts, rewards

    if not run.artifact_path:
        raise RewardError(f"run {run.id} has no saved model")
    model, tokenizer = load_reward_model(run.artifact_path)
    scores = rewards(model, tokenizer, pair_texts(tokenizer, rows), max_length=int(run.params.get("max_length", 256)))
    return np.array(scores[0::2]) > np.array(scores[1::2])


def compare(engine: Engine, candidate: RunView, current: RunView | None, *, auto_promote: bool, margin: float):
    """The decision for a finished run against the current one (or none)."""
    from core.stats.classification import joint_counts

    if current is None:
        return decide(kind="reward", candidate=name(candidate), current=None, joint=None, auto_promote=auto_promote)
    try:
        rows = shared_pairs(engine, candidate, current)
        joint = None
        if rows:
            old, new = right_on(current, rows), right_on(candidate, rows)
            joint = joint_counts(old, new, np.ones(len(rows), dtype=bool))
    except (RewardError, OSError) as error:
        reason = f"could not be compared with {name(current)}: {error}"
        return held_back("reward", name(candidate), name(current), reason, auto_promote=auto_promote, margin=margin)
    return decide(
        kind="reward",
        candidate=name(candidate),
        current=name(current),
        joint=joint,
        auto_promote=auto_promote,
        margin=margin,
    )


def check(engine: Engine, run_id: int, *, actor_id: int | None = None) -> GateDecision:
    """Decide on a finished run against the active one, store the decision on the run, audit it, and promote the run
    when it passes and automatic promotion is on."""
    candidate = get_run(engine, run_id)
    if candidate.status != "done":
        raise RewardError(f"run {run_id} is {candidate.status}: only a finished run (done) goes through the gate")
    current = active_run(engine)
    if current is not None and current.id == run_id:
        raise RewardError(f"run {run_id} is the active reward model already")
    with session_scope(engine) as session:
        settings = gate_settings(session, "reward")
    decision = compare(engine, candidate, current, auto_promote=settings.auto_promote, margin=settings.margin)
    with session_scope(engine, write=True) as session:
        now_active = session.execute(select(RewardModelRun.id).where(RewardModelRun.is_active)).scalar_one_or_none()
        if now_active != (current.id if current else None):  # promoted by someone while the models were scoring
            reason = f"the active run changed while comparing: `python -m core reward gate {run_id}` decides again"
            decision = held_back(
                "reward",
                name(candidate),
                name(current),
                reason,
                auto_promote=settings.auto_promote,
                margin=settings.margin,
            )
        run = session.get(RewardModelRun, run_id)
        run.metrics = dict(run.metrics) | {"gate": decision.as_dict()}
        session.add(run)
        record(session, decision, entity="reward_model_run", entity_id=run_id, actor_id=actor_id)
        if decision.promoted:
            make_active(session, run, actor_id=actor_id)
    log.info("reward run %s: %s", run_id, decision.line())
    return decision


def decision_of(run: RunView) -> GateDecision | None:
    """The run's gate decision, if it went through the gate."""
    return GateDecision.from_dict(run.metrics.get("gate"))
