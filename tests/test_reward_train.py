"""Training with TRL's RewardTrainer on a tiny random BERT: the run in the store, the saved model, refusals."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from sqlalchemy import func, select

from core.cli.main import main
from core.reward import RewardError
from core.reward.baselines import beats_baselines
from core.reward.inference import token_lengths
from core.reward.mlflow_log import MISSING
from core.reward.registry import get_run
from core.reward.snapshot import export_snapshot
from core.reward.train import TrainParams, create_run, train_reward_model, train_run
from core.store.db import session_scope
from core.store.models import AuditEvent, DatasetSnapshot, Response, RewardModelRun
from tests.app_helpers import add_admin
from tests.reward_store import preferred_store, tiny_bert

FAST = TrainParams(epochs=3, max_length=128, batch_size=4, learning_rate=1e-3)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def artifacts(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "artifacts"


@pytest.fixture
def admin(engine):
    """The store's one admin, whom the commands act as."""
    return add_admin(engine)


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_run_trains_is_stored_done_with_metrics_and_reloads_with_plain_transformers(engine, artifacts, tiny_model):
    preferred_store(engine, 24)
    seen: list[dict] = []
    result = train_reward_model(engine, base_model=str(tiny_model), params=FAST, on_progress=lambda s: seen.append(s))

    run = get_run(engine, result.run_id)
    assert run.status == "done" and run.finished_at is not None and run.error is None
    assert {"accuracy", "accuracy_ci", "n_eval_pairs", "by_topic", "by_source"} <= set(run.metrics)
    assert run.metrics["n_eval_pairs"] + run.metrics["train_pairs"] == 24 and run.metrics["dropped_pairs"] == 0
    low, high = run.metrics["accuracy_ci"]
    assert low <= run.metrics["accuracy"] <= high
    assert run.progress["phase"] == "done" and run.progress["step"] == run.progress["total"] > 0
    assert run.loss_curve and seen[-1]["phase"] == "done"
    losses = [loss for _, loss in run.loss_curve]
    assert losses[-1] < losses[0]  # it learned something
    before, after = (
        load_file(tiny_model / "model.safetensors"),
        load_file(Path(run.artifact_path) / "model.safetensors"),
    )
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])

    folder = Path(run.artifact_path)
    assert folder == artifacts / "reward-models" / f"run-{run.id}"
    card = (folder / "README.md").read_text()
    assert run.snapshot_hash in card and str(tiny_model) in card and "Intended use and limitations" in card
    assert json.loads((folder / "metrics.json").read_text())["accuracy"] == run.metrics["accuracy"]

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    question = "How much can I deduct for 50 home-office days?"
    good = "The flat rate is €6 a day for at most 210 days: 50 days give €300. Check it with a tax adviser."
    bad = "Taxes are complicated and it depends. Hope this helps! 3"
    with torch.no_grad():
        scores = [
            model(**tokenizer(question + "\n\n" + answer + tokenizer.eos_token, return_tensors="pt")).logits[0, 0]
            for answer in (good, bad)
        ]
    assert model.config.num_labels == 1 and all(torch.isfinite(s) for s in scores)
    assert scores[0] > scores[1]


def test_pairs_longer_than_max_length_are_counted_as_dropped(engine, artifacts, tiny_model):
    ids = preferred_store(engine, 24)
    with session_scope(engine, write=True) as session:  # every third good answer gets longer
        for _, good, _ in list(ids.values())[::3]:
            session.get(Response, good).text += " Keep a log of the days; a calendar export is enough for the office."
    snapshot = export_snapshot(engine)
    from core.reward.snapshot import load_splits

    with session_scope(engine) as session:
        train = load_splits(session.get(DatasetSnapshot, snapshot.id))["train"]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.eos_token = tokenizer.sep_token
    rows = train.to_list()  # one-turn conversations: the question, a blank line, the answer
    chosen = token_lengths(tokenizer, [r["prompt"][0]["content"] + "\n\n" + r["chosen_text"] for r in rows])
    rejected = token_lengths(tokenizer, [r["prompt"][0]["content"] + "\n\n" + r["rejected_text"] for r in rows])
    limit = max(chosen + rejected) - 1  # the longest pairs are one token too long
    expected = sum(max(c, r) > limit for c, r in zip(chosen, rejected, strict=True))
    params = TrainParams(epochs=1, max_length=limit, batch_size=4)
    result = train_reward_model(engine, snapshot_id=snapshot.id, base_model=str(tiny_model), params=params)
    assert result.metrics["dropped_pairs"] == expected > 0
    assert result.metrics["train_pairs"] == len(train) - expected


def test_a_run_that_fails_is_marked_failed_with_its_error(engine, artifacts, tiny_model):
    preferred_store(engine, 24)
    snapshot = export_snapshot(engine)
    run_id = create_run(engine, snapshot_id=snapshot.id, base_model=str(tiny_model), params=FAST)
    shutil.rmtree(snapshot.path)
    with pytest.raises(RewardError, match=f"run {run_id} failed: snapshot {snapshot.id}'s files are missing"):
        train_run(engine, run_id)
    run = get_run(engine, run_id)
    assert run.status == "failed" and "files are missing" in run.error and run.finished_at is not None
    with pytest.raises(RewardError, match="is failed, not queued"):
        train_run(engine, run_id)


def test_the_cli_refuses_a_bad_snapshot_id_and_writes_nothing(engine, artifacts, admin, tiny_model, capsys):
    preferred_store(engine, 24)
    assert main(["reward", "train", "--snapshot", "999", "--base-model", str(tiny_model)]) == 1
    assert "error: no reward-pairs snapshot with id 999" in capsys.readouterr().err
    assert count(engine, RewardModelRun) == 0 and count(engine, DatasetSnapshot) == 0 and not artifacts.exists()


def test_the_cli_refuses_an_empty_dataset_and_writes_nothing(engine, artifacts, admin, tiny_model, capsys):
    assert main(["reward", "train", "--base-model", str(tiny_model)]) == 1
    assert "error: no usable preference pairs in the store" in capsys.readouterr().err
    assert count(engine, RewardModelRun) == 0 and count(engine, DatasetSnapshot) == 0 and not artifacts.exists()


def test_the_cli_refuses_a_base_model_that_is_not_a_model_folder(engine, artifacts, admin, tmp_path, capsys):
    preferred_store(engine, 24)
    assert main(["reward", "train", "--base-model", str(tmp_path)]) == 1
    assert f"error: the base model {tmp_path} is not a model folder" in capsys.readouterr().err
    assert count(engine, RewardModelRun) == 0


def test_the_cli_trains_exports_and_lists(engine, artifacts, admin, tiny_model, capsys):
    preferred_store(engine, 24)
    assert main(["reward", "export"]) == 0
    out = capsys.readouterr().out
    assert "snapshot 1 created" in out and "hash" in out and str(artifacts / "snapshots") in out
    args = ["reward", "train", "--snapshot", "1", "--base-model", str(tiny_model), "--epochs", "1"]
    assert main([*args, "--max-length", "128", "--batch-size", "4"]) == 0
    assert "run 1 done: held-out accuracy" in capsys.readouterr().out
    assert main(["reward", "runs"]) == 0
    listing = capsys.readouterr().out
    assert "done" in listing and "1:" in listing
    assert main(["reward", "promote", "1"]) == 0
    assert "run 1 is the active reward model" in capsys.readouterr().out
    with session_scope(engine) as session:  # audited as the user the commands act as
        events = session.execute(select(AuditEvent.action, AuditEvent.actor_id).order_by(AuditEvent.id)).all()
    assert events == [
        ("dataset_snapshot.create", admin.id),
        ("reward_run.create", admin.id),
        ("gate.hold", None),  # the promotion gate, by itself: no active run to compare with
        ("alert.raise", None),  # and its alert
        ("reward_run.promote", admin.id),
    ]


def test_mlflow_missing_is_said_clearly_and_the_run_still_finishes(engine, artifacts, tiny_model, monkeypatch):
    preferred_store(engine, 24)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    result = train_reward_model(engine, base_model=str(tiny_model), params=TrainParams(epochs=1, batch_size=8))
    assert result.status == "done" and result.notes == [MISSING]
    assert get_run(engine, result.run_id).metrics["mlflow"] == MISSING


def test_mlflow_gets_parameters_metrics_and_the_model_where_configured(engine, artifacts, tiny_model, monkeypatch):
    preferred_store(engine, 24)
    logged: dict = {}

    class Run:
        info = types.SimpleNamespace(run_id="abc")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    fake = types.SimpleNamespace(
        set_tracking_uri=lambda uri: logged.setdefault("uri", uri),
        start_run=lambda run_name: logged.setdefault("name", run_name) and Run(),
        log_params=lambda params: logged.setdefault("params", params),
        log_metrics=lambda metrics: logged.setdefault("metrics", metrics),
        log_artifacts=lambda path, artifact_path: logged.setdefault(
            "artifacts", sorted(p.name for p in Path(path).iterdir())
        ),
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///tmp/mlruns")
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    result = train_reward_model(engine, base_model=str(tiny_model), params=TrainParams(epochs=1, batch_size=8))
    assert result.notes == ["logged to MLflow at file:///tmp/mlruns as run abc"]
    assert logged["name"] == f"reward-run-{result.run_id}" and logged["params"]["epochs"] == 1
    assert logged["metrics"]["accuracy"] == result.metrics["accuracy"] and "by_topic.VAT.accuracy" in logged["metrics"]
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(logged["artifacts"])


@pytest.mark.slow  # the real MiniLM on the demo data: about two minutes on 2 cores
def test_minilm_learns_the_substance_of_the_demo_preferences_not_their_style(engine, artifacts):
    """The demo's better and worse answers have the same shapes, length and tone: a model that learned style would
    not beat "pick the longer answer" or a bag of words. 2026-12-04: 100% [86.7%, 100%] on 25 held-out pairs,
    against 44.0% [26.7%, 62.9%] and 84.0% [65.3%, 93.6%]."""
    from core.demo.load import load_demo

    load_demo(engine)
    result = train_reward_model(engine, with_ratings=True, params=TrainParams(epochs=3, max_length=256))
    m = result.metrics
    assert m["n_eval_pairs"] >= 20 and m["dropped_pairs"] == 0
    assert m["accuracy"] >= 0.85
    assert m["baselines"]["longer_answer"]["accuracy"] <= 0.65  # length tells little in the demo
    assert beats_baselines(m), (m["accuracy"], m["accuracy_ci"], m["baselines"])
