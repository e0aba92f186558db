"""Preference pairs and snapshots: majority, what is left out, the split by prompt, the content hash."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, update

from core.reward import RewardError
from core.reward.registry import dataset_summary
from core.reward.snapshot import export_snapshot, split_of
from core.store.db import session_scope
from core.store.models import AuditEvent, Comparison, DatasetSnapshot, Rating
from tests.reward_store import add_answers, compare, preferred_store, rate, reviewer


@pytest.fixture
def artifacts(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def rows(result, split: str) -> list[dict]:
    return pq.read_table(Path(result.path) / f"{split}.parquet").to_pylist()


def snapshots(engine) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(DatasetSnapshot)).scalar_one()


def test_several_reviewers_resolve_a_pair_by_majority_in_either_order(any_engine, artifacts):
    ids = preferred_store(any_engine, 20)
    prompt_id, good, bad = ids["p001"]
    # two more reviewers on p001: one prefers the bad answer, stored the other way round; the majority stays good
    compare(any_engine, prompt_id, bad, good, "a", reviewer(any_engine, "x"))
    compare(any_engine, prompt_id, bad, good, "b", reviewer(any_engine, "y"))
    result = export_snapshot(any_engine)
    pairs = [r for split in ("train", "eval") for r in rows(result, split)]
    assert len(pairs) == 20
    p001 = next(r for r in pairs if r["prompt_id"] == "p001")
    assert (p001["chosen_id"], p001["rejected_id"], p001["votes"], p001["winner_votes"]) == (
        "p001-good",
        "p001-bad",
        3,
        2,
    )
    assert all(r["chosen_model"] == "good-v2" and r["rejected_model"] == "bad-v1" for r in pairs)


def test_ties_both_bad_and_split_votes_are_left_out_and_counted(any_engine, artifacts):
    ids = preferred_store(any_engine, 20)
    second = reviewer(any_engine, "second")
    third = reviewer(any_engine, "third")
    for ext, choices in {"p000": ("tie", "tie"), "p002": ("both_bad", "both_bad"), "p004": ("a", "tie")}.items():
        prompt_id, good, bad = ids[ext]
        compare(any_engine, prompt_id, good, bad, choices[0], second)
        compare(any_engine, prompt_id, good, bad, choices[1], third)
    # p000 now: b(good) + tie + tie -> tie; p002: good + both_bad x2 -> both bad; p004: good x2 + tie -> usable
    prompt_id, good, bad = ids["p006"]
    compare(any_engine, prompt_id, good, bad, "b", second)  # good once, bad once -> split
    summary = dataset_summary(any_engine)
    assert summary.outcomes == {"usable": 17, "tie": 1, "both_bad": 1, "split": 1}
    assert [(c.name, c.pairs) for c in summary.by_source] == [("import", 17)]
    assert {c.name: c.pairs for c in summary.by_topic} == {"deductions": 5, "VAT": 7, "pensions": 5}
    assert [(c.name, c.pairs, c.wins) for c in summary.by_version] == [("bad-v1", 17, 0), ("good-v2", 17, 17)]
    result = export_snapshot(any_engine)
    kept = {r["prompt_id"] for split in ("train", "eval") for r in rows(result, split)}
    assert kept.isdisjoint({"p000", "p002", "p006"}) and "p004" in kept and len(kept) == 17
    assert "1 ties, 1 both bad, 1 split" in result.line()


def test_no_prompt_is_in_both_splits_and_the_split_follows_the_prompt_id(engine, artifacts):
    ids = add_answers(engine, 30)
    first, second = reviewer(engine, "r1"), reviewer(engine, "r2")
    for prompt_id, good, bad in ids.values():  # two pairs per prompt: the good answer against the bad one, twice
        compare(engine, prompt_id, good, bad, "a", first)
        compare(engine, prompt_id, bad, good, "b", second)
    result = export_snapshot(engine)
    train, held_out = ({r["prompt_id"] for r in rows(result, s)} for s in ("train", "eval"))
    assert train and held_out and train.isdisjoint(held_out)
    assert held_out == {ext for ext in ids if split_of(ext) == "eval"}
    assert result.counts == {"train": len(train), "eval": len(held_out), "expert_votes": 0}


def test_the_same_store_gives_the_same_hash_and_one_snapshot(any_engine, artifacts):
    preferred_store(any_engine, 20)
    first = export_snapshot(any_engine)
    again = export_snapshot(any_engine)
    assert (again.id, again.content_hash, again.reused) == (first.id, first.content_hash, True)
    assert snapshots(any_engine) == 1
    card = json.loads((Path(first.path) / "snapshot.json").read_text())
    assert card["content_hash"] == first.content_hash and card["rows"]["train"] + card["rows"]["eval"] == 20
    assert Path(first.path).parent == artifacts / "snapshots"


def test_a_changed_judgment_gives_a_new_hash(any_engine, artifacts):
    preferred_store(any_engine, 20)
    first = export_snapshot(any_engine)
    with session_scope(any_engine, write=True) as session:
        target = session.execute(select(Comparison.id).order_by(Comparison.id).limit(1)).scalar_one()
        session.execute(update(Comparison).where(Comparison.id == target).values(choice="a"))  # was "b"
    second = export_snapshot(any_engine)
    assert second.content_hash != first.content_hash and second.id != first.id and not second.reused
    assert snapshots(any_engine) == 2


def test_the_rows_are_trls_conversational_preference_format_with_what_metrics_need(engine, artifacts):
    preferred_store(engine, 20)
    result = export_snapshot(engine)
    row = rows(result, "train")[0]
    assert list(row)[:3] == ["prompt", "chosen", "rejected"]
    (question,) = row["prompt"]  # a one-turn conversation
    assert question["role"] == "user" and question["content"].endswith("?")
    assert row["chosen"] == [{"role": "assistant", "content": row["chosen_text"]}]
    assert row["rejected"] == [{"role": "assistant", "content": row["rejected_text"]}]
    assert {"topic", "source", "chosen_model", "rejected_model"} <= set(row)


def test_pairs_from_ratings_only_when_asked_and_only_for_uncompared_answers(engine, artifacts):
    compared = preferred_store(engine, 20)
    rated = add_answers(engine, 10, prefix="q")
    expert = reviewer(engine, "rater")
    for ext, (_, good, bad) in rated.items():
        rate(engine, good, 5, expert)
        rate(engine, bad, 2 if ext != "q000" else 5, expert)  # q000: a tie on the rubric, no pair
    _, good, bad = compared["p001"]
    rate(engine, good, 1, expert)  # compared already: the comparison wins, no rating pair
    rate(engine, bad, 5, expert)
    plain = export_snapshot(engine)
    assert plain.counts["train"] + plain.counts["eval"] == 20
    summary = dataset_summary(engine)
    assert (summary.rating_pairs, summary.rating_pairs_close) == (9, 1)
    with_ratings = export_snapshot(engine, with_ratings=True)
    pairs = [r for split in ("train", "eval") for r in rows(with_ratings, split)]
    from_ratings = [r for r in pairs if r["source"] == "ratings"]
    assert len(pairs) == 29 and len(from_ratings) == 9
    assert all(r["chosen_id"].endswith("-good") for r in from_ratings)


def test_app_votes_on_held_out_prompts_are_kept_one_by_one(engine, artifacts):
    ids = preferred_store(engine, 30, source="app")
    held_out = [ext for ext in ids if split_of(ext) == "eval"]
    prompt_id, good, bad = ids[held_out[0]]
    compare(engine, prompt_id, good, bad, "b", reviewer(engine, "dissent"), source="app")  # now split: left out
    result = export_snapshot(engine)
    votes = rows(result, "expert_votes")
    assert len(votes) == len(held_out) + 1
    assert {v["prompt_id"] for v in votes} == set(held_out)
    assert held_out[0] not in {r["prompt_id"] for r in rows(result, "eval")}


def test_an_empty_store_is_refused_and_nothing_is_written(any_engine, artifacts):
    with pytest.raises(RewardError, match="no usable preference pairs"):
        export_snapshot(any_engine)
    ids = add_answers(any_engine, 3)
    for prompt_id, good, bad in ids.values():
        compare(any_engine, prompt_id, good, bad, "tie", None)
    with pytest.raises(RewardError, match="3 compared pairs left out"):
        export_snapshot(any_engine)
    assert snapshots(any_engine) == 0 and not artifacts.exists()
    with session_scope(any_engine) as session:
        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 0


def test_imported_hh_rlhf_pairs_keep_their_source(engine, artifacts, tmp_path):
    from core.ingest import import_file

    lines = [
        {
            "chosen": f"\n\nHuman: Question {i}?\n\nAssistant: A careful answer {i}.",
            "rejected": f"\n\nHuman: Question {i}?\n\nAssistant: Whatever {i}.",
        }
        for i in range(30)
    ]
    path = tmp_path / "hh.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    import_file(path, "hh-rlhf", engine=engine)
    result = export_snapshot(engine)
    pairs = [r for split in ("train", "eval") for r in rows(result, split)]
    assert len(pairs) == 30 and {r["source"] for r in pairs} == {"hh-rlhf"}
    assert all(r["chosen_text"] == f"A careful answer {r['prompt'][0]['content'][9:-1]}." for r in pairs)
    assert [(c.name, c.pairs, c.wins) for c in dataset_summary(engine).by_version] == [("hh-rlhf", 30, 0)]


def test_out_names_the_folder_and_never_overwrites_one_in_use(engine, artifacts, tmp_path):
    preferred_store(engine, 20)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(RewardError, match="exists and is not empty"):
        export_snapshot(engine, out=busy)
    assert (busy / "keep.txt").read_text() == "mine" and snapshots(engine) == 0
    result = export_snapshot(engine, out=tmp_path / "mine")
    assert result.path == str(tmp_path / "mine") and (tmp_path / "mine" / "train.parquet").is_file()


def test_spans_adds_each_answers_error_spans_and_leaves_the_plain_snapshot_as_it_was(any_engine, artifacts):
    engine = any_engine
    ids = preferred_store(engine, 20)
    plain = export_snapshot(engine)
    _, _, bad = ids["p000"]
    wrong = {"start": 0, "end": 8, "label": "incorrect", "severity": "major"}
    with session_scope(engine, write=True) as session:
        for user, spans in ((reviewer(engine, "kim"), [wrong]), (reviewer(engine, "bob"), [wrong | {"note": "no"}])):
            session.add(
                Rating(key=f"r:{user}", response_id=bad, user_id=user, helpfulness=2, harmlessness=5, accuracy=1)
            )
            session.flush()
            session.execute(update(Rating).where(Rating.key == f"r:{user}").values(spans=spans, flags=["incorrect"]))
        unsafe = {
            "start": 0,
            "end": 4,
            "label": "unsafe",
            "severity": "minor",
        }  # marked on Compare, answer b: p001's bad
        pair = select(Comparison.id).where(Comparison.response_b_id == ids["p001"][2])
        session.execute(update(Comparison).where(Comparison.id == pair.scalar_subquery()).values(spans={"b": [unsafe]}))
    again = export_snapshot(engine)  # without --spans: the same rows, the same hash
    assert (again.content_hash, again.reused) == (plain.content_hash, True)
    marked = export_snapshot(engine, with_spans=True)
    assert marked.content_hash != plain.content_hash and not marked.reused
    split = "eval" if split_of("p000") == "eval" else "train"
    (row,) = [r for r in rows(marked, split) if r["prompt_id"] == "p000"]
    # the two reviewers' spans, each once, offsets into rejected_text; the winning answer has none
    assert row["rejected_spans"] == [wrong | {"note": ""}, wrong | {"note": "no"}] and row["chosen_spans"] == []
    (compared,) = [
        r for r in rows(marked, "eval" if split_of("p001") == "eval" else "train") if r["prompt_id"] == "p001"
    ]
    assert (compared["rejected_spans"], compared["chosen_spans"]) == ([unsafe | {"note": ""}], [])
    others = [r for r in rows(marked, "train") if r["prompt_id"] not in ("p000", "p001")]
    assert others and all(r["chosen_spans"] == [] == r["rejected_spans"] for r in others)
    card = json.loads((Path(marked.path) / "snapshot.json").read_text())
    assert card["options"]["with_spans"] is True and "chosen_spans" not in rows(plain, "train")[0]
