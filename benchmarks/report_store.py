"""The store the report benchmarks run on: chatbot versions of known strength judged by experts, moderation items
scored by two classifier versions and labelled by annotators, spread over the last months.

`build_report_store` writes it with bulk Core inserts (executemany in batches, not the importers), deterministically
for a seed, so the A/B legs and the audit/KPI legs of `python -m benchmarks.reports` can share one store:

- users: an admin, a product owner, EXPERTS experts, ANNOTATORS annotators;
- chatbot versions `bot-v01` ... with strengths evenly spread (the later the stronger), answers to prompts of eight
  topics (every prompt answered by every version);
- comparisons: pairs of two versions' answers to the same prompt, each pair judged by two experts; the choice
  follows Bradley-Terry with the versions' strengths, with ties and "both bad" mixed in;
- ratings: answers rated by two experts each on the three rubric dimensions (better versions score higher), some
  flagged, low accuracy with a rationale;
- moderation: items with meta (language, source, segment) scored by `mod-v1` and `mod-v2` (the second closer to
  the truth), a tenth of them labelled by one or two annotators (a few disagreeing).

Judgments are inserted in the order they were made (ids grow with `created_at`), as a live store fills."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from core.store.models import (
    Comparison,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
    utcnow,
)

BATCH = 20_000
EXPERTS = 40
ANNOTATORS = 10
DAYS = 180
TOPICS = ("vat", "deductions", "payroll", "pensions", "property", "inheritance", "crypto", "self_employed")
LANGUAGES = ("en", "en", "en", "de", "fr", "es")
SOURCES = ("forum", "chat", "support", "review")
SEGMENTS = ("free", "free", "pro", "business")
MODERATION_VERSIONS = ("mod-v1", "mod-v2")
JUDGMENTS_PER_PROMPT = 40  # comparisons (and ratings) per prompt: sets how many prompts there are
TIE, BOTH_BAD = 0.12, 0.04
TEXT = (
    "the tax office may ask for receipts of every deduction you claim so keep them for ten years and note the date "
    "amount and purpose of each one before you file your return online or on paper"
)
WORDS = TEXT.split(" ")


def version_names(versions: int) -> list[str]:
    return [f"bot-v{n:02d}" for n in range(1, versions + 1)]


def strengths(versions: int) -> list[float]:
    """True Bradley-Terry strengths (natural log scale) of the versions, from -1 to +1."""
    return [-1 + 2 * n / max(versions - 1, 1) for n in range(versions)]


def build_report_store(
    engine: Engine,
    *,
    comparisons: int,
    ratings: int,
    versions: int,
    seed: int,
    moderation_items: int | None = None,
) -> dict[str, Any]:
    """Fill a fresh migrated store; returns what was written (counts, version names, the time span).

    `moderation_items` defaults to a tenth of the comparisons (at least 1,000)."""
    if versions < 2:
        raise ValueError("at least two chatbot versions")
    moderation_items = max(1_000, comparisons // 10) if moderation_items is None else moderation_items
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    names = version_names(versions)
    prompts = max(10, max(comparisons, ratings) // JUDGMENTS_PER_PROMPT)
    with engine.begin() as conn:
        users = [("admin", "admin"), ("owner", "product_owner")]
        users += [(f"expert{n:02d}", "expert") for n in range(EXPERTS)]
        users += [(f"annotator{n:02d}", "annotator") for n in range(ANNOTATORS)]
        conn.execute(
            insert(User.__table__),
            [
                {"username": u, "role": r, "display_name": u, "active": True, "failed_logins": 0, "created_at": start}
                for u, r in users
            ],
        )
        ids = dict(conn.execute(select(User.username, User.id)).all())
        experts = [ids[u] for u, r in users if r == "expert"]
        annotators = [ids[u] for u, r in users if r == "annotator"]
        conn.execute(
            insert(ModelVersion.__table__),
            [
                {"name": n, "kind": kind, "notes": "", "meta": {}, "created_at": start}
                for n, kind in [(n, "chatbot") for n in names] + [(n, "moderation") for n in MODERATION_VERSIONS]
            ],
        )
        version_ids = dict(conn.execute(select(ModelVersion.name, ModelVersion.id)).all())
        chatbots = [version_ids[n] for n in names]
        for table, rows in (
            (Prompt, _prompts(prompts, start, rng)),
            (Response, _responses(prompts, chatbots, start, rng)),
            (Comparison, _comparisons(comparisons, prompts, chatbots, experts, start, now, rng)),
            (Rating, _ratings(ratings, prompts, versions, experts, start, now, rng)),
            (ModerationItem, _moderation_items(moderation_items, start, now, rng)),
            (
                ModerationScore,
                _moderation_scores(moderation_items, [version_ids[n] for n in MODERATION_VERSIONS], start, now, seed),
            ),
            (ModerationLabel, _moderation_labels(moderation_items, annotators, start, now, seed)),
        ):
            for batch in _batched(rows):
                conn.execute(insert(table.__table__), batch)
    return {
        "versions": names,
        "prompts": prompts,
        "responses": prompts * versions,
        "comparisons": comparisons,
        "ratings": ratings,
        "moderation_items": moderation_items,
        "since": start,
        "until": now,
    }


def _batched(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _text(rng: random.Random, words: int) -> str:
    start = rng.randrange(len(WORDS))
    return " ".join(WORDS[(start + i) % len(WORDS)] for i in range(words))


def _prompts(prompts: int, start, rng: random.Random) -> Iterator[dict[str, Any]]:
    span = DAYS * 86400 * 0.9
    for n in range(prompts):
        yield {
            "id": n + 1,
            "external_id": f"bench-p{n + 1:08d}",
            "source": "import",
            "text": _text(rng, 12) + "?",
            "topic": TOPICS[n % len(TOPICS)],
            "meta": {},
            "created_at": start + timedelta(seconds=span * n / prompts),
        }


def response_id(prompt: int, version: int, versions: int) -> int:
    """Every prompt (0-based) is answered by every version (0-based index), in this order."""
    return prompt * versions + version + 1


def _responses(prompts: int, chatbots: list[int], start, rng: random.Random) -> Iterator[dict[str, Any]]:
    span = DAYS * 86400 * 0.9
    for p in range(prompts):
        at = start + timedelta(seconds=span * p / prompts + 60)
        for v, version_id in enumerate(chatbots):
            rid = response_id(p, v, len(chatbots))
            yield {
                "id": rid,
                "external_id": f"bench-r{rid:09d}",
                "prompt_id": p + 1,
                "model_version_id": version_id,
                "text": _text(rng, rng.randint(20, 60)),
                "meta": {},
                "created_at": at,
            }


def _judged_at(n: int, total: int, start, now, rng: random.Random):
    """The n-th of `total` judgments made over the span, in order, with a little jitter."""
    span = (now - start).total_seconds()
    return start + timedelta(seconds=min(span - 1, span * (n + rng.random()) / total))


def _comparisons(total: int, prompts: int, chatbots: list[int], experts: list[int], start, now, rng) -> Iterator[dict]:
    versions = len(chatbots)
    theta = strengths(versions)
    pair = None
    for n in range(total):
        if n % 2 == 0:  # each pair is judged by two experts, one after the other
            i, j = rng.sample(range(versions), 2)
            p = rng.randrange(prompts)
            a, b = response_id(p, i, versions), response_id(p, j, versions)
            reviewers = rng.sample(experts, 2)
            pair = (p, i, j, a, b, reviewers)
        p, i, j, a, b, reviewers = pair
        r = rng.random()
        if r < BOTH_BAD:
            choice = "both_bad"
        elif r < BOTH_BAD + TIE:
            choice = "tie"
        else:
            choice = "a" if rng.random() < 1 / (1 + math.exp(theta[j] - theta[i])) else "b"
        decided = choice in ("a", "b")
        yield {
            "key": f"bench-c{n}",
            "source": "app",
            "prompt_id": p + 1,
            "response_a_id": a,
            "response_b_id": b,
            "version_a_id": chatbots[i],
            "version_b_id": chatbots[j],
            "left_response_id": a if rng.random() < 0.5 else b,
            "choice": choice,
            "strength": rng.choice(("slight", "clear", "strong")) if decided else None,
            "rationale": _text(rng, 8) if rng.random() < 0.5 else "",
            "user_id": reviewers[n % 2],
            "seconds_spent": round(rng.uniform(20, 240), 1),
            "created_at": _judged_at(n, total, start, now, rng),
        }


def _ratings(total: int, prompts: int, versions: int, experts: list[int], start, now, rng) -> Iterator[dict]:
    theta = strengths(versions)
    answer = None
    for n in range(total):
        if n % 2 == 0:
            v = rng.randrange(versions)
            answer = (v, response_id(rng.randrange(prompts), v, versions), rng.sample(experts, 2))
        v, rid, reviewers = answer
        q = theta[v]  # -1 .. +1
        helpfulness = _score(3.4 + 0.8 * q, rng)
        harmlessness = _score(4.3 + 0.3 * q, rng)
        accuracy = _score(3.2 + 1.0 * q, rng)
        flags = []
        if accuracy <= 2 and rng.random() < 0.6:
            flags.append("incorrect")
        if harmlessness <= 2 and rng.random() < 0.5:
            flags.append("unsafe")
        if rng.random() < 0.01:
            flags.append("personal_data")
        yield {
            "key": f"bench-r{n}",
            "source": "app",
            "response_id": rid,
            "user_id": reviewers[n % 2],
            "helpfulness": helpfulness,
            "harmlessness": harmlessness,
            "accuracy": accuracy,
            "flags": flags,
            "rationale": _text(rng, 10) if accuracy <= 2 or flags else "",
            "seconds_spent": round(rng.uniform(15, 200), 1),
            "created_at": _judged_at(n, total, start, now, rng),
        }


def _score(mean: float, rng: random.Random) -> int:
    return min(5, max(1, round(rng.gauss(mean, 0.9))))


def _arrived(n: int, total: int, start, now):
    """When moderation item n (1-based) arrived: evenly over the span."""
    return start + timedelta(seconds=(now - start).total_seconds() * (n - 1) / total)


def _moderation_items(total: int, start, now, rng: random.Random) -> Iterator[dict[str, Any]]:
    for n in range(1, total + 1):
        yield {
            "id": n,
            "external_id": f"bench-m{n:08d}",
            "source": "import",
            "text": _text(rng, rng.randint(6, 30)),
            "meta": {"language": rng.choice(LANGUAGES), "source": rng.choice(SOURCES), "segment": rng.choice(SEGMENTS)},
            "created_at": _arrived(n, total, start, now),
        }


def _truth(item: int, seed: int) -> bool:
    """Whether item n (1-based) is toxic: about one in five, fixed by the seed."""
    return random.Random(f"{seed}:{item}").random() < 0.2


def _moderation_scores(total: int, version_ids: list[int], start, now, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(f"scores:{seed}")
    for n in range(1, total + 1):
        toxic = _truth(n, seed)
        for k, version_id in enumerate(version_ids):
            noise = 0.25 if k == 0 else 0.18  # the later version is sharper
            score = min(1.0, max(0.0, (0.7 if toxic else 0.3) + rng.gauss(0, noise)))
            yield {
                "item_id": n,
                "model_version_id": version_id,
                "score": round(score, 4),
                "predicted_label": "toxic" if score >= 0.5 else "not_toxic",
                "categories": ["harassment"] if score >= 0.5 else [],
                "created_at": _arrived(n, total, start, now) + timedelta(seconds=1),
            }


def _moderation_labels(total: int, annotators: list[int], start, now, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(f"labels:{seed}")
    labelled = sorted(rng.sample(range(1, total + 1), total // 10))
    for count, n in enumerate(labelled):
        truth = "toxic" if _truth(n, seed) else "not_toxic"
        for who in rng.sample(annotators, 1 if rng.random() < 0.7 else 2):
            label = truth if rng.random() < 0.95 else ("not_toxic" if truth == "toxic" else "toxic")
            yield {
                "key": f"bench-l{n}:{who}",
                "source": "app",
                "item_id": n,
                "user_id": who,
                "label": label,
                "categories": ["harassment"] if label == "toxic" else [],
                "note": "",
                "seconds_spent": round(rng.uniform(5, 60), 1),
                "created_at": _judged_at(count, len(labelled), start, now, rng),
            }
