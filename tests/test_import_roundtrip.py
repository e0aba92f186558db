"""Property-based: what an importer accepts is stored with the values given (text as given, less the surrounding
whitespace every importer strips), whatever the text. Ids are fresh in each example: a row whose id is already in the
store is counted "already present" and the store keeps what it had (docs/reference/formats.md), checked last.
tests/test_bad_input_imports covers the refusals."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.ingest import ImportRefused, import_file
from core.store.db import session_scope
from core.store.models import (
    FLAGS,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
)

EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
# Unicode's White_Space, which the importers strip from both ends (pydantic's str_strip_whitespace); Python's
# str.strip() would also take the information separators \x1c-\x1f, which are kept.
WHITE_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def stripped(text: str) -> str:
    return text.strip(WHITE_SPACE)


# Any text but NUL (which every store refuses: tests/test_nul_text.py), surrogates (not UTF-8) and an empty strip.
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=60).filter(
    stripped
)
ids = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30).filter(stripped)
scores = st.integers(1, 5)


def fresh(text: str) -> str:
    """An id no earlier example used (the store lives as long as the test, across its examples)."""
    return f"{uuid.uuid4().hex[:8]}{text}"


def imported(engine, kind: str, rows: list[dict]) -> bool:
    """Import the rows as a JSONL file; False when the importer refused them."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        try:
            import_file(path, kind, engine=engine)
        except ImportRefused:
            return False
    return True


@EXAMPLES
@given(prompt_id=ids, prompt=texts, topic=texts, model=ids, answer=texts)
def test_an_accepted_conversation_is_stored_as_given(engine, prompt_id, prompt, topic, model, answer):
    prompt_id = fresh(prompt_id)
    row = {"prompt_id": prompt_id, "prompt": prompt, "topic": topic,
           "responses": [{"response_id": f"{prompt_id}-r", "model": model, "text": answer}]}  # fmt: skip
    if not imported(engine, "conversations", [row]):
        return
    with session_scope(engine) as s:
        stored = s.execute(select(Prompt).where(Prompt.external_id == stripped(prompt_id))).scalar_one()
        response = s.execute(select(Response).where(Response.prompt_id == stored.id)).scalar_one()
        version = s.get(ModelVersion, response.model_version_id)
        assert (stored.text, stored.topic) == (stripped(prompt), stripped(topic))
        assert (response.external_id, response.text, version.name) == (stripped(f"{prompt_id}-r"), stripped(answer),
                                                                          stripped(model))  # fmt: skip


@EXAMPLES
@given(key=ids, reviewer=ids, values=st.tuples(scores, scores, scores), flags=st.lists(st.sampled_from(FLAGS),
       unique=True), rationale=texts)  # fmt: skip
def test_an_accepted_rating_is_stored_as_given(engine, key, reviewer, values, flags, rationale):
    helpfulness, harmlessness, accuracy = values
    key = fresh(key)
    row = {"prompt_id": key, "prompt": "A question?", "model": "bot", "response": f"answer {key}",
           "reviewer": reviewer, "helpfulness": helpfulness, "harmlessness": harmlessness, "accuracy": accuracy,
           "flags": flags, "rationale": rationale}  # fmt: skip
    if not imported(engine, "ratings", [row]):
        return
    with session_scope(engine) as s:
        prompt = s.execute(select(Prompt).where(Prompt.external_id == stripped(key))).scalar_one()
        response = s.execute(select(Response).where(Response.prompt_id == prompt.id)).scalar_one()
        rating = s.execute(select(Rating).where(Rating.response_id == response.id)).scalar_one()
        user = s.get(User, rating.user_id)
        assert (rating.helpfulness, rating.harmlessness, rating.accuracy) == values
        assert (sorted(rating.flags), rating.rationale, user.username) == (sorted(flags), stripped(rationale),
                                                                             stripped(reviewer))  # fmt: skip


@EXAMPLES
@given(item_id=ids, text=texts, score=st.floats(0, 1), label=st.sampled_from(["toxic", "not_toxic"]),
       meta=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10) | st.booleans(), max_size=3),
       note=texts)  # fmt: skip
def test_an_accepted_moderation_item_and_label_are_stored_as_given(engine, item_id, text, score, label, meta, note):
    item_id = fresh(item_id)
    item = {"item_id": item_id, "text": text, "model": "clf", "score": score, "predicted_label": label, "meta": meta}
    if not imported(engine, "moderation", [item]):
        return
    human = {"item_id": item_id, "text": text, "annotator": "ann", "label": label, "note": note}
    assert imported(engine, "labels", [human]), "a label of an item just imported was refused"
    with session_scope(engine) as s:
        stored = s.execute(select(ModerationItem).where(ModerationItem.external_id == stripped(item_id))).scalar_one()
        scored = s.execute(select(ModerationScore).where(ModerationScore.item_id == stored.id)).scalar_one()
        labelled = s.execute(select(ModerationLabel).where(ModerationLabel.item_id == stored.id)).scalar_one()
        assert (stored.text, stored.meta) == (stripped(text), meta)
        assert (scored.score, scored.predicted_label) == (score, label)
        assert (labelled.label, labelled.note) == (label, stripped(note))


def test_a_row_whose_id_is_present_keeps_what_the_store_has_and_is_counted_already_present(engine, tmp_path):
    first = {"prompt_id": "p1", "prompt": "Q?", "topic": "vat", "responses": [{"response_id": "r1", "model": "m",
             "text": "A"}]}  # fmt: skip
    again = first | {"prompt": "Another Q?", "topic": "payroll"}
    again["responses"] = [{"response_id": "r1", "model": "m", "text": "B"}]
    for n, row in enumerate((first, again)):
        (tmp_path / f"{n}.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert (
        import_file(tmp_path / "0.jsonl", "conversations", engine=engine).line().endswith("1 added, 0 already present")
    )
    assert (
        import_file(tmp_path / "1.jsonl", "conversations", engine=engine).line().endswith("0 added, 1 already present")
    )
    with session_scope(engine) as s:
        assert s.execute(select(Prompt.text, Prompt.topic)).one() == ("Q?", "vat")
        assert s.execute(select(Response.text)).scalar_one() == "A"


def test_metadata_keys_are_stored_as_given_not_stripped_into_each_other(engine, tmp_path):
    """Found by the property test above: meta keys were stripped, so " language" and "language" became one key and
    one of the two values was lost without a word."""
    row = {"item_id": "m1", "text": "a comment", "model": "clf", "score": 0.5, "predicted_label": "toxic",
           "meta": {" language": "de", "language": "en", "\r": 0}}  # fmt: skip
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    import_file(tmp_path / "m.jsonl", "moderation", engine=engine)
    with session_scope(engine) as s:
        assert s.execute(select(ModerationItem.meta)).scalar_one() == {" language": "de", "language": "en", "\r": 0}
