"""The admin's reward-model page: the pairs, a snapshot, a training run started and followed, promote, score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.session import NO_ACCESS
from core.reward import launch
from core.reward.registry import get_run
from core.store.db import session_scope
from core.store.models import AuditEvent, DatasetSnapshot, RewardModelRun, RewardScore
from tests.app_helpers import REPO_ROOT, add_users, app, fresh_streamlit_cache, page, texts  # noqa: F401
from tests.reward_store import preferred_store, tiny_bert
from tests.test_per_dimension import harmlessness_store
from tests.test_reward_registry import finished_run


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def users(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return add_users(engine)


def reward_page(user):
    return app(user).switch_page(page("reward_model")).run()


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.mark.parametrize("role", ["expert", "annotator", "product_owner"])
def test_only_admins_open_the_page(engine, users, role):
    linked = app(users[role])  # not offered in the sidebar; a link to it says no
    assert "Reward model" not in [link.proto.label for link in linked.get("page_link")]
    assert texts(linked.switch_page(page("reward_model")).run().error) == [NO_ACCESS]
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "reward_model.py"), default_timeout=60)  # reached directly
    at.session_state["user"] = users[role]
    at.run()
    assert texts(at.error) == [NO_ACCESS] and not at.dataframe and not at.button


def test_the_page_shows_the_usable_pairs_per_source_topic_and_version(engine, users):
    preferred_store(engine, 20)
    at = reward_page(users["admin"])
    assert not at.exception
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Usable pairs"] == "20" and tiles["Ties (left out)"] == "0"
    by_source, by_topic, by_version = (at.dataframe[i].value for i in range(3))
    assert by_source.to_dict("records") == [{"Source": "import", "Pairs": 20}]
    assert by_topic["Pairs"].sum() == 20
    assert by_version.set_index("Model version").loc["good-v2", "Won"] == 20
    assert texts(at.info) == ["No training runs yet."]


def test_freezing_a_snapshot(engine, users):
    preferred_store(engine, 20)
    at = reward_page(users["admin"])
    button(at, "Freeze a snapshot").click()
    at.run()
    assert not at.exception and count(engine, DatasetSnapshot) == 1
    assert "snapshot 1 created" in at.success[0].value


def test_freezing_a_snapshot_of_one_dimensions_preferences(engine, users):
    harmlessness_store(engine)
    at = reward_page(users["admin"])
    at.selectbox(key="snapshot-dimension").set_value("harmlessness")
    button(at, "Freeze a snapshot").click()
    at.run()
    assert not at.exception and "snapshot 1 created" in at.success[0].value
    with session_scope(engine) as session:
        snapshot = session.execute(select(DatasetSnapshot)).scalar_one()
    assert (snapshot.filters["dimension"], snapshot.row_count) == ("harmlessness", 16)  # the 4 ties left out
    assert "eval pairs, by harmlessness" in at.selectbox[-1].options[1]  # the training form's list of snapshots


def test_a_refused_snapshot_says_why(engine, users):
    at = reward_page(users["admin"])
    button(at, "Freeze a snapshot").click()
    at.run()
    assert "no usable preference pairs" in at.error[0].value and count(engine, DatasetSnapshot) == 0


def test_start_training_queues_a_run_and_starts_its_process(engine, users, tiny_model, monkeypatch):
    started = []
    monkeypatch.setattr(launch, "_spawn", lambda command, engine, log: started.append((command, log)))
    preferred_store(engine, 20)
    at = reward_page(users["admin"])
    at.text_input[0].input(str(tiny_model))
    button(at, "Start training").click()
    at.run()
    assert not at.exception and not at.error
    run = get_run(engine, 1)
    assert (run.status, run.base_model, run.snapshot_id) == ("queued", str(tiny_model), 1)
    assert started[0][0][-7:] == ["core", "reward", "train", "--run", "1", "--as", "ada"]  # acting as the admin
    with session_scope(engine) as session:
        events = session.execute(select(AuditEvent.action, AuditEvent.actor_id).order_by(AuditEvent.id)).all()
    assert events == [("dataset_snapshot.create", users["admin"].id), ("reward_run.create", users["admin"].id)]
    assert "Run 1 started" in at.success[0].value
    assert at.get("progress")[0].proto.text.startswith("Run 1: queued")


def test_a_runs_loss_curve_and_metrics_are_shown(engine, users):
    run_id = finished_run(engine, None, accuracy=0.9)
    with session_scope(engine, write=True) as session:
        run = session.get(RewardModelRun, run_id)
        run.progress = {"phase": "done", "step": 30, "total": 30, "history": [[10, 0.69], [20, 0.41], [30, 0.22]]}
    at = app(users["admin"])
    at.session_state["reward_follow"] = run_id
    at = at.switch_page(page("reward_model")).run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["y"] == [0.69, 0.41, 0.22] and spec["data"][0]["x"] == [10, 20, 30]
    table = at.dataframe[3].value.set_index("Run")
    assert table.loc[run_id, "Status"] == "done" and table.loc[run_id, "Accuracy"] == 0.9


def test_promote_and_score_from_the_page(engine, users, tiny_model):
    preferred_store(engine, 5)
    run_id = finished_run(engine, tiny_model)
    at = reward_page(users["admin"])
    button(at, "Promote to active").click()
    at.run()
    assert not at.exception and f"Run {run_id} is the active reward model." in texts(at.success)
    with session_scope(engine) as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "reward_run.promote")).scalar_one()
    assert event.actor_id == users["admin"].id
    button(at, "Score every answer").click()
    at.run()
    assert not at.exception and "10 answers scored now; 10 in all." in texts(at.success)
    assert count(engine, RewardScore) == 10
    means = at.dataframe[-1].value
    assert sorted(means["Version"]) == ["bad-v1", "good-v2"] and list(means["Answers"]) == [5, 5]
