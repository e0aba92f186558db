"""The leaderboard: every chatbot version ranked by Bradley-Terry strength from all comparisons in a time range."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select
from sqlmodel import Session

from core.reports.filters import Filters
from core.stats.bradley_terry import Battles, Standing, standings
from core.store.models import Comparison, ModelVersion, Prompt

ROUNDS = 200


def battle_counts(session: Session, filters: Filters) -> list[tuple[str, str, int, int, int]]:
    """(version a, version b, wins of a, wins of b, ties) per ordered pair of chatbot versions; "both bad" is a tie.

    One scan of ix_comparison_versions in its own order: no join, no sort."""
    c = Comparison
    query = select(c.version_a_id, c.version_b_id, c.choice, func.count()).where(filters.window(c.created_at))
    if filters.topic:
        query = query.where(c.prompt_id.in_(select(Prompt.id).where(Prompt.topic == filters.topic)))
    rows = session.execute(query.group_by(c.version_a_id, c.version_b_id, c.choice)).all()
    chatbots = select(ModelVersion.id, ModelVersion.name).where(ModelVersion.kind == "chatbot")
    names = dict(session.execute(chatbots).all())
    counts: dict[tuple[str, str], list[int]] = {}
    for a, b, choice, n in rows:
        if a in names and b in names and a != b:
            cell = counts.setdefault((names[a], names[b]), [0, 0, 0])
            cell[{"a": 0, "b": 1}.get(choice, 2)] += n
    return [(a, b, *cell) for (a, b), cell in sorted(counts.items())]


def leaderboard(
    session: Session, filters: Filters, *, rounds: int = ROUNDS, rng: np.random.Generator | None = None
) -> list[Standing]:
    """Best first; versions without a comparison in the range are left out. `filters.a`/`b` do not matter."""
    outcomes = battle_counts(session, filters)
    models = sorted({name for a, b, *_ in outcomes for name in (a, b)})
    return standings(Battles.of(models, outcomes), rounds=rounds, rng=rng or np.random.default_rng(0))
