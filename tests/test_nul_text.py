"""A NUL character (U+0000) typed into a form or asked for in a lookup: PostgreSQL refuses it in text
(psycopg.DataError: a crash in the page), so every write path refuses it with a message, on every store."""

from __future__ import annotations

import pytest
import streamlit as st

from core import auth
from core.accounts import AuthError
from core.accounts.signin import authenticate
from core.moderation.labels import AdjudicationIn, LabelIn
from core.oversight import service as oversight
from core.oversight.flags import FlagError, triage
from core.oversight.samples import SampleError, review
from core.review.judgments import ComparisonIn, RatingIn
from core.store.db import session_scope
from tests import audit_store
from tests.app_helpers import APP, field
from tests.review_store import build
from tests.review_store import table_counts as counts

NUL_TEXT = "looks fine\x00but is not"


@pytest.mark.parametrize(
    "submitted, field",
    [
        (RatingIn(4, 4, 1, (), NUL_TEXT), "rationale"),
        (ComparisonIn("tie", None, NUL_TEXT), "rationale"),
        (LabelIn("not_toxic", (), NUL_TEXT), "note"),
        (AdjudicationIn("not_toxic", (), NUL_TEXT), "reason"),
    ],
)
def test_every_judgment_form_refuses_a_nul(submitted, field):
    assert submitted.problems() == [
        f"the {field} holds a NUL character (U+0000), which the store cannot keep (PostgreSQL refuses it); remove it"
    ]


def test_the_rate_page_refuses_a_nul_rationale_and_writes_nothing(any_engine, tmp_path):
    st.cache_resource.clear()
    users = build(any_engine, tmp_path, prompts=1, experts=1)
    at = pytest.importorskip("streamlit.testing.v1").AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = auth.UserPublic(users["expert0"], "expert0", "expert0", "expert", True)
    at.run()
    at.switch_page("../pages/rate.py").run()
    before = counts(any_engine)
    for name in ("helpfulness", "harmlessness", "accuracy"):
        field(at, name).set_value(4)
    field(at, "rationale").input(NUL_TEXT)
    field(at, "submit").click().run()
    assert not at.exception
    assert "NUL character" in at.error[0].value and counts(any_engine) == before


def test_triage_verdict_sign_in_and_item_lookup_refuse_a_nul(any_engine):
    with session_scope(any_engine, write=True) as s:
        people, rating = audit_store.flagged_rating(s)
    before = counts(any_engine)
    with pytest.raises(FlagError, match="NUL"), session_scope(any_engine, write=True) as s:
        triage(s, rating_id=rating, status="confirmed", note=NUL_TEXT, actor_id=people["lead"])
    with pytest.raises(SampleError, match="NUL"), session_scope(any_engine, write=True) as s:
        review(s, item_id=1, auditor_id=people["lead"], verdict="disagree", reason=NUL_TEXT)
    with pytest.raises(AuthError, match="Wrong username or password"), session_scope(any_engine, write=True) as s:
        authenticate(s, username="ann\x00", password="whatever")
    lead = auth.UserPublic(people["lead"], "lead", "Lead", "expert", True)
    assert oversight.item_history(actor=lead, reference="p1\x00", engine=any_engine) is None
    assert counts(any_engine) == before
