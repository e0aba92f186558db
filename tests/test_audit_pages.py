"""The KPI and audit pages with AppTest: empty stores say "no data yet", the numbers shown are the store's, writes
are audited, and nothing on the audit trail page changes the trail."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import streamlit as st
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.auth import Forbidden
from core.oversight import service as oversight
from core.oversight.samples import draw_sample
from core.store.db import session_scope
from core.store.models import AuditEvent, AuditSampleItem, FlagTriage, ModelVersion, utcnow
from tests import audit_store as store
from tests.app_helpers import REPO_ROOT, TIMEOUT, add_users, fresh_streamlit_cache, texts  # noqa: F401

PAGES = ("kpi", "audit", "agreement", "audit_sample", "flags")


@pytest.fixture(autouse=True)
def fresh_reports():
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(name: str, user) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT)
    at.session_state["user"] = user
    return at.run()


def shown(at: AppTest) -> str:
    parts = [*texts(at.info), *texts(at.caption), *texts(at.markdown), *texts(at.success), *texts(at.warning)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_opens_on_an_empty_store_and_says_no_data_yet(engine, name):
    users = add_users(engine)
    at = open_page(name, users["admin"])
    assert not at.exception and not at.error
    assert "No data yet" in shown(at)


def _recent_store(engine) -> dict[str, int]:
    """Judgments of the last days: rita and bert rate six answers each (three flagged by rita), a pair compared;
    two answers waiting; one import; one changed rating."""
    now = utcnow()
    with session_scope(engine, write=True) as s:
        people = store.users(s, "rita", "bert")
        v1, v2 = (
            store.version(s, "bot-v1", created=now - timedelta(days=3)),
            store.version(s, "bot-v2", created=now - timedelta(days=1)),
        )
        answers = store.answers(s, v1, 8, created=now - timedelta(days=2))
        for i, answer in enumerate(answers[:6]):
            when = now - timedelta(hours=20 - i)
            judged = []
            for name in ("rita", "bert"):
                flags = ("incorrect",) if i < 3 and name == "rita" else ()
                rating = store.rate(
                    s, people[name], answer, (4, 4, 2 + i % 3), when=when, flags=flags, rationale="wrong", seconds=30
                )
                judged.append((people[name], rating, when))
            store.work_item(s, "rating", answer, arrived=now - timedelta(days=2), k=2, judged=judged)
        for answer in answers[6:]:
            store.work_item(s, "rating", answer, arrived=now - timedelta(hours=5))
        store.compare(s, people["rita"], answers[0], store.second_answer(s, answers[0], v2), "b", when=now)
        store.import_run(s, "conversations", finished=now - timedelta(hours=2))
        change = {"before": {"accuracy": 5}, "after": {"accuracy": 2}, "at": now - timedelta(hours=1)}
        s.add(AuditEvent(actor_id=people["rita"], action="rating.update", entity="rating", entity_id=1, **change))
    return people


def test_the_kpi_page_shows_the_stores_numbers_with_definitions_and_charts(engine):
    users = add_users(engine)
    _recent_store(engine)
    at = open_page("kpi", users["product_owner"])
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Judgments"] == "13" and metrics["Active reviewers"] == "2" and metrics["Open items"] == "2"
    assert metrics["Finished within 48 h"] == "100%"
    assert metrics["bot-v2 against bot-v1"] == "100%"
    assert all(m.help for m in at.metric)  # every tile carries its one-line definition
    charts = at.get("plotly_chart")
    assert len(charts) >= 4
    spec = json.loads(charts[0].proto.spec)
    assert spec["data"]  # a real figure
    at.number_input[0].set_value(1.0).run()  # an SLA of 1 hour: nothing was that fast
    assert {m.label: m.value for m in at.metric}["Finished within 1 h"] == "0%"


def test_each_version_has_one_colour_on_every_kpi_chart_and_its_legend(engine):
    users = add_users(engine)
    people = _recent_store(engine)
    now = utcnow()
    with session_scope(engine, write=True) as s:  # three versions rated, moderation scored and labelled
        v2 = s.execute(select(ModelVersion.id).where(ModelVersion.name == "bot-v2")).scalar_one()
        v3 = store.version(s, "bot-v3", created=now - timedelta(hours=12))
        for version in (v2, v3):
            for answer in store.answers(s, version, 2, created=now - timedelta(hours=10)):
                store.rate(s, people["bert"], answer, (5, 5, 5), when=now - timedelta(hours=2))
        for name in ("mod-v1", "mod-v2"):
            classifier = store.version(s, name, kind="moderation", created=now - timedelta(days=20))
            for weeks in (2, 1):
                item = store.moderation_item(s, created=now - timedelta(weeks=weeks))
                store.score(s, item, classifier, 0.4 + weeks / 10, when=now - timedelta(weeks=weeks))
                store.label(s, people["rita"], item, "toxic", when=now - timedelta(weeks=weeks))
    at = open_page("kpi", users["product_owner"])
    colours: dict[str, set[str]] = {}
    legend: dict[str, set[str]] = {}
    for chart in at.get("plotly_chart"):
        for trace in json.loads(chart.proto.spec)["data"]:
            name = trace.get("name", "")
            if name.startswith(("bot-", "mod-")):
                assert trace["line"]["color"] == trace["marker"]["color"]  # the legend's swatch is the line
                colours.setdefault(name, set()).add(trace["line"]["color"])
                if trace.get("showlegend", True):
                    legend.setdefault(name, set()).add(trace["line"]["color"])
    assert {"bot-v1", "bot-v2", "bot-v3", "mod-v1", "mod-v2"} <= set(colours)
    assert all(len(c) == 1 for c in colours.values()), colours  # one colour per version on every chart
    assert len({c for (c,) in colours.values()}) == len(colours)  # and no two versions share one
    assert legend == {name: colours[name] for name in legend}


def test_experts_triage_and_audit_blind_while_leads_see_each_answers_model(engine):
    users = add_users(engine)
    _recent_store(engine)
    expert, lead = open_page("flags", users["expert"]), open_page("flags", users["lead"])
    assert expert.expander[0].label == "incorrect · rated by rita · open"
    assert lead.expander[0].label == "incorrect · bot-v1 · rated by rita · open"
    assert [b.label for b in expert.selectbox] == ["Status", "Flag"]  # no version to filter by
    assert [b.label for b in lead.selectbox] == ["Status", "Flag", "Model version"]
    history = {}
    for role in ("expert", "lead"):
        at = open_page("audit", users[role])
        at.text_input[0].input("rating:1").run()
        history[role] = "\n".join(str(c.value) for c in at.caption) + "\n".join(texts(at.markdown))
    assert "bot-v1" not in history["expert"] and "Sources" not in history["expert"]
    assert "Sources (leads only): #1: bot-v1, imported as " in history["lead"]
    with pytest.raises(Forbidden, match="expert leads and admins may see which model version"):
        oversight.flags_view(actor=users["expert"], status=None, flag=None, version="bot-v1", engine=engine)


def test_the_audit_trail_filters_shows_an_items_history_and_never_writes(engine):
    users = add_users(engine)
    _recent_store(engine)

    def snapshot():
        with session_scope(engine) as s:
            return [tuple(r) for r in s.execute(select(AuditEvent.id, AuditEvent.action, AuditEvent.after))]

    before = snapshot()
    at = open_page("audit", users["expert"])
    assert not at.exception
    assert len(at.dataframe[0].value) == 1
    at.selectbox[1].set_value("rating.update").run()
    trail = at.dataframe[0].value
    assert list(trail["Action"]) == ["rating.update"]
    assert (trail["Before"][0], trail["After"][0]) == ("accuracy: 5", "accuracy: 2")  # fields, not JSON
    at.text_input[0].input("rating:1").run()
    assert "**Answer #1**" in texts(at.markdown)
    judgments = at.dataframe[1].value
    assert list(zip(judgments["Queue"], judgments["Reviewer"], strict=True)) == [
        ("rating", "rita"),
        ("rating", "bert"),
        ("comparison", "rita"),
    ]
    assert "accuracy 2" in judgments["Judgment"][0]
    changes = at.dataframe[2].value
    assert list(changes["Action"]) == ["rating.update"] and changes["Before"][0] == "accuracy: 5"
    for button in at.button:
        if not button.disabled:
            button.click().run()
    at.text_input[0].input("no-such-item").run()
    assert "No answer, pair or moderation item found" in texts(at.warning)[0]
    assert not at.exception
    assert snapshot() == before


def test_the_agreement_page_shows_the_figures_and_the_rules(engine):
    users = add_users(engine)
    _recent_store(engine)
    at = open_page("agreement", users["expert"])
    assert not at.exception
    per_dimension = at.dataframe[0].value
    accuracy = per_dimension[per_dimension["Dimension"] == "accuracy"].iloc[0]
    assert (accuracy["Items (alpha)"], accuracy["Judgments"]) == (6, 12)
    assert float(accuracy["Krippendorff's alpha"]) == pytest.approx(1.0)
    reviewers = at.dataframe[2].value
    assert list(reviewers["Reviewer"][reviewers["Queue"] == "rating"]) == ["bert", "rita"]
    rita = reviewers[reviewers["Reviewer"] == "rita"].iloc[0]
    assert (rita["Median s / item"], rita["Middle half, s"], rita["Queue's median s"]) == ("30", "30-30", "30")
    assert "An outlier has at least" in shown(at) and "less the time the reviewer's tab was hidden" in shown(at)
    assert accuracy["Reading"] == "reliable"
    assert "Krippendorff's bands: alpha ≥ 0.800 reliable" in shown(at)
    assert "Why alpha and Fleiss' kappa differ" in shown(at)
    assert "Over time" in [h.value for h in at.subheader] and not at.warning
    over_time, seconds = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]  # one queue judged: rating
    assert {trace["name"] for trace in over_time["data"]} == {"helpfulness", "harmlessness", "accuracy"}
    (box,) = seconds["data"]
    assert (box["x"], box["median"]) == (["rating (all)", "bert", "rita"], [30.0, 30.0, 30.0])


def test_a_low_agreement_is_marked_and_named(engine):
    users = add_users(engine)
    with session_scope(engine, write=True) as s:
        people = store.users(s, "rita", "bert")
        for i, answer in enumerate(store.answers(s, store.version(s, "bot-v1"), 8)):
            for name, score in (("rita", 1 + i % 5), ("bert", 5 - i % 5)):  # opposite scores
                store.rate(s, people[name], answer, (score, score, score), when=utcnow())
    at = open_page("agreement", users["expert"])
    per_dimension = at.dataframe[0].value
    assert set(per_dimension[per_dimension["Queue"] == "rating"]["Reading"]) == {"⚠ not reliable"}
    assert at.warning[0].value.startswith("Not reliable (alpha below 0.667): rating helpfulness (")


def test_drawing_and_re_reviewing_a_sample_on_the_page(engine):
    users = add_users(engine)
    _recent_store(engine)
    at = open_page("audit_sample", users["expert"])
    month = f"{utcnow():%Y-%m}"
    at.text_input[0].set_value(month)
    at.number_input[0].set_value(4)
    at.button[0].click().run()
    assert not at.exception
    assert f"Sample of {month}: 4 of" in texts(at.success)[0]
    assert {m.label: m.value for m in at.metric}["Drawn"] == "4"
    at.radio[0].set_value("disagree")
    at.button[-1].click().run()
    assert "a reason is required" in texts(at.error)[0]
    at.radio[0].set_value("agree")
    at.button[-1].click().run()
    assert "Verdict saved" in texts(at.success)[0]
    with session_scope(engine) as s:
        verdicts = s.execute(select(AuditSampleItem.verdict, AuditSampleItem.auditor_id)).all()
        events = s.execute(select(func.count()).where(AuditEvent.action == "audit_sample.review")).scalar_one()
    assert [v for v in verdicts if v[0]] == [("agree", users["expert"].id)] and events == 1


def test_nobody_is_served_their_own_judgments_to_audit(engine):
    users = add_users(engine)
    with session_scope(engine, write=True) as s:
        v = store.version(s, "bot-v1")
        store.rate(s, users["expert"].id, store.answers(s, v, 1)[0], (3, 3, 3), when=utcnow())
        draw_sample(s, month=f"{utcnow():%Y-%m}", size=1, seed=1, actor_id=None)
    at = open_page("audit_sample", users["expert"])
    assert "Nothing left for you to review" in texts(at.success)[0]
    assert {m.label: m.value for m in at.metric}["Left for you"] == "0"


def test_triaging_a_flag_on_the_page_is_stored_and_audited(engine):
    users = add_users(engine)
    _recent_store(engine)
    at = open_page("flags", users["expert"])
    assert not at.exception
    assert len(at.expander) == 3 and at.expander[0].label == "incorrect · rated by rita · open"  # blind: no version
    at.radio[0].set_value("confirmed")
    at.text_area[0].input("")
    at.button[0].click().run()
    assert "write a note" in texts(at.error)[0]
    at.radio[0].set_value("confirmed")
    at.text_area[0].input("the figure is 19 %")
    at.button[0].click().run()
    assert not at.exception and "confirmed" in texts(at.success)[0]
    assert len(at.expander) == 2  # the open list no longer holds it
    with session_scope(engine) as s:
        triage = s.execute(select(FlagTriage)).scalar_one()
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "flag.triage")).scalar_one()
    assert (triage.status, triage.note, triage.user_id) == ("confirmed", "the figure is 19 %", users["expert"].id)
    assert (event.before["status"], event.after["status"], event.actor_id) == ("open", "confirmed", users["expert"].id)
