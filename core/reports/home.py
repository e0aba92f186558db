"""The numbers on each role's home page. Every number is one SQL aggregate; no table is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from core.auth import UserPublic
from core.review.progress import done_today, left_for, start_of_day
from core.store.inventory import recent_imports, table_counts
from core.store.models import MODEL_KINDS, Comparison, ModelVersion, ModerationLabel, Rating, utcnow

# The tables whose size an admin watches on the home page (the data page lists them all).
ADMIN_TABLES = (
    "Users",
    "Model versions",
    "Prompts",
    "Answers",
    "Ratings",
    "Comparisons",
    "Moderation items",
    "Moderation labels",
)


@dataclass(frozen=True)
class Count:
    label: str
    value: int | str
    help: str = ""


def _scalar(session: Session, query) -> int:
    return session.execute(query).scalar_one()


def _expert(session: Session, user: UserPublic, now: datetime) -> list[Count]:
    return [
        Count(
            "Answers to rate",
            left_for(session, user.id, "rating", now),
            "Answers in the rating queue that still need a rating and that you have not rated or skipped.",
        ),
        Count(
            "Pairs to compare",
            left_for(session, user.id, "comparison", now),
            "Pairs of answers (one prompt, two model versions) that still need comparisons and that you have not "
            "compared or skipped.",
        ),
        Count("Your ratings today", done_today(session, user.id, "rating", now), "Since midnight UTC."),
        Count("Your comparisons today", done_today(session, user.id, "comparison", now), "Since midnight UTC."),
    ]


def _annotator(session: Session, user: UserPublic, now: datetime) -> list[Count]:
    return [
        Count(
            "Items to label",
            left_for(session, user.id, "moderation", now),
            "Borderline moderation items that still need labels and that you have not labelled or skipped.",
        ),
        Count("Your labels today", done_today(session, user.id, "moderation", now), "Since midnight UTC."),
    ]


def age(since: datetime, now: datetime) -> str:
    """A short, readable time since `since`: "< 1 min", "25 min", "16 h", "3 days"."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "< 1 min"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def _product_owner(session: Session, now: datetime) -> list[Count]:
    today = start_of_day(now)
    judged_today = [
        select(func.count()).select_from(model).where(model.created_at >= today).scalar_subquery()
        for model in (Rating, Comparison, ModerationLabel)
    ]
    judgments = _scalar(session, select(judged_today[0] + judged_today[1] + judged_today[2]))
    kinds = dict(session.execute(select(ModelVersion.kind, func.count()).group_by(ModelVersion.kind)).all())
    counts = [Count("Judgments today", judgments, "Ratings, comparisons and labels since midnight UTC, by everyone.")]
    counts += [
        Count(f"{kind.capitalize()} versions", kinds.get(kind, 0), f"Model versions of kind {kind}.")
        for kind in MODEL_KINDS
    ]
    last = recent_imports(session, limit=1, status="done")
    if last and last[0].finished_at is not None:
        run = last[0]
        finished = f"{run.finished_at:%d %b %Y %H:%M} UTC"
        detail = f"{run.file_name} ({run.kind}), finished {finished}: {run.rows_added:,} added."
        counts.append(Count("Since last import", age(run.finished_at, now), detail))
    else:
        counts.append(Count("Since last import", "never", "No file has been imported yet."))
    return counts


def _admin(session: Session) -> list[Count]:
    return [Count(t.label, t.rows, f"Rows in table {t.table}.") for t in table_counts(session, ADMIN_TABLES)]


def home_counts(session: Session, user: UserPublic, *, now: datetime | None = None) -> list[Count]:
    """The tiles of `user`'s home page, in the order they are shown."""
    now = now or utcnow()
    if user.role in ("expert", "lead"):
        return _expert(session, user, now)
    if user.role == "annotator":
        return _annotator(session, user, now)
    if user.role == "product_owner":
        return _product_owner(session, now)
    if user.role == "admin":
        return _admin(session)
    return []
