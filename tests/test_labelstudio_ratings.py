"""The rating queue through Label Studio: the import file and a push carry the conversation and the answer (never the
model), and an export or a pull comes back as ratings with their spans (code points), checked like a `ratings` file,
idempotent, and refused whole naming the task and field."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.accounts.users import create_user
from core.cli.main import main
from core.ingest import ImportRefused, import_file
from core.labelstudio import sync
from core.labelstudio.client import LabelStudioError
from core.labelstudio.ratings import rating_task
from core.labelstudio.tasks import write_import_file
from core.review import settings
from core.store.db import session_scope
from core.store.models import AuditEvent, LabelStudioProject, Rating, Response
from tests.app_helpers import PASSWORD
from tests.fake_labelstudio import FakeLabelStudio
from tests.test_spans import EMOJI, RTL, rating_row, write

TURNS = [{"role": "user", "text": "שלום, I need the deadline"}, {"role": "assistant", "text": "Which one? 🤔"}]
QUESTION = "The filing deadline"
ANSWER = EMOJI + " " + RTL
AFTER_EMOJI = ANSWER.index("31 May")


def conversation(tmp_path, engine) -> None:
    row = {
        "prompt_id": "p1",
        "prompt": QUESTION,
        "turns": [*TURNS, {"role": "user", "text": QUESTION}],
        "responses": [{"response_id": "r1", "model": "secret-bot-v7", "text": ANSWER}],
    }
    path = tmp_path / "conversations.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    import_file(path, "conversations", engine=engine)
    with session_scope(engine, write=True) as s:
        admin = create_user(s, username="queue-admin", role="admin", password=PASSWORD).id
        settings.configure(s, queue="rating", actor_id=admin, versions=["secret-bot-v7"], k=1, gold_share=0.0)


SPANS = [
    {"start": AFTER_EMOJI, "end": AFTER_EMOJI + 6, "label": "incorrect", "severity": "major", "note": "30 May"},
    {"start": ANSWER.index("31", AFTER_EMOJI + 6), "end": len(ANSWER), "label": "incorrect", "severity": "minor"},
]


def judged(spans: list[dict] = SPANS, reviewer: str = "rev") -> dict:
    return rating_row(ANSWER, spans, reviewer) | {"prompt": QUESTION, "model": "secret-bot-v7"}


def annotation(row: dict) -> list[dict]:
    """What an annotator's work on the row's task looks like in Label Studio."""
    return rating_task(row, 0)["annotations"][0]["result"]


def stored_ratings(engine) -> list[tuple]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(Response.external_id, Rating.accuracy, Rating.flags, Rating.spans, Rating.rationale).join(
                Response, Response.id == Rating.response_id
            )
        ).all()
    return [tuple(row) for row in rows]


def test_a_rating_round_trip_through_label_studio_files_keeps_the_turns_and_spans(engine, tmp_path):
    conversation(tmp_path, engine)
    out = tmp_path / "tasks.json"
    assert write_import_file(engine, "rating", out) == 1
    (task,) = json.loads(out.read_text(encoding="utf-8"))
    assert task["data"] == {
        "prompt_id": "p1",
        "prompt": QUESTION,
        "turns": [*TURNS, {"role": "user", "text": QUESTION}],
        "answer": ANSWER,
        "response_id": "r1",
    }
    assert "secret-bot" not in json.dumps(task["data"])  # annotators never see which model wrote the answer
    assert task["meta"] == {"model": "secret-bot-v7"}

    # Label Studio's export: the same task with an annotation holding two spans, one after the emoji
    task |= {"id": 41, "annotations": [{"completed_by": {"username": "rev"}, "result": annotation(judged())}]}
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    summary = import_file(export, "labelstudio", engine=engine)
    assert (summary.unit, summary.added) == ("ratings", 1)
    ((response, accuracy, flags, spans, rationale),) = stored_ratings(engine)
    assert (response, accuracy, flags, rationale) == ("r1", 2, ["incorrect"], "wrong date")
    assert [(s["start"], s["end"], s["severity"], s.get("note")) for s in spans] == [
        (AFTER_EMOJI, AFTER_EMOJI + 6, "major", "30 May"),
        (SPANS[1]["start"], len(ANSWER), "minor", None),
    ]
    assert ANSWER[spans[0]["start"] : spans[0]["end"]] == "31 May"

    # the same judgment again, from Label Studio or as a `ratings` JSONL row: nothing added
    assert import_file(export, "labelstudio", engine=engine).added == 0
    assert import_file(write(tmp_path, [judged()]), "ratings", engine=engine).added == 0
    assert len(stored_ratings(engine)) == 1


def test_a_jsonl_rating_comes_back_unchanged_from_a_label_studio_file(engine, tmp_path):
    import_file(write(tmp_path, [judged(reviewer="alice")]), "ratings", engine=engine)
    before = stored_ratings(engine)
    export = tmp_path / "export.json"
    export.write_text(json.dumps([rating_task(judged(reviewer="alice"), 3)], ensure_ascii=False), encoding="utf-8")
    assert import_file(export, "labelstudio", engine=engine).added == 0
    assert stored_ratings(engine) == before


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ({"start": 0, "end": len(ANSWER) + 1}, f"end is beyond the answer, which is {len(ANSWER)} characters long"),
        ({"start": 4, "end": 4}, "start must be at least 0 and less than end"),
        ({"severity": "huge"}, "unknown severity 'huge'"),
        ({"label": "rude"}, "unknown label 'rude'"),
    ],
)
def test_a_bad_span_refuses_the_whole_export_naming_the_task_and_field(engine, tmp_path, span, reason):
    good = rating_task(judged(reviewer="alice"), 8)
    bad = rating_task(judged([SPANS[0] | span]), 9)
    export = tmp_path / "export.json"
    export.write_text(json.dumps([good, bad], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_file(export, "labelstudio", engine=engine)
    (line,) = refused.value.lines()
    assert line.startswith("task 2 (id 9), field spans: span 1") and reason in line
    assert stored_ratings(engine) == []


def test_the_cli_exports_the_rating_queue_and_imports_its_annotations(engine, tmp_path, capsys):
    conversation(tmp_path, engine)
    out = tmp_path / "tasks.json"
    assert main(["export", "labelstudio", "--queue", "rating", "--out", str(out)]) in (None, 0)
    (task,) = json.loads(out.read_text(encoding="utf-8"))
    task |= {"id": 5, "annotations": [{"completed_by": {"username": "rev"}, "result": annotation(judged())}]}
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    assert main(["import", "labelstudio", str(export)]) == 0
    assert "1 ratings: 1 added" in capsys.readouterr().out
    assert len(stored_ratings(engine)) == 1


@pytest.fixture
def fake(monkeypatch) -> FakeLabelStudio:
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://label-studio.test")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    fake = FakeLabelStudio()
    monkeypatch.setattr(sync, "connect", lambda: fake)
    return fake


def test_push_and_pull_of_the_rating_queue(any_engine, tmp_path, fake):
    conversation(tmp_path, any_engine)
    pushed = sync.push(queue="rating", title="Ratings", engine=any_engine)
    assert (pushed.open_items, pushed.imported) == (1, 1)
    ((task_id, task),) = fake.task_rows.items()
    assert task["data"]["turns"][-1] == {"role": "user", "text": QUESTION}
    assert "secret-bot" not in json.dumps(task["data"])
    assert sync.push(queue="rating", title="Ratings", engine=any_engine).imported == 0  # the project holds the answer
    with session_scope(any_engine) as s:
        assert s.execute(select(LabelStudioProject.queue)).scalars().all() == ["rating"]

    fake.annotate(task_id, 1, annotation(judged()))
    pulled = sync.pull(title="Ratings", engine=any_engine)
    assert (pulled.labels.unit, pulled.labels.added) == ("ratings", 1)
    ((response, _, _, spans, _),) = stored_ratings(any_engine)
    assert (response, [s["start"] for s in spans]) == ("r1", [AFTER_EMOJI, SPANS[1]["start"]])
    again = sync.pull(title="Ratings", engine=any_engine).labels  # pulling twice adds nothing
    assert (again.added, again.updated) == (0, 0)
    with session_scope(any_engine) as s:
        assert s.execute(select(func.count()).select_from(Rating)).scalar_one() == 1
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "rating.update")).first() is None

    # the annotator changes their annotation in Label Studio: the rating follows, with an audit event
    fake.task_rows[task_id]["annotations"][0]["result"] = annotation(judged(SPANS[:1]) | {"accuracy": 4})
    changed = sync.pull(title="Ratings", engine=any_engine).labels
    assert (changed.added, changed.updated) == (0, 1)
    ((_, accuracy, _, spans, _),) = stored_ratings(any_engine)
    assert (accuracy, [s["start"] for s in spans]) == (4, [AFTER_EMOJI])
    with session_scope(any_engine) as s:
        (event,) = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.update")).scalars()
        assert (event.before["accuracy"], event.after["accuracy"], len(event.before["spans"])) == (2, 4, 2)


def test_a_pull_with_a_bad_span_is_refused_and_writes_nothing(engine, tmp_path, fake):
    conversation(tmp_path, engine)
    sync.push(queue="rating", title="Ratings", engine=engine)
    result = annotation(judged([SPANS[0] | {"end": len(ANSWER) + 5}]))
    fake.annotate(next(iter(fake.task_rows)), 1, result)
    with pytest.raises(ImportRefused) as refused:
        sync.pull(title="Ratings", engine=engine)
    (line,) = refused.value.lines()
    assert line.startswith("task 1 (id ") and "field spans: span 1" in line and "beyond the answer" in line
    assert stored_ratings(engine) == []


def test_a_queue_is_not_pushed_into_the_project_of_another(engine, tmp_path, fake):
    conversation(tmp_path, engine)
    sync.push(queue="moderation", title="Shared", engine=engine)
    with pytest.raises(LabelStudioError, match="'Shared' holds the moderation queue: give the rating queue a project"):
        sync.push(queue="rating", title="Shared", engine=engine)
    assert fake.task_rows == {}


@pytest.mark.parametrize(
    ("turns", "field", "reason"),
    [
        ([{"role": "user", "text": "something else"}], "data.turns", "the last turn must be the user's question"),
        ([{"role": "bot", "text": QUESTION}], "data.turns.0.role", "Input should be 'user' or 'assistant'"),
    ],
)
def test_turns_that_do_not_end_with_the_question_refuse_the_export(engine, tmp_path, turns, field, reason):
    task = rating_task(judged(), 4)
    task["data"]["turns"] = turns
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_file(export, "labelstudio", engine=engine)
    (line,) = refused.value.lines()
    assert line.startswith(f"task 1 (id 4), field {field}: ") and reason in line
    assert stored_ratings(engine) == []


def test_an_older_export_does_not_undo_a_later_change_of_the_annotation(engine, tmp_path):
    conversation(tmp_path, engine)
    (task,) = json.loads(_import_file_text(engine, tmp_path))

    def export(accuracy: int, updated_at: str):
        work = annotation(judged() | {"accuracy": accuracy})
        made = {"completed_by": {"username": "rev"}, "result": work, "created_at": "2026-01-01T09:00:00Z"}
        path = tmp_path / f"export-{updated_at[:10]}.json"
        tasks = [task | {"id": 41, "annotations": [made | {"updated_at": updated_at}]}]
        path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
        return path

    first, older, newest = (
        export(2, "2026-01-01T09:00:00Z"),
        export(4, "2026-01-02T09:00:00Z"),
        export(5, "2026-01-03T09:00:00Z"),
    )
    assert import_file(first, "labelstudio", engine=engine).added == 1
    assert import_file(newest, "labelstudio", engine=engine).updated == 1
    assert import_file(older, "labelstudio", engine=engine).updated == 0  # an export taken before the last change
    ((_, accuracy, *_),) = stored_ratings(engine)
    assert accuracy == 5
    with session_scope(engine) as s:
        events = s.execute(select(AuditEvent.after).where(AuditEvent.action == "rating.update")).scalars().all()
    assert [event["accuracy"] for event in events] == [5]


def _import_file_text(engine, tmp_path) -> str:
    out = tmp_path / "tasks.json"
    write_import_file(engine, "rating", out)
    return out.read_text(encoding="utf-8")


def test_the_rating_queue_has_a_project_of_its_own_by_default(engine, tmp_path, fake, capsys):
    conversation(tmp_path, engine)  # also adds the admin "queue-admin"
    assert main(["labelstudio", "push", "--queue", "rating", "--as", "queue-admin"]) == 0
    assert "Label Studio project 'Workbench ratings' (#1, created): 1 open items" in capsys.readouterr().out
    fake.annotate(next(iter(fake.task_rows)), 1, annotation(judged()))
    assert main(["labelstudio", "pull", "--queue", "rating", "--as", "queue-admin"]) == 0
    assert "'Workbench ratings' (#1): 1 tasks read, ratings: 1 added" in capsys.readouterr().out
