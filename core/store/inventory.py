"""What is in the store: rows per table and the model versions with their rows. SQL aggregates only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from core.store.models import (
    Adjudication,
    AuditEvent,
    Comparison,
    ImportRun,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
    WorkItem,
)
from core.store.versions import newest_first

# (label shown to people, table), in the order a person reads the store: who, what was asked, what was judged.
TABLES: tuple[tuple[str, type[SQLModel]], ...] = (
    ("Users", User),
    ("Model versions", ModelVersion),
    ("Prompts", Prompt),
    ("Answers", Response),
    ("Ratings", Rating),
    ("Comparisons", Comparison),
    ("Moderation items", ModerationItem),
    ("Moderation scores", ModerationScore),
    ("Moderation labels", ModerationLabel),
    ("Adjudications", Adjudication),
    ("Work items", WorkItem),
    ("Imports", ImportRun),
    ("Audit events", AuditEvent),
)


@dataclass(frozen=True)
class TableCount:
    label: str
    table: str
    rows: int


@dataclass(frozen=True)
class VersionRow:
    name: str
    kind: str
    created_at: datetime
    answers: int | None  # chatbot versions
    scored_items: int | None  # moderation versions


@dataclass(frozen=True)
class ImportLine:
    finished_at: datetime | None
    kind: str
    file_name: str
    status: str
    rows_read: int
    rows_added: int
    rows_present: int
    rows_refused: int


@dataclass(frozen=True)
class Inventory:
    versions: list[VersionRow]
    tables: list[TableCount]
    imports: list[ImportLine]


def _count(model: type[SQLModel]):
    return select(func.count()).select_from(model).scalar_subquery()


def table_counts(session: Session, labels: tuple[str, ...] | None = None) -> list[TableCount]:
    """Rows per table (all of TABLES, or those with the given labels), in one query."""
    chosen = [(label, model) for label, model in TABLES if labels is None or label in labels]
    row = session.execute(select(*(_count(model) for _, model in chosen))).one()
    return [TableCount(label, model.__tablename__, n) for (label, model), n in zip(chosen, row, strict=True)]


def model_versions(session: Session) -> list[VersionRow]:
    """Every model version, newest first, with its answers (chatbot) or scored items (moderation)."""
    answers = (
        select(func.count()).select_from(Response).where(Response.model_version_id == ModelVersion.id).scalar_subquery()
    )
    scored = (
        select(func.count())
        .select_from(ModerationScore)
        .where(ModerationScore.model_version_id == ModelVersion.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(ModelVersion.name, ModelVersion.kind, ModelVersion.created_at, ModelVersion.id, answers, scored)
    )
    return [
        VersionRow(
            name,
            kind,
            created,
            n_answers if kind == "chatbot" else None,
            n_scored if kind == "moderation" else None,
        )
        for name, kind, created, _, n_answers, n_scored in newest_first(rows)
    ]


def recent_imports(session: Session, *, limit: int = 5, status: str | None = None) -> list[ImportLine]:
    """The last imports, newest first (refused ones too, unless a status is given)."""
    query = select(
        ImportRun.finished_at,
        ImportRun.kind,
        ImportRun.file_name,
        ImportRun.status,
        ImportRun.rows_read,
        ImportRun.rows_added,
        ImportRun.rows_present,
        ImportRun.rows_refused,
    )
    if status is not None:
        query = query.where(ImportRun.status == status)
    order = func.coalesce(ImportRun.finished_at, ImportRun.started_at)
    return [ImportLine(*row) for row in session.execute(query.order_by(order.desc(), ImportRun.id.desc()).limit(limit))]


def store_inventory(session: Session, *, imports: int = 10) -> Inventory:
    """Everything the data page shows about the store."""
    return Inventory(model_versions(session), table_counts(session), recent_imports(session, limit=imports))
