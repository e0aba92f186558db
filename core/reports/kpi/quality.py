"""Are the models getting better? Quality per version over time (mean ratings, the newest version's win rate
against the previous, moderation F1 against the final labels, reward-model held-out accuracy) and the drift of the
moderation scores week over week (PSI). Aggregated in SQL; the PSI from core.stats.drift."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlmodel import Session
from statsmodels.stats.proportion import proportion_confint

from core.moderation.final_labels import final_labels
from core.reports.sql import bin_of, day, monday_of, month
from core.stats.classification import metrics
from core.stats.drift import BANDS, band, psi
from core.store.models import Comparison, ModelVersion, ModerationScore, QueueConfig, Rating, Response, RewardModelRun
from core.store.versions import age_key, newest_first

PSI_BINS = 10
MIN_WEEK_SCORES = 30  # a week with fewer scores gives no PSI: too few to tell a shift from noise

DEFINITIONS = {
    "mean_ratings": "Mean helpfulness, harmlessness and accuracy (1-5) of each chatbot version's answers, per "
    "month of rating.",
    "win_rate": "Comparisons of the newest chatbot version (of the comparison queue) with the one before it: "
    "wins / (wins + losses), ties and both-bad apart; Wilson 95 % interval.",
    "moderation_f1": "Each moderation version's F1 for 'toxic' against the final human labels (adjudication, "
    "else agreement), on the items it scored in the range that have one (per month of scoring on the chart).",
    "reward_accuracy": "Held-out accuracy of each finished reward-model run: the share of evaluation pairs whose "
    "chosen answer it scores higher.",
    "drift": f"Population stability index of a moderation version's scores ({PSI_BINS} equal bins) in a week "
    f"against the week before; below {BANDS[0]} stable, {BANDS[0]}-{BANDS[1]} moderate shift, above {BANDS[1]} "
    f"major shift. Weeks with fewer than {MIN_WEEK_SCORES} scores are left out.",
}


@dataclass(frozen=True)
class VersionRatings:
    version: str
    month: str
    ratings: int
    helpfulness: float
    harmlessness: float
    accuracy: float


@dataclass(frozen=True)
class WinRate:
    newest: str
    previous: str
    wins: int
    losses: int
    ties: int
    both_bad: int
    rate: float | None
    low: float | None
    high: float | None
    by_month: list[tuple[str, int, int]]  # (month, wins, losses)


@dataclass(frozen=True)
class ModerationF1:
    version: str
    registered: datetime
    month: str  # YYYY-MM of scoring; "" for the whole range
    items: int
    true_positives: int
    false_positives: int
    false_negatives: int
    f1: float | None


@dataclass(frozen=True)
class RewardAccuracy:
    run_id: int
    finished_at: datetime | None
    base_model: str
    accuracy: float | None
    accuracy_ci: list[float] | None
    n_eval_pairs: int | None


@dataclass(frozen=True)
class DriftWeek:
    version: str
    week: str  # the Monday, YYYY-MM-DD
    scores: int
    psi: float | None  # against the week before; None for a version's first week or a thin week
    band: str


@dataclass(frozen=True)
class Quality:
    ratings_by_version: list[VersionRatings]
    win_rate: WinRate | None
    moderation_f1: list[ModerationF1]  # per version, over the range
    moderation_f1_by_month: list[ModerationF1]
    reward_accuracy: list[RewardAccuracy]
    drift: list[DriftWeek]


def ratings_by_version(session: Session, start: datetime, end: datetime) -> list[VersionRatings]:
    rated_month = month(session, Rating.created_at)
    rows = session.execute(
        select(
            ModelVersion.name,
            rated_month,
            func.count(),
            func.avg(Rating.helpfulness),
            func.avg(Rating.harmlessness),
            func.avg(Rating.accuracy),
        )
        .join(Response, Response.id == Rating.response_id)
        .join(ModelVersion, ModelVersion.id == Response.model_version_id)
        .where(Rating.created_at >= start, Rating.created_at < end)
        .group_by(ModelVersion.name, rated_month)
        .order_by(rated_month, ModelVersion.name)
    ).all()
    return [VersionRatings(v, m, n, float(h), float(s), float(a)) for v, m, n, h, s, a in rows]


def compared_versions(session: Session) -> tuple[int, str, int, str] | None:
    """(newest id, name, previous id, name): the two newest chatbot versions the comparison queue compares, or the
    two newest chatbot versions if the queue names fewer than two."""
    config = session.get(QueueConfig, "comparison")
    query = select(ModelVersion.id, ModelVersion.name, ModelVersion.created_at).where(ModelVersion.kind == "chatbot")
    if config is not None and len(config.versions) >= 2:
        query = query.where(ModelVersion.name.in_(config.versions))
    versions = newest_first(session.execute(query))
    if len(versions) < 2:
        return None
    newest, previous = versions[:2]
    return newest.id, newest.name, previous.id, previous.name


def win_rate(session: Session, start: datetime, end: datetime) -> WinRate | None:
    versions = compared_versions(session)
    if versions is None:
        return None
    new_id, new_name, old_id, old_name = versions
    outcome = case(
        (Comparison.choice == "a", case((Comparison.version_a_id == new_id, "win"), else_="loss")),
        (Comparison.choice == "b", case((Comparison.version_b_id == new_id, "win"), else_="loss")),
        else_=Comparison.choice,
    ).label("outcome")
    compared_month = month(session, Comparison.created_at)
    rows = session.execute(
        select(compared_month, outcome, func.count())
        .where(
            Comparison.created_at >= start,
            Comparison.created_at < end,
            Comparison.version_a_id.in_((new_id, old_id)),
            Comparison.version_b_id.in_((new_id, old_id)),
            Comparison.version_a_id != Comparison.version_b_id,
        )
        .group_by(compared_month, outcome)
    ).all()
    totals: dict[str, int] = defaultdict(int)
    months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for month_text, result, n in rows:
        totals[result] += n
        months[month_text][result] += n
    wins, losses = totals["win"], totals["loss"]
    low = high = rate = None
    if wins + losses:
        rate = wins / (wins + losses)
        low, high = (float(x) for x in proportion_confint(wins, wins + losses, alpha=0.05, method="wilson"))
    by_month = [(m, months[m]["win"], months[m]["loss"]) for m in sorted(months)]
    return WinRate(new_name, old_name, wins, losses, totals["tie"], totals["both_bad"], rate, low, high, by_month)


def _f1(tp: int, fp: int, fn: int) -> float | None:
    value = float(metrics(np.array(tp), np.array(fp), np.array(fn), np.array(0))["f1"])
    return None if np.isnan(value) else value


def moderation_f1(session: Session, start: datetime, end: datetime) -> tuple[list[ModerationF1], list[ModerationF1]]:
    """Per moderation version, on the items it scored in the range that have a final label: F1 over the range, and
    per month of scoring."""
    in_range = and_(ModerationScore.created_at >= start, ModerationScore.created_at < end)
    decided = final_labels(items=select(ModerationScore.item_id).where(in_range))
    predicted, actual = ModerationScore.predicted_label == "toxic", decided.c.label == "toxic"
    scored_month = month(session, ModerationScore.created_at)
    rows = session.execute(
        select(
            ModelVersion.name,
            ModelVersion.created_at,
            scored_month,
            func.count(),
            func.sum(case((and_(predicted, actual), 1), else_=0)),
            func.sum(case((and_(predicted, ~actual), 1), else_=0)),
            func.sum(case((and_(~predicted, actual), 1), else_=0)),
        )
        .select_from(ModerationScore)
        .join(decided, decided.c.item_id == ModerationScore.item_id)
        .join(ModelVersion, ModelVersion.id == ModerationScore.model_version_id)
        .where(in_range)
        .group_by(ModelVersion.name, ModelVersion.created_at, scored_month)
    ).all()
    by_month, totals = [], {}
    for name, registered, month_text, n, tp, fp, fn in sorted(rows, key=lambda r: (age_key(r[1], r[0]), r[2])):
        tp, fp, fn = int(tp or 0), int(fp or 0), int(fn or 0)
        by_month.append(ModerationF1(name, registered, month_text, n, tp, fp, fn, _f1(tp, fp, fn)))
        total = totals.setdefault(name, [registered, 0, 0, 0, 0])
        for i, value in enumerate((n, tp, fp, fn), start=1):
            total[i] += value
    overall = [ModerationF1(name, r, "", n, tp, fp, fn, _f1(tp, fp, fn)) for name, (r, n, tp, fp, fn) in totals.items()]
    return overall, by_month


def reward_accuracy(session: Session) -> list[RewardAccuracy]:
    """Finished reward-model runs, oldest first, with the held-out metrics they recorded."""
    runs = session.execute(
        select(RewardModelRun)
        .where(RewardModelRun.status == "done")
        .order_by(RewardModelRun.finished_at, RewardModelRun.id)
    ).scalars()
    out = []
    for run in runs:
        metrics = run.metrics or {}
        accuracy = metrics.get("accuracy")
        ci = metrics.get("accuracy_ci")
        pairs = metrics.get("n_eval_pairs")
        out.append(
            RewardAccuracy(
                run.id,
                run.finished_at,
                run.base_model,
                float(accuracy) if accuracy is not None else None,
                [float(x) for x in ci] if ci else None,
                int(pairs) if pairs is not None else None,
            )
        )
    return out


def drift(session: Session, start: datetime, end: datetime) -> list[DriftWeek]:
    """Per moderation version and week in the range: scores counted, and the PSI against the previous week."""
    # counted per day, which SQL reads straight from the stored text; the days are put into weeks here
    score_day, score_bin = day(session, ModerationScore.created_at), bin_of(session, ModerationScore.score, PSI_BINS)
    rows = session.execute(
        select(ModerationScore.model_version_id, score_day, score_bin, func.count())
        .where(ModerationScore.created_at >= start, ModerationScore.created_at < end)
        .group_by(ModerationScore.model_version_id, score_day, score_bin)
    ).all()
    names = dict(session.execute(select(ModelVersion.id, ModelVersion.name)).all())
    hist: dict[tuple[str, str], list[int]] = {}
    for version_id, day_text, bin_, n in rows:
        hist.setdefault((names[version_id], monday_of(day_text)), [0] * PSI_BINS)[int(bin_)] += n
    out = []
    for version, week_text in sorted(hist):
        counts = hist[(version, week_text)]
        before = hist.get((version, (date.fromisoformat(week_text) - timedelta(days=7)).isoformat()))
        comparable = before is not None and sum(before) >= MIN_WEEK_SCORES and sum(counts) >= MIN_WEEK_SCORES
        value = psi(before, counts) if comparable else None
        out.append(DriftWeek(version, week_text, sum(counts), value, band(value)))
    return out


def quality(session: Session, start: datetime, end: datetime) -> Quality:
    f1, f1_by_month = moderation_f1(session, start, end)
    return Quality(
        ratings_by_version(session, start, end),
        win_rate(session, start, end),
        f1,
        f1_by_month,
        reward_accuracy(session),
        drift(session, start, end),
    )
