"""A year of a busy workbench for the dashboard benchmark: N judgments (45 % ratings, 25 % comparisons, 30 %
moderation labels) with their work items, assignments and audit events, moderation scores, imports, model versions
and reward-model runs, written by bulk Core inserts (executemany in batches; no importer, no ORM objects).

Shape, for N = 1,000,000: 300,000 answers rated (half of them by two experts), 125,000 pairs compared by two
experts each, 200,000 moderation items labelled (half by two annotators, the disagreements adjudicated), about
1,000,000 assignments and audit events (one per judgment, 2 % changed later); arrivals spread evenly over
the last 365 days, judgments hours to days after them (the latest still waiting: the backlog); four chatbot
versions (one a quarter), three moderation versions (registered as retrains on the labels up to an hour before) whose
scores creep up over the year; ten reward-model runs a month apart, each on its own snapshot; one expert who answers
in seconds and at random (an outlier)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from core.store.models import (
    Adjudication,
    Assignment,
    AuditEvent,
    Comparison,
    DatasetSnapshot,
    ImportRun,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    QueueConfig,
    Rating,
    Response,
    RewardModelRun,
    User,
    WorkItem,
    utcnow,
)

BATCH = 20_000
DAYS = 365
EXPERTS, ANNOTATORS = 40, 20
OUTLIER = "expert-fast"
CHATBOTS = ("chatbot-q1", "chatbot-q2", "chatbot-q3", "chatbot-q4")
MODERATORS = ("modclf-1", "modclf-2", "modclf-3")
# Each table's columns as the rows below give them, in the order the foreign keys need the tables written.
COLUMNS: dict[Any, tuple[str, ...]] = {
    User: ("id", "username", "display_name", "role", "active", "failed_logins", "created_at"),
    ModelVersion: ("id", "name", "kind", "notes", "meta", "created_at"),
    Prompt: ("id", "external_id", "source", "text", "topic", "meta", "created_at"),
    Response: ("id", "external_id", "prompt_id", "model_version_id", "text", "meta", "created_at"),
    ModerationItem: ("id", "external_id", "source", "text", "meta", "created_at"),
    ModerationScore: ("item_id", "model_version_id", "score", "predicted_label", "categories", "created_at"),
    Rating: ("id", "key", "source", "response_id", "user_id", "helpfulness", "harmlessness", "accuracy", "flags",
             "rationale", "seconds_spent", "created_at"),
    Comparison: ("id", "key", "source", "prompt_id", "response_a_id", "response_b_id", "version_a_id", "version_b_id",
                 "left_response_id", "choice", "strength", "rationale", "user_id", "seconds_spent", "created_at"),
    ModerationLabel: ("id", "key", "source", "item_id", "user_id", "label", "categories", "note", "seconds_spent",
                      "created_at"),
    Adjudication: ("item_id", "user_id", "final_label", "categories", "reason", "created_at"),
    WorkItem: ("id", "queue", "subject_id", "subject_b_id", "priority", "k", "done", "open", "is_gold", "gold_answer",
               "created_at"),
    Assignment: ("work_item_id", "user_id", "status", "judgment_id", "started_at", "expires_at", "updated_at"),
    AuditEvent: ("at", "actor_id", "action", "entity", "entity_id", "before", "after"),
}  # fmt: skip


class _Writer:
    """Rows per table, written in batches (every table at once, parents first)."""

    def __init__(self, conn) -> None:
        self.conn, self.rows, self.ids = conn, {model: [] for model in COLUMNS}, dict.fromkeys(COLUMNS, 0)

    def next_id(self, model) -> int:
        self.ids[model] += 1
        return self.ids[model]

    def add(self, model, *values: Any) -> None:
        self.rows[model].append(values)
        if len(self.rows[model]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        for model, columns in COLUMNS.items():
            if self.rows[model]:
                self.conn.execute(
                    insert(model.__table__), [dict(zip(columns, r, strict=True)) for r in self.rows[model]]
                )
                self.rows[model] = []


class _Year:
    def __init__(self, now: datetime, rng: random.Random) -> None:
        self.now, self.rng, self.start = now, rng, now - timedelta(days=DAYS)

    def arrival(self, i: int, n: int) -> datetime:
        """Evenly spread, in order: item i of n arrives at i/n of the year (ids follow time)."""
        return self.start + timedelta(seconds=(DAYS * 86400 - 3600) * i / n)

    def judged(self, arrived: datetime) -> datetime | None:
        """Hours to days later (lognormal, median about 20 h); None if that is still in the future (backlog)."""
        at = arrived + timedelta(hours=min(self.rng.lognormvariate(3.0, 1.1), 24 * 30))
        return at if at < self.now else None

    def judges(self, people: list[int], k: int, arrived: datetime) -> list[tuple[int, datetime]]:
        """k different people, and when each judged (only those who already have), earliest first."""
        times = sorted(t for t in (self.judged(arrived) for _ in range(k)) if t is not None)
        return list(zip(self.rng.sample(people, k), times, strict=False))


def build_dashboard_store(engine: Engine, *, judgments: int, seed: int = 7, progress: Callable | None = None) -> dict:
    """Fill an empty, migrated store; returns what was written, counted."""
    now = utcnow().replace(microsecond=0)
    year, say = _Year(now, random.Random(seed)), progress or (lambda _message: None)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        w = _Writer(conn)
        experts, annotators, leads = _users(w, now)
        chatbots, moderators = _versions(w, now)
        say("  answers and ratings ...")
        counts |= _ratings(w, year, judgments * 45 // 100 * 2 // 3, experts, chatbots)
        say("  pairs and comparisons ...")
        counts |= _comparisons(w, year, judgments * 25 // 100 // 2, experts, chatbots)
        say("  moderation items, scores, labels ...")
        counts |= _moderation(w, year, judgments * 30 // 100 * 2 // 3, annotators, leads, moderators)
        w.flush()
        _imports_and_runs(conn, year)
        conn.execute(insert(QueueConfig.__table__), [
            {"name": queue, "k": k, "lease_minutes": 15, "gold_share": 0.05, "versions": list(CHATBOTS[-2:]),
             "updated_at": now}
            for queue, k in (("rating", 1), ("comparison", 2))
        ])  # fmt: skip
    counts["judgments"] = counts["ratings"] + counts["comparisons"] + counts["labels"] + counts["adjudications"]
    return counts


def _users(w: _Writer, now: datetime) -> tuple[list[int], list[int], list[int]]:
    names = [f"expert{n:02d}" for n in range(EXPERTS - 1)] + [OUTLIER]
    names += [f"annotator{n:02d}" for n in range(ANNOTATORS)] + ["lead0", "lead1", "lead2"]
    groups: dict[str, list[int]] = {"expert": [], "annotator": [], "lead": []}
    for name in names:
        user_id = w.next_id(User)
        w.add(User, user_id, name, name, "annotator" if name.startswith("annotator") else "expert", True, 0, now)
        groups[next(g for g in groups if name.startswith(g))].append(user_id)
    return groups["expert"], groups["annotator"], groups["lead"]


def _versions(w: _Writer, now: datetime) -> tuple[list[tuple[int, datetime]], list[tuple[int, datetime]]]:
    """(id, registered) of the chatbot and the moderation versions, registered at even steps over the year."""
    out = []
    for names, kind in ((CHATBOTS, "chatbot"), (MODERATORS, "moderation")):
        made = []
        for i, name in enumerate(names):
            made.append((w.next_id(ModelVersion), now - timedelta(days=DAYS * (1 - i / len(names)))))
            w.add(ModelVersion, made[-1][0], name, kind, "", _meta(kind, made[-1][1]), made[-1][1])
        out.append(made)
    return out[0], out[1]


def _meta(kind: str, registered: datetime) -> dict:
    """A moderation version as a retrain registers it (trained on the final labels up to an hour before), so the
    loop latency has versions to measure."""
    if kind != "moderation":
        return {}
    newest = registered - timedelta(hours=1)
    return {"retrain": {"newest_label_at": newest.isoformat(), "ready_at": registered.isoformat()}}


def _current(versions: list[tuple[int, datetime]], at: datetime, back: int = 0) -> int:
    """The version live at `at` (back=1: the one before it)."""
    live = [v for v, registered in versions if registered <= at] or [versions[0][0]]
    return live[max(0, len(live) - 1 - back)]


def _prompt_and_answers(w: _Writer, at: datetime, versions: list[int]) -> tuple[int, list[int]]:
    prompt = w.next_id(Prompt)
    w.add(Prompt, prompt, f"p{prompt}", "import", f"Question {prompt}?", None, {}, at)
    answers = []
    for version in versions:
        answers.append(w.next_id(Response))
        w.add(Response, answers[-1], f"r{answers[-1]}", prompt, version, f"Answer {answers[-1]}", {}, at)
    return prompt, answers


def _seconds(rng: random.Random, user_id: int, outlier_id: int) -> float:
    return round(rng.lognormvariate(math.log(8 if user_id == outlier_id else 60), 0.5), 1)


def _work_item(w: _Writer, queue: str, subject: int, subject_b: int, k: int, done: int, arrived, gold=None) -> int:
    item = w.next_id(WorkItem)
    w.add(WorkItem, item, queue, subject, subject_b, 0, k, done, gold is not None or done < k, gold is not None, gold,
          arrived)  # fmt: skip
    return item


def _done(w: _Writer, item: int, user: int, judgment: int, at: datetime, seconds: float, kind: str, after: dict):
    """The assignment closed by a judgment, and its audit event (2 % of judgments are changed a little later)."""
    w.add(Assignment, item, user, "done", judgment, at - timedelta(seconds=seconds), at, at)
    w.add(AuditEvent, at, user, f"{kind}.create", kind, judgment, None, after)
    if judgment % 50 == 0:
        w.add(AuditEvent, at + timedelta(minutes=5), user, f"{kind}.update", kind, judgment, after, after)


def _ratings(w: _Writer, year: _Year, n: int, experts: list[int], chatbots) -> dict[str, int]:
    rng, outlier, made = year.rng, experts[-1], 0
    for i in range(n):
        arrived = year.arrival(i, n)
        _, (answer,) = _prompt_and_answers(w, arrived, [_current(chatbots, arrived)])
        k, truth = 2 if i % 2 == 0 else 1, [rng.randint(2, 5) for _ in range(3)]
        judges = year.judges(experts, k, arrived)
        item = _work_item(
            w, "rating", answer, 0, k, len(judges), arrived, {"accuracy": truth[2]} if i % 500 == 0 else None
        )
        for user, at in judges:
            noisy = [rng.randint(1, 5) if user == outlier else min(5, max(1, t + rng.choice((-1, 0, 0, 0, 1))))
                     for t in truth]  # fmt: skip
            flags = ["incorrect"] if noisy[2] <= 1 and rng.random() < 0.5 else []
            rating, seconds = w.next_id(Rating), _seconds(rng, user, outlier)
            why = "wrong" if flags else ""
            w.add(Rating, rating, f"b:r:{rating}", "app", answer, user, *noisy, flags, why, seconds, at)
            _done(w, item, user, rating, at, seconds, "rating", {"accuracy": noisy[2]})
            made += 1
    return {"answers_rated": n, "ratings": made}


def _comparisons(w: _Writer, year: _Year, n: int, experts: list[int], chatbots) -> dict[str, int]:
    rng, outlier, made = year.rng, experts[-1], 0
    for i in range(n):
        arrived = year.arrival(i, n)
        versions = [_current(chatbots, arrived, back=1), _current(chatbots, arrived)]
        prompt, (a, b) = _prompt_and_answers(w, arrived, versions)
        better = "b" if rng.random() < 0.6 else rng.choice(("a", "tie", "both_bad"))
        judges = year.judges(experts, 2, arrived)
        item = _work_item(w, "comparison", a, b, 2, len(judges), arrived)
        for user, at in judges:
            choice = rng.choice(("a", "b", "tie", "both_bad")) if user == outlier or rng.random() < 0.15 else better
            comparison, seconds = w.next_id(Comparison), _seconds(rng, user, outlier)
            strength = "clear" if choice in ("a", "b") else None
            w.add(Comparison, comparison, f"b:c:{comparison}", "app", prompt, a, b, *versions, a, choice, strength, "",
                  user, seconds, at)  # fmt: skip
            _done(w, item, user, comparison, at, seconds, "comparison", {"choice": choice})
            made += 1
    return {"pairs": n, "comparisons": made}


def _moderation(w: _Writer, year: _Year, n: int, annotators: list[int], leads: list[int], moderators) -> dict:
    rng, made, adjudicated, scores = year.rng, 0, 0, 0
    for i in range(n):
        arrived = year.arrival(i, n)
        item = w.next_id(ModerationItem)
        w.add(ModerationItem, item, f"m{item}", "import", f"comment {item}", {}, arrived)
        toxic = rng.random() < 0.3
        creep = 0.1 * (arrived - year.start).days / DAYS  # scores creep up over the year: drift
        for version, registered in moderators:
            if registered <= arrived or version == moderators[0][0]:
                score = min(1.0, max(0.0, rng.gauss(0.7 if toxic else 0.25, 0.18) + creep))
                w.add(ModerationScore, item, version, score, "toxic" if score >= 0.5 else "not_toxic", [], arrived)
                scores += 1
        k = 2 if i % 2 == 0 else 1
        judges = year.judges(annotators, k, arrived)
        work = _work_item(w, "moderation", item, 0, k, len(judges), arrived)
        given = []
        for user, at in judges:
            right = rng.random() < 0.88
            label = "toxic" if toxic == right else "not_toxic"
            label_id, seconds = w.next_id(ModerationLabel), _seconds(rng, user, -1)
            w.add(ModerationLabel, label_id, f"b:l:{label_id}", "app", item, user, label, [], "", seconds, at)
            _done(w, work, user, label_id, at, seconds, "moderation_label", {"label": label})
            given.append((label, at))
            made += 1
        decided = max((at for _, at in given), default=year.now) + timedelta(hours=rng.uniform(1, 48))
        if len({label for label, _ in given}) == 2 and decided < year.now:
            w.add(Adjudication, item, rng.choice(leads), "toxic" if toxic else "not_toxic", [], "checked", decided)
            adjudicated += 1
    return {"moderation_items": n, "moderation_scores": scores, "labels": made, "adjudications": adjudicated}


def _imports_and_runs(conn, year: _Year) -> None:
    """An import of each kind every other day (5 % refused), and ten finished reward-model runs a month apart, each
    on a snapshot taken when it started (a month's comparisons more than the one before)."""
    rng, runs = year.rng, []
    for day in range(0, DAYS, 2):
        at = year.start + timedelta(days=day, hours=rng.uniform(0, 23))
        for kind in ("conversations", "moderation", "ratings"):
            refused, rows = rng.random() < 0.05, rng.randint(500, 5000)
            runs.append({"kind": kind, "file_name": f"{kind}-{day}.jsonl", "status": "refused" if refused else "done",
                         "rows_read": rows, "rows_added": 0 if refused else rows, "rows_present": 0,
                         "rows_refused": rng.randint(1, 20) if refused else 0, "errors": [], "actor_id": None,
                         "started_at": at, "finished_at": at + timedelta(seconds=30)})  # fmt: skip
    conn.execute(insert(ImportRun.__table__), runs)
    snapshots = [
        conn.execute(
            insert(DatasetSnapshot.__table__).returning(DatasetSnapshot.id),
            {"kind": "reward-pairs", "content_hash": f"bench-{m}", "row_count": 1000, "filters": {}, "path": "-",
             "created_at": year.start + timedelta(days=30 * m + 5)},
        ).scalar_one()
        for m in range(10)
    ]  # fmt: skip
    conn.execute(insert(RewardModelRun.__table__), [
        {"snapshot_id": snapshots[m], "base_model": "all-MiniLM-L6-v2", "params": {}, "progress": {}, "status": "done",
         "metrics": {"accuracy": 0.62 + 0.02 * m, "accuracy_ci": [0.58 + 0.02 * m, 0.66 + 0.02 * m],
                     "n_eval_pairs": 1000},
         "is_active": m == 9, "started_at": year.start + timedelta(days=30 * m + 5),
         "finished_at": year.start + timedelta(days=30 * m + 6)}
        for m in range(10)
    ])  # fmt: skip
