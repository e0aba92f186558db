"""Batch writers: validated rows in, rows in the store out. Bulk Core inserts that skip what is already present,
so a file imported twice adds nothing, at tens of thousands of rows a second."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.ingest.read import Problem
from core.ingest.schemas import JigsawRow
from core.models import (
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

Numbered = Sequence[tuple[int, Any]]  # (line, row)
HH_VERSION = "hh-rlhf"
# Jigsaw's sub-labels that name one of our categories; any 1 among the six makes the item toxic.
JIGSAW_CATEGORIES = {"obscene": "sexual", "threat": "violence", "insult": "harassment", "identity_hate": "hate"}


class WriteProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def table(model: Any) -> Table:
    return model.__table__


class Context:
    """What a batch writer needs: the transaction, one timestamp, and the ids it has already resolved."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.conn = session.connection()
        self.now = utcnow()
        self.updated = 0  # records changed in place (an importer whose records can change counts them here)
        self._versions: dict[str, tuple[int, str]] = {}
        self._users: dict[str, int] = {}

    def insert_ignore(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = sqlite_insert if self.conn.dialect.name == "sqlite" else pg_insert
        self.conn.execute(insert(table(model)).on_conflict_do_nothing(), rows)

    def ids_by(self, model: Any, column: str, values: Iterable[str]) -> dict[str, int]:
        values = list(set(values))
        col = table(model).c[column]
        rows = self.conn.execute(select(col, table(model).c.id).where(col.in_(values)))
        return dict(rows.all())

    def version_ids(self, numbered: Iterable[tuple[int, str]], kind: str, notes: str = "") -> dict[str, int]:
        """Model version name -> id, creating versions first seen; a name of another kind is a problem."""
        numbered = list(numbered)
        wanted = {name: line for line, name in numbered if name not in self._versions}
        if wanted:
            self.insert_ignore(
                ModelVersion,
                [{"name": n, "kind": kind, "notes": notes, "meta": {}, "created_at": self.now} for n in wanted],
            )
            t = table(ModelVersion)
            found = self.conn.execute(select(t.c.name, t.c.id, t.c.kind).where(t.c.name.in_(list(wanted))))
            self._versions.update({name: (id_, k) for name, id_, k in found})
        ids = {}
        for line, name in numbered:
            id_, found_kind = self._versions[name]
            if found_kind != kind:
                raise WriteProblem(Problem(line, "model", f"{name!r} is a {found_kind} model, not a {kind} model"))
            ids[name] = id_
        return ids

    def user_ids(self, usernames: Iterable[str], role: str) -> dict[str, int]:
        """Username -> id; a reviewer not yet a user becomes an inactive user of the fitting role."""
        wanted = set(usernames) - set(self._users)
        if wanted:
            self.insert_ignore(
                User,
                [
                    {
                        "username": u,
                        "display_name": u,
                        "role": role,
                        "active": False,
                        "failed_logins": 0,
                        "created_at": self.now,
                    }
                    for u in wanted
                ],
            )
            self._users.update(self.ids_by(User, "username", wanted))
        return self._users

    def prompt_ids(self, prompts: Iterable[tuple[str, str, str | None, Any]], source: str) -> dict[str, int]:
        """(external id, text, topic, created_at) -> id by external id; the first text seen for an id is kept."""
        rows: dict[str, dict[str, Any]] = {}
        for ext, text, topic, at in prompts:
            rows.setdefault(
                ext,
                {
                    "external_id": ext,
                    "source": source,
                    "text": text,
                    "topic": topic,
                    "meta": {},
                    "created_at": at or self.now,
                },
            )
        self.insert_ignore(Prompt, list(rows.values()))
        return self.ids_by(Prompt, "external_id", rows)

    def response_ids(self, answers: list[tuple[int, str, str]], created_at: Any = None) -> dict[tuple, int]:
        """(prompt id, version id, text) -> response id: an answer already in the store is reused, whatever its
        external id; a new one gets an id derived from its content."""
        keys = set(answers)
        t = table(Response)
        prompt_ids = {p for p, _, _ in keys}
        found = {
            (p, v, text): id_
            for id_, p, v, text in self.conn.execute(
                select(t.c.id, t.c.prompt_id, t.c.model_version_id, t.c.text).where(t.c.prompt_id.in_(prompt_ids))
            )
        }
        new = {k: digest("response", str(k[0]), str(k[1]), k[2]) for k in keys if k not in found}
        self.insert_ignore(
            Response,
            [
                {
                    "external_id": ext,
                    "prompt_id": p,
                    "model_version_id": v,
                    "text": text,
                    "meta": {},
                    "created_at": created_at or self.now,
                }
                for (p, v, text), ext in new.items()
            ],
        )
        by_ext = self.ids_by(Response, "external_id", new.values())
        found.update({k: by_ext[ext] for k, ext in new.items()})
        return found

    def count(self, model: Any) -> int:
        return self.conn.execute(select(func.count()).select_from(table(model))).scalar_one()


def write_conversations(ctx: Context, batch: Numbered) -> int:
    versions = ctx.version_ids(((line, r.model) for line, row in batch for r in row.responses), "chatbot")
    prompts = ctx.prompt_ids(((row.prompt_id, row.prompt, row.topic, row.created_at) for _, row in batch), "import")
    ctx.insert_ignore(
        Response,
        [
            {
                "external_id": r.response_id,
                "prompt_id": prompts[row.prompt_id],
                "model_version_id": versions[r.model],
                "text": r.text,
                "meta": {},
                "created_at": row.created_at or ctx.now,
            }
            for _, row in batch
            for r in row.responses
        ],
    )
    return sum(len(row.responses) for _, row in batch)


def write_moderation(ctx: Context, batch: Numbered) -> int:
    versions = ctx.version_ids(((line, row.model) for line, row in batch), "moderation")
    items = moderation_item_ids(ctx, ((row.item_id, row.text, row.meta, row.created_at) for _, row in batch), "import")
    ctx.insert_ignore(
        ModerationScore,
        [
            {
                "item_id": items[row.item_id],
                "model_version_id": versions[row.model],
                "score": row.score,
                "predicted_label": row.predicted_label,
                "categories": row.categories,
                "created_at": row.created_at or ctx.now,
            }
            for _, row in batch
        ],
    )
    return len(batch)


def moderation_item_ids(ctx: Context, items: Iterable[tuple[str, str, dict, Any]], source: str) -> dict[str, int]:
    rows: dict[str, dict[str, Any]] = {}
    for ext, text, meta, at in items:  # the first row of an id wins, as it does across files
        rows.setdefault(
            ext, {"external_id": ext, "source": source, "text": text, "meta": meta, "created_at": at or ctx.now}
        )
    ctx.insert_ignore(ModerationItem, list(rows.values()))
    return ctx.ids_by(ModerationItem, "external_id", rows)


def write_hh_rlhf(ctx: Context, batch: Numbered) -> int:
    """Each pair: the shared turns become the prompt, the last Assistant turns two answers, chosen wins."""
    version = ctx.version_ids(
        [(line, HH_VERSION) for line, _ in batch[:1]], "chatbot", notes="Anthropic HH-RLHF: the model is unknown"
    )[HH_VERSION]
    pairs = [(row.split(), row) for _, row in batch]
    pairs = [((prompt, chosen, rejected), row) for (prompt, chosen, rejected), row in pairs if chosen != rejected]
    prompts = ctx.prompt_ids((("hh:" + digest(p), p, None, None) for (p, _, _), _ in pairs), HH_VERSION)
    answers = [(prompts["hh:" + digest(p)], version, text) for (p, c, r), _ in pairs for text in (c, r)]
    responses = ctx.response_ids(answers)
    comparisons = []
    for (p, chosen, rejected), _ in pairs:
        pid = prompts["hh:" + digest(p)]
        a, b = responses[(pid, version, chosen)], responses[(pid, version, rejected)]
        comparisons.append(
            {
                "key": f"hh-rlhf:{a}:{b}",
                "source": HH_VERSION,
                "prompt_id": pid,
                "response_a_id": a,
                "response_b_id": b,
                "choice": "a",
                "rationale": "",
                "created_at": ctx.now,
            }
        )
    ctx.insert_ignore(Comparison, comparisons)
    return len(batch)


def write_jigsaw(ctx: Context, batch: Numbered) -> int:
    items = moderation_item_ids(
        ctx, ((row.id, row.comment_text, {"jigsaw": _jigsaw_flags(row)}, None) for _, row in batch), "jigsaw"
    )
    labels = []
    for _, row in batch:
        flags = _jigsaw_flags(row)
        labels.append(
            {
                "key": f"jigsaw:{row.id}",
                "source": "jigsaw",
                "item_id": items[row.id],
                "label": "toxic" if any(flags.values()) else "not_toxic",
                "categories": sorted(c for name, c in JIGSAW_CATEGORIES.items() if flags[name]),
                "note": "",
                "created_at": ctx.now,
            }
        )
    ctx.insert_ignore(ModerationLabel, labels)
    return len(batch)


def _jigsaw_flags(row: JigsawRow) -> dict[str, int]:
    names = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
    return {name: getattr(row, name) for name in names}


def _answers(ctx: Context, batch: Numbered, pairs: list[tuple[str, str]]) -> tuple[dict, dict, dict]:
    """Prompt ids, version ids and response ids for rows that carry answers as (model field, text field)."""
    versions = ctx.version_ids(((line, getattr(row, m)) for line, row in batch for m, _ in pairs), "chatbot")
    prompts = ctx.prompt_ids(((row.prompt_id, row.prompt, None, row.created_at) for _, row in batch), "import")
    answers = [
        (prompts[row.prompt_id], versions[getattr(row, m)], getattr(row, t)) for _, row in batch for m, t in pairs
    ]
    return prompts, versions, ctx.response_ids(answers)


def write_ratings(ctx: Context, batch: Numbered) -> int:
    prompts, versions, responses = _answers(ctx, batch, [("model", "response")])
    users = ctx.user_ids((row.reviewer for _, row in batch), "expert")
    rows = []
    for _, row in batch:
        response = responses[(prompts[row.prompt_id], versions[row.model], row.response)]
        rows.append(
            {
                "key": f"ratings:{row.reviewer}:{response}",
                "source": "import",
                "response_id": response,
                "user_id": users[row.reviewer],
                "helpfulness": row.helpfulness,
                "harmlessness": row.harmlessness,
                "accuracy": row.accuracy,
                "flags": row.flags,
                "rationale": row.rationale,
                "created_at": row.created_at or ctx.now,
            }
        )
    ctx.insert_ignore(Rating, rows)
    return len(batch)


def write_comparisons(ctx: Context, batch: Numbered) -> int:
    prompts, versions, responses = _answers(ctx, batch, [("model_a", "response_a"), ("model_b", "response_b")])
    users = ctx.user_ids((row.reviewer for _, row in batch), "expert")
    rows = []
    for line, row in batch:
        pid = prompts[row.prompt_id]
        a = responses[(pid, versions[row.model_a], row.response_a)]
        b = responses[(pid, versions[row.model_b], row.response_b)]
        if a == b:
            raise WriteProblem(Problem(line, "response_b", "is the same answer as response_a"))
        rows.append(
            {
                "key": f"comparisons:{row.reviewer}:{a}:{b}",
                "source": "import",
                "prompt_id": pid,
                "response_a_id": a,
                "response_b_id": b,
                "choice": row.choice,
                "strength": row.strength,
                "rationale": row.rationale,
                "user_id": users[row.reviewer],
                "created_at": row.created_at or ctx.now,
            }
        )
    ctx.insert_ignore(Comparison, rows)
    return len(batch)


def write_labels(ctx: Context, batch: Numbered) -> int:
    items = moderation_item_ids(ctx, ((row.item_id, row.text, {}, row.created_at) for _, row in batch), "import")
    users = ctx.user_ids((row.annotator for _, row in batch), "annotator")
    ctx.insert_ignore(
        ModerationLabel,
        [
            {
                "key": f"labels:{row.annotator}:{items[row.item_id]}",
                "source": "import",
                "item_id": items[row.item_id],
                "user_id": users[row.annotator],
                "label": row.label,
                "categories": row.categories,
                "note": row.note,
                "created_at": row.created_at or ctx.now,
            }
            for _, row in batch
        ],
    )
    return len(batch)
