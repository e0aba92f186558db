"""The promotion gate: a new moderation version or reward-model run is promoted by itself only when it beats the
current one on the same held-out items and the interval of the difference does not show it worse. A better model is
promoted; a worse one, made so on purpose (trained on shuffled or reversed labels), is held back as a candidate with
its reason; with automatic promotion off a model that passes stays a candidate; a person can still promote; every
decision is an audit event; the pages show the candidate beside the current model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from sqlalchemy import select

import core.moderation.retrain as retraining
import core.reward.train as training
from core.cli.main import main
from core.jobs import JobError
from core.jobs import service as jobs
from core.jobs.gate import decide
from core.moderation.classifier import version_lines
from core.moderation.retrain import retrain
from core.reward.registry import active_run, get_run, promote
from core.reward.train import TrainParams, train_reward_model
from core.stats.classification import joint_counts
from core.store.db import session_scope
from core.store.models import Alert, AuditEvent, RewardModelRun, WorkItem
from tests.app_helpers import add_admin, app, page
from tests.moderation_store import HashEmbedder, corpus, import_rows, label_row, score_row
from tests.reward_store import preferred_store, tiny_bert

N_ITEMS = 200  # 40 held out by the retrain's split


def events(engine, *actions: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id))
        return list(rows.scalars())


def open_items(engine) -> set[int]:
    with session_scope(engine) as session:
        statement = select(WorkItem.subject_id).where(WorkItem.queue == "moderation", WorkItem.open)
        return set(session.execute(statement).scalars())


# --- the decision itself ---------------------------------------------------------------------------------------------


def test_the_decision_needs_a_better_value_and_an_interval_that_does_not_show_it_worse():
    truth = np.ones(60, dtype=bool)
    half, most = np.arange(60) % 2 == 0, np.arange(60) % 10 != 0  # right on 50% and 90% of the pairs

    better = decide(kind="reward", candidate="run 2", current="run 1", joint=joint_counts(half, most, truth),
                    auto_promote=True)  # fmt: skip
    assert (better.outcome, better.items, better.metric) == ("promoted", 60, "pairwise accuracy")
    assert (better.candidate_value, better.current_value, better.difference) == (0.9, 0.5, 0.4)
    assert 0 < better.ci_low < 0.4 < better.ci_high

    worse = decide(kind="reward", candidate="run 3", current="run 2", joint=joint_counts(most, half, truth),
                   auto_promote=True)  # fmt: skip
    assert worse.outcome == "held back" and worse.reason.startswith("not better: pairwise accuracy -0.400")

    # 44 pairs both right, 4 only the current one, 6 only the candidate, 6 neither: better by 2 pairs in 60
    current = np.array([True] * 44 + [True] * 4 + [False] * 6 + [False] * 6)
    candidate = np.array([True] * 44 + [False] * 4 + [True] * 6 + [False] * 6)
    close = decide(kind="reward", candidate="run 4", current="run 1", joint=joint_counts(current, candidate, truth),
                   auto_promote=True)  # fmt: skip
    assert close.difference == pytest.approx(2 / 60, abs=1e-4) and close.ci_low < 0 and close.outcome == "held back"
    assert "the 95% interval of the difference reaches" in close.reason and "it may be worse" in close.reason
    lenient = decide(kind="reward", candidate="run 4", current="run 1", joint=joint_counts(current, candidate, truth),
                     auto_promote=True, margin=0.2)  # fmt: skip
    assert lenient.outcome == "promoted"  # a loss of at most 0.2 allowed at the interval's low end

    first = decide(kind="moderation", candidate="clf-r1", current=None, joint=None, auto_promote=True)
    assert first.outcome == "held back" and first.reason.startswith("no current model to compare with")


# --- moderation ------------------------------------------------------------------------------------------------------


@pytest.fixture
def moderation_store(any_engine, tmp_path, monkeypatch):
    """200 items scored by clf-v1, a poor classifier (its scores are noise), all labelled by an imported annotator."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    rng = np.random.default_rng(3)
    rows, labels = [], []
    for item, text, truth in corpus(N_ITEMS):
        rows.append(score_row(item, "clf-v1", round(float(rng.uniform(0.05, 0.95)), 3), text=text))
        labels.append(label_row(item, "historic", truth, text=text))
    import_rows(any_engine, tmp_path, "moderation", rows)
    import_rows(any_engine, tmp_path, "labels", labels)
    return any_engine


@pytest.fixture
def shuffled_labels(monkeypatch):
    """Every classifier the retrain fits learns from its training labels shuffled (held-out labels stay true)."""
    fit = retraining._fit

    def shuffled(x, y, seed, c=None):
        return fit(x, np.random.default_rng(seed).permutation(y), seed, c)

    monkeypatch.setattr(retraining, "_fit", shuffled)


def versions(engine) -> dict:
    """Each version as the Data page and `moderation versions` list it: its status and the gate's decision."""
    with session_scope(engine) as session:
        return {v.name: v for v in version_lines(session)}


def test_a_better_moderation_version_is_promoted_and_the_queue_follows_it(moderation_store):
    engine = moderation_store
    summary = retrain(engine, embedder=HashEmbedder(), name="clf-r1")

    gate = summary.gate
    assert (gate["outcome"], gate["current"], gate["metric"], gate["items"]) == ("promoted", "clf-v1", "F1", 40)
    assert gate["candidate_value"] > 0.9 > gate["current_value"] and gate["ci_low"] > 0
    lines = versions(engine)
    assert lines["clf-r1"].status == "current" and not lines["clf-r1"].candidate
    assert lines["clf-v1"].status == "feeds the queue"  # the default: the promoted version and the one before it
    [decision] = events(engine, "gate.promote")
    assert decision.entity == "model_version" and decision.after["difference"] == gate["difference"]
    [promotion] = events(engine, "model_version.promote")
    assert promotion.actor_id is None and promotion.after["current"] == "clf-r1"


def test_a_version_trained_on_shuffled_labels_is_held_back_as_a_candidate(moderation_store, monkeypatch):
    engine = moderation_store
    retrain(engine, embedder=HashEmbedder(), name="clf-r1")
    queue_before = open_items(engine)
    fit = retraining._fit
    monkeypatch.setattr(
        retraining, "_fit", lambda x, y, seed, c=None: fit(x, np.random.default_rng(seed).permutation(y), seed, c)
    )

    summary = retrain(engine, embedder=HashEmbedder(), name="clf-shuffled")

    gate = summary.gate
    assert (gate["outcome"], gate["current"], gate["passed"]) == ("held back", "clf-r1", False)
    assert gate["candidate_value"] < gate["current_value"] and gate["reason"].startswith("not better: F1 -")
    lines = versions(engine)
    assert lines["clf-shuffled"].status == "candidate" and not lines["clf-shuffled"].feeds_queue
    assert lines["clf-r1"].status == "current"
    assert open_items(engine) == queue_before  # the queue still follows clf-r1
    [hold] = events(engine, "gate.hold")
    assert hold.entity_id is not None and hold.after["outcome"] == "held back" and hold.after["items"] == 40
    with session_scope(engine) as s:  # each decision also raised its alert (no webhook here: shown on Home)
        raised = s.execute(select(Alert.key, Alert.status).order_by(Alert.id)).all()
    assert [tuple(a) for a in raised] == [
        ("gate:moderation:clf-r1:promoted", "unsent"),
        ("gate:moderation:clf-shuffled:held_back", "unsent"),
    ]


def test_with_auto_promotion_off_a_better_version_stays_a_candidate_until_promoted_by_hand(moderation_store, capsys):
    engine = moderation_store
    admin = add_admin(engine)
    assert main(["worker", "configure", "moderation_retrain", "--auto-promote", "off"]) == 0
    assert "(promotion gate: auto-promote off)" in capsys.readouterr().out
    [setting] = events(engine, "job_setting.update")
    assert (setting.before["auto_promote"], setting.after["auto_promote"], setting.actor_id) == (True, False, admin.id)

    summary = retrain(engine, embedder=HashEmbedder(), name="clf-r1")

    assert summary.gate["passed"] and summary.gate["outcome"] == "held back"
    assert "automatic promotion is off for moderation models: promote it by hand" in summary.gate["reason"]
    assert versions(engine)["clf-r1"].status == "candidate"
    assert main(["moderation", "versions"]) == 0
    listing = capsys.readouterr().out
    assert "clf-r1" in listing and "candidate" in listing and "held back: F1" in listing

    assert main(["moderation", "promote", "clf-r1"]) == 0
    assert "clf-r1 feeds the borderline queue now" in capsys.readouterr().out
    assert versions(engine)["clf-r1"].status == "current"
    [promotion] = events(engine, "model_version.promote")
    assert promotion.actor_id == admin.id and promotion.before["current"] == "clf-v1"
    assert main(["moderation", "promote", "clf-r1"]) == 1
    assert "clf-r1 is the current version already" in capsys.readouterr().err


def test_with_configured_queue_versions_the_promoted_version_takes_the_current_ones_place(moderation_store):
    engine = moderation_store
    from tests.moderation_store import configure

    configure(engine, versions=["clf-v1"])
    retrain(engine, embedder=HashEmbedder(), name="clf-r1")
    lines = versions(engine)
    assert lines["clf-r1"].current and not lines["clf-v1"].feeds_queue


def test_gate_settings_out_of_range_are_refused_and_nothing_is_written(engine):
    admin = add_admin(engine)
    with pytest.raises(JobError, match=r"--margin 0.5 is out of range: give 0 to 0\.2"):
        jobs.configure(actor=admin, kind="reward_train", margin=0.5, engine=engine)
    with pytest.raises(JobError, match="reward_score makes no model: it has no promotion gate"):
        jobs.configure(actor=admin, kind="reward_score", auto_promote=False, engine=engine)
    assert events(engine, "job_setting.update") == []


def test_the_data_page_shows_a_candidate_beside_the_current_version_and_promotes_it(moderation_store, shuffled_labels):
    engine = moderation_store
    admin = add_admin(engine)
    retrain(engine, embedder=HashEmbedder(), name="clf-shuffled")  # worse than clf-v1? noise against noise
    st.cache_resource.clear()
    at = app(admin).switch_page(page("data")).run()
    assert not at.exception
    box = next(s for s in at.selectbox if s.label == "Version through the gate")
    assert box.options == ["clf-shuffled (candidate)", "clf-v1 (current)"]  # candidates first
    box.select_index(1).run()
    assert any("has not been through the promotion gate" in c.value for c in at.caption)  # an imported version
    box = next(s for s in at.selectbox if s.label == "Version through the gate")
    box.select_index(0).run()
    table = next(d.value for d in at.dataframe if "Figure" in d.value.columns)
    assert list(table.columns) == ["Figure", "Version: clf-shuffled", "Current: clf-v1"]
    assert table.set_index("Figure").loc["model"].tolist() == ["clf-shuffled", "clf-v1"]
    assert any("Promotion gate: held back" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Promote clf-shuffled to the queue").click().run()
    assert not at.exception
    assert any("clf-shuffled feeds the borderline queue now, in place of clf-v1." in s.value for s in at.success)
    assert versions(engine)["clf-shuffled"].status == "current"


# --- reward models ---------------------------------------------------------------------------------------------------

FAST = TrainParams(epochs=3, max_length=128, batch_size=4, learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def reward_store(engine, tmp_path, monkeypatch):
    """60 prompts, each compared once (the good answer wins): about 12 of them held out."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    preferred_store(engine, 60)
    return engine


@pytest.fixture
def reversed_labels(monkeypatch) -> dict[str, bool]:
    """While its "on" is true, training sees every pair with its chosen and rejected answers swapped (the held-out
    pairs stay true): a model that learns to prefer the worse answer."""
    load, state = training.load_splits, {"on": True}
    swap = {"chosen": "rejected", "rejected": "chosen", "chosen_text": "rejected_text", "rejected_text": "chosen_text"}

    def loaded(snapshot):
        splits = load(snapshot)
        if state["on"]:
            splits["train"] = splits["train"].map(lambda row: {key: row[other] for key, other in swap.items()})
        return splits

    monkeypatch.setattr(training, "load_splits", loaded)
    return state


def train(engine, tiny_model):
    return train_reward_model(engine, base_model=str(tiny_model), params=FAST)


def test_a_better_reward_run_is_promoted_and_one_trained_on_reversed_labels_is_held_back(
    reward_store, tiny_model, reversed_labels, capsys
):
    engine = reward_store
    worse = train(engine, tiny_model)  # reversed labels: it prefers the worse answer
    assert worse.gate.outcome == "held back" and worse.gate.reason.startswith("no current model to compare with")
    assert active_run(engine) is None
    promote(engine, worse.run_id)  # the first one by hand
    reversed_labels["on"] = False

    better = train(engine, tiny_model)

    gate = better.gate
    assert gate.outcome == "promoted" and gate.current == f"run {worse.run_id}" and gate.metric == "pairwise accuracy"
    assert gate.items == better.metrics["n_eval_pairs"] >= 8  # the same held-out pairs for both
    assert gate.candidate_value > 0.8 and gate.current_value < 0.2 and gate.ci_low > 0
    assert active_run(engine).id == better.run_id
    assert get_run(engine, better.run_id).metrics["gate"]["outcome"] == "promoted"

    admin = add_admin(engine)
    assert main(["reward", "gate", str(worse.run_id)]) == 0  # the worse one again, against the better one
    assert f"run {worse.run_id}: held back: pairwise accuracy" in capsys.readouterr().out
    assert get_run(engine, worse.run_id).metrics["gate"]["reason"].startswith("not better: pairwise accuracy -")
    assert active_run(engine).id == better.run_id  # the better one still scores answers
    actions = [
        (e.action, e.entity_id, e.actor_id) for e in events(engine, "gate.promote", "gate.hold", "reward_run.promote")
    ]
    assert actions == [
        ("gate.hold", worse.run_id, None),
        ("reward_run.promote", worse.run_id, None),
        ("gate.promote", better.run_id, None),
        ("reward_run.promote", better.run_id, None),
        ("gate.hold", worse.run_id, admin.id),
    ]
    assert main(["reward", "runs"]) == 0
    listing = capsys.readouterr().out
    assert "gate: promoted: pairwise accuracy" in listing and "gate: held back: pairwise accuracy" in listing

    # with automatic promotion off, the better run passes but stays a candidate; promoting by hand still works
    assert main(["worker", "configure", "reward_train", "--auto-promote", "off"]) == 0
    promote(engine, worse.run_id)
    assert main(["reward", "gate", str(better.run_id)]) == 0
    assert "automatic promotion is off for reward models: promote it by hand" in capsys.readouterr().out
    assert active_run(engine).id == worse.run_id
    assert main(["reward", "promote", str(better.run_id)]) == 0
    assert active_run(engine).id == better.run_id


def test_the_reward_page_shows_a_run_beside_the_active_one(engine, tmp_path, monkeypatch):
    from tests.test_reward_registry import finished_run

    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    admin = add_admin(engine)
    current, candidate = finished_run(engine, tmp_path, accuracy=0.7), finished_run(engine, tmp_path, accuracy=0.75)
    promote(engine, current)
    truth = np.ones(40, dtype=bool)
    digit = np.arange(40) % 10  # right on digits 0-6 (current) and 1-8 (candidate): 4 pairs only the current got
    joint = joint_counts(digit <= 6, (digit >= 1) & (digit <= 8), truth)
    decision = decide(kind="reward", candidate=f"run {candidate}", current=f"run {current}", joint=joint,
                      auto_promote=True)  # fmt: skip
    with session_scope(engine, write=True) as session:
        run = session.get(RewardModelRun, candidate)
        run.metrics = dict(run.metrics) | {"gate": decision.as_dict()}

    at = app(admin).switch_page(page("reward_model")).run()

    assert not at.exception
    runs = next(d.value for d in at.dataframe if "Gate" in d.value.columns).set_index("Run")
    assert runs.loc[candidate, "Gate"] == "held back"
    table = next(d.value for d in at.dataframe if "Figure" in d.value.columns).set_index("Figure")
    assert table.columns.tolist() == [f"Run: run {candidate}", f"Current: run {current}"]
    assert table.loc["pairwise accuracy (held out)"].tolist() == ["0.800", "0.700"]
    assert table.loc["held-out items (both)"].tolist() == ["40", "40"]
    assert table.loc["decision"].tolist()[0] == "held back"
    assert any("Promotion gate: held back (better by +0.100, but the 95% interval" in w.value for w in at.warning)
