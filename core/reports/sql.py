"""SQL pieces the reports share, written once for SQLite and PostgreSQL: calendar buckets as 'YYYY-MM-DD' text,
durations in seconds, histogram bins, and percentiles computed by the database.

Percentiles are nearest-rank (PostgreSQL's percentile_disc): the smallest value with at least p % of the values at
or below it. They are computed by the database, never from rows loaded into Python: by an OFFSET into an index that
holds the values in order (backlog ages), by percentile_disc on PostgreSQL, or by window functions that rank each
group's values and return only the rows at the wanted ranks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, case, cast, func, literal_column, or_, select
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


def month_number(session: Session, column: Any) -> ColumnElement[int]:
    """year * 12 + month - 1 of a UTC timestamp: months as consecutive integers (month_text turns one back)."""
    if dialect(session) == "sqlite":
        year = cast(func.substr(column, literal_column("1"), literal_column("4")), Integer)
        number = cast(func.substr(column, literal_column("6"), literal_column("2")), Integer)
    else:
        utc = _utc(session, column)
        year, number = cast(func.extract("year", utc), Integer), cast(func.extract("month", utc), Integer)
    return year * literal_column("12") + number - literal_column("1")


def month_text(number: int) -> str:
    year, month_index = divmod(number, 12)
    return f"{year:04d}-{month_index + 1:02d}"


def monday_of(day_text: str) -> str:
    """The Monday starting the (ISO) week of a 'YYYY-MM-DD' day, as 'YYYY-MM-DD'."""
    d = date.fromisoformat(day_text)
    return (d - timedelta(days=d.weekday())).isoformat()


def seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    """Seconds from `earlier` to `later`. SQLite's julianday is a day count in a double (good to about 40
    microseconds), so the difference is rounded to the millisecond: 24 h comes out as exactly 86,400 s."""
    if dialect(session) == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
        return func.round(days * literal_column("86400.0"), literal_column("3"))
    return cast(func.extract("epoch", later - earlier), Float)  # numeric by default: slow to sort and divide


def whole(session: Session, value: Any) -> ColumnElement[int]:
    """A non-negative number rounded down to a whole number (SQLite's CAST truncates, PostgreSQL's rounds)."""
    return cast(value, Integer) if dialect(session) == "sqlite" else cast(func.floor(value), Integer)


def median_of_counts(counts: dict[Any, int]) -> Any:
    """The nearest-rank median of values given as {value: how many}."""
    n, seen = sum(counts.values()), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank_of(0.5, n):
            return value
    return None


def bin_of(session: Session, value: Any, bins: int) -> ColumnElement[int]:
    """The equal-width bin (0 .. bins-1) of a value in [0, 1]; 1 falls in the last bin."""
    last = literal_column(str(int(bins) - 1))
    scaled = whole(session, value * literal_column(str(int(bins))))
    return func.min(scaled, last) if dialect(session) == "sqlite" else func.least(scaled, last)


def rank_of(q: float, n: int) -> int:
    """The 1-based nearest rank of the q-quantile (0 < q <= 1) among n ordered values: ceil(q * n), in the integer
    arithmetic that _rank_sql writes, so both always agree."""
    per_mille = round(q * 1000)
    return max(1, (per_mille * n + 999) // 1000)


def _rank_sql(q: float, n: Any) -> ColumnElement[int]:
    return (literal_column(str(round(q * 1000))) * n + literal_column("999")) // literal_column("1000")


@dataclass(frozen=True)
class Distribution:
    n: int
    at: dict[float, Any]  # q -> the nearest-rank percentile
    at_most: int  # values at or below the threshold given (0 without one)


def distributions(
    session: Session, rows: Select, qs: Sequence[float], *, threshold: float | None = None
) -> dict[Any, Distribution]:
    """Per group: how many values, their nearest-rank percentiles and how many are at most `threshold`, in one
    statement: the values are materialized once, counted per group, and ranked with row_number (on SQLite one
    window function over a sort costs about half of three); only the rows at the wanted ranks come back. `rows`
    selects two columns labelled `grp` and `value`; NULL values are left out."""
    sub = rows.subquery()
    values = (
        select(sub.c.grp, sub.c.value).where(sub.c.value.is_not(None)).cte("dist_values").prefix_with("MATERIALIZED")
    )
    at_most = (
        func.sum(case((values.c.value <= threshold, 1), else_=0)) if threshold is not None else literal_column("0")
    )
    counts = (
        select(values.c.grp, func.count().label("n"), at_most.label("at_most"))
        .group_by(values.c.grp)
        .cte("dist_counts")
    )
    ranked = select(
        values.c.grp,
        values.c.value,
        func.row_number().over(partition_by=values.c.grp, order_by=values.c.value).label("rn"),
    ).subquery()
    wanted = or_(*(ranked.c.rn == _rank_sql(q, counts.c.n) for q in qs))
    found: dict[Any, dict[str, Any]] = {}
    for group, value, rn, n, below in session.execute(
        select(ranked.c.grp, ranked.c.value, ranked.c.rn, counts.c.n, counts.c.at_most)
        .join(counts, counts.c.grp == ranked.c.grp)
        .where(wanted)
    ):
        entry = found.setdefault(group, {"n": int(n), "below": int(below or 0), "by_rank": {}})
        entry["by_rank"][int(rn)] = value
    return {
        group: Distribution(e["n"], {q: e["by_rank"][rank_of(q, e["n"])] for q in qs}, e["below"])
        for group, e in found.items()
    }


def indexed_percentiles(
    session: Session, rows: Select, qs: Sequence[float], *, descending: bool = False
) -> dict[Any, dict[float, Any]]:
    """Nearest-rank percentiles per group of values that an index holds in order within each group: on SQLite each
    percentile is an OFFSET into that index (it reads only the entries before it), on PostgreSQL percentile_disc.
    `rows` selects two columns labelled `grp` and `value` (NULL values are left out); `descending` ranks from the
    largest value down (the age of a timestamp grows as it falls)."""
    sub = rows.subquery()
    present = sub.c.value.is_not(None)
    order = sub.c.value.desc() if descending else sub.c.value
    if dialect(session) != "sqlite":
        columns = [func.percentile_disc(q).within_group(order) for q in qs]
        result = session.execute(select(sub.c.grp, *columns).where(present).group_by(sub.c.grp))
        return {row[0]: dict(zip(qs, row[1:], strict=True)) for row in result}
    counts = dict(session.execute(select(sub.c.grp, func.count()).where(present).group_by(sub.c.grp)).all())
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
