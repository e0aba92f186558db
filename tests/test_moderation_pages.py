"""The Label items and Adjudicate pages, and the moderation section of the Data page, driven with AppTest: what each
role sees (never a classifier's name or score on the labelling page) and what lands in the store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.moderation_admin import STAGES
from core.auth import UserPublic
from core.store.db import session_scope
from core.store.models import Adjudication, AuditEvent, ModelVersion, ModerationLabel, ModerationScore
from tests.app_helpers import everything, field, toasts
from tests.moderation_store import add_people, corpus, import_rows, label_row, prefill_minilm, score_row

PAGES = Path(__file__).resolve().parents[1] / "pages"
EVIL = "<script>alert('x')</script> **bold?** [click](http://spam.example)"
STAGE_LINES = {text for _, _, text in STAGES.values()}
ROLES = {"ann0": "annotator", "ann1": "annotator", "lead": "expert", "admin": "admin"}


@pytest.fixture
def store(engine, tmp_path, monkeypatch):
    """Three items scored by 'secretclf-v9' near its threshold (the first one holds HTML), and annotators."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    st.cache_resource.clear()
    users = add_people(engine)
    rows = [
        score_row("evil", "secretclf-v9", 0.512, text=EVIL),
        score_row("second", "secretclf-v9", 0.43, text="Nobody asked for your opinion, @kai. Go away."),
        score_row("third", "secretclf-v9", 0.61, text="Wow, great job breaking it again. Genius."),
    ]
    import_rows(engine, tmp_path, "moderation", rows)
    yield engine, users
    st.cache_resource.clear()


def page(name: str, user_id: int, username: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    at.session_state["user"] = UserPublic(user_id, username, username, ROLES.get(username, "annotator"), True)
    return at.run()


def choose(at: AppTest, label: str, categories=(), note: str = "", *, change: bool = False) -> None:
    field(at, "label", change=change).set_value(label)
    field(at, "categories", change=change).set_value(list(categories))
    if note:
        field(at, "note", change=change).input(note)


def submit(at: AppTest) -> AppTest:
    return field(at, "submit").click().run()


def counts(at: AppTest) -> str:
    return next(str(m.value) for m in at.caption if str(m.value).startswith("Done today"))


def count(engine, model, *where) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_the_label_page_shows_the_text_as_written_and_nothing_of_the_classifier(store):
    _, users = store
    at = page("moderation", users["ann0"], "ann0")
    assert not at.exception
    assert [t.value for t in at.text] == [EVIL]  # plain text: no Markdown, no HTML
    assert all(EVIL not in str(m.value) for m in at.markdown)
    shown = everything(at)
    assert "secretclf" not in shown and "0.512" not in shown
    assert "Label one comment at a time" in shown  # the guidelines, in their popover
    assert counts(at) == "Done today **0** · Left in the queue **3**"
    categories = [o.content for o in field(at, "categories").proto.options]
    assert categories == [
        "Harassment (h)",
        "Hate (t)",
        "Sexual (x)",
        "Violence (v)",
        "Self-harm (e)",
        "Spam (m)",
        "Personal data (p)",
    ]


def test_submitting_a_label_stores_it_and_shows_the_next_item(store):
    engine, users = store
    at = page("moderation", users["ann0"], "ann0")
    choose(at, "toxic", ["spam"], "a link nobody asked for")
    submit(at)
    assert not at.exception
    assert toasts(at) == ["Saved. Here is the next item."]
    assert at.text[0].value == "Nobody asked for your opinion, @kai. Go away."  # 0.43: the next most uncertain
    with session_scope(engine) as s:
        label = s.execute(select(ModerationLabel)).scalar_one()
    assert (label.label, label.categories, label.note, label.user_id) == (
        "toxic",
        ["spam"],
        "a link nobody asked for",
        users["ann0"],
    )
    assert counts(at) == "Done today **1** · Left in the queue **2**"


def test_home_and_the_label_page_count_the_same_labels_today(store, tmp_path):
    engine, users = store
    disagree(engine, tmp_path)  # an imported label of ann0's, made today, counts wherever it was made
    at = page("moderation", users["ann0"], "ann0")
    choose(at, "toxic", ["spam"])
    submit(at)
    home = page("home", users["ann0"], "ann0")
    today = {m.label: m.value for m in home.metric}["Your labels today"]
    assert counts(at).startswith(f"Done today **{today}** ·") and today == "2"


def test_a_toxic_label_without_a_category_is_refused_on_the_page(store):
    engine, users = store
    at = page("moderation", users["ann0"], "ann0")
    choose(at, "toxic")
    submit(at)
    assert at.error[0].value == "Choose the categories that apply (at least one for a toxic item)."
    assert count(engine, ModerationLabel) == 0


def test_skip_moves_on_and_writes_no_label(store):
    engine, users = store
    at = page("moderation", users["ann0"], "ann0")
    field(at, "skip").click().run()
    assert toasts(at) == ["Skipped: the item goes to another annotator."]
    assert at.text[0].value != EVIL
    assert count(engine, ModerationLabel) == 0


def test_the_last_label_can_be_reopened_and_changed(store):
    engine, users = store
    at = page("moderation", users["ann0"], "ann0")
    choose(at, "toxic", ["harassment"])
    submit(at)
    at.button(key="change-last").click().run()
    choose(at, "not_toxic", [], "it quotes markup, harmless", change=True)
    field(at, "save", change=True).click().run()
    assert toasts(at) == ["Your label was changed."]
    with session_scope(engine) as s:
        assert s.execute(select(ModerationLabel.label, ModerationLabel.note)).one() == (
            "not_toxic",
            "it quotes markup, harmless",
        )
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "moderation_label.update")).scalar_one()
    assert (event.before["label"], event.after["label"]) == ("toxic", "not_toxic")


def disagree(engine, tmp_path) -> None:
    import_rows(
        engine,
        tmp_path,
        "labels",
        [
            label_row("second", "ann0", "toxic", ["harassment"]),
            {**label_row("second", "ann1", "not_toxic"), "note": "rude, but <b>no</b> insult"},
        ],
    )


def test_the_expert_sees_every_label_note_and_annotator_and_decides(store, tmp_path):
    engine, users = store
    disagree(engine, tmp_path)
    at = page("adjudicate", users["lead"], "lead")
    assert not at.exception
    assert at.text[0].value == "Nobody asked for your opinion, @kai. Go away."
    table = at.dataframe[0].value
    assert table["Annotator"].tolist() == ["Annotator 0", "Annotator 1"]
    assert table["Label"].tolist() == ["Toxic", "Not toxic"]
    assert table["Note"].tolist() == ["", "rude, but <b>no</b> insult"]
    field(at, "label").set_value("toxic")
    field(at, "categories").set_value(["harassment"])
    submit(at)
    assert at.error[0].value == "Give the reason for the final label (it is kept with the decision)."
    field(at, "reason").input("Targets a person by name: harassment.")
    submit(at)
    assert toasts(at) == ["Decided: the final label is stored. Here is the next item."]
    assert at.info[0].value == "No disagreements are waiting for you. Thank you!"
    with session_scope(engine) as s:
        decision = s.execute(select(Adjudication)).scalar_one()
    assert (decision.final_label, decision.categories, decision.user_id) == ("toxic", ["harassment"], users["lead"])


def test_a_different_label_from_a_second_tab_is_refused_with_the_form_kept(store):
    engine, users = store
    tab_a, tab_b = page("moderation", users["ann0"], "ann0"), page("moderation", users["ann0"], "ann0")
    assert tab_a.text[0].value == tab_b.text[0].value == EVIL
    choose(tab_a, "toxic", ["spam"])
    submit(tab_a)
    choose(tab_b, "not_toxic")
    submit(tab_b)
    assert tab_b.error[0].value.startswith("You already labelled this item, in another tab or window.")
    assert tab_b.text[0].value == EVIL and field(tab_b, "label").value == "not_toxic"
    assert [b.key for b in tab_b.button if b.key == "change-last"] == ["change-last"]
    with session_scope(engine) as s:
        assert s.execute(select(ModerationLabel.label)).scalars().all() == ["toxic"]
    field(tab_b, "skip").click().run()  # leave the saved label as it is
    assert toasts(tab_b) == ["Your saved judgment stays as it was. Here is the next item."]
    assert tab_b.text[0].value != EVIL and count(engine, ModerationLabel) == 1


def test_a_second_decision_from_another_tab_is_refused_as_final(store, tmp_path):
    engine, users = store
    disagree(engine, tmp_path)
    tab_a, tab_b = page("adjudicate", users["lead"], "lead"), page("adjudicate", users["lead"], "lead")
    for tab, label in ((tab_a, "toxic"), (tab_b, "not_toxic")):
        field(tab, "label").set_value(label)
        if label == "toxic":
            field(tab, "categories").set_value(["harassment"])
        field(tab, "reason").input("Decided.")
        submit(tab)
    assert tab_b.error[0].value.startswith("You already decided this item, in another tab or window.")
    assert "Decisions are final" in tab_b.error[0].value
    with session_scope(engine) as s:
        assert s.execute(select(Adjudication.final_label)).scalars().all() == ["toxic"]


@pytest.mark.parametrize(
    ("name", "username", "role"),
    [
        ("adjudicate", "ann0", "annotator"),
        ("moderation", "pat", "product_owner"),
        ("adjudicate", "pat", "product_owner"),
    ],
)
def test_other_roles_are_refused(store, tmp_path, name, username, role):
    engine, users = store
    disagree(engine, tmp_path)
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=30)
    at.session_state["user"] = UserPublic(users.get(username, 99), username, username, role, True)
    at.run()
    assert at.error[0].value == "You do not have access to this page."
    assert not at.text  # no item shown


def test_the_admin_sets_a_band_and_retrains_from_the_data_page(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    st.cache_resource.clear()
    users = add_people(engine)
    items = corpus(40)
    import_rows(engine, tmp_path, "moderation", [score_row(i, "clf-v1", 0.5, text=x) for i, x, _ in items])
    import_rows(engine, tmp_path, "labels", [label_row(i, "historic", t, text=x) for i, x, t in items])
    prefill_minilm(engine)
    at = page("data", users["admin"], "admin")
    assert not at.exception
    form_inputs = {n.label: n for n in at.number_input}
    form_inputs["Band (±)"].set_value(0.05)
    next(b for b in at.button if b.label == "Save and rebuild the queue").click().run()
    assert at.success[0].value == "clf-v1: threshold 0.50, band ±0.05; queue rebuilt."
    next(b for b in at.button if b.label == "Retrain").click().run()
    assert "re-scores all 40 items" in everything(at)  # asked first: nothing runs before the confirmation
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(ModelVersion)).scalar_one() == 1
    next(b for b in at.button if b.label == "Retrain now").click().run()
    assert not at.exception
    seen = set()
    for _ in range(240):  # the retrain runs in the background: the page stays usable and shows its stage
        seen |= {p.proto.text for p in at.get("progress")}
        if at.success and at.success[0].value.startswith("New version"):
            break
        time.sleep(0.25)
        at.run()
    assert at.success, (seen, [e.value for e in at.error], [e.value for e in at.exception])
    assert at.success[0].value.startswith("New version ") and at.success[0].value.endswith(" is ready.")
    assert seen and all(text.split(":")[0] in STAGE_LINES for text in seen), seen
    with session_scope(engine) as s:
        version = s.execute(select(ModelVersion).where(ModelVersion.name != "clf-v1")).scalar_one()
        scored = s.execute(select(func.count()).where(ModerationScore.model_version_id == version.id)).scalar_one()
    assert scored == 40 and version.meta["band"] == 0.05  # the band carries over to the new version
    shown = everything(at)
    assert f"Latest retrain: {version.name}" in shown and "previous version: clf-v1" in shown
    metrics = at.dataframe[-1].value
    assert metrics["Scope"].tolist()[0] == "overall"
    assert metrics["roc_auc new"][0] > 0.9
    assert [m.label for m in at.metric][-4:] == ["Final labels used", "Of which external", "Loop time",
                                                 "Borderline items waiting"]  # fmt: skip
