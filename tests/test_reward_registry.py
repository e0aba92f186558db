"""Runs promoted (one active, audited), answers scored once per run, mean reward per version, detached training."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from statsmodels.stats.weightstats import DescrStatsW

from core.cli.main import main
from core.reward import RewardError, launch
from core.reward import service as reward
from core.reward.registry import active_run, compare_runs, get_run, list_runs, promote
from core.reward.score import mean_reward_by_version, score_responses
from core.reward.train import TrainParams
from core.store.db import session_scope
from core.store.models import AuditEvent, DatasetSnapshot, ModelVersion, Response, RewardModelRun, RewardScore
from tests.app_helpers import add_admin, add_users
from tests.reward_store import add_answers, preferred_store, tiny_bert


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def finished_run(engine, artifact: Path | None, *, accuracy: float = 0.9, status: str = "done") -> int:
    """A run as training leaves it (the tiny random BERT standing in for the trained model)."""
    with session_scope(engine, write=True) as session:
        snapshot = DatasetSnapshot(kind="reward-pairs", content_hash="f" * 64, row_count=10, path="/nowhere")
        session.add(snapshot)
        session.flush()
        run = RewardModelRun(
            snapshot_id=snapshot.id,
            base_model="tiny",
            params={"max_length": 64, "epochs": 1},
            metrics={"accuracy": accuracy, "accuracy_ci": [0.5, 0.99], "n_eval_pairs": 10, "by_topic": {}},
            status=status,
            artifact_path=str(artifact) if artifact else None,
        )
        session.add(run)
        session.flush()
        return run.id


def test_promote_leaves_exactly_one_active_run_and_writes_an_audit_event(any_engine):
    first, second = finished_run(any_engine, None), finished_run(any_engine, None, accuracy=0.95)
    promote(any_engine, first, actor_id=None)
    promote(any_engine, second, actor_id=None)
    assert active_run(any_engine).id == second
    assert [r.id for r in list_runs(any_engine) if r.is_active] == [second]
    promote(any_engine, second)  # already active: nothing changes, no event
    with session_scope(any_engine) as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.action == "reward_run.promote")).scalars().all()
    assert [(e.entity_id, e.before, e.after) for e in events] == [
        (first, {"active_run": None}, {"active_run": first}),
        (second, {"active_run": first}, {"active_run": second}),
    ]


def test_only_a_finished_run_can_be_promoted(any_engine, capsys):
    failed = finished_run(any_engine, None, status="failed")
    with pytest.raises(RewardError, match="only a finished run"):
        promote(any_engine, failed)
    add_admin(any_engine)
    assert main(["reward", "promote", "4242"]) == 1
    assert "error: no reward model run 4242" in capsys.readouterr().err
    assert active_run(any_engine) is None


def test_the_store_allows_no_second_active_run(engine):
    from sqlalchemy.exc import IntegrityError

    first, second = finished_run(engine, None), finished_run(engine, None)
    with pytest.raises(IntegrityError), session_scope(engine, write=True) as session:
        for run_id in (first, second):
            session.get(RewardModelRun, run_id).is_active = True
            session.flush()


def test_runs_compare_side_by_side(engine):
    first, second = finished_run(engine, None, accuracy=0.8), finished_run(engine, None, accuracy=0.9)
    rows = {row["figure"]: row for row in compare_runs(engine, [first, second])}
    assert rows["held-out accuracy"] == {
        "figure": "held-out accuracy",
        f"run {first}": "80.0%",
        f"run {second}": "90.0%",
    }
    assert rows["95% interval"][f"run {first}"] == "50.0% – 99.0%"


def test_scoring_stores_one_score_per_answer_and_is_rerunnable(any_engine, tiny_model):
    add_answers(any_engine, 6)
    run_id = finished_run(any_engine, tiny_model)
    with pytest.raises(RewardError, match="no active reward model"):
        score_responses(any_engine)
    promote(any_engine, run_id)
    seen = []
    result = score_responses(any_engine, batch_size=4, progress=lambda done, total: seen.append((done, total)))
    assert (result.run_id, result.scored, result.total) == (run_id, 12, 12) and seen[-1] == (12, 12)
    add_answers(any_engine, 2, prefix="late")
    again = score_responses(any_engine)
    assert (again.scored, again.total) == (4, 16)
    with session_scope(any_engine) as session:
        scored = session.execute(select(func.count(func.distinct(RewardScore.response_id)))).scalar_one()
        answers = session.execute(select(func.count()).select_from(Response)).scalar_one()
    assert scored == answers == 16


def test_mean_reward_per_version_matches_statsmodels(any_engine, tiny_model):
    add_answers(any_engine, 8)
    run_id = finished_run(any_engine, tiny_model)
    score_responses(any_engine, run_id=run_id)
    means = {v.version: v for v in mean_reward_by_version(any_engine, run_id)}
    with session_scope(any_engine) as session:
        for name, v in means.items():
            values = np.array(
                session.execute(
                    select(RewardScore.score)
                    .join(Response, Response.id == RewardScore.response_id)
                    .join(ModelVersion, ModelVersion.id == Response.model_version_id)
                    .where(ModelVersion.name == name, RewardScore.run_id == run_id)
                )
                .scalars()
                .all()
            )
            stats = DescrStatsW(values)
            assert v.answers == len(values) == 8
            assert v.mean == pytest.approx(stats.mean, abs=1e-9)
            assert v.ci == pytest.approx(stats.tconfint_mean(alpha=0.05), rel=1e-6, abs=1e-9)


def test_score_cli_prints_the_mean_reward_per_version(engine, tiny_model, capsys):
    add_admin(engine)
    add_answers(engine, 4)
    run_id = finished_run(engine, tiny_model)
    assert main(["reward", "score", "--run", str(run_id)]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id}: 8 answers scored now, 8 in all" in out
    assert "bad-v1" in out and "good-v2" in out


def run_events(engine) -> list[tuple[str, int | None]]:
    """The audit events of snapshots and runs: (action, actor id)."""
    entities = ("dataset_snapshot", "reward_model_run")
    with session_scope(engine) as session:
        return [
            tuple(row)
            for row in session.execute(
                select(AuditEvent.action, AuditEvent.actor_id)
                .where(AuditEvent.entity.in_(entities))
                .order_by(AuditEvent.id)
            )
        ]


def test_the_training_process_acts_as_the_user_who_started_it(engine, tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    started = []
    monkeypatch.setattr(launch, "_spawn", lambda command, engine, log: started.append(command))
    add_users(engine)
    ops = add_admin(engine, "ops")  # two admins: a command that names nobody cannot tell who acts
    preferred_store(engine, 20)
    params = TrainParams(epochs=1, max_length=128, batch_size=4)
    run_id = reward.start_training(actor=ops, base_model=str(tiny_model), params=params)
    (command,) = started
    assert command[1:] == ["-m", "core", "reward", "train", "--run", str(run_id), "--as", "ops"]
    assert main(command[3:-2]) == 1  # without --as the process would be refused
    assert "2 active admins: say who acts with --as USER" in capsys.readouterr().err
    assert get_run(engine, run_id).status == "queued"
    assert main(command[3:]) == 0  # what the process runs
    assert f"run {run_id} done" in capsys.readouterr().out
    assert get_run(engine, run_id).status == "done"
    # the promotion gate decides on the finished run by itself: no active run to compare with, so it is held back
    assert run_events(engine) == [
        ("dataset_snapshot.create", ops.id),
        ("reward_run.create", ops.id),
        ("gate.hold", None),
    ]


@pytest.mark.parametrize(
    ("command", "refusal"),
    [
        (["reward", "runs"], "see the reward models"),
        (["reward", "export"], "freeze a dataset snapshot"),
        (["reward", "promote", "1"], "promote a reward model"),
        (["reward", "score"], "score answers with a reward model"),
    ],
    ids=["runs", "export", "promote", "score"],
)
def test_reward_commands_refuse_a_user_who_is_not_an_admin(engine, tmp_path, monkeypatch, capsys, command, refusal):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    add_users(engine)
    preferred_store(engine, 20)
    run_id = finished_run(engine, None)
    assert main([*command, "--as", "eve"]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"error: Only admins may {refusal}; 'eve' is signed in as expert.\n" and not captured.out
    assert active_run(engine) is None and run_events(engine) == [] and not (tmp_path / "artifacts").exists()
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(DatasetSnapshot)).scalar_one() == 1  # finished_run's
        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 0
    assert [r.id for r in list_runs(engine)] == [run_id]


@pytest.mark.slow  # a fresh interpreter importing torch and trl: 10 to 20 s here
def test_training_started_for_a_page_runs_in_a_detached_process(engine, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    add_users(engine)
    ops = add_admin(engine, "ops")  # two admins: the process acts as the one who started it (--as)
    preferred_store(engine, 20)
    params = TrainParams(epochs=1, max_length=128, batch_size=4)
    run_id = reward.start_training(actor=ops, base_model=str(tiny_model), params=params)
    assert get_run(engine, run_id).status in ("queued", "running", "done")
    deadline = time.monotonic() + 240
    while get_run(engine, run_id).status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    run = get_run(engine, run_id)
    log = Path(run.params["out"]) / "train.log"
    assert run.status == "done", log.read_text()
    assert run.metrics["n_eval_pairs"] > 0 and run.progress["pid"] != __import__("os").getpid()
    assert f"run {run_id} done" in log.read_text()
    # the promotion gate decides on the finished run by itself: no active run to compare with, so it is held back
    assert run_events(engine) == [
        ("dataset_snapshot.create", ops.id),
        ("reward_run.create", ops.id),
        ("gate.hold", None),
    ]
