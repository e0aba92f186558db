"""The queue benchmark's store: N chatbot answers to N*4/5 prompts, every fourth prompt answered by both of two
versions (N/5 pairs), bulk-inserted with Core in batches; then the comparison queue configured as an admin would."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select

from benchmarks.common import Timer, settle
from core.review import settings
from core.store.db import session_scope
from core.store.models import ModelVersion, Prompt, Response, User, WorkItem, utcnow

BATCH = 10_000
VERSIONS = ("chatbot-2025-03", "chatbot-2025-09")
K = 2
WORDS = (
    "the tax office may ask for receipts of every deduction you claim so keep them for ten years and note the date "
    "amount and purpose of each one before you file your return online or on paper"
)


def _text(rng: random.Random, shortest: int, longest: int) -> str:
    start = rng.randrange(len(WORDS) // 2)
    length = rng.randint(shortest, longest)
    return ((WORDS[start:] + " ") * (1 + length // len(WORDS)))[:length]


def _prompts_and_responses(scale: int, versions: list[int]) -> Iterator[tuple[list[dict], list[dict]]]:
    """Batches of (prompts, their responses): every fourth prompt answered by both versions, the rest by one."""
    rng = random.Random(20250611)
    start = utcnow() - timedelta(days=365)
    prompts, responses = [], []
    prompt_id = response_id = 0
    while response_id < scale:
        prompt_id += 1
        at = start + timedelta(seconds=prompt_id)
        prompts.append(
            {
                "id": prompt_id,
                "external_id": f"bench-p{prompt_id:08d}",
                "source": "import",
                "text": _text(rng, 40, 160) + "?",
                "topic": ("vat", "deductions", "payroll")[prompt_id % 3],
                "meta": {},
                "created_at": at,
            }
        )
        paired = prompt_id % 4 == 0 and scale - response_id >= 2
        for version in versions if paired else [versions[prompt_id % 2]]:
            response_id += 1
            responses.append(
                {
                    "id": response_id,
                    "external_id": f"bench-r{response_id:08d}",
                    "prompt_id": prompt_id,
                    "model_version_id": version,
                    "text": _text(rng, 150, 450),
                    "meta": {},
                    "created_at": at + timedelta(seconds=1),
                }
            )
        if len(responses) >= BATCH:
            yield prompts, responses
            prompts, responses = [], []
    if prompts:
        yield prompts, responses


def build_store(engine: Engine, scale: int, experts: int) -> dict[str, Any]:
    """An admin and `experts` experts, two versions, prompts and responses; then the comparison queue, configured
    (and synced) as an admin would."""
    now = utcnow()
    with Timer() as built, engine.begin() as conn:
        users = [{"username": "admin", "role": "admin", "display_name": "", "active": True, "failed_logins": 0}]
        users += [
            {"username": f"expert{n}", "role": "expert", "display_name": "", "active": True, "failed_logins": 0}
            for n in range(experts)
        ]
        conn.execute(insert(User.__table__), [u | {"created_at": now} for u in users])
        conn.execute(
            insert(ModelVersion.__table__),
            [{"name": name, "kind": "chatbot", "notes": "", "meta": {}, "created_at": now} for name in VERSIONS],
        )
        versions = [conn.execute(select(ModelVersion.id).where(ModelVersion.name == n)).scalar_one() for n in VERSIONS]
        experts = list(conn.execute(select(User.id).where(User.role == "expert").order_by(User.id)).scalars())
        for prompts, responses in _prompts_and_responses(scale, versions):
            conn.execute(insert(Prompt.__table__), prompts)
            conn.execute(insert(Response.__table__), responses)
    settle(engine)
    with Timer() as synced, session_scope(engine, write=True) as s:
        settings.configure(s, queue="comparison", actor_id=None, versions=list(VERSIONS), k=K)
    settle(engine)
    with session_scope(engine) as s:
        counted = {
            "responses": s.execute(select(func.count()).select_from(Response)).scalar_one(),
            "prompts": s.execute(select(func.count()).select_from(Prompt)).scalar_one(),
            "work_items": s.execute(select(func.count()).where(WorkItem.queue == "comparison")).scalar_one(),
        }
    if counted["responses"] != scale or counted["work_items"] != scale // 5:
        raise SystemExit(f"the store came out wrong: {counted} (expected {scale:,} responses, {scale // 5:,} items)")
    return counted | {"experts": experts, "build_seconds": built.seconds, "sync_seconds": synced.seconds}
