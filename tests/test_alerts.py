"""Alerts: each trigger (the within-SLA share, drift, a sample-ratio alarm, a failed job, the promotion gate) raises
its alert once per occurrence; the webhook gets it signed, against a local receiver that checks the signature, is
retried after a 500 and never sent again after a 200; a receiver that hangs times out without holding up the worker;
without a webhook the admins' Home page shows the alerts; bad thresholds and addresses are refused; the secret shows
nowhere."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import threading
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, text
from sqlmodel import SQLModel

from core.auth import Forbidden
from core.cli.main import main
from core.config import get_settings
from core.jobs import AlertError, alerts, records, service
from core.jobs.webhook import SIGNATURE_HEADER, configured_webhook, deliver_due
from core.jobs.worker import Alerter, Worker, WorkerOptions, serve
from core.store.db import session_scope
from core.store.models import Alert, AlertDelivery, AlertSetting, AuditEvent, Experiment, ExperimentEvent, utcnow
from tests import audit_store as store
from tests.app_helpers import add_admin, add_users, app
from tests.job_worker import SLEEP

SECRET = "s3cret-webhook-key-7f2a"
NOW = store.at(days=6)  # the Sunday after store.T0: the last 7 days hold the items store.T0 onwards
RATERS = itertools.count()


# --- a local receiver ----------------------------------------------------------------------------------------------


class Receiver:
    """An HTTP server in a thread that checks each request's signature and answers with the next of `codes` (then
    200); with `hang`, it holds each request until released."""

    def __init__(self, codes: list[int] = (), *, hang: bool = False) -> None:
        self.codes, self.hang = list(codes), hang
        self.requests: list[tuple[bytes, dict[str, str], bool]] = []  # body, headers, signature valid
        self.arrived, self.release = threading.Event(), threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected)
                receiver.requests.append((body, dict(self.headers), valid))
                receiver.arrived.set()
                if receiver.hang:
                    receiver.release.wait(30)
                code = (receiver.codes.pop(0) if receiver.codes else 200) if valid else 401
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a hung request answered after its client left
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/workbench"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    """Makes receivers (`receiver(codes, hang=...)`); the webhook settings point at the last one made."""
    made = []

    def make(codes=(), *, hang=False) -> Receiver:
        made.append(Receiver(list(codes), hang=hang))
        monkeypatch.setenv("ALERT_WEBHOOK_URL", made[-1].url)
        monkeypatch.setenv("ALERT_WEBHOOK_SECRET", SECRET)
        return made[-1]

    yield make
    for r in made:
        r.close()


def raise_job_failure(engine, job_id: int = 7) -> int | None:
    with session_scope(engine, write=True) as s:
        return alerts.job_failed(s, job_id=job_id, kind="reward_train", attempt=1, error="out of memory", retried=False)


def rows(engine, model, *where) -> list:
    with session_scope(engine) as s:
        return list(s.execute(select(model).where(*where).order_by(*model.__table__.primary_key)).scalars())


def deliveries(engine) -> list[tuple]:
    return [(d.alert_id, d.attempt, d.status_code, d.error) for d in rows(engine, AlertDelivery)]


# --- the webhook ---------------------------------------------------------------------------------------------------


def test_a_500_is_retried_after_its_backoff_and_a_200_is_never_sent_again(any_engine, receiver):
    hook = receiver([500])
    alert_id = raise_job_failure(any_engine)
    webhook = configured_webhook()

    first = deliver_due(any_engine, webhook, now=NOW)
    assert [(a.status_code, a.error) for a in first] == [(500, None)]
    assert deliver_due(any_engine, webhook, now=NOW + timedelta(seconds=29)) == []  # its backoff: 30 s
    second = deliver_due(any_engine, webhook, now=NOW + timedelta(seconds=30))
    assert [(a.status_code, a.attempt) for a in second] == [(200, 2)]
    assert deliver_due(any_engine, webhook, now=NOW + timedelta(days=1)) == []

    assert len(hook.requests) == 2 and all(valid for _, _, valid in hook.requests)
    assert hook.requests[0][0] == hook.requests[1][0]  # the same signed bytes on each attempt
    event = json.loads(hook.requests[0][0])
    assert (event["id"], event["kind"], event["key"]) == (alert_id, "job_failed", "job:7")
    assert event["summary"] == "Job 7 (reward_train, attempt 1) failed: out of memory"
    assert event["details"]["error"] == "out of memory"
    assert hook.requests[0][1]["X-Workbench-Event"] == "job_failed"
    assert deliveries(any_engine) == [(alert_id, 1, 500, None), (alert_id, 2, 200, None)]
    (alert,) = rows(any_engine, Alert)
    assert (alert.status, alert.attempts, alert.delivered_at) == ("delivered", 2, NOW + timedelta(seconds=30))


def test_the_backoff_doubles_and_the_sender_gives_up_at_the_cap(engine, receiver):
    hook = receiver([503] * 10)
    raise_job_failure(engine)
    webhook, at = configured_webhook(), NOW
    waits = []
    for _ in range(3):
        assert len(deliver_due(engine, webhook, now=at, backoff=10, max_attempts=3)) == 1
        (alert,) = rows(engine, Alert)
        if alert.next_attempt_at is not None:
            waits.append((alert.next_attempt_at - at).total_seconds())
            at = alert.next_attempt_at
    assert waits == [10, 20]
    assert (alert.status, alert.attempts) == ("failed", 3)
    assert deliver_due(engine, webhook, now=at + timedelta(days=1), max_attempts=3) == []
    assert len(hook.requests) == 3
    assert [code for _, _, code, _ in deliveries(engine)] == [503, 503, 503]


def test_a_receiver_that_hangs_times_out_and_is_tried_again_later(engine, receiver):
    receiver(hang=True)
    raise_job_failure(engine)

    (attempt,) = deliver_due(engine, configured_webhook(), now=NOW, timeout=0.5)

    assert attempt.status_code is None and "within 0.5 s (timed out)" in attempt.error
    (alert,) = rows(engine, Alert)
    assert (alert.status, alert.next_attempt_at) == ("pending", NOW + timedelta(seconds=30))
    assert deliveries(engine)[0][3].startswith("no answer from http://127.0.0.1:")


def test_a_hanging_receiver_does_not_hold_up_the_worker(engine, receiver, monkeypatch):
    """The alerter's thread waits on the receiver while the worker runs a job to its end."""
    from core.jobs.kinds import KINDS

    monkeypatch.setitem(KINDS, SLEEP.name, SLEEP)
    monkeypatch.setenv("SLEEP_JOB_SECONDS", "0")
    hook = receiver(hang=True)
    raise_job_failure(engine)
    options = WorkerOptions(poll=0.1, timeout=5.0, check=3600.0, alert_check=3600.0)
    alerter = Alerter(engine, configured_webhook(), options).start()
    try:
        assert hook.arrived.wait(10)
        records.enqueue(engine, "sleep", reason="a test")
        done = Worker(engine, options).run_once()
        assert done.status == "done"
        assert deliveries(engine) == []  # the alert's attempt was still waiting on the receiver
    finally:
        hook.release.set()
        alerter.stop()
    assert [code for _, _, code, _ in deliveries(engine)] == [200]


# --- each trigger, once per occurrence -----------------------------------------------------------------------------


def finish_items(engine, hours: list[float]) -> None:
    """Rating items that arrived at store.T0, each finished after its hours."""
    with session_scope(engine, write=True) as s:
        name = f"rater{next(RATERS)}"
        person = store.users(s, name)[name]
        version = s.execute(text("SELECT id FROM model_version WHERE name = 'bot-v1'")).scalar()
        version = version or store.version(s, "bot-v1")
        for answer, h in zip(store.answers(s, version, len(hours)), hours, strict=True):
            store.work_item(s, "rating", answer, arrived=store.T0, judged=[(person, None, store.at(h))])


def open_alerts(engine) -> list[str]:
    return [a.key for a in rows(engine, Alert, Alert.cleared_at.is_(None))]


def test_the_sla_alert_is_raised_once_while_it_stands_and_again_when_it_comes_back(any_engine):
    finish_items(any_engine, [10, 20, 100, 120])  # 2 of 4 within 48 h: 50 %, below 90 %

    (first,) = alerts.check_conditions(any_engine, now=NOW)
    assert alerts.check_conditions(any_engine, now=NOW) == []  # it stands: nothing new
    (alert,) = rows(any_engine, Alert)
    assert alert.summary == (
        "Within-SLA share 50.0% over the last 7 days, below 90.0%: 2 of 4 items finished within 48 h"
    )
    assert alert.details["within_sla_share"] == 0.5

    finish_items(any_engine, [1] * 36)  # 38 of 40: 95 %
    assert alerts.check_conditions(any_engine, now=NOW) == []
    assert open_alerts(any_engine) == []

    finish_items(any_engine, [90] * 10)  # 38 of 50: 76 %
    (again,) = alerts.check_conditions(any_engine, now=NOW)
    assert again != first and open_alerts(any_engine) == ["sla"]
    assert [a.cleared_at is not None for a in rows(any_engine, Alert)] == [True, False]
    with session_scope(any_engine) as s:
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.entity == "alert")).scalars().all()
    assert actions == ["alert.raise", "alert.clear", "alert.raise"]


def test_the_sla_alert_follows_its_threshold(engine):
    finish_items(engine, [10] * 8 + [100] * 2)  # 80 %
    with session_scope(engine, write=True) as s:
        alerts.configure(s, values={"sla_share": 0.8}, actor_id=None)
    assert alerts.check_conditions(engine, now=NOW) == []  # at the threshold: not below it
    with session_scope(engine, write=True) as s:
        alerts.configure(s, values={"sla_share": 0.81}, actor_id=None)
    assert len(alerts.check_conditions(engine, now=NOW)) == 1


def add_scores(engine, version: str, week: int, low: int, high: int) -> None:
    with session_scope(engine, write=True) as s:
        found = s.execute(text("SELECT id FROM model_version WHERE name = :n"), {"n": version}).scalar()
        version_id = found or store.version(s, version, "moderation")
        for n, value in [(low, 0.05), (high, 1.0)]:
            for _ in range(n):
                store.score(s, store.moderation_item(s), version_id, value, when=store.at(days=7 * week))


def test_drift_above_its_threshold_raises_one_alert_per_version(any_engine):
    """Week 0: 50/50; week 1: 10/90, PSI 0.88 for mod-v1; mod-v2 stays at 50/50."""
    for week, (low, high) in enumerate(((50, 50), (10, 90))):
        add_scores(any_engine, "mod-v1", week, low, high)
        add_scores(any_engine, "mod-v2", week, 50, 50)
    now = store.at(days=9)

    (alert_id,) = alerts.check_conditions(any_engine, now=now)
    assert alerts.check_conditions(any_engine, now=now) == []

    (alert,) = rows(any_engine, Alert)
    assert (alert.id, alert.kind, alert.key) == (alert_id, "drift", "drift:mod-v1")
    assert alert.details["psi"] == pytest.approx((0.1 - 0.5) * -1.6094379 + (0.9 - 0.5) * 0.5877867, abs=1e-6)
    assert alert.summary.startswith("Moderation drift: PSI 0.88 for mod-v1 in the week of 2026-03-09")


def add_experiment(engine, name: str, units: dict[str, int]) -> None:
    with session_scope(engine, write=True) as s:
        experiment = Experiment(name=name, variant_a="control", variant_b="treatment", started_at=store.T0)
        s.add(experiment)
        s.flush()
        for variant, n in units.items():
            s.add_all(
                ExperimentEvent(
                    experiment_id=experiment.id,
                    unit_id=f"{variant}-{i}",
                    variant=variant,
                    metric="clicked",
                    value=i % 2,
                    at=store.T0,
                )
                for i in range(n)
            )


def test_a_sample_ratio_alarm_raises_one_alert_per_experiment(any_engine):
    add_experiment(any_engine, "greeting", {"control": 600, "treatment": 400})  # p far below 0.001
    add_experiment(any_engine, "footer", {"control": 500, "treatment": 490})

    (alert_id,) = alerts.check_conditions(any_engine, now=NOW)
    assert alerts.check_conditions(any_engine, now=NOW) == []

    (alert,) = rows(any_engine, Alert)
    assert (alert.id, alert.kind, alert.key) == (alert_id, "sample_ratio", "srm:greeting")
    assert "units per variant control: 600, treatment: 400 do not fit the planned split" in alert.summary
    assert alert.details["units"] == {"control": 600, "treatment": 400}


def test_a_failed_job_raises_its_alert_once_in_the_transaction_that_marks_it(any_engine, monkeypatch):
    from core.jobs.kinds import KINDS

    monkeypatch.setitem(KINDS, SLEEP.name, SLEEP)
    first = records.enqueue(any_engine, "sleep", reason="a test")
    job = records.claim(any_engine, "w1")
    assert records.fail(any_engine, job.id, "w1", error="RuntimeError: boom", progress={})
    assert not records.fail(any_engine, job.id, "w1", error="RuntimeError: boom", progress={})  # already failed

    records.enqueue(any_engine, "sleep", reason="again")
    lost = records.claim(any_engine, "w2")
    with session_scope(any_engine, write=True) as s:
        s.execute(
            text("UPDATE job SET heartbeat_at = :t WHERE id = :id"), {"t": NOW - timedelta(days=1), "id": lost.id}
        )
    records.recover_lost(any_engine, 60)
    records.recover_lost(any_engine, 60)

    found = [(a.kind, a.key, a.details["retried"]) for a in rows(any_engine, Alert)]
    assert found == [("job_failed", f"job:{first}", False), ("job_failed", f"job:{lost.id}", True)]
    assert rows(any_engine, Alert)[1].summary.startswith(
        f"Job {lost.id} (sleep, attempt 1) failed: lost: its worker w2"
    )


def test_the_gate_raises_one_alert_per_candidate_and_decision(any_engine):
    engine = any_engine

    def decide(promoted: bool) -> int | None:
        with session_scope(engine, write=True) as s:
            return alerts.gate_decision(
                s,
                model_kind="moderation",
                version="modclf-v3",
                promoted=promoted,
                reason="F1 0.84 against 0.80, difference +0.04 [+0.01, +0.07]",
                details={"metric": "f1", "difference": 0.04, "interval": [0.01, 0.07]},
            )

    held = decide(False)
    assert decide(False) is None
    promoted = decide(True)
    assert held and promoted
    found = [(a.kind, a.key, a.status) for a in rows(engine, Alert)]
    assert found == [
        ("gate_held_back", "gate:moderation:modclf-v3:held_back", "unsent"),
        ("gate_promoted", "gate:moderation:modclf-v3:promoted", "unsent"),
    ]
    assert rows(engine, Alert)[1].summary == (
        "The promotion gate promoted moderation modclf-v3: F1 0.84 against 0.80, difference +0.04 [+0.01, +0.07]"
    )


# --- without a webhook: the Home page ------------------------------------------------------------------------------


def test_without_a_webhook_the_admins_home_page_shows_the_alerts(engine):
    users = add_users(engine)
    raise_job_failure(engine)

    at = app(users["admin"])

    assert not at.exception
    assert "Alerts" in [h.value for h in at.subheader]
    assert any("No webhook is set" in c.value for c in at.caption)
    (table,) = [df.value for df in at.dataframe if "What" in df.value.columns]
    assert list(table["What"]) == ["Job 7 (reward_train, attempt 1) failed: out of memory"]
    assert list(table["Delivery"]) == ["shown here (no webhook)"]

    expert = app(users["expert"])
    assert not expert.exception
    assert "Alerts" not in [h.value for h in expert.subheader]


def test_the_home_page_shows_the_delivery_log(engine, receiver):
    users = add_users(engine)
    receiver([500])
    raise_job_failure(engine)
    deliver_due(engine, configured_webhook(), now=NOW)

    at = app(users["admin"])

    assert not at.exception
    (log,) = [df.value for df in at.dataframe if "Outcome" in df.value.columns]
    assert (log.iloc[0]["Alert"], log.iloc[0]["Attempt"], log.iloc[0]["Outcome"]) == (1, 1, "HTTP 500")
    assert any("Sent to the webhook at http://127.0.0.1:" in c.value for c in at.caption)
    assert not any("/hooks/workbench" in c.value for c in at.caption)


# --- bad input and safety ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"sla_share": 1.5}, "sla_share 1.5 is out of range: give 0.01 to 1"),
        ({"sla_share": 0}, "sla_share 0 is out of range"),
        ({"psi": -0.1}, "psi -0.1 is out of range: give 0.01 to 10"),
        ({"sla_hours": 0.5}, "sla_hours 0.5 is out of range: give 1 to 8760"),
        ({"window_days": 2.5}, "window_days 2.5 is not a whole number of days"),
        ({"psi": 0.3, "window_days": 0}, "window_days 0 is out of range"),
        ({"psi": float("nan")}, "psi nan is out of range"),
    ],
)
def test_thresholds_out_of_range_are_refused_with_the_reason_and_nothing_is_written(engine, values, reason):
    admin = add_admin(engine)
    with pytest.raises(AlertError, match=reason.replace("(", r"\(")):
        service.configure_alerts(actor=admin, **values)
    assert rows(engine, AlertSetting) == []
    assert rows(engine, AuditEvent, AuditEvent.action == "alert_setting.update") == []


def test_an_admin_sets_the_thresholds_audited(engine):
    admin = add_admin(engine)
    done = service.configure_alerts(actor=admin, sla_share=0.8, psi=0.3)
    assert done == {"sla_share": 0.8, "sla_hours": 48.0, "psi": 0.3, "window_days": 7.0}
    (event,) = rows(engine, AuditEvent, AuditEvent.action == "alert_setting.update")
    assert (event.actor_id, event.before["sla_share"], event.after["sla_share"], event.after["psi"]) == (
        admin.id,
        0.9,
        0.8,
        0.3,
    )
    assert [(t.name, t.value) for t in service.alerts_overview(actor=admin).thresholds][:3] == [
        ("sla_share", 0.8),
        ("sla_hours", 48.0),
        ("psi", 0.3),
    ]


@pytest.mark.parametrize(
    ("url", "secret", "reason"),
    [
        ("ftp://hooks.example.com/x", SECRET, "must be an http:// or https:// address"),
        ("file:///etc/passwd", SECRET, "it is a file: address"),
        ("hooks.example.com/x", SECRET, "an address without a scheme"),
        ("https:///x", SECRET, "has no host"),
        ("https://hooks.example.com/x", None, "ALERT_WEBHOOK_SECRET is not"),
    ],
)
def test_a_webhook_that_is_not_http_or_has_no_secret_is_refused(engine, monkeypatch, url, secret, reason):
    monkeypatch.setenv("ALERT_WEBHOOK_URL", url)
    monkeypatch.delenv("ALERT_WEBHOOK_SECRET", raising=False)
    if secret:
        monkeypatch.setenv("ALERT_WEBHOOK_SECRET", secret)
    with pytest.raises(AlertError, match=reason):
        configured_webhook()
    with pytest.raises(AlertError, match=reason):  # the worker does not start
        serve(engine, once=True)
    admin = add_admin(engine)
    assert reason in service.alerts_overview(actor=admin).problem


def test_the_secret_is_never_logged_stored_or_shown(engine, receiver, caplog, capsys, monkeypatch):
    users = add_users(engine)
    receiver([500])
    monkeypatch.setenv("CLI_USER", users["admin"].username)
    monkeypatch.setattr("core.jobs.worker.signal.signal", lambda *args: None)  # the test runner keeps its handlers
    caplog.set_level(logging.DEBUG)
    raise_job_failure(engine)
    serve(engine, WorkerOptions(alert_check=0.0), once=True)  # checks the conditions, sends: a 500
    deliver_due(engine, configured_webhook(), now=utcnow() + timedelta(hours=1))  # a 200
    assert main(["worker", "alerts"]) == 0

    assert [code for _, _, code, _ in deliveries(engine)] == [500, 200]
    shown = caplog.text + capsys.readouterr().out + repr(get_settings()) + repr(configured_webhook())
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            shown += "\n".join(repr(tuple(row)) for row in conn.execute(select(table)))
    at = app(users["admin"])
    shown += repr([e.value for kind in (at.markdown, at.caption, at.error, at.info) for e in kind])
    shown += "".join(df.value.to_csv() for df in at.dataframe)
    assert "alerts go to http://127.0.0.1" in caplog.text  # the log says where, by origin
    assert SECRET not in shown


# --- who may ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["lead", "expert", "annotator", "product_owner"])
def test_only_admins_see_the_alerts_and_change_their_thresholds(engine, role):
    users = add_users(engine)
    with pytest.raises(Forbidden, match="Only admins may see the alerts"):
        service.alerts_overview(actor=users[role])
    with pytest.raises(Forbidden, match="Only admins may change the alert thresholds"):
        service.configure_alerts(actor=users[role], sla_share=0.5)
    assert rows(engine, AlertSetting) == []
    inactive = replace(users["admin"], active=False)
    with pytest.raises(Forbidden, match="inactive"):
        service.alerts_overview(actor=inactive)


def test_the_command_line_lists_the_alerts_and_sets_the_thresholds(engine, monkeypatch, capsys):
    admin = add_admin(engine)
    monkeypatch.setenv("CLI_USER", admin.username)
    raise_job_failure(engine)

    assert main(["worker", "alerts", "configure", "--sla-share", "0.85", "--window-days", "14"]) == 0
    assert "sla_share 0.85" in capsys.readouterr().out
    assert main(["worker", "alerts"]) == 0
    out = capsys.readouterr().out
    assert "none (ALERT_WEBHOOK_URL unset)" in out and "window_days  14" in out
    assert "Job 7 (reward_train, attempt 1) failed: out of memory" in out
    assert main(["worker", "alerts", "configure", "--psi", "99"]) != 0
    assert "psi 99 is out of range" in capsys.readouterr().err
    with session_scope(engine) as s:
        assert alerts.thresholds(s)["psi"] == 0.25
