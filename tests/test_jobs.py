"""Background jobs: the triggers at their thresholds and one below, the jobs run through the real actions (retrain,
reward training, scoring), a worker killed with SIGKILL (its job found, marked failed, retried once), a worker
stopped (its job back in the queue), one job of a kind at a time with two workers, refused settings and schemas."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.auth import Forbidden
from core.cli.main import main
from core.jobs import JobError, records, service
from core.jobs import settings as job_settings
from core.jobs.kinds import KINDS, JobKind, Pending
from core.jobs.worker import Worker, WorkerOptions, queue_due_jobs
from core.reward.registry import promote
from core.store.db import get_engine, migrate, migration_scope, revisions, session_scope
from core.store.models import (
    AuditEvent,
    DatasetSnapshot,
    Job,
    JobSetting,
    ModelVersion,
    ModerationLabel,
    RewardModelRun,
    RewardScore,
    utcnow,
)
from tests.app_helpers import add_admin, add_users, app
from tests.job_worker import SLEEP
from tests.moderation_store import HashEmbedder, corpus, import_rows, label_row, score_row
from tests.reward_store import add_answers, preferred_store, tiny_bert

ROOT = Path(__file__).resolve().parents[1]
FAST = WorkerOptions(poll=0.1, timeout=1.0, check=0.0)  # counts on every pass; a job 1 s without a heartbeat is lost


def jobs(engine, *where) -> list[Job]:
    with session_scope(engine) as s:
        return list(s.execute(select(Job).where(*where).order_by(Job.id)).scalars())


def configure(engine, kind: str, **values) -> None:
    with session_scope(engine, write=True) as s:
        job_settings.configure(s, kind=kind, **values)


def count(engine, model, *where) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


# --- the triggers --------------------------------------------------------------------------------------------------


@pytest.fixture
def moderation(any_engine, tmp_path, monkeypatch):
    """40 items scored by clf-v1; no final label yet. Labels added later are newer than clf-v1."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    items = corpus(40)
    import_rows(any_engine, tmp_path, "moderation", [score_row(i, "clf-v1", 0.5, text=t) for i, t, _ in items])
    return any_engine, items


def add_labels(engine, tmp_path, items, start: int, stop: int) -> None:
    """Imported labels (each final on its own) for items[start:stop]."""
    rows = [label_row(item, "historic", truth, text=text) for item, text, truth in items[start:stop]]
    folder = tmp_path / f"labels-{start}"
    folder.mkdir()
    import_rows(engine, folder, "labels", rows)


@pytest.mark.parametrize(("labels", "queued"), [(10, True), (9, False)])
def test_moderation_retraining_is_queued_at_its_threshold_and_not_one_below(moderation, tmp_path, labels, queued):
    engine, items = moderation
    configure(engine, "moderation_retrain", threshold=10)
    add_labels(engine, tmp_path, items, 0, labels)

    assert len(queue_due_jobs(engine)) == int(queued)
    found = jobs(engine, Job.kind == "moderation_retrain")
    assert [(j.status, j.reason) for j in found] == (
        [("queued", "10 new final labels (at least 10)")] if queued else []
    )
    assert queue_due_jobs(engine) == []  # one job of a kind waits at a time


@pytest.mark.parametrize(("hours", "queued"), [(25, True), (23, False)])
def test_moderation_retraining_starts_once_a_day_when_any_label_is_new(moderation, tmp_path, hours, queued):
    engine, items = moderation
    add_labels(engine, tmp_path, items, 0, 3)  # far below the default threshold of 200
    with session_scope(engine, write=True) as s:
        s.execute(update(ModelVersion).values(created_at=utcnow() - timedelta(hours=hours)))
        s.execute(update(ModerationLabel).values(created_at=utcnow() - timedelta(minutes=5)))

    assert [j.reason for j in jobs(engine)] == []
    queue_due_jobs(engine)
    assert [j.reason for j in jobs(engine)] == (["3 new final labels, 24 h after the last version"] if queued else [])


@pytest.mark.parametrize(("threshold", "queued"), [(24, True), (25, False)])
def test_reward_training_is_queued_at_its_threshold_and_not_one_below(any_engine, threshold, queued):
    preferred_store(any_engine, 24)  # 24 usable pairs, no run yet
    configure(any_engine, "reward_train", threshold=threshold)
    queue_due_jobs(any_engine)
    assert [j.kind for j in jobs(any_engine)] == (["reward_train"] if queued else [])


@pytest.mark.parametrize(("threshold", "queued"), [(10, True), (11, False)])
def test_reward_training_counts_the_pairs_beyond_the_newest_runs_snapshot(engine, threshold, queued):
    preferred_store(engine, 24)
    with session_scope(engine, write=True) as s:
        for rows, status in ((10, "done"), (14, "done"), (20, "failed")):  # the failed run's data is tried again
            snapshot = DatasetSnapshot(kind="reward-pairs", content_hash=f"h{rows}", row_count=rows, path="x")
            s.add(snapshot)
            s.flush()
            s.add(RewardModelRun(snapshot_id=snapshot.id, base_model="m", status=status))
    configure(engine, "reward_train", threshold=threshold)
    queue_due_jobs(engine)
    assert [j.reason for j in jobs(engine)] == (["10 new usable pairs (at least 10)"] if queued else [])


def active_run(engine, artifact: str = "unused") -> int:
    with session_scope(engine, write=True) as s:
        snapshot = DatasetSnapshot(kind="reward-pairs", content_hash="h", row_count=1, path="x")
        s.add(snapshot)
        s.flush()
        run = RewardModelRun(
            snapshot_id=snapshot.id, base_model="m", status="done", is_active=True, artifact_path=artifact
        )
        s.add(run)
        s.flush()
        return run.id


@pytest.mark.parametrize(("threshold", "queued"), [(6, True), (7, False)])
def test_scoring_is_queued_when_the_active_model_has_that_many_unscored_answers(any_engine, threshold, queued):
    add_answers(any_engine, 3)  # 6 answers
    configure(any_engine, "reward_score", threshold=threshold)
    queue_due_jobs(any_engine)
    assert jobs(any_engine) == []  # no active reward model: nothing to score with
    active_run(any_engine)
    queue_due_jobs(any_engine)
    assert [j.reason for j in jobs(any_engine)] == (["6 unscored answers (at least 6)"] if queued else [])


def test_a_kind_turned_off_is_never_queued(engine):
    add_answers(engine, 3)
    active_run(engine)
    configure(engine, "reward_score", enabled=False)
    assert queue_due_jobs(engine) == [] and jobs(engine) == []


# --- the jobs, through the real actions ----------------------------------------------------------------------------


def test_the_retraining_job_registers_a_new_version_as_the_system_and_is_not_queued_again(
    moderation, tmp_path, monkeypatch
):
    engine, items = moderation
    monkeypatch.setattr("core.moderation.retrain.default_embedder", HashEmbedder)
    configure(engine, "moderation_retrain", threshold=30)
    add_labels(engine, tmp_path, items, 0, 30)

    job = Worker(engine, FAST).run_once()

    assert job.kind == "moderation_retrain" and job.status == "done", job.error
    assert job.result["labels"] == 30 and job.result["previous"] == "clf-v1" and 0 <= job.result["f1"] <= 1
    assert job.progress["stage"] == "done" and job.fraction == 1.0
    assert job.started_at <= job.finished_at
    with session_scope(engine) as s:
        version = s.execute(select(ModelVersion).where(ModelVersion.name == job.result["version"])).scalar_one()
        events = s.execute(select(AuditEvent.action, AuditEvent.actor_id).order_by(AuditEvent.id)).all()
    assert version.kind == "moderation"
    job_events = [(a, who) for a, who in events if a.startswith("job.") or a == "model_version.retrain"]
    assert job_events == [
        ("job.queue", None),
        ("job.start", None),
        ("model_version.retrain", None),
        ("job.done", None),
    ]  # the system acts: no person's name on it
    assert Worker(engine, FAST).run_once() is None  # its labels are older than the new version now


def test_a_job_that_fails_keeps_its_error_and_its_kind_waits_before_starting_again(moderation, tmp_path, monkeypatch):
    engine, items = moderation
    monkeypatch.setattr("core.moderation.retrain.default_embedder", HashEmbedder)
    configure(engine, "moderation_retrain", threshold=10)
    add_labels(engine, tmp_path, items[::2], 0, 10)  # toxic ones only: too few of each class to train

    job = Worker(engine, FAST).run_once()

    assert job.status == "failed" and "too few final labels to train" in job.error
    assert count(engine, AuditEvent, AuditEvent.action == "job.fail", AuditEvent.entity_id == job.id) == 1
    assert Worker(engine, FAST).run_once() is None  # not tried again at once, nor retried: it would fail again
    assert [j.status for j in jobs(engine)] == ["failed"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_the_reward_jobs_train_a_run_and_score_every_answer_with_the_active_one(
    engine, tmp_path, monkeypatch, tiny_model
):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("REWARD_BASE_MODEL", str(tiny_model))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    preferred_store(engine, 24)
    configure(engine, "reward_train", threshold=20)
    worker = Worker(engine, FAST)

    trained = worker.run_once()

    assert trained.kind == "reward_train" and trained.status == "done", trained.error
    with session_scope(engine) as s:
        run = s.get(RewardModelRun, trained.result["run_id"])
    assert run.status == "done" and run.base_model == str(tiny_model) and trained.result["pairs"] > 0
    assert run.progress["step"] == run.progress["total"] > 0  # the training reported its steps
    assert worker.run_once() is None  # a candidate is not trained again: no new pairs since its snapshot

    promote(engine, run.id)
    scored = worker.run_once()
    assert scored.kind == "reward_score" and scored.status == "done", scored.error
    assert scored.result == {"run_id": run.id, "scored": 48, "total": 48}
    assert count(engine, RewardScore, RewardScore.run_id == run.id) == 48
    add_answers(engine, 1, prefix="new")
    assert worker.run_once().result["scored"] == 2  # only the new answers


# --- killed, stopped, one at a time ---------------------------------------------------------------------------------


@pytest.fixture
def sleep_kind(monkeypatch):
    monkeypatch.setitem(KINDS, SLEEP.name, SLEEP)
    monkeypatch.setenv("SLEEP_JOB_SECONDS", "0")  # in this process the job ends at once
    return SLEEP


def start_worker(engine, *options: str, **env: str) -> subprocess.Popen:
    """`python -m core worker` (with the sleep kind) in a process of its own, whose job sleeps a minute."""
    env = (
        os.environ | {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "SLEEP_JOB_SECONDS": "60"} | env
    )
    command = [sys.executable, "-m", "tests.job_worker", "--poll", "0.1", "--timeout", "2", "--check", "3600"]
    return subprocess.Popen([*command, *options], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def wait_for(engine, job_id: int, status: str, process: subprocess.Popen, seconds: float = 60) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        (job,) = jobs(engine, Job.id == job_id)
        if job.status == status and (status != "running" or job.progress.get("stage") == "sleeping"):
            return job
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not become {status} in {seconds} s")


def test_a_job_killed_with_sigkill_is_found_marked_failed_and_retried_once(any_engine, sleep_kind):
    job_id = records.enqueue(any_engine, "sleep", reason="a test")
    process = start_worker(any_engine)
    try:
        running = wait_for(any_engine, job_id, "running", process)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        process.kill()
    assert jobs(any_engine, Job.id == job_id)[0].status == "running"  # nobody has noticed yet
    time.sleep(FAST.timeout + 0.2)

    retry = Worker(any_engine, FAST).run_once()

    (lost,) = jobs(any_engine, Job.id == job_id)
    assert lost.status == "failed" and lost.finished_at is not None
    assert lost.error.startswith(f"lost: its worker {running.worker} stopped sending heartbeats")
    assert (retry.status, retry.attempt, retry.retry_of, retry.result) == ("done", 2, job_id, {"slept": True})
    assert retry.reason == f"retry of job {job_id}, which was lost"
    with session_scope(any_engine) as s:
        events = s.execute(select(AuditEvent.action, AuditEvent.entity_id).where(AuditEvent.entity == "job")).all()
    assert ("job.fail", job_id) in events and ("job.done", retry.id) in events

    # the retry is lost too: marked failed, and not retried again
    with session_scope(any_engine, write=True) as s:
        again = Job(kind="sleep", status="running", attempt=2, retry_of=job_id, worker="gone:1")
        again.heartbeat_at = utcnow() - timedelta(minutes=5)
        s.add(again)
        s.flush()
        again_id = again.id
    assert Worker(any_engine, FAST).run_once() is None
    assert [(j.id, j.status) for j in jobs(any_engine, Job.id >= again_id)] == [(again_id, "failed")]


def test_a_stopped_worker_puts_its_job_back_in_the_queue_and_loses_nothing(engine, sleep_kind):
    job_id = records.enqueue(engine, "sleep", reason="a test")
    process = start_worker(engine)
    try:
        wait_for(engine, job_id, "running", process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    (job,) = jobs(engine)
    assert (job.status, job.attempt, job.error, job.worker, job.started_at) == ("queued", 1, None, None, None)

    done = Worker(engine, FAST).run_once()
    assert (done.id, done.status, done.attempt) == (job_id, "done", 1)


def test_only_one_job_of_a_kind_runs_at_a_time_with_two_workers(any_engine, monkeypatch):
    started, release = threading.Event(), threading.Event()

    def blocking(engine, progress):
        started.set()
        assert release.wait(30)
        return {}

    gate = JobKind("gate", "Gate", "things", 1, (1, 10), lambda engine: Pending(1), blocking)
    monkeypatch.setitem(KINDS, "gate", gate)
    first, second = Worker(any_engine, FAST), Worker(any_engine, FAST)
    ran: list = []
    thread = threading.Thread(target=lambda: ran.append(first.run_once()))
    thread.start()
    try:
        assert started.wait(30)
        assert second.run_once() is None  # due again, but one of its kind runs: nothing queued, nothing run
        assert records.enqueue(any_engine, "gate", reason="again") is None
        assert [(j.status, j.worker) for j in jobs(any_engine)] == [("running", first.name)]
    finally:
        release.set()
        thread.join(30)
    assert ran[0].status == "done"
    assert second.run_once().status == "done"  # now the second one may
    assert [(j.status, j.worker) for j in jobs(any_engine)] == [("done", first.name), ("done", second.name)]


def test_two_worker_processes_never_run_two_jobs_of_a_kind_at_once(any_engine, sleep_kind):
    due = {"SLEEP_JOB_DUE": "1", "SLEEP_JOB_SECONDS": "0.5"}  # always due: both workers race to queue and run it
    workers = [start_worker(any_engine, "--check", "0", **due) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while len(jobs(any_engine, Job.status == "done")) < 4:
            assert time.monotonic() < deadline, "the workers did not run four jobs in a minute"
            assert all(w.poll() is None for w in workers), workers[0].stderr.read() + workers[1].stderr.read()
            time.sleep(0.2)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            assert process.wait(30) == 0
    done = sorted(jobs(any_engine, Job.status == "done"), key=lambda j: j.started_at)
    assert all(before.finished_at <= after.started_at for before, after in itertools.pairwise(done))
    assert [j.status for j in jobs(any_engine, Job.status != "done")] in ([], ["queued"])  # put back, or none yet


# --- refusals ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"kind": "moderation_retrain", "threshold": 9}, "threshold 9 for moderation_retrain is out of range: give 10"),
        ({"kind": "reward_train", "threshold": 10_000_001}, "give 10 to 10,000,000 new usable pairs"),
        ({"kind": "reward_score", "threshold": 0}, "threshold 0 for reward_score is out of range"),
        ({"kind": "moderation_retrain", "every_hours": 0}, "--every-hours 0 is out of range: give 1 to 8,760 hours"),
        ({"kind": "reward_train", "every_hours": 24}, "reward_train starts on its threshold alone"),
        ({"kind": "nightly", "threshold": 10}, "no job kind 'nightly': the kinds are moderation_retrain"),
    ],
)
def test_settings_out_of_range_are_refused_with_the_reason_and_nothing_is_written(engine, values, reason):
    admin = add_admin(engine)
    with pytest.raises(JobError, match=reason.replace("(", r"\(")):
        service.configure(actor=admin, **values)
    assert count(engine, JobSetting) == 0 and count(engine, AuditEvent) == 0


def test_an_admin_configures_a_kind_from_the_command_line_audited(engine, capsys):
    add_admin(engine)
    assert main(["worker", "configure", "moderation_retrain", "--threshold", "50", "--every-hours", "12"]) == 0
    assert capsys.readouterr().out.strip() == (
        "moderation_retrain: at least 50 new final labels, or every 12 h when there are any "
        "(promotion gate: auto-promote on, margin 0.000)"
    )
    assert main(["worker", "configure", "reward_score", "--off"]) == 0
    assert main(["worker", "configure", "reward_train", "--threshold", "0"]) == 1
    assert "threshold 0 for reward_train is out of range" in capsys.readouterr().err
    with session_scope(engine) as s:
        settings = {k.kind: k for k in job_settings.all_settings(s)}
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "job_setting.update")).scalars().first()
    assert (settings["moderation_retrain"].threshold, settings["moderation_retrain"].every_hours) == (50, 12)
    assert not settings["reward_score"].enabled and settings["reward_train"].threshold == 500
    assert event.before["threshold"] == 200 and event.after["threshold"] == 50 and event.actor_id is not None

    assert main(["worker", "status"]) == 0
    out = capsys.readouterr().out
    assert "reward_score         off" in out and "no jobs yet" in out


def test_only_admins_see_or_change_the_jobs(engine):
    users = add_users(engine)
    with pytest.raises(Forbidden):
        service.configure(actor=users["expert"], kind="reward_score", threshold=5)
    with pytest.raises(Forbidden):
        service.jobs_overview(actor=users["product_owner"])
    assert [k.kind for k in service.jobs_overview(actor=users["admin"]).settings] == list(KINDS)


@pytest.mark.parametrize("option", [["--poll", "0"], ["--timeout", "0.5"], ["--check", "-1"]])
def test_worker_options_out_of_range_are_refused(engine, option, capsys):
    assert main(["worker", "--once", *option]) == 1
    assert "is out of range" in capsys.readouterr().err


def test_a_worker_cannot_start_on_a_store_of_an_older_schema(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = get_engine(url)
    with migration_scope(old) as connection:
        migrate(connection, "0011")
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["worker", "--once"]) == 1
    error = capsys.readouterr().err
    newest = revisions()[-1]
    assert f"is at schema 0011; this version needs {newest}: upgrade it with `python -m core init` first" in error


# --- the page ------------------------------------------------------------------------------------------------------


def test_the_admins_home_page_shows_the_background_jobs(engine):
    users = add_users(engine)
    records.enqueue(engine, "reward_score", reason="6 unscored answers (at least 1)")
    with session_scope(engine, write=True) as s:
        s.execute(update(Job).values(status="failed", error="no active reward model", progress={"fraction": 0.25}))

    at = app(users["admin"])

    assert not at.exception
    assert "Background jobs" in [h.value for h in at.subheader]
    (table,) = [df.value for df in at.dataframe if "Error or reason" in df.value.columns]
    row = table.iloc[0]
    assert (row["Kind"], row["Status"], row["Error or reason"]) == (
        "Score new answers with the active reward model",
        "failed",
        "no active reward model",
    )
    assert row["Progress"] == 0.25
    assert any("at least 200 new final labels" in c.value for c in at.caption)
