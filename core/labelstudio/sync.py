"""Push a queue to a Label Studio project and pull its annotations back as labels.

A push creates the project (label config from data/labelstudio/) or reuses it, found by the project id stored here or
by its title on the server, and imports the queue's open items that the project does not hold yet: the task of each
item is remembered, and tasks the store does not know of (after a crash, or with a fresh store) are looked up by our
item id in their data first, so a task is never imported twice (a rating project's tasks are matched by the
answer's id in their data). A pull reads the project's export and imports it
like a file (core/ingest/labelstudio.py: labels, or ratings with their spans for a rating project), with each
annotator's e-mail and username filled in from the server."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from core import audit
from core.ingest import ImportSummary, import_file
from core.labelstudio.client import LabelStudioError, base_url, connect, talking_to
from core.labelstudio.label_config import label_config
from core.labelstudio.tasks import check_queue, open_items
from core.store.db import session_scope
from core.store.models import LabelStudioProject, LabelStudioTask, ModerationItem

TITLES = {"moderation": "Workbench moderation", "rating": "Workbench ratings"}  # each queue's default project
IMPORT_BATCH = 500  # tasks per import request
LOOKUP_CHUNK = 10_000
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class PushSummary:
    title: str
    project_id: int  # Label Studio's id
    created: bool
    open_items: int
    imported: int

    @property
    def present(self) -> int:
        return self.open_items - self.imported

    def line(self) -> str:
        return (
            f"Label Studio project {self.title!r} (#{self.project_id}{', created' if self.created else ''}): "
            f"{self.open_items:,} open items: {self.imported:,} tasks imported, {self.present:,} already there"
        )


@dataclass(frozen=True)
class PullSummary:
    title: str
    project_id: int
    tasks: int  # annotated tasks read
    skipped: int  # skipped (cancelled) annotations: not labels
    labels: ImportSummary | None  # labels or ratings; None when no task has an annotation yet

    def line(self) -> str:
        added, present, updated = (
            (self.labels.added, self.labels.present, self.labels.updated) if self.labels else (0, 0, 0)
        )
        unit = self.labels.unit if self.labels else "labels"
        return (
            f"Label Studio project {self.title!r} (#{self.project_id}): {self.tasks:,} tasks read, "
            f"{unit}: {added:,} added, {present:,} already present, {updated:,} updated"
            + (f"; {self.skipped:,} skipped (not {unit})" if self.skipped else "")
        )


def push(
    *,
    queue: str = "moderation",
    title: str = TITLES["moderation"],
    engine: Engine | None = None,
    actor_id: int | None = None,
    progress: Progress | None = None,
) -> PushSummary:
    """Import the queue's open items as tasks with the classifier's pre-annotation; returns what was done."""
    check_queue(queue)
    url = base_url()
    client = connect()
    with talking_to(url):
        project, created = _project(engine, client, url, queue, title, create=True)
        if project.queue != queue:
            raise LabelStudioError(
                f"the Label Studio project {title!r} holds the {project.queue} queue: "
                f"give the {queue} queue a project of its own (another title)"
            )
        with session_scope(engine) as session:
            items = open_items(session, queue)
        if queue == "rating":
            held = _held_answers(client, project)
            todo = [item for item in items if item.external_id not in held]
        else:
            known = _known_tasks(engine, client, project)
            todo = [item for item in items if item.item_id not in known]
        if progress and todo:
            progress(0, len(todo))
        for start in range(0, len(todo), IMPORT_BATCH):
            batch = todo[start : start + IMPORT_BATCH]
            answer = client.projects.import_tasks(
                id=project.project_id, request=[item.task() for item in batch], return_task_ids=True
            )
            if len(answer.task_ids or []) != len(batch):
                raise LabelStudioError(
                    f"Label Studio created {len(answer.task_ids or [])} tasks for {len(batch)} items; "
                    f"check project #{project.project_id} and push again (tasks are matched by item id)"
                )
            if queue == "moderation":
                _remember(engine, project.id, zip((item.item_id for item in batch), answer.task_ids, strict=True))
            if progress:
                progress(start + len(batch), len(todo))
    summary = PushSummary(title, project.project_id, created, len(items), len(todo))
    with session_scope(engine, write=True) as session:
        audit.record(
            session,
            actor_id=actor_id,
            action="labelstudio.push",
            entity="labelstudio_project",
            entity_id=project.id,
            after={"queue": queue, "title": title, "open_items": len(items), "imported": len(todo)},
        )
    return summary


def pull(
    *,
    title: str = TITLES["moderation"],
    engine: Engine | None = None,
    actor_id: int | None = None,
    progress: Progress | None = None,
) -> PullSummary:
    """Bring the project's annotations back as labels (an import of its export; refused whole if any is bad)."""
    url = base_url()
    client = connect()
    with talking_to(url):
        project, _ = _project(engine, client, url, "moderation", title, create=False)
        tasks = json.loads(b"".join(client.projects.exports.download_sync(id=project.project_id, export_type="JSON")))
        people = {user.id: user for user in client.users.list()}
    annotations = [a for task in tasks for a in task.get("annotations") or []]
    for annotation in annotations:
        who = annotation.get("completed_by")
        if isinstance(who, int) and who in people:
            annotation["completed_by"] = _annotator(people[who])
    skipped = sum(1 for a in annotations if a.get("was_cancelled"))
    if not tasks:
        return PullSummary(title, project.project_id, 0, 0, None)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.json"
        path.write_text(json.dumps(tasks), encoding="utf-8")
        labels = import_file(
            path,
            "labelstudio",
            engine=engine,
            actor_id=actor_id,
            file_name=f"labelstudio-project-{project.project_id}.json",
            progress=progress,
        )
    return PullSummary(title, project.project_id, len(tasks), skipped, labels)


def _annotator(user: Any) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email or None,
        "username": user.username or None,
        "first_name": user.first_name or "",
        "last_name": user.last_name or "",
    }


def _project(
    engine: Engine | None, client: Any, url: str, queue: str, title: str, *, create: bool
) -> tuple[LabelStudioProject, bool]:
    """The project with this title: the one stored here if the server still has it, else one found on the server by
    title, else (when `create`) a new one. Returns (stored project, created)."""
    from label_studio_sdk.core.api_error import ApiError

    with session_scope(engine) as session:
        stored = (
            session.execute(
                select(LabelStudioProject)
                .where(LabelStudioProject.base_url == url, LabelStudioProject.title == title)
                .order_by(LabelStudioProject.id.desc())
            )
            .scalars()
            .all()
        )
    for project in stored:
        try:
            client.projects.get(id=project.project_id)
            return project, False
        except ApiError as error:
            if error.status_code != 404:
                raise
    same_title = [p for p in client.projects.list(title=title) if p.title == title]
    if same_title:
        remote_id, created = min(p.id for p in same_title), False
    elif create:
        remote_id, created = client.projects.create(title=title, label_config=label_config(queue)).id, True
    else:
        raise LabelStudioError(
            f"Label Studio at {url} has no project titled {title!r}: push the queue first "
            "(python -m core labelstudio push), or name the project with --project"
        )
    with session_scope(engine, write=True) as session:
        project = _stored(session, url, remote_id) or LabelStudioProject(
            base_url=url, project_id=remote_id, title=title, queue=queue
        )
        project.title = title
        session.add(project)
        session.flush()
    return project, created


def _stored(session: Session, url: str, remote_id: int) -> LabelStudioProject | None:
    return session.execute(
        select(LabelStudioProject).where(LabelStudioProject.base_url == url, LabelStudioProject.project_id == remote_id)
    ).scalar_one_or_none()


def _known_tasks(engine: Engine | None, client: Any, project: LabelStudioProject) -> set[int]:
    """Our items the project holds. When the server has more tasks than are stored here, its tasks are matched to
    our items by the item id in their data, and remembered."""
    with session_scope(engine) as session:
        known = set(
            session.execute(select(LabelStudioTask.item_id).where(LabelStudioTask.project_id == project.id)).scalars()
        )
    if (client.projects.get(id=project.project_id).task_number or 0) <= len(known):
        return known
    by_external = {}
    for task in client.tasks.list(project=project.project_id, fields="task_only"):
        external = (task.data or {}).get("item_id")
        if isinstance(external, str):
            by_external[external] = task.id
    externals, ids = list(by_external), {}
    with session_scope(engine) as session:
        for start in range(0, len(externals), LOOKUP_CHUNK):  # SQLite takes at most 32,766 values a statement
            chunk = externals[start : start + LOOKUP_CHUNK]
            ids.update(
                session.execute(
                    select(ModerationItem.external_id, ModerationItem.id).where(ModerationItem.external_id.in_(chunk))
                ).all()
            )
    found = {ids[ext]: task_id for ext, task_id in by_external.items() if ext in ids and ids[ext] not in known}
    _remember(engine, project.id, found.items())
    return known | set(found)


def _held_answers(client: Any, project: LabelStudioProject) -> set[str]:
    """The answers (our response ids) a rating project holds, read from its tasks' data."""
    tasks = client.tasks.list(project=project.project_id, fields="task_only")
    return {(task.data or {}).get("response_id") for task in tasks} - {None}


def _remember(engine: Engine | None, project_id: int, pairs: Iterable[tuple[int, int]]) -> None:
    """Store (item id, task id) pairs of a project, each in the transaction of its batch."""
    with session_scope(engine, write=True) as session:
        session.add_all(LabelStudioTask(project_id=project_id, item_id=item, task_id=task) for item, task in pairs)
