"""The qualification gate on screen: the lead sets it and decides on paused and failed reviewers on Review queues;
a qualifying reviewer sees their progress and the known answer after each gold item; a paused one is told why."""

from __future__ import annotations

import pytest
import streamlit as st

from core.auth import UserPublic
from core.store.db import session_scope
from core.store.models import QueueConfig
from tests.app_helpers import app, page, texts
from tests.test_qualification import WRONG, gated, judge, slipping, standing
from tests.test_review_pages import counts, pick, submit
from tests.test_review_pages import page as judging_page


@pytest.fixture
def team(engine, tmp_path):
    st.cache_resource.clear()
    yield gated(engine, tmp_path)
    st.cache_resource.clear()


def lead_page(team):
    lead = UserPublic(team["lea"], "lea", "Lea", "lead", True)
    return app(lead).switch_page(page("queues")).run()


def markdown(at) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def test_the_lead_sets_a_gate_and_releases_a_paused_reviewer(engine, team):
    slipping(engine, team)
    for _ in range(3):
        judge(engine, team["expert1"], WRONG)  # fails
    at = lead_page(team)
    assert not at.exception
    standings = at.dataframe[-1].value.set_index("Reviewer")
    assert standings.loc["expert2", "Standing"] == "paused: judgments held"
    assert standings.loc["expert2", "Provisional"] == 7
    assert standings.loc["expert1", "Gold right"] == "0 of 3"
    assert "**expert2** is paused on **rating**: 7 judgments held" in markdown(at)
    at.number_input(key="gate-rating-qualify").set_value(2)
    at.number_input(key="gate-rating-share").set_value(0.5)
    next(b for b in at.button if b.key.startswith("FormSubmitter:gate-rating")).click()
    at.run()
    assert texts(at.success) == ["rating: qualification gate 2 gold items at 50%."]
    with session_scope(engine) as s:
        config = s.get(QueueConfig, "rating")
        assert (config.qualify, config.pass_share) == (2, 0.5)
    at.button(key="decide-rating-expert2-release").click()
    at.run()
    assert texts(at.success) == ["rating: released 7 judgments of expert2."]
    assert standing(engine, team["expert2"]) == "qualified"
    at.button(key="decide-rating-expert1-retry").click()
    at.run()
    assert texts(at.success) == ["rating: expert1 may qualify again."]
    assert standing(engine, team["expert1"]) == "qualifying"


def test_the_lead_discards_a_paused_reviewers_judgments_from_the_page(engine, team):
    slipping(engine, team)
    at = lead_page(team)
    at.button(key="decide-rating-expert2-discard").click()
    at.run()
    assert texts(at.success) == ["rating: discarded 7 judgments of expert2."]
    assert standing(engine, team["expert2"]) == "qualifying"


def test_a_qualifying_reviewer_sees_their_progress_and_the_known_answer_after_each_gold_item(engine, team):
    at = judging_page("rate", team["expert0"])
    assert not at.exception
    assert counts(at).endswith("Qualification: **0 of 3** gold items")
    pick(at, accuracy=5)
    at = submit(at)
    assert not at.exception
    assert counts(at).endswith("Qualification: **1 of 3** gold items")
    shown = [str(w.value) for w in at.warning]
    assert "Not this time: you gave accuracy 5; the known answer is accuracy 4." in shown
    assert "**accuracy 4**" in markdown(at)  # the rubric's anchor that decides it


def test_a_paused_reviewer_is_told_why_the_queue_serves_nothing(engine, team):
    slipping(engine, team)
    at = judging_page("rate", team["expert2"], "expert2")
    assert not at.exception
    assert any("This queue is paused for you" in str(w.value) for w in at.warning)
    assert not at.info  # not "all done"
