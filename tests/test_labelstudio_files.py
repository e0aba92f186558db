"""Label Studio files, no server: importing an export (several annotators per task, refused whole when bad,
idempotent, updates with an audit event) and writing an import file of the moderation queue."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select, update

from core.cli.main import main
from core.ingest import ImportRefused, import_file
from core.labelstudio import label_config, sync
from core.labelstudio.tasks import write_import_file
from core.store.db import session_scope
from core.store.models import (
    CATEGORIES,
    MODERATION_LABELS,
    AuditEvent,
    ImportRun,
    LabelStudioProject,
    LabelStudioTask,
    ModerationItem,
    ModerationLabel,
    User,
    WorkItem,
)
from tests.app_helpers import add_admin, add_users
from tests.fake_labelstudio import FakeLabelStudio
from tests.labelstudio_data import annotation, moderation_queue, task, write_json
from tests.test_ingest import counts

BOB = {"id": 2, "email": "bob@example.com", "first_name": "Bob", "last_name": "Stone"}
EXPORT = [
    task(
        11,
        "m1",
        "you are an idiot",
        annotation(BOB, "toxic", ["harassment"], "insult", id=101),
        annotation(3, "toxic", id=102),
        annotation({"id": 4, "email": "ann@example.com"}, "not_toxic", id=103),
    ),
    task(12, "m2", "see you tomorrow", annotation(BOB, "not_toxic", id=104)),
    task(13, "m3", "nobody labelled me"),
    task(14, "m4", "skipped by bob", annotation(BOB, "toxic", id=105, result=[], was_cancelled=True)),
]


def labels(engine) -> set[tuple]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(ModerationItem.external_id, User.username, ModerationLabel.label, ModerationLabel.categories)
            .join(ModerationItem, ModerationItem.id == ModerationLabel.item_id)
            .join(User, User.id == ModerationLabel.user_id)
        )
        return {(ext, name, label, tuple(cats)) for ext, name, label, cats in rows}


def test_an_export_with_several_annotators_per_task_gives_one_label_each(any_engine, tmp_path):
    with session_scope(any_engine, write=True) as s:
        s.add(User(username="ann", role="annotator", email="Ann@Example.com"))
    summary = import_file(write_json(tmp_path / "export.json", EXPORT), "labelstudio", engine=any_engine)
    assert (summary.rows_read, summary.records, summary.added, summary.present) == (4, 4, 4, 0)
    assert labels(any_engine) == {
        ("m1", "bob@example.com", "toxic", ("harassment",)),
        ("m1", "labelstudio-user-3", "toxic", ()),
        ("m1", "ann", "not_toxic", ()),  # matched by e-mail, whatever its case
        ("m2", "bob@example.com", "not_toxic", ()),
    }
    with session_scope(any_engine) as s:
        new = s.execute(select(User.username, User.role, User.active, User.display_name).where(User.username != "ann"))
        assert set(new) == {
            ("bob@example.com", "annotator", False, "Bob Stone"),
            ("labelstudio-user-3", "annotator", False, "labelstudio-user-3"),
        }
        spent, source, at = s.execute(
            select(ModerationLabel.seconds_spent, ModerationLabel.source, ModerationLabel.created_at).where(
                ModerationLabel.note == "insult"
            )
        ).one()
        assert (spent, source, at.isoformat()) == (12.5, "labelstudio", "2026-11-20T10:00:00+00:00")
        # the tasks' items are in the store, the unlabelled one too
        assert s.execute(select(func.count()).select_from(ModerationItem)).scalar_one() == 4


def test_an_annotator_is_matched_by_username_when_no_email_matches(engine, tmp_path):
    with session_scope(engine, write=True) as s:
        s.add(User(username="carol", role="annotator", email="carol@work.example"))
    export = [task(1, "m1", "text", annotation({"id": 9, "username": "carol", "email": "c@home.example"}, "toxic"))]
    import_file(write_json(tmp_path / "e.json", export), "labelstudio", engine=engine)
    assert labels(engine) == {("m1", "carol", "toxic", ())}


def test_importing_the_same_export_twice_adds_nothing(engine, tmp_path):
    path = write_json(tmp_path / "export.json", EXPORT)
    import_file(path, "labelstudio", engine=engine)
    before = counts(engine)
    again = import_file(path, "labelstudio", engine=engine)
    assert (again.added, again.present, again.updated) == (0, 4, 0)
    assert "4 labels: 0 added, 4 already present" in again.line()
    assert counts(engine) == before


def test_an_annotation_changed_since_updates_its_label_with_an_audit_event(engine, tmp_path):
    import_file(write_json(tmp_path / "first.json", EXPORT), "labelstudio", engine=engine)
    changed = json.loads(json.dumps(EXPORT))
    changed[1]["annotations"][0] |= {
        "result": label_config.result("toxic", ["spam"], "a scam link"),
        "updated_at": "2026-11-21T09:00:00Z",
    }
    summary = import_file(write_json(tmp_path / "second.json", changed), "labelstudio", engine=engine)
    assert (summary.added, summary.present, summary.updated) == (0, 3, 1)
    assert summary.line().endswith("0 added, 3 already present, 1 updated")
    assert ("m2", "bob@example.com", "toxic", ("spam",)) in labels(engine)
    with session_scope(engine) as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "moderation_label.update")).scalar_one()
        assert event.before == {"label": "not_toxic", "categories": [], "note": ""}
        assert event.after == {"label": "toxic", "categories": ["spam"], "note": "a scam link", "source": "labelstudio"}
    # an older export brought in again does not undo the newer annotation
    import_file(write_json(tmp_path / "first-again.json", EXPORT), "labelstudio", engine=engine)
    assert ("m2", "bob@example.com", "toxic", ("spam",)) in labels(engine)


def bad(annotations_or_task, index: int = 0):
    export = json.loads(json.dumps(EXPORT))
    if isinstance(annotations_or_task, dict):
        export[index] = annotations_or_task
    else:
        export[index]["annotations"] = annotations_or_task
    return export


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"id": 1, "data": {', "line 1: not valid JSON (Expecting property name enclosed in double quotes"),
        ({"tasks": []}, "file: a Label Studio export is a JSON list of tasks, not a dict"),
        ("[]", "file: the file holds no rows"),
        (bad({"id": 5, "annotations": []}, 1), "task 2 (id 5), field data: Field required"),
        (bad({"id": 6, "data": {"text": "x"}}, 2), "task 3 (id 6), field data.item_id: Field required"),
        (
            bad([annotation(BOB, "toxic") | {"completed_by": None}]),
            "task 1 (id 11), field annotations.0.completed_by",
        ),
        (
            bad([annotation(BOB, "toxic", result=[label_config.choices("label", ["spicy"])])]),
            "task 1 (id 11), field annotations.0.result.0.value: unknown label value(s) spicy; "
            "allowed: toxic, not_toxic",
        ),
        (
            bad([annotation(BOB, "toxic", result=label_config.result("toxic", ["rudeness"]))]),
            "task 1 (id 11), field annotations.0.result.1.value: unknown categories value(s) rudeness",
        ),
        (
            bad([annotation(BOB, "toxic", result=[label_config.choices("categories", ["hate"])])]),
            "task 1 (id 11), field annotations.0.result: needs one 'label' choice (toxic or not_toxic), found 0",
        ),
        (
            bad([annotation(BOB, "toxic", result=[label_config.choices("sentiment", ["positive"])])]),
            "task 1 (id 11), field annotations.0.result.0.value: unknown from_name 'sentiment'",
        ),
    ],
    ids=[
        "malformed-json",
        "not-a-list",
        "empty",
        "no-data",
        "no-item-id",
        "no-annotator",
        "unknown-label",
        "unknown-category",
        "no-label",
        "other-config",
    ],
)
def test_a_bad_export_is_refused_whole_and_nothing_is_written(engine, tmp_path, content, expected):
    before = counts(engine)
    with pytest.raises(ImportRefused) as refused:
        import_file(write_json(tmp_path / "export.json", content), "labelstudio", engine=engine)
    assert any(line.startswith(expected) for line in refused.value.lines()), refused.value.lines()
    assert counts(engine) == before  # the good tasks of the file were not written either
    with session_scope(engine) as s:
        assert s.execute(select(ImportRun.status)).scalars().all() == ["refused"]


def test_every_bad_task_is_named_with_its_index(engine, tmp_path):
    export = [*bad([annotation(BOB, "maybe")]), task(20, "", "empty id", annotation(BOB, "toxic"))]
    with pytest.raises(ImportRefused) as refused:
        import_file(write_json(tmp_path / "export.json", export), "labelstudio", engine=engine)
    lines = refused.value.lines()
    assert lines[0].startswith("task 1 (id 11), field annotations.0.result.0.value: unknown label value(s) maybe")
    assert lines[1].startswith("task 5 (id 20), field data.item_id: String should have at least 1 character")


def test_the_cli_imports_an_export_and_refuses_a_bad_one(engine, tmp_path, capsys):
    add_admin(engine)
    assert main(["import", "labelstudio", str(write_json(tmp_path / "good.json", EXPORT))]) == 0
    assert "4 rows read, 4 labels: 4 added, 0 already present" in capsys.readouterr().out
    assert main(["import", "labelstudio", str(write_json(tmp_path / "bad.json", "[{"))]) == 1
    assert "refused bad.json: nothing was imported" in capsys.readouterr().err


def test_the_label_config_offers_the_labels_and_categories_the_importer_reads():
    root = ET.fromstring(label_config.label_config())
    choices = {tag.get("name"): [c.get("value") for c in tag.iter("Choice")] for tag in root.iter("Choices")}
    assert choices == {label_config.LABEL: list(MODERATION_LABELS), label_config.CATEGORIES: list(CATEGORIES)}
    assert [t.get("name") for t in root.iter("TextArea")] == [label_config.NOTE]
    assert [(t.get("name"), t.get("value")) for t in root.iter("Text")] == [(label_config.TEXT, "$text")]


def test_the_import_file_holds_the_open_items_with_their_newest_prediction_and_no_model_name(engine, tmp_path):
    scores = [("m1", "you are an idiot", 0.55, "toxic"), ("m2", "see you", 0.45, "not_toxic")]
    items = moderation_queue(engine, tmp_path, [*scores, ("m3", "gold", 0.5, "toxic"), ("m4", "done", 0.5, "toxic")])
    newer = tmp_path / "newer.jsonl"
    newer.write_text(
        json.dumps(
            {"item_id": "m2", "text": "see you", "model": "clf-v2", "score": 0.4, "predicted_label": "not_toxic"}
        )
        + "\n"
    )
    import_file(newer, "moderation", engine=engine)
    with session_scope(engine, write=True) as s:  # a gold item and a finished item stay out
        s.execute(update(WorkItem).where(WorkItem.subject_id == items["m3"]).values(is_gold=True))
        s.execute(update(WorkItem).where(WorkItem.subject_id == items["m4"]).values(open=False))
    out = tmp_path / "tasks.json"
    assert write_import_file(engine, "moderation", out) == 2
    tasks = json.loads(out.read_text())
    assert tasks == [
        {
            "data": {"text": "you are an idiot", "item_id": "m1"},
            "predictions": [
                {
                    "model_version": "clf-v1",
                    "score": 0.55,
                    "result": [
                        {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["toxic"]}},
                        {
                            "from_name": "categories",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": ["harassment"]},
                        },
                    ],
                }
            ],
        },
        {
            "data": {"text": "see you", "item_id": "m2"},
            "predictions": [
                {
                    "model_version": "clf-v2",
                    "score": 0.4,
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": ["not_toxic"]},
                        }
                    ],
                }
            ],
        },
    ]


def test_the_export_command_writes_the_file_or_to_standard_output(engine, tmp_path, capsys):
    add_admin(engine)
    moderation_queue(engine, tmp_path, [("m1", "text one", 0.5, "toxic")])
    assert main(["export", "labelstudio", "--out", str(tmp_path / "t.json")]) == 0
    assert "1 tasks" in capsys.readouterr().out
    assert main(["export", "labelstudio"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["data"] == {"text": "text one", "item_id": "m1"}


@pytest.mark.parametrize("command", [["labelstudio", "push"], ["labelstudio", "pull"]])
def test_push_and_pull_say_which_variable_to_set(engine, monkeypatch, capsys, command):
    add_admin(engine)
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    assert main(command) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Label Studio is not configured: set LABEL_STUDIO_URL ")
    assert "LABEL_STUDIO_API_KEY" not in err.split("(")[0]


def test_an_unreachable_server_is_named_with_the_setting_to_check(engine, monkeypatch, capsys):
    add_admin(engine)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    assert main(["labelstudio", "pull"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach Label Studio at http://127.0.0.1:9")
    assert "check LABEL_STUDIO_URL" in err


def labelstudio_rows(engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {
            model.__tablename__: s.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (AuditEvent, LabelStudioProject, LabelStudioTask, ModerationLabel)
        }


def test_push_and_pull_commands_act_as_the_named_user(engine, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://label-studio.test")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    fake = FakeLabelStudio()
    monkeypatch.setattr(sync, "connect", lambda: fake)
    users = add_users(engine)
    moderation_queue(engine, tmp_path, [("m1", "you idiot", 0.6, "toxic")])
    assert main(["labelstudio", "push", "--as", "ada"]) == 0
    assert "1 open items: 1 tasks imported" in capsys.readouterr().out
    fake.annotate(next(iter(fake.task_rows)), 1, label_config.result("toxic", []))
    assert main(["labelstudio", "pull", "--as", "ada"]) == 0
    assert "1 tasks read, labels: 1 added" in capsys.readouterr().out
    with session_scope(engine) as s:
        events = s.execute(
            select(AuditEvent.action, AuditEvent.actor_id)
            .where(AuditEvent.action.in_(["labelstudio.push", "import"]))
            .order_by(AuditEvent.id)
        ).all()
    # the queue's items were imported by the test (nobody); the push and the pull's import by ada
    assert events == [("import", None), ("labelstudio.push", users["admin"].id), ("import", users["admin"].id)]


@pytest.mark.parametrize(
    "command",
    [["labelstudio", "push"], ["labelstudio", "pull"], ["export", "labelstudio"]],
    ids=["push", "pull", "export"],
)
def test_label_studio_commands_refuse_a_user_who_is_not_an_admin(engine, tmp_path, monkeypatch, capsys, command):
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://label-studio.test")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    fake = FakeLabelStudio()
    monkeypatch.setattr(sync, "connect", lambda: fake)
    add_users(engine)
    moderation_queue(engine, tmp_path, [("m1", "you idiot", 0.6, "toxic")])
    before = labelstudio_rows(engine)
    out = tmp_path / "tasks.json"
    assert main([*command, "--as", "eve"] + (["--out", str(out)] if command[0] == "export" else [])) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: Only admins may sync with Label Studio; 'eve' is signed in as expert.\n"
    assert not captured.out and not out.exists()
    assert labelstudio_rows(engine) == before and not fake.project_rows and not fake.task_rows
