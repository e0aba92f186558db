"""SQL pieces the reports share, written once for SQLite and PostgreSQL: calendar buckets as 'YYYY-MM-DD' text,
durations in seconds, histogram bins, and percentiles computed by the database.

Percentiles are nearest-rank (PostgreSQL's percentile_disc): the smallest value with at least p % of the values at
or below it. PostgreSQL computes them with percentile_disc; SQLite, which has no percentile function, with one
ordered query per group: an OFFSET into an index where one matches the order (backlog ages), else a window
function over the rows (both sort in the database; no row reaches Python)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, cast, func, literal_column, select
from sqlmodel import Session


def _const(text: str) -> ColumnElement[str]:
    """A string constant written into the SQL (not a bound parameter), so that PostgreSQL sees the same
    expression in SELECT and GROUP BY."""
    return literal_column(f"'{text}'")


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _utc(session: Session, column: Any) -> Any:
    return func.timezone(_const("UTC"), column)


def day(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM-DD' of a UTC timestamp."""
    if dialect(session) == "sqlite":
        return func.substr(column, literal_column("1"), literal_column("10"))
    return func.to_char(_utc(session, column), _const("YYYY-MM-DD"))


def month(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a UTC timestamp."""
    if dialect(session) == "sqlite":
        return func.substr(column, literal_column("1"), literal_column("7"))
    return func.to_char(_utc(session, column), _const("YYYY-MM"))


def week(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM-DD' of the Monday that starts the (ISO, UTC) week of a timestamp."""
    if dialect(session) == "sqlite":
        return func.date(column, _const("weekday 0"), _const("-6 days"))
    return func.to_char(func.date_trunc(_const("week"), _utc(session, column)), _const("YYYY-MM-DD"))


def seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    """Seconds from `earlier` to `later`. SQLite's julianday is a day count in a double (good to about 40
    microseconds), so the difference is rounded to the millisecond: 24 h comes out as exactly 86,400 s."""
    if dialect(session) == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
        return func.round(days * literal_column("86400.0"), literal_column("3"))
    return func.extract("epoch", later - earlier)


def bin_of(session: Session, value: Any, bins: int) -> ColumnElement[int]:
    """The equal-width bin (0 .. bins-1) of a value in [0, 1]; 1 falls in the last bin."""
    scaled = value * literal_column(str(int(bins)))
    last = literal_column(str(int(bins) - 1))
    if dialect(session) == "sqlite":
        return func.min(cast(scaled, Integer), last)
    return func.least(cast(func.floor(scaled), Integer), last)


def rank_of(q: float, n: int) -> int:
    """The 1-based nearest rank of the q-quantile (0 < q <= 1) among n ordered values."""
    return max(1, math.ceil(q * n - 1e-9))


def percentiles(
    session: Session,
    rows: Select,
    qs: Sequence[float],
    *,
    indexed: bool = False,
    descending: bool = False,
) -> dict[Any, dict[float, Any]]:
    """Nearest-rank percentiles per group. `rows` selects two columns labelled `grp` and `value` (NULL values are
    left out); `descending` ranks from the largest value down (the age of a timestamp grows as it falls).
    `indexed=True` says an index yields the rows in value order within a group, so on SQLite an OFFSET into it is
    cheap; otherwise the rows are ranked with a window function. Returns {group: {q: value}}."""
    sub = rows.subquery()
    present = sub.c.value.is_not(None)
    order = sub.c.value.desc() if descending else sub.c.value
    if dialect(session) != "sqlite":
        columns = [func.percentile_disc(q).within_group(order) for q in qs]
        result = session.execute(select(sub.c.grp, *columns).where(present).group_by(sub.c.grp))
        return {row[0]: dict(zip(qs, row[1:], strict=True)) for row in result}
    counts = dict(session.execute(select(sub.c.grp, func.count()).where(present).group_by(sub.c.grp)).all())
    if indexed:
        return {
            group: {
                q: session.execute(
                    select(sub.c.value)
                    .where(present, sub.c.grp == group)
                    .order_by(order)
                    .limit(1)
                    .offset(rank_of(q, n) - 1)
                ).scalar_one()
                for q in qs
            }
            for group, n in counts.items()
        }
    ranks = sorted({rank_of(q, n) for n in counts.values() for q in qs})
    ranked = (
        select(sub.c.grp, sub.c.value, func.row_number().over(partition_by=sub.c.grp, order_by=order).label("rn"))
        .where(present)
        .subquery()
    )
    found = {
        (group, rn): value
        for group, value, rn in session.execute(
            select(ranked.c.grp, ranked.c.value, ranked.c.rn).where(ranked.c.rn.in_(ranks))
        )
    }
    return {group: {q: found[(group, rank_of(q, n))] for q in qs} for group, n in counts.items()}
