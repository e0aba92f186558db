"""Label Studio's JSON export (a list of tasks with `id`, `data` and `annotations[]`) read into moderation labels, or,
for a rating project (tasks with an `answer`), into ratings with their spans through the ratings importer's checks and
writer (`read_rating_export`: the same judgment as a `ratings` row, so a round trip adds nothing).

Every task is validated; one bad task refuses the whole export (task index, id and field). Each annotation that was
not skipped is one label of its annotator: key `labelstudio:<user id>:<item id>`, so an annotation is never counted
twice (a re-import or a second pull adds nothing) and an annotation changed in Label Studio since updates the label,
with an audit event. Annotators are our users by e-mail, then by username; unknown ones become inactive annotators.
`import labelstudio FILE` and `labelstudio pull` (core.labelstudio.sync) both come through here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import bindparam, func, select, update

from core import audit
from core.ingest.context import Context, Numbered, table
from core.ingest.read import Problem, Progress, nul_field
from core.ingest.schemas import Id, RatingRow, Row, Text, When
from core.ingest.write import moderation_item_ids, rating_records
from core.labelstudio import label_config
from core.labelstudio.ratings import is_rating_task, task_rows
from core.review.judgments import change_judgment
from core.store.models import CATEGORIES, MODERATION_LABELS, ModerationLabel, Rating, User
from core.text import NUL_MESSAGE

SOURCE = "labelstudio"
VALUES = ("label", "categories", "note")  # what an annotation sets on its label
RATING_VALUES = ("helpfulness", "harmlessness", "accuracy", "flags", "spans", "rationale")


@dataclass(frozen=True)
class TaskProblem(Problem):
    """A problem of the task at index `line` (1-based) of the export's list."""

    task_id: Any = None

    def __str__(self) -> str:
        where = f"task {self.line}" if self.line else "file"
        where += f" (id {self.task_id})" if self.task_id is not None else ""
        return where + (f", field {self.field}" if self.field else "") + f": {self.message}"


class Annotator(Row):
    """Who completed an annotation: an export names them by Label Studio user id, or with their details when exported
    with them (or resolved by a pull)."""

    model_config = ConfigDict(frozen=True)
    id: int | None = None
    email: str | None = None
    username: str | None = None
    first_name: str = ""
    last_name: str = ""

    def name(self) -> str:
        """The username they get here if they are new."""
        return self.username or self.email or f"labelstudio-user-{self.id}"

    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.name()


class ResultIn(Row):
    from_name: str
    to_name: str
    type: str
    value: dict[str, Any]

    @field_validator("value")
    @classmethod
    def _known_values(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("from_name")
        if name in (label_config.LABEL, label_config.CATEGORIES):
            allowed = MODERATION_LABELS if name == label_config.LABEL else CATEGORIES
            chosen = value.get("choices")
            if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
                raise ValueError("expected {'choices': [...]} (a list of choice values)")
            unknown = sorted(set(chosen) - set(allowed))
            if unknown:
                raise ValueError(f"unknown {name} value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
            if name == label_config.LABEL and len(chosen) != 1:
                raise ValueError(f"choose exactly one of {', '.join(allowed)}, not {len(chosen)}")
        elif name == label_config.NOTE:
            text = value.get("text")
            if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
                raise ValueError("expected {'text': [...]} (a list of strings)")
        elif name is not None:
            known = ", ".join((label_config.LABEL, label_config.CATEGORIES, label_config.NOTE))
            raise ValueError(
                f"unknown from_name {name!r}: expected {known} (projects labelled with data/labelstudio/moderation.xml)"
            )
        return value


class AnnotationIn(Row):
    id: int | None = None
    completed_by: int | Annotator
    was_cancelled: bool = False  # a skipped task: not a label
    result: list[ResultIn] = Field(default_factory=list, validate_default=True)  # a missing result: no label
    created_at: When = None
    updated_at: When = None
    lead_time: float | None = None

    @field_validator("result")
    @classmethod
    def _one_label(cls, result: list[ResultIn], info: ValidationInfo) -> list[ResultIn]:
        if not info.data.get("was_cancelled"):
            labels = [r for r in result if r.from_name == label_config.LABEL]
            if len(labels) != 1:
                raise ValueError(f"needs one {label_config.LABEL!r} choice (toxic or not_toxic), found {len(labels)}")
        return result

    def annotator(self) -> Annotator:
        return self.completed_by if isinstance(self.completed_by, Annotator) else Annotator(id=self.completed_by)

    def values(self) -> dict[str, Any]:
        """label, categories and note, as stored on a ModerationLabel."""
        found = {r.from_name: r.value for r in self.result}
        notes = found.get(label_config.NOTE, {}).get("text", [])
        return {
            "label": found[label_config.LABEL]["choices"][0],
            "categories": sorted(set(found.get(label_config.CATEGORIES, {}).get("choices", []))),
            "note": "\n".join(t.strip() for t in notes if t.strip()),
        }


class TaskData(Row):
    item_id: Id
    text: Text


class TaskIn(Row):
    id: int
    data: TaskData
    annotations: list[AnnotationIn] = Field(default_factory=list)


def _load(path: Path, problems: Any) -> tuple[str, list[Any]] | None:
    """The export's text and its list of tasks, or None with a Problem appended."""
    try:
        text = path.read_bytes().decode("utf-8")
        tasks = json.loads(text)
    except UnicodeDecodeError as error:
        problems.append(Problem(0, None, f"not valid UTF-8 (byte at offset {error.start}); save the file as UTF-8"))
        return None
    except json.JSONDecodeError as error:
        problems.append(Problem(error.lineno, None, f"not valid JSON ({error.msg}, column {error.colno})"))
        return None
    if not isinstance(tasks, list):
        found = type(tasks).__name__
        problems.append(Problem(0, None, f"a Label Studio export is a JSON list of tasks, not a {found}"))
        return None
    return text, tasks


def rates_answers(path: Path) -> bool:
    """Whether the export is of a rating project (data/labelstudio/rating.xml): its first task (the only one parsed
    here) has an answer. A file that is not a list of tasks is not: the export's reader says why."""
    try:
        body = path.read_bytes().decode("utf-8").lstrip()
        first, _ = json.JSONDecoder().raw_decode(body[1:].lstrip()) if body.startswith("[") else (None, 0)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return is_rating_task(first)


class RatedAnnotation(RatingRow):
    """A `ratings` row read from a Label Studio annotation, with when the annotator last changed it."""

    updated_at: When = None


def read_rating_export(
    path: Path, problems: Any, progress: Progress | None = None
) -> Iterator[tuple[int, RatedAnnotation]]:
    """Yield (task index, `ratings` row) for each annotation of a rating project's export (core/labelstudio/ratings.py);
    append a TaskProblem for each problem, naming the task and field."""
    if (loaded := _load(path, problems)) is None:
        return
    for index, raw in enumerate(loaded[1], 1):
        task_id = raw.get("id") if isinstance(raw, dict) else None
        if not is_rating_task(raw):
            problems.append(
                TaskProblem(index, "data.answer", "missing: every task of a rating project has one", task_id)
            )
            continue
        rows, wrong = task_rows(raw)
        for field, message in wrong:
            problems.append(TaskProblem(index, field, message.removeprefix("Value error, "), task_id))
        for row in rows:
            yield index, RatedAnnotation.model_validate(row)
    if progress:
        progress(path.stat().st_size, path.stat().st_size)


def read_export(path: Path, problems: Any, progress: Progress | None = None) -> Iterator[tuple[int, TaskIn]]:
    """Yield (task index, task) for each valid task; append a TaskProblem for each invalid one."""
    total = path.stat().st_size
    if (loaded := _load(path, problems)) is None:
        return
    text, tasks = loaded
    escaped_nul = "\\u0000" in text
    for index, raw in enumerate(tasks, 1):
        if escaped_nul and (where := nul_field(raw)) is not None:
            task_id = raw.get("id") if isinstance(raw, dict) else None
            problems.append(TaskProblem(index, where or None, NUL_MESSAGE, task_id))
            continue
        try:
            yield index, TaskIn.model_validate(raw)
        except ValidationError as error:
            task_id = raw.get("id") if isinstance(raw, dict) else None
            for item in error.errors(include_url=False):
                field = ".".join(str(part) for part in item["loc"]) or None
                problems.append(TaskProblem(index, field, item["msg"].removeprefix("Value error, "), task_id))
        if progress and index % 1000 == 0:
            progress(total * index // len(tasks), total)
    if progress:
        progress(total, total)


def write_ratings(ctx: Context, batch: Numbered) -> int:
    """Ratings as a `ratings` file writes them (same key: the same judgment); a rating whose annotation changed in
    Label Studio after the rating was last written takes the annotation's values, with a `rating.update` audit event
    as its reviewer (so an older export changes nothing)."""
    records = rating_records(ctx, batch)
    t = table(Rating)
    stored = {
        row.key: row
        for row in ctx.conn.execute(
            select(
                t.c.key, t.c.id, t.c.user_id, t.c.created_at, t.c.updated_at, *(t.c[n] for n in RATING_VALUES)
            ).where(t.c.key.in_([r["key"] for r in records]))
        )
    }
    ctx.insert_ignore(Rating, [r for r in records if r["key"] not in stored])
    for (_, row), record in zip(batch, records, strict=True):
        before = stored.get(record["key"])
        after = {n: record[n] for n in RATING_VALUES}
        changed = row.updated_at or row.created_at or ctx.now
        if (
            before is not None
            and any(getattr(before, n) != value for n, value in after.items())
            and changed > (before.updated_at or before.created_at)
        ):
            change_judgment(
                ctx.session,
                Rating,
                judgment_id=before.id,
                user_id=before.user_id,
                values=lambda _, after=after: after,
                refused="",
            )
            ctx.updated += 1
    return len(batch)


def write_labels(ctx: Context, batch: Numbered) -> int:
    """Store one label per annotator and item; returns the number of labels the batch holds."""
    tasks = [task for _, task in batch]
    items = moderation_item_ids(ctx, ((t.data.item_id, t.data.text, {}, None) for t in tasks), SOURCE)
    done = [(items[t.data.item_id], a) for t in tasks for a in t.annotations if not a.was_cancelled]
    users = annotator_ids(ctx, (a.annotator() for _, a in done))
    newest: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for item_id, annotation in done:
        user_id = users[annotation.annotator()]
        created = annotation.created_at or ctx.now
        row = {
            "key": f"{SOURCE}:{user_id}:{item_id}",
            "source": SOURCE,
            "item_id": item_id,
            "user_id": user_id,
            "seconds_spent": annotation.lead_time,
            "created_at": created,
            **annotation.values(),
        }
        changed = annotation.updated_at or created
        if row["key"] not in newest or changed > newest[row["key"]][0]:
            newest[row["key"]] = (changed, row)
    t = table(ModerationLabel)
    stored = {
        row.key: row
        for row in ctx.conn.execute(
            select(t.c.key, t.c.id, t.c.user_id, *(t.c[n] for n in VALUES), t.c.created_at, t.c.updated_at).where(
                t.c.key.in_(list(newest))
            )
        )
    }
    ctx.insert_ignore(ModerationLabel, [row for key, (_, row) in newest.items() if key not in stored])
    _update(ctx, [(stored[key], changed, row) for key, (changed, row) in newest.items() if key in stored])
    return len(newest)


def _update(ctx: Context, found: list[tuple[Any, datetime, dict[str, Any]]]) -> None:
    """Labels take their annotation's values where it changed after they were last written, each with an audit
    event."""
    changes = []
    for label, changed, row in found:
        before, after = {n: getattr(label, n) for n in VALUES}, {n: row[n] for n in VALUES}
        if before != after and changed > (label.updated_at or label.created_at):
            changes.append((label, before, after, changed))
    if not changes:
        return
    t = table(ModerationLabel)
    ctx.conn.execute(
        update(t).where(t.c.id == bindparam("label_id")).values({n: bindparam(n) for n in (*VALUES, "updated_at")}),
        [{"label_id": label.id, **after, "updated_at": changed} for label, _, after, changed in changes],
    )
    for label, before, after, _ in changes:
        audit.record(
            ctx.session,
            actor_id=label.user_id,
            action="moderation_label.update",
            entity="moderation_label",
            entity_id=label.id,
            before=before,
            after=after | {"source": SOURCE},
        )
    ctx.updated += len(changes)


def annotator_ids(ctx: Context, annotators: Iterable[Annotator]) -> dict[Annotator, int]:
    """Our user of each annotator: by e-mail, then by username; unknown ones become inactive annotators."""
    wanted = set(annotators)
    emails = {a.email.lower() for a in wanted if a.email}
    by_email = dict(
        ctx.conn.execute(select(func.lower(User.email), User.id).where(func.lower(User.email).in_(emails))).all()
    )
    found = {a: by_email[a.email.lower()] for a in wanted if a.email and a.email.lower() in by_email}
    by_name = ctx.ids_by(User, "username", {a.name() for a in wanted if a not in found})
    new = {a.name(): a for a in wanted if a not in found and a.name() not in by_name}
    ctx.insert_ignore(
        User,
        [
            {
                "username": name,
                "display_name": a.display_name(),
                "email": a.email,
                "role": "annotator",
                "active": False,
                "failed_logins": 0,
                "created_at": ctx.now,
            }
            for name, a in new.items()
        ],
    )
    by_name.update(ctx.ids_by(User, "username", new))
    return found | {a: by_name[a.name()] for a in wanted if a not in found}
