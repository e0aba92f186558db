"""A year of a busy workbench for the dashboard benchmark: N judgments (45 % ratings, 25 % comparisons, 30 %
moderation labels) with their work items, assignments and audit events, moderation scores, imports, model versions
and reward-model runs, written by bulk Core inserts (executemany in batches; no importer, no ORM objects).

Shape, for N = 1,000,000: 300,000 answers rated (half of them by two experts), 125,000 pairs compared by two
experts each, 200,000 moderation items labelled (half by two annotators, the disagreements adjudicated), 1,000,000
assignments and about 1,020,000 audit events (one per judgment, 2 % changed later); arrivals spread evenly over the
last 365 days, judgments hours to days after them; open backlog in every queue; four chatbot versions (one a quarter),
three moderation versions; one expert who answers in seconds and at random (an outlier)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from core.models import (
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


class _Writer:
    """Rows per table, flushed in batches in the table order that foreign keys need."""

    def __init__(self, conn) -> None:
        self.conn, self.rows, self.ids = conn, {}, {}
        self.order = [
            User,
            ModelVersion,
            Prompt,
            Response,
            ModerationItem,
            ModerationScore,
            Rating,
            Comparison,
            ModerationLabel,
            Adjudication,
            WorkItem,
            Assignment,
            AuditEvent,
        ]

    def next_id(self, model) -> int:
        self.ids[model] = self.ids.get(model, 0) + 1
        return self.ids[model]

    def add(self, model, row: dict[str, Any]) -> None:
        self.rows.setdefault(model, []).append(row)
        if len(self.rows[model]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        for model in self.order:
            if self.rows.get(model):
                self.conn.execute(insert(model.__table__), self.rows[model])
                self.rows[model] = []


def _clamp(value: int) -> int:
    return min(5, max(1, value))


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


def build_dashboard_store(engine: Engine, *, judgments: int, seed: int = 7, progress: Callable | None = None) -> dict:
    """Fill an empty, migrated store; returns what was written, counted."""
    rng, now = random.Random(seed), utcnow().replace(microsecond=0)
    year = _Year(now, rng)
    n_rated = judgments * 45 // 100 * 2 // 3
    n_pairs = judgments * 25 // 100 // 2
    n_items = judgments * 30 // 100 * 2 // 3
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        w = _Writer(conn)
        experts, annotators, leads = _users(w)
        chatbots, moderators = _versions(w, now)
        say = progress or (lambda _m: None)
        say("  answers and ratings ...")
        counts |= _ratings(w, year, n_rated, experts, chatbots)
        say("  pairs and comparisons ...")
        counts |= _comparisons(w, year, n_pairs, experts, chatbots)
        say("  moderation items, scores, labels ...")
        counts |= _moderation(w, year, n_items, annotators, leads, moderators)
        w.flush()
        _imports_and_runs(conn, year)
        conn.execute(
            insert(QueueConfig.__table__),
            [
                {
                    "name": "rating",
                    "k": 1,
                    "lease_minutes": 15,
                    "gold_share": 0.05,
                    "versions": list(CHATBOTS[-2:]),
                    "updated_at": now,
                },
                {
                    "name": "comparison",
                    "k": 2,
                    "lease_minutes": 15,
                    "gold_share": 0.05,
                    "versions": list(CHATBOTS[-2:]),
                    "updated_at": now,
                },
            ],
        )
    counts["judgments"] = counts["ratings"] + counts["comparisons"] + counts["labels"] + counts["adjudications"]
    return counts


def _users(w: _Writer) -> tuple[list[int], list[int], list[int]]:
    names = [f"expert{n:02d}" for n in range(EXPERTS - 1)] + [OUTLIER]
    names += [f"annotator{n:02d}" for n in range(ANNOTATORS)] + ["lead0", "lead1", "lead2"]
    ids = {}
    for name in names:
        role = "annotator" if name.startswith("annotator") else "expert"
        ids[name] = w.next_id(User)
        w.add(
            User,
            {
                "id": ids[name],
                "username": name,
                "display_name": name,
                "role": role,
                "active": True,
                "failed_logins": 0,
                "created_at": utcnow(),
            },
        )
    experts = [ids[n] for n in names if n.startswith("expert")]
    return (
        experts,
        [ids[n] for n in names if n.startswith("annotator")],
        [ids[n] for n in names if n.startswith("lead")],
    )


def _versions(w: _Writer, now: datetime) -> tuple[list[tuple[int, datetime]], list[tuple[int, datetime]]]:
    out = []
    for names, kind in ((CHATBOTS, "chatbot"), (MODERATORS, "moderation")):
        made = []
        for i, name in enumerate(names):
            created = now - timedelta(days=DAYS) + timedelta(days=DAYS * i / len(names))
            made.append((w.next_id(ModelVersion), created))
            w.add(
                ModelVersion,
                {"id": made[-1][0], "name": name, "kind": kind, "notes": "", "meta": {}, "created_at": created},
            )
        out.append(made)
    return out[0], out[1]


def _current(versions: list[tuple[int, datetime]], at: datetime, back: int = 0) -> int:
    live = [v for v, created in versions if created <= at] or [versions[0][0]]
    return live[max(0, len(live) - 1 - back)]


def _prompt_and_answers(w: _Writer, at: datetime, version_ids: list[int]) -> tuple[int, list[int]]:
    prompt_id = w.next_id(Prompt)
    w.add(
        Prompt,
        {
            "id": prompt_id,
            "external_id": f"p{prompt_id}",
            "source": "import",
            "text": f"Question {prompt_id}?",
            "topic": None,
            "meta": {},
            "created_at": at,
        },
    )
    ids = []
    for version_id in version_ids:
        ids.append(w.next_id(Response))
        w.add(
            Response,
            {
                "id": ids[-1],
                "external_id": f"r{ids[-1]}",
                "prompt_id": prompt_id,
                "model_version_id": version_id,
                "text": f"Answer {ids[-1]}",
                "meta": {},
                "created_at": at,
            },
        )
    return prompt_id, ids


def _seconds(rng: random.Random, user_id: int, outlier_id: int) -> float:
    return round(rng.lognormvariate(math.log(8 if user_id == outlier_id else 60), 0.5), 1)


def _judge(w, item_id, user_id, judgment_id, judged, seconds, action, entity, after, rng) -> None:
    w.add(
        Assignment,
        {
            "work_item_id": item_id,
            "user_id": user_id,
            "status": "done",
            "judgment_id": judgment_id,
            "started_at": judged - timedelta(seconds=seconds),
            "expires_at": judged,
            "updated_at": judged,
        },
    )
    w.add(
        AuditEvent,
        {
            "at": judged,
            "actor_id": user_id,
            "action": f"{action}.create",
            "entity": entity,
            "entity_id": judgment_id,
            "before": None,
            "after": after,
        },
    )
    if rng.random() < 0.02:
        w.add(
            AuditEvent,
            {
                "at": judged + timedelta(minutes=5),
                "actor_id": user_id,
                "action": f"{action}.update",
                "entity": entity,
                "entity_id": judgment_id,
                "before": after,
                "after": after,
            },
        )


def _work_item(w, queue, subject, subject_b, k, done, arrived, gold=None) -> int:
    item_id = w.next_id(WorkItem)
    w.add(
        WorkItem,
        {
            "id": item_id,
            "queue": queue,
            "subject_id": subject,
            "subject_b_id": subject_b,
            "priority": 0,
            "k": k,
            "done": done,
            "open": gold is not None or done < k,
            "is_gold": gold is not None,
            "gold_answer": gold,
            "created_at": arrived,
        },
    )
    return item_id


def _ratings(w, year, n, experts, chatbots) -> dict[str, int]:
    rng, outlier, made = year.rng, experts[-1], 0
    for i in range(n):
        arrived = year.arrival(i, n)
        _, (answer,) = _prompt_and_answers(w, arrived, [_current(chatbots, arrived)])
        k = 2 if i % 2 == 0 else 1
        truth = [rng.randint(2, 5) for _ in range(3)]
        gold = {"accuracy": truth[2]} if i % 500 == 0 else None
        judges = rng.sample(experts, k)
        times = sorted(t for t in (year.judged(arrived) for _ in judges) if t is not None)
        item_id = _work_item(w, "rating", answer, 0, k, len(times), arrived, gold)
        for user, judged in zip(judges, times, strict=False):
            scores = [rng.randint(1, 5) if user == outlier else _clamp(t + rng.choice((-1, 0, 0, 0, 1))) for t in truth]
            flags = ["incorrect"] if scores[2] <= 1 and rng.random() < 0.5 else []
            rating_id = w.next_id(Rating)
            seconds = _seconds(rng, user, outlier)
            w.add(
                Rating,
                {
                    "id": rating_id,
                    "key": f"b:r:{rating_id}",
                    "source": "app",
                    "response_id": answer,
                    "user_id": user,
                    "helpfulness": scores[0],
                    "harmlessness": scores[1],
                    "accuracy": scores[2],
                    "flags": flags,
                    "rationale": "wrong" if flags else "",
                    "seconds_spent": seconds,
                    "created_at": judged,
                    "updated_at": None,
                },
            )
            _judge(w, item_id, user, rating_id, judged, seconds, "rating", "rating", {"accuracy": scores[2]}, rng)
            made += 1
    return {"answers_rated": n, "ratings": made}


def _comparisons(w, year, n, experts, chatbots) -> dict[str, int]:
    rng, outlier, made = year.rng, experts[-1], 0
    for i in range(n):
        arrived = year.arrival(i, n)
        old, new = _current(chatbots, arrived, back=1), _current(chatbots, arrived)
        prompt_id, (a, b) = _prompt_and_answers(w, arrived, [old, new])
        better = "b" if rng.random() < 0.6 else rng.choice(("a", "tie", "both_bad"))
        judges = rng.sample(experts, 2)
        times = sorted(t for t in (year.judged(arrived) for _ in judges) if t is not None)
        item_id = _work_item(w, "comparison", a, b, 2, len(times), arrived)
        for user, judged in zip(judges, times, strict=False):
            choice = rng.choice(("a", "b", "tie", "both_bad")) if user == outlier or rng.random() < 0.15 else better
            comparison_id = w.next_id(Comparison)
            seconds = _seconds(rng, user, outlier)
            w.add(
                Comparison,
                {
                    "id": comparison_id,
                    "key": f"b:c:{comparison_id}",
                    "source": "app",
                    "prompt_id": prompt_id,
                    "response_a_id": a,
                    "response_b_id": b,
                    "left_response_id": a,
                    "choice": choice,
                    "strength": "clear" if choice in ("a", "b") else None,
                    "rationale": "",
                    "user_id": user,
                    "seconds_spent": seconds,
                    "created_at": judged,
                    "updated_at": None,
                },
            )
            _judge(
                w, item_id, user, comparison_id, judged, seconds, "comparison", "comparison", {"choice": choice}, rng
            )
            made += 1
    return {"pairs": n, "comparisons": made}


def _moderation(w, year, n, annotators, leads, moderators) -> dict[str, int]:
    rng, made, adjudicated, scores = year.rng, 0, 0, 0
    for i in range(n):
        arrived = year.arrival(i, n)
        item_id = w.next_id(ModerationItem)
        w.add(
            ModerationItem,
            {
                "id": item_id,
                "external_id": f"m{item_id}",
                "source": "import",
                "text": f"comment {item_id}",
                "meta": {},
                "created_at": arrived,
            },
        )
        toxic = rng.random() < 0.3
        drift = 0.1 * (arrived - year.start).days / DAYS  # scores creep up over the year
        for version, created in moderators:
            if created <= arrived or version == moderators[0][0]:
                score = min(1.0, max(0.0, rng.gauss(0.7 if toxic else 0.25, 0.18) + drift))
                w.add(
                    ModerationScore,
                    {
                        "item_id": item_id,
                        "model_version_id": version,
                        "score": score,
                        "predicted_label": "toxic" if score >= 0.5 else "not_toxic",
                        "categories": [],
                        "created_at": arrived,
                    },
                )
                scores += 1
        k = 2 if i % 2 == 0 else 1
        judges = rng.sample(annotators, k)
        times = sorted(t for t in (year.judged(arrived) for _ in judges) if t is not None)
        work_id = _work_item(w, "moderation", item_id, 0, k, len(times), arrived)
        given = []
        for user, judged in zip(judges, times, strict=False):
            label = ("toxic" if toxic else "not_toxic") if rng.random() < 0.88 else ("not_toxic" if toxic else "toxic")
            label_id = w.next_id(ModerationLabel)
            seconds = _seconds(rng, user, -1)
            w.add(
                ModerationLabel,
                {
                    "id": label_id,
                    "key": f"b:l:{label_id}",
                    "source": "app",
                    "item_id": item_id,
                    "user_id": user,
                    "label": label,
                    "categories": [],
                    "note": "",
                    "seconds_spent": seconds,
                    "created_at": judged,
                    "updated_at": None,
                },
            )
            _judge(w, work_id, user, label_id, judged, seconds, "label", "moderation_label", {"label": label}, rng)
            given.append((label, judged))
            made += 1
        if len({label for label, _ in given}) == 2:
            decided = max(at for _, at in given) + timedelta(hours=rng.uniform(1, 48))
            if decided < year.now:
                w.add(
                    Adjudication,
                    {
                        "item_id": item_id,
                        "user_id": rng.choice(leads),
                        "categories": [],
                        "final_label": "toxic" if toxic else "not_toxic",
                        "reason": "checked",
                        "created_at": decided,
                        "updated_at": None,
                    },
                )
                adjudicated += 1
    return {"moderation_items": n, "moderation_scores": scores, "labels": made, "adjudications": adjudicated}


def _imports_and_runs(conn, year: _Year) -> None:
    rng, runs = year.rng, []
    for day in range(0, DAYS, 2):
        at = year.start + timedelta(days=day, hours=rng.uniform(0, 23))
        for kind in ("conversations", "moderation", "ratings"):
            refused = rng.random() < 0.05
            rows = rng.randint(500, 5000)
            runs.append(
                {
                    "kind": kind,
                    "file_name": f"{kind}-{day}.jsonl",
                    "status": "refused" if refused else "done",
                    "rows_read": rows,
                    "rows_added": 0 if refused else rows,
                    "rows_present": 0,
                    "rows_refused": rng.randint(1, 20) if refused else 0,
                    "errors": [],
                    "actor_id": None,
                    "started_at": at,
                    "finished_at": at + timedelta(seconds=30),
                }
            )
    conn.execute(insert(ImportRun.__table__), runs)
    snapshot = conn.execute(
        insert(DatasetSnapshot.__table__).returning(DatasetSnapshot.id),
        {
            "kind": "preferences",
            "content_hash": "bench",
            "row_count": 1000,
            "filters": {},
            "path": "-",
            "created_at": year.start,
        },
    ).scalar_one()
    conn.execute(
        insert(RewardModelRun.__table__),
        [
            {
                "snapshot_id": snapshot,
                "base_model": "all-MiniLM-L6-v2",
                "params": {},
                "progress": {},
                "status": "done",
                "metrics": {
                    "accuracy": 0.62 + 0.02 * m,
                    "accuracy_ci": [0.58 + 0.02 * m, 0.66 + 0.02 * m],
                    "n_eval_pairs": 1000,
                },
                "is_active": m == 9,
                "started_at": year.start + timedelta(days=30 * m + 5),
                "finished_at": year.start + timedelta(days=30 * m + 6),
            }
            for m in range(10)
        ],
    )
