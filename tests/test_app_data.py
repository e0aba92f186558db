"""The data page: importing an uploaded file, refusing a bad one with its lines, and the store's inventory."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from core.store.db import session_scope
from core.store.models import ImportRun, Response
from tests.app_helpers import add_users, app, fresh_streamlit_cache, page, texts  # noqa: F401


def conversations(*rows: dict | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


GOOD = conversations(
    *(
        {
            "prompt_id": f"p{i}",
            "prompt": f"Question {i}?",
            "responses": [
                {"response_id": f"r{i}-1", "model": "bot-v1", "text": f"first answer {i}"},
                {"response_id": f"r{i}-2", "model": "bot-v2", "text": f"second answer {i}"},
            ],
        }
        for i in range(3)
    )
)


def data_page(engine):
    users = add_users(engine)
    at = app(users["admin"])
    return at.switch_page(page("data")).run()


def upload(at, name: str, content: bytes, kind: str = "conversations"):
    at.selectbox(key="import_kind").select(kind).run()
    at.file_uploader(key=f"import_file_{kind}").set_value((name, content, "application/octet-stream"))
    at.run()
    next(b for b in at.button if b.label == "Import").click()
    return at.run()


def rows(engine, model) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_the_data_page_offers_every_import_kind_with_its_format(engine):
    from core.ingest import KINDS

    at = data_page(engine)
    assert not at.exception
    assert at.selectbox(key="import_kind").options == list(KINDS)
    assert any(KINDS["conversations"].description in caption for caption in texts(at.caption))
    at.selectbox(key="import_kind").select("jigsaw").run()
    assert any(KINDS["jigsaw"].description in caption for caption in texts(at.caption))
    assert at.file_uploader(key="import_file_jigsaw").allowed_type == [".csv"]


def test_the_import_button_waits_for_a_file(engine):
    at = data_page(engine)
    assert next(b for b in at.button if b.label == "Import").disabled


def test_a_valid_file_is_imported_and_the_summary_shown(engine):
    at = upload(data_page(engine), "logs.jsonl", GOOD)
    assert not at.exception and not at.error
    assert texts(at.success) == ["logs.jsonl: 3 rows read, 6 responses: 6 added, 0 already present"]
    assert rows(engine, Response) == 6
    versions, tables, imports = (frame.value for frame in at.dataframe)
    assert sorted(versions["Name"]) == ["bot-v1", "bot-v2"] and list(versions["Answers"]) == [3, 3]
    assert list(imports["File"]) == ["logs.jsonl"] and list(imports["Added"]) == [6]
    tables = tables.set_index("Table")["Rows"]
    assert tables["Answers"] == 6 and tables["Prompts"] == 3


def test_a_bad_file_is_refused_with_its_lines_and_nothing_is_imported(engine):
    bad = conversations(
        {"prompt_id": "p1", "prompt": "Fine?", "responses": [{"response_id": "r1", "model": "m", "text": "ok"}]},
        {"prompt_id": "p2", "prompt": "Missing text?", "responses": [{"response_id": "r2", "model": "m"}]},
        "{not json",
    )
    at = upload(data_page(engine), "bad_logs.jsonl", bad)
    assert not at.exception and not at.success
    (message,) = texts(at.error)
    assert message.startswith("**Refused: nothing was imported.**")
    assert "line 2, field responses.0.text" in message
    assert "line 3" in message
    assert rows(engine, Response) == 0
    with session_scope(engine) as s:
        assert s.execute(select(ImportRun.status, ImportRun.file_name)).all() == [("refused", "bad_logs.jsonl")]
