"""Importers: what lands in the store, idempotency, and bad files refused whole with their line numbers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from core.ingest import ImportRefused, import_file
from core.store.db import session_scope
from core.store.models import (
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
)

DATA_TABLES = [t for name, t in SQLModel.metadata.tables.items() if name not in ("import_run", "audit_event")]


def counts(engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {t.name: s.execute(select(func.count()).select_from(t)).scalar_one() for t in DATA_TABLES}


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def moderation_row(i: int, **over) -> dict:
    row = {"item_id": f"m{i}", "text": f"comment {i}", "model": "clf-v1", "score": 0.5, "predicted_label": "toxic"}
    return row | over


CONVERSATIONS = [
    {
        "prompt_id": "p1",
        "prompt": "Can I deduct my home office?",
        "topic": "deductions",
        "responses": [
            {"response_id": "r1", "model": "bot-v1", "text": "Yes, all of it."},
            {"response_id": "r2", "model": "bot-v2", "text": "Only the share used for work."},
        ],
    },
    {
        "prompt_id": "p2",
        "prompt": "When is the deadline?",
        "responses": [{"response_id": "r3", "model": "bot-v1", "text": "In April."}],
    },
]


def test_conversations_import_twice_adds_nothing_the_second_time(any_engine, tmp_path):
    path = jsonl(tmp_path / "c.jsonl", CONVERSATIONS)
    first = import_file(path, "conversations", engine=any_engine)
    second = import_file(path, "conversations", engine=any_engine)
    assert (first.rows_read, first.added, first.present) == (2, 3, 0)
    assert (second.rows_read, second.added, second.present) == (2, 0, 3)
    with session_scope(any_engine) as s:
        assert s.execute(select(Prompt.external_id, Prompt.topic).order_by(Prompt.external_id)).all() == [
            ("p1", "deductions"),
            ("p2", None),
        ]
        versions = dict(s.execute(select(ModelVersion.name, ModelVersion.kind)).all())
        assert versions == {"bot-v1": "chatbot", "bot-v2": "chatbot"}
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 3
        runs = s.execute(select(ImportRun.status, ImportRun.rows_added)).all()
    assert runs == [("done", 3), ("done", 0)]
    assert "2 rows read, 3 responses: 0 added, 3 already present" in second.line()


def test_moderation_jsonl_stores_items_and_scores_per_version(any_engine, tmp_path):
    rows = [
        moderation_row(1, score=0.91, categories=["hate"], meta={"language": "de"}),
        moderation_row(2, score=0, predicted_label="not_toxic"),
        moderation_row(1, model="clf-v2", score=0.4, predicted_label="not_toxic"),
    ]
    summary = import_file(jsonl(tmp_path / "m.jsonl", rows), "moderation", engine=any_engine)
    assert (summary.added, summary.present) == (3, 0)
    with session_scope(any_engine) as s:
        items = s.execute(select(ModerationItem.external_id, ModerationItem.meta).order_by(ModerationItem.id)).all()
        scores = s.execute(
            select(ModerationItem.external_id, ModelVersion.name, ModerationScore.score, ModerationScore.categories)
            .join(ModerationItem, ModerationItem.id == ModerationScore.item_id)
            .join(ModelVersion, ModelVersion.id == ModerationScore.model_version_id)
            .order_by(ModerationScore.id)
        ).all()
    assert items == [("m1", {"language": "de"}), ("m2", {})]
    assert scores == [("m1", "clf-v1", 0.91, ["hate"]), ("m2", "clf-v1", 0.0, []), ("m1", "clf-v2", 0.4, [])]


def test_moderation_csv_folds_meta_columns_and_splits_categories(engine, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "item_id,text,model,score,predicted_label,categories,meta.language,meta.source\n"
        'x1,"hello, world",clf,0.7,toxic,hate;harassment,en,forum\n'
        'x2,"line one\nline two",clf,0.2,not_toxic,,fr,\n',
        encoding="utf-8",
    )
    assert import_file(path, "moderation", engine=engine).added == 2
    with session_scope(engine) as s:
        rows = s.execute(
            select(ModerationItem.text, ModerationItem.meta, ModerationScore.categories)
            .join(ModerationScore, ModerationScore.item_id == ModerationItem.id)
            .order_by(ModerationItem.id)
        ).all()
    assert rows == [
        ("hello, world", {"language": "en", "source": "forum"}, ["harassment", "hate"]),
        ("line one\nline two", {"language": "fr"}, []),
    ]


def test_jigsaw_csv_with_quoted_commas_quotes_and_newlines_becomes_labelled_items(any_engine, tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n"
        '0001,"Thanks, ""friend""\nsee you",0,0,0,0,0,0\n'
        "0002,you are an idiot,1,0,0,0,1,0\n"
        '0003,"I will find you, and...",1,1,0,1,0,0\n',
        encoding="utf-8",
    )
    summary = import_file(path, "jigsaw", engine=any_engine)
    assert (summary.rows_read, summary.added) == (3, 3)
    with session_scope(any_engine) as s:
        rows = s.execute(
            select(
                ModerationItem.text,
                ModerationItem.source,
                ModerationLabel.label,
                ModerationLabel.categories,
                ModerationLabel.source,
                ModerationLabel.user_id,
            )
            .join(ModerationLabel, ModerationLabel.item_id == ModerationItem.id)
            .order_by(ModerationItem.external_id)
        ).all()
    assert rows == [
        ('Thanks, "friend"\nsee you', "jigsaw", "not_toxic", [], "jigsaw", None),
        ("you are an idiot", "jigsaw", "toxic", ["harassment"], "jigsaw", None),
        ("I will find you, and...", "jigsaw", "toxic", ["violence"], "jigsaw", None),
    ]
    assert import_file(path, "jigsaw", engine=any_engine).added == 0


def test_hh_rlhf_pair_becomes_a_conversation_two_answers_and_a_chosen_comparison(any_engine, tmp_path):
    shared = "\n\nHuman: I sold shares.\n\nAssistant: Congratulations.\n\nHuman: Do I owe tax?"
    rows = [
        {
            "chosen": shared + "\n\nAssistant: Possibly capital gains tax; it depends on the gain.",
            "rejected": shared + "\n\nAssistant: No, never.",
        },
        {"chosen": shared + "\n\nAssistant: Same.", "rejected": shared + "\n\nAssistant: Same."},  # no preference
    ]
    path = jsonl(tmp_path / "hh.jsonl", rows)
    summary = import_file(path, "hh-rlhf", engine=any_engine)
    assert (summary.rows_read, summary.added) == (2, 1)
    with session_scope(any_engine) as s:
        prompt = s.execute(select(Prompt.text, Prompt.source, Prompt.turns)).one()
        comparison = s.execute(select(Comparison)).scalar_one()
        a, b = (s.get(Response, i).text for i in (comparison.response_a_id, comparison.response_b_id))
    earlier = [{"role": "user", "text": "I sold shares."}, {"role": "assistant", "text": "Congratulations."}]
    assert prompt == ("Do I owe tax?", "hh-rlhf", earlier)  # the last Human turn is the question
    assert (a, b, comparison.choice, comparison.source) == (
        "Possibly capital gains tax; it depends on the gain.",
        "No, never.",
        "a",
        "hh-rlhf",
    )
    assert import_file(path, "hh-rlhf", engine=any_engine).added == 0


def test_hh_rlhf_transcripts_that_differ_before_the_last_answer_are_refused(engine, tmp_path):
    rows = [{"chosen": "\n\nHuman: A?\n\nAssistant: x", "rejected": "\n\nHuman: B?\n\nAssistant: y"}]
    with pytest.raises(ImportRefused) as refused:
        import_file(jsonl(tmp_path / "hh.jsonl", rows), "hh-rlhf", engine=engine)
    assert refused.value.lines() == ["line 1: Value error, chosen and rejected differ before their last Assistant turn"]


def test_ratings_comparisons_and_labels_make_unknown_reviewers_inactive_users(any_engine, tmp_path):
    rating = {
        "prompt_id": "p1",
        "prompt": "Q?",
        "model": "bot-v1",
        "response": "A.",
        "reviewer": "ann.expert",
        "helpfulness": 4,
        "harmlessness": 5,
        "accuracy": 2,
        "flags": ["incorrect"],
        "rationale": "wrong year",
    }
    comparison = {
        "prompt_id": "p1",
        "prompt": "Q?",
        "model_a": "bot-v1",
        "response_a": "A.",
        "model_b": "bot-v2",
        "response_b": "Better A.",
        "choice": "b",
        "strength": "clear",
        "reviewer": "ann.expert",
    }
    label = {
        "item_id": "i9",
        "text": "you fool",
        "annotator": "lab.one",
        "label": "toxic",
        "categories": ["harassment"],
        "note": "insult",
    }
    for kind, row in (("ratings", rating), ("comparisons", comparison), ("labels", label)):
        path = jsonl(tmp_path / f"{kind}.jsonl", [row])
        assert import_file(path, kind, engine=any_engine).added == 1
        assert import_file(path, kind, engine=any_engine).added == 0
    with session_scope(any_engine) as s:
        users = s.execute(select(User.username, User.role, User.active, User.password_hash)).all()
        assert sorted(users) == [("ann.expert", "expert", False, None), ("lab.one", "annotator", False, None)]
        # the rated answer and the compared answer A are one response, not two
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 2
        stored = s.execute(select(Rating.accuracy, Rating.flags, Rating.rationale)).one()
        assert stored == (2, ["incorrect"], "wrong year")
        choice = s.execute(select(Comparison.choice, Comparison.strength)).one()
        assert choice == ("b", "clear")


def test_a_model_name_of_another_kind_is_refused(engine, tmp_path):
    import_file(jsonl(tmp_path / "m.jsonl", [moderation_row(1, model="shared-name")]), "moderation", engine=engine)
    conv = [{"prompt_id": "p", "prompt": "Q", "responses": [{"response_id": "r", "model": "shared-name", "text": "A"}]}]
    before = counts(engine)
    with pytest.raises(ImportRefused) as refused:
        import_file(jsonl(tmp_path / "c.jsonl", conv), "conversations", engine=engine)
    assert refused.value.lines() == ["line 1, field model: 'shared-name' is a moderation model, not a chatbot model"]
    assert counts(engine) == before


BAD_MODERATION = {
    "malformed JSON": (['{"item_id": "m1", "text": '], ["line 1: not valid JSON (EOF while parsing a value)"]),
    "missing field": (
        [{"item_id": "m1", "text": "t", "model": "c", "predicted_label": "toxic"}],
        ["line 1, field score: Field required"],
    ),
    "mistyped field": ([moderation_row(1, score="0.5")], ["line 1, field score: Input should be a valid number"]),
    "score above 1": ([moderation_row(1, score=1.5)], ["line 1, field score: Input should be less than or equal to 1"]),
    "score below 0": (
        [moderation_row(1, score=-0.1)],
        ["line 1, field score: Input should be greater than or equal to 0"],
    ),
    "unknown label": (
        [moderation_row(1, predicted_label="maybe")],
        ["line 1, field predicted_label: Input should be 'toxic' or 'not_toxic'"],
    ),
    "unknown category": (
        [moderation_row(1, categories=["rude"])],
        [
            "line 1, field categories: Value error, unknown value(s) rude; allowed: harassment, hate, "
            "sexual, violence, self_harm, spam, personal_data"
        ],
    ),
    "blank text": ([moderation_row(1, text="   ")], ["line 1, field text: String should have at least 1 character"]),
}


@pytest.mark.parametrize("case", BAD_MODERATION, ids=list(BAD_MODERATION))
def test_a_bad_row_refuses_the_whole_file_and_writes_nothing(any_engine, tmp_path, case):
    bad_rows, expected = BAD_MODERATION[case]
    # good rows before and after the bad one: none of them may land
    rows = [moderation_row(i) for i in range(2, 7)]
    path = jsonl(tmp_path / "m.jsonl", [*bad_rows, *rows])
    before = counts(any_engine)
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "moderation", engine=any_engine)
    assert refused.value.lines() == expected
    assert counts(any_engine) == before
    with session_scope(any_engine) as s:
        run = s.execute(select(ImportRun.status, ImportRun.rows_read, ImportRun.rows_refused)).one()
    assert run == ("refused", 6, 1)


def test_a_bad_row_after_many_good_batches_still_writes_nothing(engine, tmp_path, monkeypatch):
    monkeypatch.setattr("core.ingest.BATCH_ROWS", 10)
    rows = [moderation_row(i) for i in range(95)] + [moderation_row(95, score=2)]
    before = counts(engine)
    with pytest.raises(ImportRefused) as refused:
        import_file(jsonl(tmp_path / "m.jsonl", rows), "moderation", engine=engine)
    assert refused.value.lines() == ["line 96, field score: Input should be less than or equal to 1"]
    assert counts(engine) == before


def test_invalid_utf8_is_refused_with_its_line(engine, tmp_path):
    path = tmp_path / "m.jsonl"
    good = json.dumps(moderation_row(1)).encode()
    path.write_bytes(good + b"\n" + good.replace(b"comment 1", b"caf\xe9") + b"\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "moderation", engine=engine)
    assert refused.value.lines() == ["line 2: not valid UTF-8 (byte 0xe9 at column 31); save the file as UTF-8"]
    assert counts(engine)["moderation_item"] == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["file: the file is empty"]),
        (b"\n\n", ["file: the file holds no rows"]),
    ],
)
def test_empty_files_are_refused(engine, tmp_path, content, expected):
    path = tmp_path / "m.jsonl"
    path.write_bytes(content)
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "moderation", engine=engine)
    assert refused.value.lines() == expected


def test_malformed_csv_is_refused(engine, tmp_path):
    header = "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n"
    path = tmp_path / "j.csv"
    path.write_text(header + '1,ok,0,0,0,0,0,0\n2,too,many,0,0,0,0,0,0\n3,"unclosed,0,0,0,0,0,0\n', "utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "jigsaw", engine=engine)
    assert refused.value.lines()[0] == "line 3: expected 8 columns, found another number"
    assert refused.value.lines()[1].startswith("line 4: not valid CSV (unexpected end of data")
    assert counts(engine)["moderation_item"] == 0


def test_csv_missing_a_column_and_bad_bits_are_refused(engine, tmp_path):
    path = tmp_path / "j.csv"
    path.write_text("id,comment_text,toxic\n1,x,1\n", "utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "jigsaw", engine=engine)
    assert refused.value.lines() == [
        "line 1: the header lacks the column(s) severe_toxic, obscene, threat, insult, identity_hate"
    ]
    path.write_text("id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n1,x,2,0,0,0,0,-1\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "jigsaw", engine=engine)
    assert refused.value.lines() == [
        "line 2, field toxic: Input should be less than or equal to 1",
        "line 2, field identity_hate: Input should be greater than or equal to 0",
    ]


def test_only_the_first_twenty_problems_are_listed_then_a_count(engine, tmp_path):
    rows = [moderation_row(i, score=5) for i in range(50)]
    with pytest.raises(ImportRefused) as refused:
        import_file(jsonl(tmp_path / "m.jsonl", rows), "moderation", engine=engine)
    lines = refused.value.lines()
    assert len(lines) == 21
    assert lines[0].startswith("line 1, field score") and lines[19].startswith("line 20, field score")
    assert lines[20] == "... and 30 more problem(s)"


def test_wrong_suffix_and_unknown_kind_are_refused(engine, tmp_path):
    path = jsonl(tmp_path / "m.txt", [moderation_row(1)])
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "moderation", engine=engine)
    assert refused.value.lines() == ["file: a moderation file must end in .jsonl or .csv"]
    with pytest.raises(ValueError, match="unknown import kind 'nope'"):
        import_file(path, "nope", engine=engine)


def test_progress_reaches_the_whole_file(engine, tmp_path):
    path = jsonl(tmp_path / "m.jsonl", [moderation_row(i) for i in range(12000)])
    seen = []
    import_file(path, "moderation", engine=engine, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert len(seen) >= 3 and seen[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
