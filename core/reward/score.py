"""Score every chatbot answer with a reward model run (the active one by default), and the mean reward per version.

Scores are stored once per (run, answer): scoring again only scores answers added since."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import sqrt

from scipy import stats
from sqlalchemy import Engine, and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.reward import RewardError
from core.reward.inference import load_reward_model, reward_text, rewards
from core.reward.registry import RunView, active_run, get_run
from core.reward.snapshot import conversation
from core.store.db import is_sqlite, refresh_statistics, session_scope
from core.store.models import ModelVersion, Prompt, Response, RewardScore, utcnow

CHUNK = 512  # answers read and written per transaction


def _unscored(run_id: int):
    """Chatbot answers without a score from this run."""
    return (
        select(Response.id, Prompt.text, Prompt.turns, Response.text)
        .join(Prompt, Prompt.id == Response.prompt_id)
        .join(ModelVersion, ModelVersion.id == Response.model_version_id)
        .outerjoin(RewardScore, and_(RewardScore.response_id == Response.id, RewardScore.run_id == run_id))
        .where(ModelVersion.kind == "chatbot", RewardScore.id.is_(None))
    )


def unscored_count(session: Session, run_id: int) -> int:
    """How many chatbot answers the run has not scored yet (one SQL count)."""
    return session.execute(select(func.count()).select_from(_unscored(run_id).subquery())).scalar_one()


def scoring_run(engine: Engine, run_id: int | None) -> RunView:
    """The named run, or the active one; refused unless it is done and its model folder is there."""
    run = get_run(engine, run_id) if run_id is not None else active_run(engine)
    if run is None:
        raise RewardError("no active reward model: promote a run (`python -m core reward promote RUN`) or name one")
    if run.status != "done" or not run.artifact_path:
        raise RewardError(f"run {run.id} is {run.status}: only a finished run can score answers")
    return run


@dataclass(frozen=True)
class ScoreResult:
    run_id: int
    scored: int  # answers scored now
    total: int  # answers with a score from this run


def score_responses(
    engine: Engine,
    *,
    run_id: int | None = None,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> ScoreResult:
    """Score the chatbot answers this run has not scored yet, CHUNK answers per transaction."""
    run = scoring_run(engine, run_id)
    with session_scope(engine) as session:
        todo = unscored_count(session, run.id)
    model, tokenizer = load_reward_model(run.artifact_path) if todo else (None, None)
    max_length = int(run.params.get("max_length", 256))
    done, after = 0, 0
    while done < todo:
        with session_scope(engine) as session:
            chunk = session.execute(
                _unscored(run.id).where(Response.id > after).order_by(Response.id).limit(CHUNK)
            ).all()
        if not chunk:
            break
        texts = [reward_text(tokenizer, conversation(turns or [], q), answer) for _, q, turns, answer in chunk]
        scores = rewards(model, tokenizer, texts, max_length=max_length, batch_size=batch_size)
        now = utcnow()
        rows = [
            {"run_id": run.id, "response_id": rid, "score": score, "created_at": now}
            for (rid, *_), score in zip(chunk, scores, strict=True)
        ]
        with session_scope(engine, write=True) as session:
            insert = sqlite_insert if is_sqlite(engine) else pg_insert
            session.execute(insert(RewardScore).on_conflict_do_nothing(), rows)
        done, after = done + len(chunk), chunk[-1][0]
        if progress:
            progress(done, todo)
    refresh_statistics(engine)
    with session_scope(engine) as session:
        total = session.execute(select(func.count()).where(RewardScore.run_id == run.id)).scalar_one()
    return ScoreResult(run.id, done, total)


@dataclass(frozen=True)
class VersionReward:
    version: str
    answers: int
    mean: float
    ci: tuple[float, float] | None  # Student's t 95% interval of the mean; None for a single answer


def mean_reward_by_version(engine: Engine, run_id: int | None = None) -> list[VersionReward]:
    """Mean reward per chatbot version from a run's stored scores (the active run by default); SQL aggregates."""
    run = scoring_run(engine, run_id)
    score = RewardScore.score
    statement = (
        select(ModelVersion.name, func.count(), func.avg(score), func.sum(score * score))
        .join(Response, Response.id == RewardScore.response_id)
        .join(ModelVersion, ModelVersion.id == Response.model_version_id)
        .where(RewardScore.run_id == run.id)
        .group_by(ModelVersion.name)
        .order_by(ModelVersion.name)
    )
    with session_scope(engine) as session:
        rows = session.execute(statement).all()
    return [_with_interval(name, int(n), float(mean), float(squares)) for name, n, mean, squares in rows]


def _with_interval(version: str, n: int, mean: float, squares: float) -> VersionReward:
    if n < 2:
        return VersionReward(version, n, mean, None)
    variance = max((squares - n * mean * mean) / (n - 1), 0.0)
    if variance == 0:
        return VersionReward(version, n, mean, (mean, mean))
    low, high = stats.t.interval(0.95, df=n - 1, loc=mean, scale=sqrt(variance / n))
    return VersionReward(version, n, mean, (float(low), float(high)))
