"""Bad input at every form, typed in with AppTest: property-based.

Whatever text a person types (HTML, a formula, right-to-left marks, a 100,000-character line, control characters,
nothing at all), the page never fails with an exception, and a submission it refuses shows an error and writes
nothing: every table keeps its row count, audit events included. Each form's example text comes from `TYPED`.
Slow (each example is a few page runs): `make test-slow` and CI run them."""

from __future__ import annotations

import pytest
import streamlit as st
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st_
from sqlalchemy import Engine, func, select
from sqlmodel import SQLModel
from streamlit.testing.v1 import AppTest

from core.auth import UserPublic
from core.store.db import session_scope
from core.store.models import ModerationLabel, Rating
from core.text import NUL, TEXT_LIMIT
from tests import audit_store
from tests.app_helpers import APP, add_users, field
from tests.app_helpers import page as page_path
from tests.moderation_store import add_people, import_rows, label_row, score_row
from tests.review_store import build

pytestmark = pytest.mark.slow
FORMS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
HOSTILE = [
    "<script>window.__pwned = 1</script><img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil.example","click")',
    "\u202eevil.exe\u202c مرحبا بالعالم שלום עולם",
    "x" * TEXT_LIMIT,  # the longest a form takes (the browser stops typing there; more is refused: test_text_limits)
    "**bold** [link](javascript:alert(1)) $x^2$ :red[red]",
    "\r\n\t\x0b\x1b[31m",
    "",
    "   ",
]
TYPED = st_.sampled_from(HOSTILE) | st_.text(max_size=300)


def row_counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {
            t.name: s.execute(select(func.count()).select_from(t)).scalar_one() for t in SQLModel.metadata.sorted_tables
        }


def open_page(name: str, user_id: int, username: str, role: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = UserPublic(user_id, username, username, role, True)
    at.run()
    at.switch_page(page_path(name))
    return at.run()


def open_item(at: AppTest) -> None:
    """Skip an example once the queue is empty (hypothesis runs more examples while shrinking): the only form left
    would be the one that changes the last judgment."""
    assume(not at.info)


def submitted(engine: Engine, at: AppTest, before: dict[str, int], grew: str) -> bool:
    """After a submission: no exception; refused (an error shown, nothing written) or stored (`grew` has one more
    row). Returns whether it was stored."""
    assert not at.exception, [e.value for e in at.exception]
    after = row_counts(engine)
    if at.error:
        assert all(e.value.strip() for e in at.error)
        assert after == before, "a refused form wrote rows"
        return False
    assert after[grew] == before[grew] + 1, (after, before)
    return True


@pytest.fixture
def review(engine, tmp_path):
    st.cache_resource.clear()
    return engine, build(engine, tmp_path, prompts=40, experts=1, comparison_k=1)  # more items than examples


@FORMS
@given(rationale=TYPED, accuracy=st_.sampled_from([1, 2, 3, 4, 5]))
@example(rationale="", accuracy=1)
@example(rationale="fine\x00", accuracy=4)  # refused: a NUL (CI found it)
def test_the_rating_form_takes_any_rationale(review, rationale, accuracy):
    engine, users = review
    at = open_page("rate", users["expert0"], "expert0", "expert")
    open_item(at)
    before = row_counts(engine)
    for name, value in (("helpfulness", 4), ("harmlessness", 4), ("accuracy", accuracy)):
        field(at, name).set_value(value)
    field(at, "rationale").input(rationale)
    field(at, "submit").click().run()
    if submitted(engine, at, before, "rating"):
        with session_scope(engine) as s:
            newest = s.execute(select(Rating.rationale).order_by(Rating.id.desc()).limit(1)).scalar_one()
        assert newest == rationale.strip()
    else:
        assert NUL in rationale or (accuracy <= 2 and not rationale.strip())


@FORMS
@given(rationale=TYPED, choice=st_.sampled_from(["left", "right", "tie", "both_bad"]), strength=st_.booleans())
@example(rationale="\x00", choice="tie", strength=False)  # refused: a NUL (the check had left it out)
def test_the_comparison_form_takes_any_rationale(review, rationale, choice, strength):
    engine, users = review
    at = open_page("compare", users["expert0"], "expert0", "expert")
    open_item(at)
    before = row_counts(engine)
    field(at, "choice").set_value(choice)
    if strength:
        field(at, "strength").set_value("clear")
    field(at, "rationale").input(rationale)
    field(at, "submit").click().run()
    if not submitted(engine, at, before, "comparison"):
        assert NUL in rationale or (choice in ("left", "right") and not strength)


@pytest.fixture
def moderation(engine, tmp_path, monkeypatch):
    """25 borderline items; ann0 and ann1 disagree on every one (for the adjudication queue)."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    st.cache_resource.clear()
    users = add_people(engine)
    import_rows(engine, tmp_path, "moderation", [score_row(f"i{n}", "clf-v1", 0.5) for n in range(25)])
    return engine, users, tmp_path


@FORMS
@given(note=TYPED, label=st_.sampled_from([None, "toxic", "not_toxic"]), harassment=st_.booleans())
def test_the_label_form_takes_any_note(moderation, note, label, harassment):
    engine, users, _ = moderation
    at = open_page("moderation", users["ann2"], "ann2", "annotator")
    open_item(at)
    before = row_counts(engine)
    if label:
        field(at, "label").set_value(label)
    if harassment:
        field(at, "categories").set_value(["harassment"])
    field(at, "note").input(note)
    field(at, "submit").click().run()
    if submitted(engine, at, before, "moderation_label"):
        with session_scope(engine) as s:
            newest = s.execute(select(ModerationLabel.note).order_by(ModerationLabel.id.desc()).limit(1)).scalar_one()
        assert newest == note.strip()


@FORMS
@given(reason=TYPED, label=st_.sampled_from([None, "toxic", "not_toxic"]))
@example(reason="\x00", label="toxic")  # refused: a NUL (CI found it)
def test_the_adjudication_form_takes_any_reason(moderation, reason, label):
    engine, users, tmp_path = moderation
    with session_scope(engine) as s:
        labelled = s.execute(select(func.count()).select_from(ModerationLabel)).scalar_one()
    if not labelled:
        rows = [label_row(f"i{n}", "ann0", "toxic") for n in range(25)]
        import_rows(engine, tmp_path, "labels", rows + [label_row(f"i{n}", "ann1", "not_toxic") for n in range(25)])
    at = open_page("adjudicate", users["lead"], "lead", "expert")
    open_item(at)
    before = row_counts(engine)
    if label:
        field(at, "label").set_value(label)
        if label == "toxic":
            field(at, "categories").set_value(["harassment"])
    field(at, "reason").input(reason)
    field(at, "submit").click().run()
    if not submitted(engine, at, before, "adjudication"):
        assert NUL in reason or label is None or not reason.strip()


@pytest.fixture
def flagged(engine):
    st.cache_resource.clear()
    with session_scope(engine, write=True) as s:
        people = audit_store.users(s, "ann", "lead")
        (answer,) = audit_store.answers(s, audit_store.version(s, "bot-v1"), 1)
        audit_store.rate(s, people["ann"], answer, (2, 1, 1), flags=("unsafe",), rationale=HOSTILE[0])
    return engine, people


@FORMS
@given(note=TYPED, status=st_.sampled_from(["open", "confirmed", "dismissed"]))
def test_the_flag_triage_form_takes_any_note(flagged, note, status):
    engine, people = flagged
    at = open_page("flags", people["lead"], "lead", "expert")
    shown = at.selectbox(key="flag_status")
    shown.set_value(shown.options[0]).run()  # every status: the flagged answer stays on the page once triaged
    before = row_counts(engine)
    at.radio[0].set_value(status)
    at.text_area[0].input(note)
    next(b for b in at.button if b.label == "Save triage").click().run()
    assert not at.exception
    after = row_counts(engine)
    if at.error:
        assert after == before
    else:  # a triage updates the rating in place: the audit trail has the change (or nothing changed)
        assert after["audit_event"] in (before["audit_event"], before["audit_event"] + 1)


@FORMS
@given(text=TYPED)
@example(text="@lead, see the <b>rate</b>\x00")  # refused: a NUL
def test_the_comment_form_takes_any_text(flagged, text):
    engine, people = flagged
    at = open_page("flags", people["lead"], "lead", "expert")  # a flagged answer's thread shows to every expert
    before = row_counts(engine)
    next(t for t in at.text_area if t.label == "Add a comment").input(text)
    next(b for b in at.button if b.label == "Post comment").click().run()
    if not submitted(engine, at, before, "comment"):
        assert NUL in text or not text.strip()
    else:
        assert text.strip() in [t.value for t in at.text]  # shown exactly as written, as text


@pytest.fixture
def sampled(engine):
    st.cache_resource.clear()
    with session_scope(engine, write=True) as s:
        people = audit_store.users(s, "ann", "lead")
        for answer in audit_store.answers(s, audit_store.version(s, "bot-v1"), 30):
            audit_store.rate(s, people["ann"], answer, (4, 4, 4), when=audit_store.at())
    return engine, people, audit_store.at().strftime("%Y-%m")


@FORMS
@given(month=TYPED | st_.dates().map(lambda d: d.strftime("%Y-%m")), size=st_.integers(1, 10_000))
def test_the_draw_sample_form_takes_any_month(sampled, month, size):
    engine, people, _ = sampled
    at = open_page("audit_sample", people["lead"], "lead", "expert")
    before = row_counts(engine)
    at.text_input[0].input(month)
    at.number_input[0].set_value(size)
    at.button[0].click().run()
    assert not at.exception
    if at.error:
        assert row_counts(engine) == before and at.error[0].value


@FORMS
@given(reason=TYPED, verdict=st_.sampled_from([None, "agree", "disagree"]))
def test_the_audit_verdict_form_takes_any_reason(sampled, reason, verdict):
    engine, people, month = sampled
    from core.oversight import service as oversight

    lead = UserPublic(people["lead"], "lead", "Lead", "expert", True)
    oversight.draw_sample(actor=lead, month=month, size=25, seed=1, engine=engine)
    at = open_page("audit_sample", people["lead"], "lead", "expert")
    before = row_counts(engine)
    if verdict:
        at.radio[0].set_value(verdict)
    next(t for t in at.text_area if t.label.startswith("Reason")).input(reason)  # not the comment box above it
    next(b for b in at.button if b.label == "Save verdict").click().run()
    assert not at.exception
    if at.error:
        assert row_counts(engine) == before
        assert NUL in reason or verdict is None or (verdict == "disagree" and not reason.strip())


@FORMS
@given(username=TYPED, password=TYPED)
@example(username="ada", password="=HYPERLINK(1)")
def test_the_sign_in_form_takes_anything(engine, username, password):
    if not row_counts(engine)["user_account"]:
        add_users(engine)
    at = AppTest.from_file(APP, default_timeout=60).run()
    before = row_counts(engine)
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception
    assert at.error, "a wrong sign-in is refused with a message"
    after = row_counts(engine)
    # a failed sign-in of a known user counts the failure (and a lock-out is an audit event); nothing else is added
    assert {k: v for k, v in after.items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }


@FORMS
@given(reference=TYPED, entity_id=st_.none() | st_.integers(0, 2**62))
def test_the_audit_trail_filters_and_item_history_take_anything(flagged, reference, entity_id):
    engine, people = flagged
    at = open_page("audit", people["lead"], "lead", "expert")
    before = row_counts(engine)
    at.number_input(key="trail_entity_id").set_value(entity_id).run()
    next(t for t in at.text_input if t.label.startswith("Item:")).input(reference).run()
    assert not at.exception
    assert row_counts(engine) == before


@pytest.fixture
def admin(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    st.cache_resource.clear()
    build(engine, tmp_path, prompts=2, experts=1)
    return engine, add_users(engine)["admin"]


@FORMS
@given(k=st_.integers(1, 10), gold=st_.floats(0, 0.5), lease=st_.integers(1, 1440))
def test_the_queue_settings_form_takes_any_value_in_range(admin, k, gold, lease):
    engine, user = admin
    at = open_page("queues", user.id, user.username, "admin")
    before = row_counts(engine)
    for box, value in zip(at.number_input[:3], (k, gold, lease), strict=True):
        box.set_value(value)
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    if at.error:
        assert row_counts(engine) == before


@FORMS
@given(folder=TYPED)
@example(folder="/no/such/folder")
def test_the_training_form_refuses_any_bad_base_model_folder(admin, folder):
    engine, user = admin
    at = open_page("reward_model", user.id, user.username, "admin")
    at.text_input[0].input(folder)
    before = row_counts(engine)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    if folder.strip():
        assert at.error and row_counts(engine) == before


@FORMS
@given(title=TYPED)
def test_the_label_studio_project_title_takes_anything(admin, title, monkeypatch):
    engine, user = admin
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")  # nothing listens: every call fails
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "key")
    at = open_page("data", user.id, user.username, "admin")
    before = row_counts(engine)
    at.text_input(key="labelstudio_project_moderation").input(title).run()
    for key in ("labelstudio_push", "labelstudio_pull"):
        at.button(key=key).click().run()
        assert not at.exception and at.error
    assert row_counts(engine) == before


@FORMS
@given(days=st_.tuples(st_.dates(), st_.dates()), sla=st_.floats(1, 24 * 60))
def test_the_report_filters_take_any_days(admin, days, sla):
    engine, user = admin
    for name in ("kpi", "agreement", "ab_report"):
        at = open_page(name, user.id, user.username, "admin")
        before = row_counts(engine)
        for box in at.date_input:
            box.set_value(days if isinstance(box.value, tuple) or box.value is None else days[0]).run()
        for box in at.number_input:  # the KPI page's SLA, 1 to 1,440 hours
            box.set_value(sla).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        assert row_counts(engine) == before


@FORMS
@given(content=st_.binary(min_size=1, max_size=300), name=st_.sampled_from(["f.jsonl", "f.json"]))
def test_the_import_page_takes_any_upload(admin, content, name):
    """Any bytes under a name the uploader accepts (it refuses other extensions itself, as the browser does)."""
    engine, user = admin
    at = open_page("data", user.id, user.username, "admin")
    at.selectbox(key="import_kind").set_value("ratings").run()
    before = row_counts(engine)
    at.file_uploader(key="import_file_ratings").set_value((name, content, "application/octet-stream"))
    at.run()
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception
    if at.error:
        assert row_counts(engine) == before | {"import_run": before["import_run"] + 1}
