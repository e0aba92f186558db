"""The webhook sender, run by the worker in a thread of its own: each pending alert is POSTed as JSON to
ALERT_WEBHOOK_URL, its exact body signed with HMAC-SHA256 under ALERT_WEBHOOK_SECRET in the header
`X-Workbench-Signature: sha256=<hex>` (as GitHub signs its webhooks). Every attempt goes in the delivery log.

A 2xx answer delivers the alert: it is never sent again. Anything else (another status, a refused connection, no
answer within the timeout) is retried with exponential backoff, BACKOFF_SECONDS doubled at each attempt, up to
MAX_ATTEMPTS; then the alert is marked failed. A sender claims an alert before it sends it (its next attempt pushed
past the time an attempt may take), so two workers never send one alert at once.

The secret signs and is nothing else: it is not logged, not written to the store, not shown. Errors are written with
the webhook's origin (scheme, host and port) in place of its address, whose path may hold a token."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, or_, select

from core.config import Settings, get_settings
from core.jobs import AlertError
from core.store.db import session_scope
from core.store.models import Alert, AlertDelivery, utcnow

TIMEOUT_SECONDS = 5.0  # for each of connecting, sending and waiting for the answer
BACKOFF_SECONDS = 30.0  # the first retry waits this long, each next one twice as long
MAX_ATTEMPTS = 6  # 30 s, 1, 2, 4 and 8 min between them: the last about 16 minutes after the first
SIGNATURE_HEADER = "X-Workbench-Signature"
ERROR_CHARS = 500


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str = field(repr=False)

    @property
    def origin(self) -> str:
        """scheme://host[:port]: what logs and the delivery log may show of the address."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    def redact(self, text: str) -> str:
        return text.replace(self.url, self.origin).replace(self.secret, "***")


def check_url(url: str) -> str:
    """The address, if it is an http(s) one with a host; refused with the reason otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        shown = f"a {parts.scheme}: address" if parts.scheme else "an address without a scheme"
        raise AlertError(
            f"ALERT_WEBHOOK_URL must be an http:// or https:// address (e.g. https://hooks.example.com/workbench); "
            f"it is {shown}"
        )
    if not parts.hostname:
        raise AlertError("ALERT_WEBHOOK_URL has no host: give e.g. https://hooks.example.com/workbench")
    return url.strip()


def configured_webhook(settings: Settings | None = None) -> Webhook | None:
    """The webhook the settings name (None: none set, alerts show on the Home page only); refused when its address
    is not http(s) or it has no secret to sign with."""
    settings = settings or get_settings()
    if not settings.alert_webhook_url:
        return None
    url = check_url(settings.alert_webhook_url)
    if not settings.alert_webhook_secret:
        raise AlertError(
            "ALERT_WEBHOOK_URL is set but ALERT_WEBHOOK_SECRET is not: set the secret the receiver checks each "
            "alert's signature with (or ALERT_WEBHOOK_SECRET_FILE, a file holding it)"
        )
    return Webhook(url, settings.alert_webhook_secret)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: "sha256=" and the HMAC-SHA256 of the exact body, in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(alert: Alert) -> bytes:
    """The event as the receiver gets it: the same bytes on every attempt."""
    event = {
        "id": alert.id,
        "kind": alert.kind,
        "key": alert.key,
        "summary": alert.summary,
        "details": alert.details,
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
        "source": "workbench",
    }
    return json.dumps(event, ensure_ascii=False, sort_keys=True, default=str).encode()


@dataclass(frozen=True)
class Attempt:
    alert_id: int
    kind: str
    attempt: int
    body: bytes
    status_code: int | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim(engine: Engine, *, now: datetime, hold_seconds: float) -> Attempt | None:
    """The oldest pending alert that is due, held for this sender for `hold_seconds`; None when none is due."""
    with session_scope(engine, write=True) as session:
        due = or_(Alert.next_attempt_at.is_(None), Alert.next_attempt_at <= now)
        statement = (
            select(Alert)
            .where(Alert.status == "pending", due)
            .order_by(Alert.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        alert = session.execute(statement).scalars().first()
        if alert is None:
            return None
        alert.attempts += 1
        alert.next_attempt_at = now + timedelta(seconds=hold_seconds)
        session.add(alert)
        return Attempt(alert.id, alert.kind, alert.attempts, body_of(alert))


def send(webhook: Webhook, attempt: Attempt, *, timeout: float = TIMEOUT_SECONDS) -> Attempt:
    """POST the body, signed; the attempt with the answer's status code or the error."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "workbench-alerts",
        SIGNATURE_HEADER: sign(webhook.secret, attempt.body),
        "X-Workbench-Event": attempt.kind,
        "X-Workbench-Delivery": f"{attempt.alert_id}.{attempt.attempt}",
    }
    started = time.monotonic()
    status_code, error = None, None
    try:
        response = httpx.post(webhook.url, content=attempt.body, headers=headers, timeout=timeout)
        status_code = response.status_code
    except httpx.TimeoutException:
        error = f"no answer from {webhook.origin} within {timeout:g} s (timed out)"
    except httpx.HTTPError as failure:
        error = webhook.redact(f"{type(failure).__name__}: {failure}")[:ERROR_CHARS]
    seconds = round(time.monotonic() - started, 3)
    return Attempt(attempt.alert_id, attempt.kind, attempt.attempt, attempt.body, status_code, error, seconds)


def record(engine: Engine, done: Attempt, *, now: datetime, backoff: float, max_attempts: int) -> str:
    """Log the attempt and move the alert on: delivered, due again after its backoff, or failed. Its new status."""
    with session_scope(engine, write=True) as session:
        session.add(
            AlertDelivery(
                alert_id=done.alert_id,
                attempt=done.attempt,
                at=now,
                status_code=done.status_code,
                error=done.error,
                seconds=done.seconds,
            )
        )
        alert = session.get(Alert, done.alert_id, with_for_update=True)
        if done.delivered:
            alert.status, alert.delivered_at, alert.next_attempt_at = "delivered", now, None
        elif done.attempt >= max_attempts:
            alert.status, alert.next_attempt_at = "failed", None
        else:
            alert.next_attempt_at = now + timedelta(seconds=backoff * 2 ** (done.attempt - 1))
        session.add(alert)
        return alert.status


def deliver_due(
    engine: Engine,
    webhook: Webhook,
    *,
    now: datetime | None = None,
    timeout: float = TIMEOUT_SECONDS,
    backoff: float = BACKOFF_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    limit: int = 20,
) -> list[Attempt]:
    """Send the alerts that are due (at most `limit`), oldest first; the attempts made. `now` is the clock (tests
    move it on to reach a retry)."""
    attempts = []
    for _ in range(limit):
        at = now or utcnow()
        claimed = claim(engine, now=at, hold_seconds=4 * timeout + 10)
        if claimed is None:
            break
        done = send(webhook, claimed, timeout=timeout)
        record(engine, done, now=now or utcnow(), backoff=backoff, max_attempts=max_attempts)
        attempts.append(done)
    return attempts
