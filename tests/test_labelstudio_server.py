"""Push and pull against a real Label Studio server (slow: the first run installs it, each run starts it)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import delete, func, select

from core.labelstudio.client import LabelStudioError
from core.labelstudio.label_config import result
from core.labelstudio.sync import pull, push
from core.labelstudio.tasks import write_import_file
from core.store.db import session_scope
from core.store.models import AuditEvent, LabelStudioProject, LabelStudioTask, ModerationItem, ModerationLabel, User
from tests.labelstudio_data import moderation_queue
from tests.labelstudio_server import label_studio  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ITEMS = [
    ("m1", "you are a complete idiot", 0.62, "toxic"),
    ("m2", "see you at the meeting", 0.41, "not_toxic"),
    ("m3", "people like you should leave", 0.51, "toxic"),
]


@pytest.fixture
def server(label_studio, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    return label_studio


@pytest.fixture
def title() -> str:
    return f"moderation {uuid.uuid4().hex[:8]}"


def server_tasks(server, project_id: int) -> dict[str, object]:
    """item id -> task (with annotations and predictions)."""
    return {t.data["item_id"]: t for t in server.client().tasks.list(project=project_id, fields="all")}


def annotator(server, name: str):
    """A Label Studio user of the server (unique per test)."""
    suffix = uuid.uuid4().hex[:6]
    return server.client().users.create(username=f"{name}-{suffix}", email=f"{name}-{suffix}@example.com")


def test_push_creates_a_project_with_a_task_and_a_prediction_per_open_item(server, engine, tmp_path, title):
    items = moderation_queue(engine, tmp_path, ITEMS)
    summary = push(title=title, engine=engine)
    assert (summary.created, summary.open_items, summary.imported) == (True, 3, 3)
    project = server.client().projects.get(id=summary.project_id)
    assert project.title == title and 'name="categories"' in project.label_config
    tasks = server_tasks(server, summary.project_id)
    assert {ext: t.data for ext, t in tasks.items()} == {ext: {"text": text, "item_id": ext} for ext, text, *_ in ITEMS}
    m1 = tasks["m1"].predictions[0]
    assert (m1.score, m1.model_version) == (0.62, "clf-v1")
    assert m1.result == result("toxic", ["harassment"])
    assert tasks["m2"].predictions[0].result == result("not_toxic", [])
    with session_scope(engine) as s:
        stored = dict(s.execute(select(LabelStudioTask.item_id, LabelStudioTask.task_id)).all())
    assert stored == {items[ext]: task.id for ext, task in tasks.items()}


def test_a_second_push_adds_no_task_even_from_a_store_that_forgot_the_project(server, engine, tmp_path, title):
    moderation_queue(engine, tmp_path, ITEMS[:2])
    first = push(title=title, engine=engine)
    again = push(title=title, engine=engine)
    assert (again.created, again.imported, again.present) == (False, 0, 2)
    with session_scope(engine, write=True) as s:  # as if the store had been rebuilt: found by title, tasks by item
        s.execute(delete(LabelStudioTask))
        s.execute(delete(LabelStudioProject))
    rebuilt = push(title=title, engine=engine)
    assert (rebuilt.project_id, rebuilt.created, rebuilt.imported) == (first.project_id, False, 0)
    moderation_queue(engine, tmp_path, ITEMS[2:])
    assert push(title=title, engine=engine).imported == 1
    assert sorted(server_tasks(server, first.project_id)) == ["m1", "m2", "m3"]
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(LabelStudioTask)).scalar_one() == 3


def test_annotations_of_two_users_come_back_as_labels_once(server, engine, tmp_path, title):
    moderation_queue(engine, tmp_path, ITEMS)
    bob = annotator(server, "bob")
    with session_scope(engine, write=True) as s:  # bob is ours under another name: matched by e-mail
        s.add(User(username="robert", role="annotator", email=bob.email.upper()))
    project = push(title=title, engine=engine).project_id
    tasks = server_tasks(server, project)
    client = server.client()
    client.annotations.create(id=tasks["m1"].id, result=result("toxic", ["harassment"], "insult"), completed_by=bob.id)
    client.annotations.create(id=tasks["m1"].id, result=result("not_toxic", []))  # by the token's user, the admin
    client.annotations.create(id=tasks["m2"].id, result=result("not_toxic", []), completed_by=bob.id)
    client.annotations.create(id=tasks["m3"].id, result=[], was_cancelled=True, completed_by=bob.id)  # skipped

    first = pull(title=title, engine=engine)
    assert (first.tasks, first.skipped, first.labels.added, first.labels.present) == (3, 1, 3, 0)
    assert "3 tasks read, labels: 3 added, 0 already present, 0 updated; 1 skipped" in first.line()
    with session_scope(engine) as s:
        labels = s.execute(
            select(ModerationItem.external_id, User.username, ModerationLabel.label, ModerationLabel.note)
            .join(ModerationItem, ModerationItem.id == ModerationLabel.item_id)
            .join(User, User.id == ModerationLabel.user_id)
            .where(ModerationLabel.source == "labelstudio")
        )
        assert set(labels) == {
            ("m1", "robert", "toxic", "insult"),
            ("m1", server.admin_email, "not_toxic", ""),
            ("m2", "robert", "not_toxic", ""),
        }
        admin = s.execute(select(User.role, User.active, User.email).where(User.username == server.admin_email)).one()
        assert tuple(admin) == ("annotator", False, server.admin_email)  # unknown: an inactive annotator

    second = pull(title=title, engine=engine)
    assert (second.labels.added, second.labels.present, second.labels.updated) == (0, 3, 0)
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(ModerationLabel)).scalar_one() == 3


def test_an_annotation_updated_in_label_studio_updates_the_label_with_an_audit_event(server, engine, tmp_path, title):
    moderation_queue(engine, tmp_path, ITEMS[:1])
    zoe = annotator(server, "zoe")
    project = push(title=title, engine=engine).project_id
    client = server.client()
    task_id = server_tasks(server, project)["m1"].id
    created = client.annotations.create(id=task_id, result=result("toxic", ["hate"]), completed_by=zoe.id)
    pull(title=title, engine=engine)
    client.annotations.update(id=created.id, result=result("not_toxic", [], "sarcasm, not hate"))

    summary = pull(title=title, engine=engine)
    assert (summary.labels.added, summary.labels.present, summary.labels.updated) == (0, 0, 1)
    with session_scope(engine) as s:
        label = s.execute(select(ModerationLabel)).scalar_one()
        assert (label.label, label.categories, label.note) == ("not_toxic", [], "sarcasm, not hate")
        user = s.get(User, label.user_id)
        assert (user.username, user.email, user.role, user.active) == (zoe.username, zoe.email, "annotator", False)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "moderation_label.update")).scalar_one()
        assert (event.entity_id, event.actor_id) == (label.id, user.id)
        assert event.before == {"label": "toxic", "categories": ["hate"], "note": ""}
        assert event.after["label"] == "not_toxic"


def test_the_import_file_is_accepted_by_label_studio(server, engine, tmp_path):
    moderation_queue(engine, tmp_path, ITEMS)
    path = tmp_path / "tasks.json"
    write_import_file(engine, "moderation", path)
    client = server.client()
    from core.labelstudio.label_config import label_config

    project = client.projects.create(title=f"import file {uuid.uuid4().hex[:8]}", label_config=label_config())
    answer = client.projects.import_tasks(id=project.id, request=json.loads(path.read_text()), return_task_ids=True)
    assert (answer.task_count, answer.prediction_count) == (3, 3)
    tasks = server_tasks(server, project.id)
    assert tasks["m3"].predictions[0].result == result("toxic", ["harassment"])


def test_pull_from_a_project_that_does_not_exist_says_to_push_first(server, engine):
    with pytest.raises(LabelStudioError, match="has no project titled 'nowhere': push the queue first"):
        pull(title="nowhere", engine=engine)


def test_a_refused_token_names_the_variable_to_check(server, engine, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "not-the-token")
    with pytest.raises(LabelStudioError, match=r"refused the token .*check LABEL_STUDIO_API_KEY"):
        push(engine=engine)


def test_the_rating_queue_goes_to_label_studio_and_comes_back_as_ratings_with_spans(server, engine, tmp_path, title):
    from tests.test_labelstudio_ratings import ANSWER, SPANS, annotation, conversation, judged, stored_ratings

    conversation(tmp_path, engine)
    summary = push(queue="rating", title=title, engine=engine)
    assert (summary.created, summary.imported) == (True, 1)
    (task,) = server.client().tasks.list(project=summary.project_id, fields="all")
    assert task.data["answer"] == ANSWER and task.data["turns"][-1]["role"] == "user"
    assert "secret-bot" not in str(task.data)  # annotators never see which model wrote the answer
    server.client().annotations.create(id=task.id, result=annotation(judged()))

    first = pull(title=title, engine=engine)
    assert (first.labels.unit, first.labels.added) == ("ratings", 1)
    ((response, _, _, spans, _),) = stored_ratings(engine)
    assert (response, [(s["start"], s["end"]) for s in spans]) == ("r1", [(s["start"], s["end"]) for s in SPANS])
    assert pull(title=title, engine=engine).labels.added == 0
