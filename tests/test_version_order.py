"""Which version is newer cannot flip: versions imported together share a timestamp and their ids follow the file,
so the KPI headline, the A/B page and the queue settings order them by time, then natural name order, then id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import streamlit as st

from core.moderation.borderline import moderation_versions
from core.reports.filters import version_names
from core.reports.kpi.quality import compared_versions
from core.review.settings import queue_overview
from core.store.db import session_scope
from core.store.inventory import model_versions
from core.store.models import ModelVersion
from core.store.versions import natural_key
from tests.app_helpers import add_users, app, fresh_streamlit_cache, page  # noqa: F401

SAME_TIME = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_names_in_natural_order():
    names = ["bot-v10", "bot-v2", "Bot-v1", "bot-v9", "bot-v1.1"]
    assert sorted(names, key=natural_key) == ["Bot-v1", "bot-v1.1", "bot-v2", "bot-v9", "bot-v10"]


@pytest.fixture
def same_time(engine):
    """Versions registered at the same moment, the newer ones first (lower ids), as the demo's importer did."""
    with session_scope(engine, write=True) as s:
        for name, kind in [
            ("taxbot-v10", "chatbot"),
            ("taxbot-v2", "chatbot"),
            ("taxbot-v1", "chatbot"),
            ("modclf-v2", "moderation"),
            ("modclf-v1", "moderation"),
        ]:
            s.add(ModelVersion(name=name, kind=kind, created_at=SAME_TIME))
    return engine


def test_equal_timestamps_order_by_name_not_by_id(same_time):
    with session_scope(same_time) as s:
        assert version_names(s, "chatbot") == ["taxbot-v1", "taxbot-v2", "taxbot-v10"]
        assert compared_versions(s)[1::2] == ("taxbot-v10", "taxbot-v2")  # (newest, previous)
        overview = queue_overview(s)
        assert overview.chatbot_versions == ["taxbot-v10", "taxbot-v2", "taxbot-v1"]
        assert overview.moderation_versions == ["modclf-v2", "modclf-v1"]
        assert [v.name for v in moderation_versions(s)] == ["modclf-v2", "modclf-v1"]
        assert [v.name for v in model_versions(s)] == [
            "taxbot-v10", "taxbot-v2", "taxbot-v1", "modclf-v2", "modclf-v1"
        ]  # fmt: skip


def test_time_comes_before_the_name(engine):
    with session_scope(engine, write=True) as s:
        s.add(ModelVersion(name="bot-v9", kind="chatbot", created_at=SAME_TIME.replace(day=3)))
        s.add(ModelVersion(name="bot-v10", kind="chatbot", created_at=SAME_TIME))
    with session_scope(engine) as s:
        assert version_names(s, "chatbot") == ["bot-v10", "bot-v9"]


def test_the_ab_page_opens_with_the_previous_version_against_the_newest(same_time):
    st.cache_data.clear()
    at = app(add_users(same_time)["product_owner"]).switch_page(page("ab_report")).run()
    assert not at.exception
    assert at.selectbox(key="ab_a_chatbot").value == "taxbot-v2"
    assert at.selectbox(key="ab_b_chatbot").value == "taxbot-v10"
    st.cache_data.clear()
