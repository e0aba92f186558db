"""The A/B report of two chatbot versions from human judgments: comparisons, ratings, flags, all also per topic,
the leaderboard of every version, and a plain-language verdict.

SQL counts comparisons per (topic, version a, choice) and ratings per (topic, version, helpfulness, harmlessness,
accuracy) with their flags; the statistics (core.stats) work on those counts. How ties count: a tie or "both bad"
is no win for either side, so the win rate and the sign test use the decided comparisons only.

Claims are corrected for multiple tests (core.stats.multiple) in families: the verdict's five (win rate, the three
rubric dimensions and the flag rate, over all topics) are one; each column of the per-topic tables (win rate, each
dimension, flag rate) is one across topics; the single flags over all topics are one; the win rates per rubric
dimension (from the comparisons that carry them, not split per topic) are one of their own."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy import Select, String, case, cast, func, or_, select
from sqlmodel import Session

from core.reports.ab.experiments import experiment_names
from core.reports.ab.leaderboard import ROUNDS, leaderboard
from core.reports.ab.moderation import ModerationReport, moderation_report
from core.reports.ab.verdict import ADJECTIVES, adjusted_text, family_line, pct, signed
from core.reports.filters import (
    NO_TOPIC,
    Filters,
    ReportError,
    topic_names,
    version_ids,
    version_kind,
    version_names,
)
from core.stats.ab import (
    MeanDifference,
    Proportions,
    WinRate,
    comparisons_needed,
    mean_difference,
    ratings_needed,
    two_proportions,
    win_rate,
)
from core.stats.bradley_terry import Standing
from core.stats.multiple import ALPHA, UNTESTED, Adjusted, adjust
from core.store.models import FLAGS, RUBRIC, Comparison, Prompt, Rating, Response

ALL = "all topics"
BOOTSTRAP_ROUNDS = 1000
DETECT_WIN_RATE = 0.05  # the win-rate difference the sample-size advice is for (5 points)
DETECT_POINTS = 0.25  # the rating difference the sample-size advice is for
TIES_RULE = "ties and both-bad comparisons are left out of the win rate and the sign test (no win for either side)"


@dataclass(frozen=True)
class TopicComparisons:
    topic: str
    win: WinRate
    ties: int
    both_bad: int
    adjusted: Adjusted = UNTESTED


@dataclass(frozen=True)
class DimensionWinRate:
    """B's win rate on one rubric dimension, from the comparisons that carry a preference on it (ties left out)."""

    dimension: str
    win: WinRate
    adjusted: Adjusted = UNTESTED

    @property
    def n(self) -> int:
        """Comparisons with a preference on this dimension, ties included."""
        return self.win.decided + self.win.ties


@dataclass(frozen=True)
class DimensionDifference:
    dimension: str
    topic: str
    difference: MeanDifference
    more_ratings_needed: int = 0  # per version, to detect DETECT_POINTS at its family's level; 0 once one is shown
    adjusted: Adjusted = UNTESTED


@dataclass(frozen=True)
class FlagRate:
    flag: str  # "any" or one of FLAGS
    topic: str
    rates: Proportions  # flagged ratings / ratings, A against B
    adjusted: Adjusted = UNTESTED


@dataclass(frozen=True)
class ChatbotReport:
    filters: Filters
    comparisons: list[TopicComparisons]  # all topics first
    comparisons_needed: int
    dimensions: list[DimensionDifference]  # all topics first, then per topic
    flags: list[FlagRate]
    leaderboard: list[Standing]
    verdict: list[str] = field(default_factory=list)
    # one per rubric dimension, in RUBRIC's order; empty when no comparison of the two carries per-dimension choices
    dimension_win_rates: list[DimensionWinRate] = field(default_factory=list)

    @property
    def overall(self) -> TopicComparisons:
        return self.comparisons[0]

    def dimension(self, name: str, topic: str = ALL) -> DimensionDifference:
        return next(d for d in self.dimensions if d.dimension == name and d.topic == topic)


def chatbot_report(
    session: Session,
    filters: Filters,
    *,
    leaderboard_rounds: int = ROUNDS,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> ChatbotReport:
    """The whole A/B report for two chatbot versions (deterministic for a seed)."""
    a, b = version_ids(session, filters, "chatbot")
    rng = np.random.default_rng(seed)
    comparisons = _comparisons(session, filters, a, b)
    scores, flags = _rating_counts(session, filters, a, b)
    dimensions = [
        DimensionDifference(dimension, topic, mean_difference(counts[a][d], counts[b][d], rounds=rounds, rng=rng))
        for topic, counts in scores.items()
        for d, dimension in enumerate(RUBRIC)
    ]
    flag_rates = [
        FlagRate(flag, topic, two_proportions(counts[a][f], counts[a][-1], counts[b][f], counts[b][-1]))
        for topic, counts in flags.items()
        for f, flag in enumerate(("any", *FLAGS))
        if topic == ALL or flag == "any"
    ]
    comparisons, dimensions, flag_rates = _corrected(comparisons, dimensions, flag_rates)
    dimension_wins = _dimension_win_rates(session, filters, a, b)
    adjusted = adjust(["dimension win rates"] * len(dimension_wins), [d.win for d in dimension_wins])
    dimension_wins = [replace(d, adjusted=x) for d, x in zip(dimension_wins, adjusted, strict=True)]
    dimensions = [replace(d, more_ratings_needed=_ratings_needed(d, scores[d.topic], a, b)) for d in dimensions]
    overall = comparisons[0]
    more_comparisons = comparisons_needed(
        overall.win.decided,
        overall.win.decided + overall.ties + overall.both_bad,
        DETECT_WIN_RATE,
        alpha=ALPHA / max(overall.adjusted.tests, 1),
    )
    standings = leaderboard(session, filters, rounds=leaderboard_rounds, rng=rng)
    report = ChatbotReport(
        filters, comparisons, more_comparisons, dimensions, flag_rates, standings, dimension_win_rates=dimension_wins
    )
    return replace(report, verdict=chatbot_verdict(report))


def _ratings_needed(d: DimensionDifference, counts: dict[int, np.ndarray], a: int, b: int) -> int:
    """Per version, to detect DETECT_POINTS at the level of the claim's family; 0 once a difference is shown."""
    if d.adjusted.shown:
        return 0
    row = RUBRIC.index(d.dimension)
    return ratings_needed(counts[a][row], counts[b][row], DETECT_POINTS, alpha=ALPHA / max(d.adjusted.tests, 1))


def _corrected(
    comparisons: list[TopicComparisons], dimensions: list[DimensionDifference], flags: list[FlagRate]
) -> tuple[list[TopicComparisons], list[DimensionDifference], list[FlagRate]]:
    """Every row with its claim corrected within its family (see the module's docstring)."""
    verdict = "verdict"
    keys = [verdict if c.topic == ALL else "topics: win rate" for c in comparisons]
    keys += [verdict if d.topic == ALL else f"topics: {d.dimension}" for d in dimensions]
    keys += [(verdict if f.flag == "any" else "flags") if f.topic == ALL else "topics: flag rate" for f in flags]
    claims = [c.win for c in comparisons] + [d.difference for d in dimensions] + [f.rates for f in flags]
    adjusted = iter(adjust(keys, claims))
    return (
        [replace(c, adjusted=next(adjusted)) for c in comparisons],
        [replace(d, adjusted=next(adjusted)) for d in dimensions],
        [replace(f, adjusted=next(adjusted)) for f in flags],
    )


def _of_pair(query: Select, filters: Filters, a: int, b: int) -> Select:
    """The query kept to the comparisons of versions a and b (either way round) in the filters' range and topic."""
    c = Comparison
    query = query.join(Prompt, Prompt.id == c.prompt_id).where(
        or_((c.version_a_id == a) & (c.version_b_id == b), (c.version_a_id == b) & (c.version_b_id == a)),
        filters.window(c.created_at),
    )
    return query.where(Prompt.topic == filters.topic) if filters.topic else query


def _comparisons(session: Session, filters: Filters, a: int, b: int) -> list[TopicComparisons]:
    c = Comparison
    query = _of_pair(select(Prompt.topic, c.version_a_id, c.choice, func.count()), filters, a, b)
    query = query.group_by(Prompt.topic, c.version_a_id, c.choice)
    counts = {ALL: [0, 0, 0, 0]}  # per topic: A wins, B wins, ties, both bad
    for topic, version_a, choice, n in session.execute(query):
        if choice in ("a", "b"):
            slot = 0 if (choice == "a") == (version_a == a) else 1
        else:
            slot = 2 if choice == "tie" else 3
        for key in (ALL, topic or NO_TOPIC):
            counts.setdefault(key, [0, 0, 0, 0])[slot] += n
    return [
        TopicComparisons(topic, win_rate(wins_a, wins_b, ties + both_bad), ties, both_bad)
        for topic, (wins_a, wins_b, ties, both_bad) in sorted(counts.items(), key=lambda kv: (kv[0] != ALL, kv[0]))
    ]


def _dimension_win_rates(session: Session, filters: Filters, a: int, b: int) -> list[DimensionWinRate]:
    """B's win rate per rubric dimension; [] when no comparison of the pair carries per-dimension choices."""
    c = Comparison
    chosen = [c.dimensions[name].as_string() for name in RUBRIC]
    query = _of_pair(select(c.version_a_id, *chosen, func.count()), filters, a, b).group_by(c.version_a_id, *chosen)
    counts = {name: [0, 0, 0] for name in RUBRIC}  # per dimension: A wins, B wins, ties
    for version_a, *choices, n in session.execute(query):
        for name, choice in zip(RUBRIC, choices, strict=True):
            if choice in ("a", "b"):
                counts[name][0 if (choice == "a") == (version_a == a) else 1] += n
            elif choice == "tie":
                counts[name][2] += n
    if not any(sum(n) for n in counts.values()):
        return []
    return [DimensionWinRate(name, win_rate(*counts[name])) for name in RUBRIC]


def _rating_counts(session: Session, filters: Filters, a: int, b: int) -> tuple[dict, dict]:
    """scores[topic][version]: (3, 5) counts of each score per dimension; flags[topic][version]: flagged ratings
    (any flag, then each flag) and, last, the number of ratings. Topic ALL sums the others."""
    flags_text = cast(Rating.flags, String)
    flagged = [func.sum(case((func.json_array_length(Rating.flags) > 0, 1), else_=0))]
    flagged += [func.sum(case((flags_text.like(f'%"{flag}"%'), 1), else_=0)) for flag in FLAGS]
    query = (
        select(Prompt.topic, Response.model_version_id, *[getattr(Rating, d) for d in RUBRIC], func.count(), *flagged)
        .join(Response, Response.id == Rating.response_id)
        .join(Prompt, Prompt.id == Response.prompt_id)
        .where(Response.model_version_id.in_([a, b]), filters.window(Rating.created_at))
        .group_by(Prompt.topic, Response.model_version_id, *[getattr(Rating, d) for d in RUBRIC])
    )
    if filters.topic:
        query = query.where(Prompt.topic == filters.topic)

    def empty_scores() -> dict[int, np.ndarray]:
        return {a: np.zeros((len(RUBRIC), 5)), b: np.zeros((len(RUBRIC), 5))}

    def empty_flags() -> dict[int, np.ndarray]:
        return {a: np.zeros(len(FLAGS) + 2, dtype=int), b: np.zeros(len(FLAGS) + 2, dtype=int)}

    scores: dict[str, dict[int, np.ndarray]] = defaultdict(empty_scores)
    flags: dict[str, dict[int, np.ndarray]] = defaultdict(empty_flags)
    scores[ALL], flags[ALL] = empty_scores(), empty_flags()
    for topic, version, *values in session.execute(query):
        levels, n, marks = values[: len(RUBRIC)], values[len(RUBRIC)], values[len(RUBRIC) + 1 :]
        for key in (ALL, topic or NO_TOPIC):
            for d, level in enumerate(levels):
                scores[key][version][d, level - 1] += n
            flags[key][version][:-1] += np.array(marks, dtype=int)
            flags[key][version][-1] += n
    order = sorted(scores, key=lambda t: (t != ALL, t))
    return {t: scores[t] for t in order}, {t: flags[t] for t in order}


def compare_versions(session: Session, filters: Filters, *, seed: int = 0) -> ChatbotReport | ModerationReport:
    """The A/B report of two versions of one kind: chatbot (judgments) or moderation (against final labels)."""
    kinds = {name: version_kind(session, name) for name in (filters.a, filters.b)}
    for name, kind in kinds.items():
        if kind is None:
            known = "; ".join(
                f"{k}: {', '.join(version_names(session, k)) or '(none)'}" for k in ("chatbot", "moderation")
            )
            raise ReportError(f"no model version named {name!r}; known versions: {known}")
    kind_a, kind_b = kinds[filters.a], kinds[filters.b]
    if kind_a != kind_b:
        raise ReportError(f"{filters.a} is a {kind_a} version and {filters.b} a {kind_b} one: compare two of one kind")
    if kind_a == "chatbot":
        return chatbot_report(session, filters, seed=seed)
    if kind_a == "moderation":
        return moderation_report(session, filters, seed=seed)
    raise ReportError(
        f"{filters.a} and {filters.b} are {kind_a} models: A/B reports compare chatbot or moderation versions"
    )


@dataclass(frozen=True)
class ReportChoices:
    """What the A/B page offers to choose from."""

    chatbots: list[str]
    classifiers: list[str]
    topics: list[str]
    experiments: list[str]


def report_choices(session: Session) -> ReportChoices:
    return ReportChoices(
        version_names(session, "chatbot"),
        version_names(session, "moderation"),
        topic_names(session),
        experiment_names(session),
    )


def chatbot_verdict(report: ChatbotReport) -> list[str]:
    f, overall = report.filters, report.overall
    win = overall.win
    n_ratings = sum(d.difference.n_a + d.difference.n_b for d in report.dimensions if d.topic == ALL)
    if win.decided + overall.ties + overall.both_bad == 0 and n_ratings == 0:
        return [f"No comparisons or ratings of {f.a} and {f.b} in this range yet: nothing to decide on."]
    lines = []
    if win.decided == 0:
        lines.append(
            f"No decided comparisons of {f.a} and {f.b} yet ({overall.ties + overall.both_bad} without a winner)."
        )
    else:
        rate = (
            f"{f.b} wins {pct(win.rate)} [{pct(overall.adjusted.ci_low)}, {pct(overall.adjusted.ci_high)}] of "
            f"{win.decided:,} decided comparisons"
        )
        tested = f"{adjusted_text(win.p_value, overall.adjusted)}; ties left out"
        if overall.adjusted.shown:
            better = f.b if win.rate > 0.5 else f.a
            lines.append(f"{better} wins more often: {rate} ({tested}).")
        else:
            lines.append(f"Comparisons: no difference shown: {rate} ({tested}).")
    if not (win.decided and overall.adjusted.shown):
        if report.comparisons_needed:
            lines.append(
                f"About {report.comparisons_needed:,} more comparisons would detect a 5-point win-rate difference."
            )
        else:
            lines.append("There are enough comparisons to detect a 5-point win-rate difference: any is smaller.")
    for d in (d for d in report.dimensions if d.topic == ALL):
        diff, adjusted = d.difference, d.adjusted
        if not (diff.n_a and diff.n_b):
            lines.append(f"{d.dimension.capitalize()}: not rated for both versions yet.")
            continue
        interval = f"{signed(diff.difference)} points [{signed(adjusted.ci_low)}, {signed(adjusted.ci_high)}]"
        tested = adjusted_text(diff.p_value, adjusted)
        if adjusted.shown:
            more = "more" if diff.difference > 0 else "less"
            lines.append(f"{f.b} is {more} {ADJECTIVES[d.dimension]}: {interval} ({tested}).")
        else:
            advice = (
                f"; about {d.more_ratings_needed:,} more ratings per version would detect a 0.25-point difference"
                if d.more_ratings_needed
                else ""
            )
            lines.append(f"{d.dimension.capitalize()}: no difference shown ({interval}; {tested}{advice}).")
    flagged = next((r for r in report.flags if r.flag == "any" and r.topic == ALL), None)
    if flagged and flagged.rates.n_a and flagged.rates.n_b:
        rates = f"{pct(flagged.rates.rate_b, 1)} of {f.b}'s ratings against {pct(flagged.rates.rate_a, 1)} of {f.a}'s"
        tested = adjusted_text(flagged.rates.p_value, flagged.adjusted)
        if flagged.adjusted.shown:
            direction = "more" if flagged.rates.difference > 0 else "less"
            lines.append(f"{f.b} is flagged {direction} often: {rates} ({tested}).")
        else:
            lines.append(f"Flags: no difference shown ({rates}; {tested}).")
    return lines + family_line(overall.adjusted.tests or max((d.adjusted.tests for d in report.dimensions), default=0))
