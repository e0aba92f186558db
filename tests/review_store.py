"""A small review store for queue and page tests: experts, two chatbot versions, prompts answered by both."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import SQLModel

from core.accounts.users import create_user
from core.auth import UserPublic
from core.ingest import import_file
from core.review import settings
from core.store.db import session_scope
from core.store.models import User

PASSWORD = "review-pass"


def build(
    engine: Engine,
    tmp_path: Path,
    *,
    prompts: int = 6,
    experts: int = 3,
    rating_k: int = 1,
    comparison_k: int = 2,
    gold_share: float = 0.0,
) -> dict[str, int]:
    """Returns username -> user id. Prompt i has answers 'v1 answer i' and 'v2 answer i'."""
    rows = [
        {
            "prompt_id": f"p{i}",
            "prompt": f"Question {i}?",
            "topic": "vat" if i % 2 else "deductions",
            "created_at": f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "responses": [
                {"response_id": f"r{i}-1", "model": "bot-v1", "text": f"v1 answer {i}"},
                {"response_id": f"r{i}-2", "model": "bot-v2", "text": f"v2 answer {i}"},
            ],
        }
        for i in range(prompts)
    ]
    path = tmp_path / "conversations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if rows:
        import_file(path, "conversations", engine=engine)
    users = {}
    with session_scope(engine, write=True) as s:
        for n in range(experts):
            users[f"expert{n}"] = create_user(s, username=f"expert{n}", role="expert", password=PASSWORD).id
        users["admin"] = create_user(s, username="admin", role="admin", password=PASSWORD).id
        for queue, k in (("rating", rating_k), ("comparison", comparison_k)):
            settings.configure(
                s, queue=queue, actor_id=users["admin"], versions=["bot-v1", "bot-v2"], k=k, gold_share=gold_share
            )
    return users


def actor(engine: Engine, user_id: int) -> UserPublic:
    """The user with this id as the services take it (the acting user)."""
    with session_scope(engine) as s:
        return UserPublic.of(s.get(User, user_id))


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the store: what a refused submission must leave as it was."""
    with session_scope(engine) as s:
        return {
            t.name: s.execute(select(func.count()).select_from(t)).scalar_one() for t in SQLModel.metadata.sorted_tables
        }
