"""The demo dataset: deterministic rows that the importers accept, judgments that tell the two versions apart, and a
load that fills a fresh store once, with users who can sign in."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import aliased

from core.accounts import AuthError
from core.accounts.signin import authenticate
from core.accounts.users import create_user
from core.demo.load import DEMO_USERS, DemoSummary, generate, load_demo, store_is_empty
from core.ingest import schemas
from core.reports.filters import version_names
from core.reports.kpi.quality import compared_versions
from core.store.db import get_engine, session_scope
from core.store.models import (
    Comparison,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
)

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
SCHEMAS = {
    "conversations": schemas.ConversationRow,
    "moderation": schemas.ModerationRow,
    "ratings": schemas.RatingRow,
    "comparisons": schemas.ComparisonRow,
    "labels": schemas.LabelRow,
    "experiment-events": schemas.ExperimentEventRow,
}


@pytest.fixture(scope="module")
def data():
    return generate(7, now=NOW)


def _without_times(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("created_at", "at")} for row in rows]


def _time(row: dict) -> str:
    """When a row happened: `created_at`, or `at` for experiment events."""
    return row.get("created_at") or row["at"]


def test_same_seed_gives_identical_rows(data):
    assert generate(7, now=NOW) == data


def test_only_the_timestamps_follow_the_load_time(data):
    later = generate(7, now=NOW + timedelta(days=3, hours=5))
    for (kind, rows), (_, later_rows) in zip(data.files(), later.files(), strict=True):
        assert _without_times(later_rows) == _without_times(rows), kind
        assert [_time(r) for r in later_rows] != [_time(r) for r in rows], kind


def test_another_seed_gives_other_texts_and_ids(data):
    other = generate(8, now=NOW)
    assert {r["prompt"] for r in other.conversations} != {r["prompt"] for r in data.conversations}
    assert not {r["item_id"] for r in other.moderation} & {r["item_id"] for r in data.moderation}


def test_every_row_is_valid_for_its_importer(data):
    for kind, rows in data.files():
        for row in rows:
            SCHEMAS[kind].model_validate(row)


def test_sizes_match_the_demo_plan(data):
    assert len(data.conversations) == 200
    assert len({r["prompt"] for r in data.conversations}) == 200
    assert Counter(r["model"] for c in data.conversations for r in c["responses"]) == {
        "taxbot-v1": 200,
        "taxbot-v2": 200,
    }
    assert len({r["topic"] for r in data.conversations}) == 7
    assert len({r["item_id"] for r in data.moderation}) == 2000
    assert Counter(r["model"] for r in data.moderation) == {"modclf-v1": 2000, "modclf-v2": 2000}
    assert 110 <= len({r["prompt_id"] for r in data.comparisons}) <= 130
    assert {r["reviewer"] for r in data.ratings} == {r["reviewer"] for r in data.comparisons} == {"expert", "expert2"}
    assert 280 <= len({r["item_id"] for r in data.labels}) <= 320
    assert {r["annotator"] for r in data.labels} == {"annotator", "annotator2"}


def test_times_span_sixty_days_with_some_today_and_judgments_after_arrival(data):
    def at(row: dict) -> datetime:
        return datetime.fromisoformat(_time(row))

    start_of_today = NOW.replace(hour=0, minute=0, second=0)
    for kind, rows in data.files():
        times = [at(r) for r in rows]
        assert all(NOW - timedelta(days=60) <= t <= NOW for t in times), kind
        assert sum(t >= start_of_today for t in times) >= 5, kind
        assert max(times) - min(times) > timedelta(days=50), kind
    asked = {r["prompt_id"]: at(r) for r in data.conversations}
    arrived = {r["item_id"]: at(r) for r in data.moderation}
    assert all(at(r) >= asked[r["prompt_id"]] for r in data.ratings + data.comparisons)
    assert all(at(r) >= arrived[r["item_id"]] for r in data.labels)


def test_v2_wins_most_comparisons_with_some_ties_and_both_bad(data):
    outcomes = Counter(r[f"model_{r['choice']}"] if r["choice"] in "ab" else r["choice"] for r in data.comparisons)
    assert 0.75 <= outcomes["taxbot-v2"] / len(data.comparisons) <= 0.9
    assert outcomes["taxbot-v1"] > 0 and outcomes["tie"] > 0 and outcomes["both_bad"] > 0
    both = Counter(r["prompt_id"] for r in data.comparisons)
    assert sum(n == 2 for n in both.values()) >= 30  # both experts on many prompts, for agreement


def test_length_alone_does_not_tell_the_winner(data):
    decisive = [r for r in data.comparisons if r["choice"] in "ab"]
    longer = ["a" if len(r["response_a"]) > len(r["response_b"]) else "b" for r in decisive]
    accuracy = sum(guess == r["choice"] for guess, r in zip(longer, decisive, strict=True)) / len(decisive)
    assert accuracy < 0.7
    v1_longer = sum(len(c["responses"][0]["text"]) > len(c["responses"][1]["text"]) for c in data.conversations)
    assert v1_longer >= 60  # of 200


def test_ratings_reflect_the_quality_gap_and_explain_bad_answers(data):
    by_model: dict[str, list[int]] = {"taxbot-v1": [], "taxbot-v2": []}
    for r in data.ratings:
        by_model[r["model"]].append(r["accuracy"])
        if r["accuracy"] <= 2 or r["flags"]:
            assert r["rationale"], r
    assert sum(by_model["taxbot-v2"]) / len(by_model["taxbot-v2"]) >= 4.2
    assert sum(by_model["taxbot-v1"]) / len(by_model["taxbot-v1"]) <= 3.2
    v1_flags = Counter(f for r in data.ratings if r["model"] == "taxbot-v1" for f in r["flags"])
    assert v1_flags["incorrect"] >= 20 and v1_flags["hallucinated_source"] >= 5
    rated_twice = Counter((r["prompt_id"], r["model"]) for r in data.ratings)
    assert sum(n == 2 for n in rated_twice.values()) >= 50


def test_some_v1_answers_hold_html_to_show_safe_rendering(data):
    v1 = [r["text"] for c in data.conversations for r in c["responses"] if r["model"] == "taxbot-v1"]
    v2 = [r["text"] for c in data.conversations for r in c["responses"] if r["model"] == "taxbot-v2"]
    assert any("<script>alert(1)</script>" in t for t in v1)
    assert any("<b>" in t for t in v1)
    assert not any("<" in t for t in v2)


def test_many_moderation_scores_lie_near_the_threshold(data):
    for model in ("modclf-v1", "modclf-v2"):
        scores = [r["score"] for r in data.moderation if r["model"] == model]
        assert sum(0.4 <= s <= 0.6 for s in scores) >= 0.2 * len(scores), model
        assert 0.1 * len(scores) <= sum(s >= 0.5 for s in scores) <= 0.6 * len(scores), model
    metas = [r["meta"] for r in data.moderation]
    assert {m["language"] for m in metas} == {"en", "de", "fr", "es"}
    assert {m["source"] for m in metas} == {"forum", "chat", "reviews"}
    assert {m["user_segment"] for m in metas} == {"new", "returning", "business"}


def test_annotators_agree_mostly_but_not_always(data):
    labels: dict[str, dict[str, str]] = {}
    for r in data.labels:
        labels.setdefault(r["item_id"], {})[r["annotator"]] = r["label"]
        assert bool(r["categories"]) == (r["label"] == "toxic")
    both = [v for v in labels.values() if len(v) == 2]
    disagreements = sum(len(set(v.values())) == 2 for v in both)
    assert len(both) >= 120
    assert 5 <= disagreements <= 0.4 * len(both)


# --- loading into a store --------------------------------------------------------------------------------------------


def _counts(engine: Engine) -> dict[str, int]:
    tables = (User, Prompt, Response, ModerationItem, ModerationScore, Rating, Comparison, ModerationLabel)
    with session_scope(engine) as s:
        return {t.__name__: s.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


@pytest.fixture(scope="module")
def loaded(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, DemoSummary]]:
    """One fresh store with the demo loaded, shared by the tests that only read it."""
    path = tmp_path_factory.mktemp("demo") / "store.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        engine = get_engine(url)
        assert store_is_empty(engine)
        steps: list[tuple[str, float]] = []
        summary = load_demo(engine, progress=lambda step, fraction: steps.append((step, fraction)))
        assert next(s for s, _ in steps) == "users" and steps[-1] == ("done", 1.0)
        assert [f for _, f in steps] == sorted(f for _, f in steps)
        yield engine, summary
    engine.dispose()


def test_load_demo_fills_a_fresh_store(loaded):
    engine, summary = loaded
    data = generate(7)
    expected = {
        "User": len(DEMO_USERS),
        "Prompt": 200,
        "Response": 400,
        "ModerationItem": 2000,
        "ModerationScore": 4000,
        "Rating": len(data.ratings),
        "Comparison": len(data.comparisons),
        "ModerationLabel": len(data.labels),
    }
    assert _counts(engine) == expected
    assert (summary.users, summary.prompts, summary.responses) == (len(DEMO_USERS), 200, 400)
    assert (summary.moderation_items, summary.moderation_scores) == (2000, 4000)
    assert (summary.ratings, summary.comparisons, summary.labels) == (
        len(data.ratings),
        len(data.comparisons),
        len(data.labels),
    )
    assert summary.experiment_outcomes == 3 * len(data.experiment_events) == 7200
    assert "2,000 moderation items" in summary.line() and "7,200 experiment outcomes" in summary.line()
    assert len(summary.imports) == 6
    assert not store_is_empty(engine)
    with session_scope(engine) as s:
        notes = dict(s.execute(select(ModelVersion.name, ModelVersion.notes)).all())
    assert set(notes) == {"taxbot-v1", "taxbot-v2", "modclf-v1", "modclf-v2"} and all(notes.values())


def test_v2_wins_most_comparisons_in_the_store(loaded):
    engine, _ = loaded
    chosen, b_id = aliased(Response), Comparison.response_b_id
    with session_scope(engine) as s:
        winners = dict(
            s.execute(
                select(ModelVersion.name, func.count())
                .select_from(Comparison)
                .join(chosen, chosen.id == case((Comparison.choice == "a", Comparison.response_a_id), else_=b_id))
                .join(ModelVersion, ModelVersion.id == chosen.model_version_id)
                .where(Comparison.choice.in_(("a", "b")))
                .group_by(ModelVersion.name)
            ).all()
        )
        total = s.execute(select(func.count()).select_from(Comparison)).scalar_one()
    assert winners["taxbot-v2"] >= 0.75 * total
    assert winners["taxbot-v2"] > 5 * winners.get("taxbot-v1", 0)


def test_the_kpi_headline_and_the_ab_defaults_put_v2_after_v1(loaded):
    engine, _ = loaded
    with session_scope(engine) as s:
        assert compared_versions(s)[1::2] == ("taxbot-v2", "taxbot-v1")
        assert version_names(s, "chatbot") == ["taxbot-v1", "taxbot-v2"]


def test_many_stored_moderation_scores_lie_near_the_threshold(loaded):
    engine, _ = loaded
    with session_scope(engine) as s:
        near = s.execute(
            select(func.count()).select_from(ModerationScore).where(ModerationScore.score.between(0.4, 0.6))
        ).scalar_one()
        languages = s.execute(select(func.count(func.distinct(func.json_extract(ModerationItem.meta, "$.language")))))
        assert languages.scalar_one() == 4
    assert near >= 800  # of 4,000 scores


def test_demo_users_can_sign_in(loaded):
    engine, _ = loaded
    with session_scope(engine, write=True) as s:
        for username, password, role, _ in DEMO_USERS:
            user = authenticate(s, username=username, password=password)
            assert (user.role, user.active) == (role, True)
            assert user.display_name != username


def test_a_second_load_adds_nothing(loaded):
    engine, _ = loaded
    before = _counts(engine)
    summary = load_demo(engine)
    assert _counts(engine) == before
    assert summary.added == 0
    assert "nothing added" in summary.line()


def test_existing_users_are_left_alone(engine):
    with session_scope(engine, write=True) as s:
        create_user(s, username="admin", role="admin", password="a-real-password")
    load_demo(engine)
    with session_scope(engine, write=True) as s:
        assert authenticate(s, username="admin", password="a-real-password").role == "admin"
        with pytest.raises(AuthError):
            authenticate(s, username="admin", password="admin-demo")
        assert authenticate(s, username="owner", password="owner-demo").role == "product_owner"
