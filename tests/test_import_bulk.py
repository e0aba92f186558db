"""Bulk loading (core.ingest.bulk): a large moderation import into SQLite drops the moderation tables' secondary
indexes after its first batch and rebuilds them at its end, in the same transaction. Forced here on small files
(no minimum size, batches of 10 rows); each test also checks from the statements sent whether the path was taken."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, text

from core.ingest import ImportRefused, import_file
from core.store.db import get_engine, session_scope
from tests.test_ingest import DATA_TABLES, jsonl, moderation_row

NOW = datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC)
INDEXES = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"


@pytest.fixture(autouse=True)
def bulk_for_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.ingest.BATCH_ROWS", 10)
    monkeypatch.setattr("core.ingest.bulk.MIN_ROWS", 0)
    monkeypatch.setattr("core.ingest.context.utcnow", lambda: NOW)  # rows without created_at: the same in every store


def rows(first: int, last: int) -> list[dict]:
    """Items first..last-1 scored by clf-v1; every third also by clf-v2, every fifth with a time, categories, meta."""
    found = []
    for i in range(first, last):
        extra = {"created_at": f"2026-01-{1 + i % 28:02d}T10:00:00Z", "categories": ["hate"], "meta": {"n": i}}
        found.append(moderation_row(i, score=round(i % 97 / 97, 4)) | (extra if i % 5 == 0 else {}))
        if i % 3 == 0:
            found.append(moderation_row(i, model="clf-v2", score=0.25, predicted_label="not_toxic"))
    return found


def store_rows(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every data table (all but the import log and the audit trail), sorted."""
    with session_scope(engine) as s:
        return {t.name: sorted(s.execute(select(t)).all(), key=repr) for t in DATA_TABLES}


def indexes(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text(INDEXES)).all()


@contextmanager
def dropped_indexes(engine: Engine) -> Iterator[list[str]]:
    """The DROP INDEX statements sent within the block."""
    sent: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        if statement.startswith("DROP INDEX"):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def other_store(sqlite_template: Path, tmp_path: Path) -> Engine:
    path = tmp_path / "other.db"
    shutil.copy(sqlite_template, path)
    return get_engine(f"sqlite:///{path}")


def test_bulk_path_stores_the_same_rows_as_the_normal_path(engine, sqlite_template, tmp_path, monkeypatch):
    normal = other_store(sqlite_template, tmp_path)
    present = jsonl(tmp_path / "present.jsonl", rows(0, 8))
    path = jsonl(tmp_path / "m.jsonl", rows(4, 70) + rows(10, 12))  # some present, some twice in the file
    for store in (engine, normal):
        import_file(present, "moderation", engine=store)
    with dropped_indexes(engine) as dropped:
        bulk = import_file(path, "moderation", engine=engine)
    monkeypatch.setattr("core.ingest.bulk.MIN_ROWS", 10**9)
    with dropped_indexes(normal) as dropped_by_normal:
        plain = import_file(path, "moderation", engine=normal)
    assert len(dropped) == 4 and dropped_by_normal == []
    assert (bulk.rows_read, bulk.added, bulk.present) == (plain.rows_read, plain.added, plain.present) == (90, 83, 7)
    assert store_rows(engine) == store_rows(normal)
    assert indexes(engine) == indexes(normal)


def test_after_a_bulk_import_the_indexes_are_a_freshly_migrated_stores(engine, sqlite_template, tmp_path):
    fresh = indexes(other_store(sqlite_template, tmp_path))
    with dropped_indexes(engine) as dropped:
        import_file(jsonl(tmp_path / "m.jsonl", rows(0, 60)), "moderation", engine=engine)
    assert {statement.split()[-1].strip('"') for statement in dropped} == {
        "ix_moderation_item_created_at",
        "ix_moderation_score_created",
        "ix_moderation_score_version_item",
        "ix_moderation_score_version_score",
    }
    assert indexes(engine) == fresh


@pytest.mark.parametrize("bad", ["score", "model"])
def test_a_refused_file_in_the_bulk_path_leaves_rows_and_indexes_untouched(engine, tmp_path, bad):
    conversation = {"prompt_id": "p", "prompt": "q", "responses": [{"response_id": "r", "model": "bot", "text": "a"}]}
    import_file(jsonl(tmp_path / "c.jsonl", [conversation]), "conversations", engine=engine)  # a chatbot model
    import_file(jsonl(tmp_path / "present.jsonl", rows(0, 8)), "moderation", engine=engine)
    before, indexes_before = store_rows(engine), indexes(engine)
    file_rows = rows(8, 70)
    # line 55, in the sixth batch: a score out of range (refused as the file is read) or the chatbot model's name
    # (refused as the batch is written)
    file_rows[54] = moderation_row(54, score=2) if bad == "score" else moderation_row(54, model="bot")
    with dropped_indexes(engine) as dropped, pytest.raises(ImportRefused) as refused:
        import_file(jsonl(tmp_path / "m.jsonl", file_rows), "moderation", engine=engine)
    assert refused.value.lines() == [
        "line 55, field score: Input should be less than or equal to 1"
        if bad == "score"
        else "line 55, field model: 'bot' is a chatbot model, not a moderation model"
    ]
    assert len(dropped) == 4
    assert store_rows(engine) == before
    assert indexes(engine) == indexes_before


def test_reimport_after_a_bulk_import_adds_nothing_and_keeps_the_indexes(any_engine, tmp_path):
    path = jsonl(tmp_path / "m.jsonl", rows(0, 60))
    with dropped_indexes(any_engine) as dropped:
        first = import_file(path, "moderation", engine=any_engine)
    after_first = store_rows(any_engine)
    with dropped_indexes(any_engine) as dropped_again:
        again = import_file(path, "moderation", engine=any_engine)
    assert (first.added, again.added, again.present) == (80, 0, 80)
    assert store_rows(any_engine) == after_first
    # SQLite: the first import is bulk, the second finds its first batch present and keeps the indexes;
    # PostgreSQL never drops an index (DROP INDEX would lock out every reader for the whole import)
    assert (len(dropped), dropped_again) == ((4 if any_engine.dialect.name == "sqlite" else 0), [])


def test_a_small_file_into_a_bigger_table_keeps_the_indexes(engine, tmp_path):
    import_file(jsonl(tmp_path / "big.jsonl", rows(0, 100)), "moderation", engine=engine)
    with dropped_indexes(engine) as dropped:
        summary = import_file(jsonl(tmp_path / "small.jsonl", rows(100, 130)), "moderation", engine=engine)
    assert summary.added == 40
    assert dropped == []


def test_a_file_smaller_than_the_items_table_keeps_the_indexes_though_no_item_is_scored(engine, tmp_path):
    jigsaw = tmp_path / "j.csv"
    jigsaw.write_text(
        "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n"
        + "".join(f"j{i},comment {i},0,0,0,0,0,0\n" for i in range(100))
    )
    import_file(jigsaw, "jigsaw", engine=engine)  # 100 items, labelled, no scores
    with dropped_indexes(engine) as dropped:
        summary = import_file(jsonl(tmp_path / "m.jsonl", rows(0, 30)), "moderation", engine=engine)
    assert summary.added == 40
    assert dropped == []
