"""The data page's Label Studio section: a clear message when it is not configured; Push and Pull with a summary."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.labelstudio import sync
from core.labelstudio.client import LabelStudioError
from core.labelstudio.label_config import result
from core.store.db import session_scope
from core.store.models import ModerationItem, ModerationLabel
from tests.app_helpers import add_users, app, fresh_streamlit_cache, page, texts  # noqa: F401
from tests.fake_labelstudio import FakeLabelStudio
from tests.labelstudio_data import moderation_queue


def data_page(engine):
    at = app(add_users(engine)["admin"])
    return at.switch_page(page("data")).run()


def button(at, key: str):
    return next(b for b in at.button if b.key == key)


@pytest.fixture
def configured(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://label-studio.test")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")


@pytest.fixture
def fake(configured, monkeypatch) -> FakeLabelStudio:
    fake = FakeLabelStudio()
    monkeypatch.setattr(sync, "connect", lambda: fake)
    return fake


def test_without_settings_the_section_says_which_variables_to_set_and_offers_no_buttons(engine, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    at = data_page(engine)
    assert not at.exception
    assert any(
        m.startswith("Label Studio is not configured: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY")
        for m in texts(at.info)
    )
    assert not [b for b in at.button if b.key in ("labelstudio_push", "labelstudio_pull")]


def test_push_then_pull_shows_their_summaries_and_stores_the_labels(engine, tmp_path, fake):
    moderation_queue(engine, tmp_path, [("m1", "you idiot", 0.6, "toxic"), ("m2", "hello", 0.4, "not_toxic")])
    at = data_page(engine)
    at.text_input(key="labelstudio_project_moderation").input("Spring review").run()
    button(at, "labelstudio_push").click().run()
    assert not at.exception and not at.error
    assert texts(at.success) == [
        "Label Studio project 'Spring review' (#1, created): 2 open items: 2 tasks imported, 0 already there"
    ]
    assert [(status.label, status.state) for status in at.status] == [
        ("Pushing the moderation queue: done", "complete")
    ]
    assert [t["data"]["item_id"] for t in fake.task_rows.values()] == ["m1", "m2"]

    first_task = next(iter(fake.task_rows))
    fake.annotate(first_task, 1, result("toxic", ["harassment"]))
    button(at, "labelstudio_pull").click().run()
    assert not at.exception and not at.error
    assert texts(at.success) == [
        "Label Studio project 'Spring review' (#1): 1 tasks read, labels: 1 added, 0 already present, 0 updated"
    ]
    with session_scope(engine) as s:
        stored = s.execute(
            select(ModerationItem.external_id, ModerationLabel.label, ModerationLabel.source).join(
                ModerationItem, ModerationItem.id == ModerationLabel.item_id
            )
        ).all()
    assert stored == [("m1", "toxic", "labelstudio")]


def test_a_failure_is_shown_with_what_to_fix_and_nothing_else(engine, configured, monkeypatch):
    def refused():
        raise LabelStudioError("Label Studio at http://label-studio.test refused the token: check LABEL_STUDIO_API_KEY")

    monkeypatch.setattr(sync, "connect", refused)
    at = data_page(engine)
    button(at, "labelstudio_pull").click().run()
    assert not at.exception and not at.success
    assert texts(at.error) == ["Label Studio at http://label-studio.test refused the token: check LABEL_STUDIO_API_KEY"]
    assert [(status.label, status.state) for status in at.status] == [("Pulling annotations: failed", "error")]


def test_a_bad_annotation_refuses_the_pull_with_the_task_to_fix(engine, tmp_path, fake):
    moderation_queue(engine, tmp_path, [("m1", "you idiot", 0.6, "toxic")])
    at = data_page(engine)
    button(at, "labelstudio_push").click().run()
    fake.annotate(next(iter(fake.task_rows)), 1, result("maybe", []))
    button(at, "labelstudio_pull").click().run()
    assert not at.exception and not at.success
    (message,) = texts(at.error)
    assert message.startswith("**Refused: nothing was imported. Fix these annotations in Label Studio")
    assert "unknown label value(s) maybe" in message
    with session_scope(engine) as s:
        assert s.execute(select(ModerationLabel)).first() is None


def test_the_rating_queue_is_pushed_and_pulled_as_ratings_from_the_page(engine, tmp_path, fake):
    from tests.test_labelstudio_ratings import annotation, conversation, judged, stored_ratings

    at = data_page(engine)
    conversation(tmp_path, engine)
    at.selectbox(key="labelstudio_queue").select("rating").run()
    assert at.text_input(key="labelstudio_project_rating").value == "Workbench ratings"  # each queue its project
    button(at, "labelstudio_push").click().run()
    assert not at.exception and not at.error
    assert texts(at.success) == [
        "Label Studio project 'Workbench ratings' (#1, created): 1 open items: 1 tasks imported, 0 already there"
    ]
    ((task_id, task),) = fake.task_rows.items()
    assert "answer" in task["data"] and "secret-bot" not in str(task["data"])
    fake.annotate(task_id, 1, annotation(judged()))
    button(at, "labelstudio_pull").click().run()
    assert not at.exception and not at.error
    assert texts(at.success)[-1] == (
        "Label Studio project 'Workbench ratings' (#1): 1 tasks read, ratings: 1 added, 0 already present, 0 updated"
    )
    assert [response for response, *_ in stored_ratings(engine)] == ["r1"]
