"""Batch writers: validated rows in, rows in the store out. Bulk Core inserts that skip what is already present,
so a file imported twice adds nothing, at tens of thousands of rows a second."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.ingest.context import Context, Numbered, WriteProblem, digest, json_text
from core.ingest.read import Problem
from core.ingest.schemas import JigsawRow
from core.review.spans import stored_spans
from core.store.models import Comparison, ModerationItem, ModerationLabel, ModerationScore, Rating, Response

HH_VERSION = "hh-rlhf"
# Jigsaw's sub-labels that name one of our categories; any 1 among the six makes the item toxic.
JIGSAW_CATEGORIES = {"obscene": "sexual", "threat": "violence", "insult": "harassment", "identity_hate": "hate"}


def write_conversations(ctx: Context, batch: Numbered) -> int:
    versions = ctx.version_ids(((line, r.model) for line, row in batch for r in row.responses), "chatbot")
    prompts = ctx.prompt_ids(
        ((row.prompt_id, row.prompt, row.topic, row.created_at, row.earlier_turns()) for _, row in batch), "import"
    )
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


SCORE_COLUMNS = ("item_id", "model_version_id", "score", "predicted_label", "categories", "created_at")
ITEM_COLUMNS = ("external_id", "source", "text", "meta", "created_at")


def write_moderation(ctx: Context, batch: Numbered) -> int:
    versions = ctx.version_ids(((line, row.model) for line, row in batch), "moderation")
    items = moderation_item_ids(ctx, ((row.item_id, row.text, row.meta, row.created_at) for _, row in batch), "import")
    when, now = ctx.when, ctx.when(ctx.now)
    scores = [
        (
            items[row.item_id],
            versions[row.model],
            row.score,
            row.predicted_label,
            json_text(row.categories) if row.categories else "[]",  # most rows: no categories, no meta
            when(row.created_at) if row.created_at else now,
        )
        for _, row in batch
    ]
    ctx.insert_tuples(ModerationScore, SCORE_COLUMNS, scores)
    return len(batch)


def moderation_item_ids(ctx: Context, items: Iterable[tuple[str, str, dict, Any]], source: str) -> dict[str, int]:
    rows: dict[str, tuple] = {}
    when, now = ctx.when, ctx.when(ctx.now)
    for ext, text, meta, at in items:  # the first row of an id wins, as it does across files
        if ext not in rows:
            rows[ext] = (ext, source, text, json_text(meta) if meta else "{}", when(at) if at else now)
    ctx.insert_tuples(ModerationItem, ITEM_COLUMNS, list(rows.values()))
    return ctx.ids_by(ModerationItem, "external_id", rows)


def write_hh_rlhf(ctx: Context, batch: Numbered) -> int:
    """Each pair: the shared transcript becomes the conversation (its last Human turn the question, the turns before
    it kept), the last Assistant turns two answers, chosen wins."""
    version = ctx.version_ids(
        [(line, HH_VERSION) for line, _ in batch[:1]], "chatbot", notes="Anthropic HH-RLHF: the model is unknown"
    )[HH_VERSION]
    pairs = [(row.split(), row) for _, row in batch]
    pairs = [((prompt, chosen, rejected), row) for (prompt, chosen, rejected), row in pairs if chosen != rejected]
    conversations = [("hh:" + digest(p), *row.conversation()) for (p, _, _), row in pairs]
    prompts = ctx.prompt_ids(((ext, text, None, None, turns) for ext, turns, text in conversations), HH_VERSION)
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
                "version_a_id": version,
                "version_b_id": version,
                "choice": "a",
                "dimensions": {},
                "rationale": "",
                "spans": {},
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
    prompts = ctx.prompt_ids(((row.prompt_id, row.prompt, None, row.created_at, []) for _, row in batch), "import")
    answers = [
        (prompts[row.prompt_id], versions[getattr(row, m)], getattr(row, t)) for _, row in batch for m, t in pairs
    ]
    return prompts, versions, ctx.response_ids(answers)


def write_ratings(ctx: Context, batch: Numbered) -> int:
    ctx.insert_ignore(Rating, rating_records(ctx, batch))
    return len(batch)


def rating_records(ctx: Context, batch: Numbered) -> list[dict[str, Any]]:
    """The Rating rows of `ratings` rows (their answers, prompts, versions and reviewers stored if new)."""
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
                "flags": sorted({*row.flags, *(span.label for span in row.spans)}),
                "spans": stored_spans(row.span_values(row.spans)),
                "rationale": row.rationale,
                "created_at": row.created_at or ctx.now,
            }
        )
    return rows


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
                "version_a_id": versions[row.model_a],
                "version_b_id": versions[row.model_b],
                "choice": row.choice,
                "strength": row.strength,
                "dimensions": row.dimensions,
                "rationale": row.rationale,
                "spans": {},
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
