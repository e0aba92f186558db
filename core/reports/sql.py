"""SQL pieces the reports share, written once for SQLite and PostgreSQL: calendar buckets as 'YYYY-MM-DD' text,
durations in seconds, histogram bins, and percentiles computed by the database.

Percentiles are nearest-rank (PostgreSQL's percentile_disc): the smallest value with at least p % of the values at
or below it. They are computed by the database, never from rows loaded into Python: by an OFFSET into an index that
holds the values in order (backlog ages), by percentile_disc on PostgreSQL, or by window functions that rank each
group's values and return only the rows at the wanted ranks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, case, cast, func, literal_column, or_, select
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
    query (window functions rank each group's values; only the rows at the wanted ranks come back). `rows` selects
    two columns labelled `grp` and `value`; NULL values are left out."""
    sub = rows.subquery()
    window = {"partition_by": sub.c.grp}
    at_most = (
        func.sum(case((sub.c.value <= threshold, 1), else_=0)).over(**window)
        if threshold is not None
        else literal_column("0")
    )
    ranked = (
        select(
            sub.c.grp,
            sub.c.value,
            func.row_number().over(order_by=sub.c.value, **window).label("rn"),
            func.count().over(**window).label("n"),
            at_most.label("at_most"),
        )
        .where(sub.c.value.is_not(None))
        .subquery()
    )
    wanted = or_(*(ranked.c.rn == _rank_sql(q, ranked.c.n) for q in qs))
    found: dict[Any, dict[str, Any]] = {}
    for group, value, rn, n, below in session.execute(
        select(ranked.c.grp, ranked.c.value, ranked.c.rn, ranked.c.n, ranked.c.at_most).where(wanted)
    ):
        entry = found.setdefault(group, {"n": int(n), "below": int(below or 0), "by_rank": {}})
        entry["by_rank"][int(rn)] = value
    return {
        group: Distribution(e["n"], {q: e["by_rank"][rank_of(q, e["n"])] for q in qs}, e["below"])
        for group, e in found.items()
    }


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
    `indexed=True` says an index yields each group's rows in value order: on SQLite each percentile is then an
    OFFSET into it, which reads only the entries before it. Otherwise PostgreSQL's percentile_disc, or (SQLite)
    the window functions of `distributions`."""
    sub = rows.subquery()
    present = sub.c.value.is_not(None)
    order = sub.c.value.desc() if descending else sub.c.value
    if dialect(session) != "sqlite":
        columns = [func.percentile_disc(q).within_group(order) for q in qs]
        result = session.execute(select(sub.c.grp, *columns).where(present).group_by(sub.c.grp))
        return {row[0]: dict(zip(qs, row[1:], strict=True)) for row in result}
    if not indexed:
        if descending:
            raise ValueError("descending percentiles need indexed=True on SQLite")
        return {group: d.at for group, d in distributions(session, rows, qs).items()}
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
