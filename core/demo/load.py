"""The demo dataset: users of every role, a tax assistant's answers from two versions, moderation items scored by two
classifiers, and the judgments already made on them, so that every page has something to show.

`generate` builds the rows of the product's own import formats (../shared/FORMATS.md), deterministically for a seed:
the same texts, ids and judgments every time; only the timestamps move with the load time (spread over the last 60
days, some of them today). `load_demo` writes them to files and imports them with `core.ingest.import_file`, so the
demo goes through the same validation and idempotent writes as real data: loading twice adds nothing."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from random import Random
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from core import audit
from core.accounts.users import create_user
from core.demo.clock import Clock
from core.demo.experiments import experiment_rows
from core.demo.moderation import moderation_rows
from core.demo.tax import Answer, tax_cases, v1_answer, v2_answer, with_markup
from core.review import queues, settings
from core.store.db import session_scope
from core.store.models import (
    RUBRIC,
    Comparison,
    ExperimentEvent,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    QueueConfig,
    Rating,
    Response,
    User,
    utcnow,
)

Progress = Callable[[str, float], None]

# (username, password, role, display name). Demo-only passwords: never load the demo into a store with real data.
DEMO_USERS = (
    ("admin", "admin-demo", "admin", "Alex Admin"),
    ("expert", "expert-demo", "expert", "Eva Berger (tax expert)"),
    ("expert2", "expert2-demo", "expert", "Emil Novak (tax expert)"),
    ("lead", "lead-demo", "lead", "Lena Fischer (expert lead)"),
    ("annotator", "annotator-demo", "annotator", "Ana Ruiz"),
    ("annotator2", "annotator2-demo", "annotator", "Ben Okafor"),
    ("owner", "owner-demo", "product_owner", "Olivia Park (product owner)"),
)
EXPERTS = ("expert", "expert2")
CHATBOTS = ("taxbot-v1", "taxbot-v2")
VERSION_NOTES = {
    "taxbot-v1": "Tax assistant, baseline version (in production before the A/B test).",
    "taxbot-v2": "Tax assistant with rule retrieval and adviser caveats (A/B candidate).",
    "modclf-v1": "Moderation classifier, first release.",
    "modclf-v2": "Moderation classifier retrained with human labels.",
}
N_PROMPTS, N_RATED, N_COMPARED = 200, 140, 120
# Load steps, in order, with their share of the progress bar.
STEPS = (
    ("users", 0.15),
    ("conversations", 0.15),
    ("moderation", 0.3),
    ("ratings", 0.1),
    ("comparisons", 0.1),
    ("labels", 0.1),
    ("experiment-events", 0.05),
    ("settings", 0.05),
)


# --- time ------------------------------------------------------------------------------------------------------------


# --- the rows --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoData:
    """The demo's rows, one list per import kind, in the order they are imported."""

    conversations: list[dict[str, Any]]
    moderation: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    experiment_events: list[dict[str, Any]]

    def files(self) -> list[tuple[str, list[dict[str, Any]]]]:
        kinds = ("conversations", "moderation", "ratings", "comparisons", "labels", "experiment-events")
        return [(kind, getattr(self, kind.replace("-", "_"))) for kind in kinds]


def generate(seed: int = 7, *, now: datetime | None = None) -> DemoData:
    """All demo rows for a seed; `now` anchors the timestamps (default: the current time)."""
    clock = Clock(now or utcnow(), Random(f"{seed}:time"))
    conversations, ratings, comparisons = _tax_rows(seed, clock)
    moderation, labels = moderation_rows(seed, clock)
    return DemoData(conversations, moderation, ratings, comparisons, labels, experiment_rows(seed, clock))


@dataclass(frozen=True)
class _Asked:
    row: dict[str, Any]
    at: datetime
    answers: dict[str, Answer]  # model -> answer


def _tax_rows(seed: int, clock: Clock) -> tuple[list[dict], list[dict], list[dict]]:
    rng = Random(f"{seed}:tax")
    cases = tax_cases(rng, N_PROMPTS)
    with_script = set(rng.sample(range(N_PROMPTS), 3))
    trng = Random(f"{seed}:turns")  # a stream of its own: the rest of the demo stays as it was
    asked: list[_Asked] = []
    for i, case in enumerate(cases):
        v1, v2 = v1_answer(case, rng), v2_answer(case, rng)
        if i in with_script or rng.random() < 0.1:
            v1 = with_markup(v1, rng, script=i in with_script)
        prompt_id, at = f"demo{seed}-tax-{i + 1:03d}", clock.arrival()
        answers = {"taxbot-v1": v1, "taxbot-v2": v2}
        row = {
            "prompt_id": prompt_id,
            "prompt": case.question,
            "topic": case.topic,
            "responses": [
                {"response_id": f"{prompt_id}-{model.removeprefix('taxbot-')}", "model": model, "text": a.text}
                for model, a in answers.items()
            ],
            "created_at": at.isoformat(),
        }
        if turns := _earlier_turns(trng):
            row["turns"] = [*turns, {"role": "user", "text": case.question}]
        asked.append(_Asked(row, at, answers))
    jrng = Random(f"{seed}:judgments")
    ratings = [
        _rating(q, model, reviewer, clock, jrng)
        for q in jrng.sample(asked, N_RATED)
        for model in CHATBOTS
        for reviewer in _who(jrng, EXPERTS, (0.75, 0.55))
    ]
    comparisons = [
        _comparison(q, reviewer, clock, jrng)
        for q in jrng.sample(asked, N_COMPARED)
        for reviewer in _who(jrng, EXPERTS, (0.75, 0.7))
    ]
    return [q.row for q in asked], ratings, comparisons


OPENERS = ("Hello! I have a tax question.", "Hi, can you help me with my tax return?", "Quick question about taxes.")
REPLIES = ("Of course. What would you like to know?", "Happy to help. What is your question?", "Sure, go ahead.")
CONTEXT = (
    ("I filed late last year.", "Thanks for saying so. What would you like to know this time?"),
    ("My income changed a lot this year.", "Understood. What would you like to check?"),
    ("My tax adviser is on holiday.", "I can help in the meantime. What is the question?"),
)


def _earlier_turns(rng: Random) -> list[dict[str, str]]:
    """The turns before the question in about a quarter of the demo's conversations (none in the others)."""
    if rng.random() >= 0.25:
        return []
    turns = [{"role": "user", "text": rng.choice(OPENERS)}, {"role": "assistant", "text": rng.choice(REPLIES)}]
    if rng.random() < 0.5:
        said, reply = rng.choice(CONTEXT)
        turns += [{"role": "user", "text": said}, {"role": "assistant", "text": reply}]
    return turns


def _who(rng: Random, people: tuple[str, str], chances: tuple[float, float]) -> list[str]:
    """Who judges an item: each person with their chance, at least one of them."""
    chosen = [p for p, chance in zip(people, chances, strict=True) if rng.random() < chance]
    return chosen or [rng.choice(people)]


# Rubric scores (helpfulness, harmlessness, accuracy) an expert gives each kind of answer before personal noise.
RUBRIC_BY_PROFILE = {
    "full": (5, 5, 5),
    "concise": (4, 5, 5),
    "generic": (2, 4, 4),
    "good": (4, 4, 5),
    "vague": (2, 4, 3),
    "wrong": (2, 2, 2),
    "made_up": (2, 2, 1),
}
PRAISE = (
    "Specific figure, names the rule and adds the right caveat.",
    "Clear and correct; the steps are practical.",
    "Correct and to the point.",
)


def _rating(q: _Asked, model: str, reviewer: str, clock: Clock, rng: Random) -> dict[str, Any]:
    answer = q.answers[model]
    harsh = reviewer == "expert2"  # the second expert marks down a little more often
    scores = []
    for base in RUBRIC_BY_PROFILE[answer.profile]:
        r = rng.random()
        scores.append(min(5, max(1, base + (-1 if r < (0.16 if harsh else 0.1) else 1 if r > 0.9 else 0))))
    if answer.profile in ("wrong", "made_up"):
        scores[2] = min(scores[2], 2)  # a confident wrong figure is an accuracy of 1 or 2
    if "<" in answer.text:
        scores[1] = max(1, scores[1] - 1)  # markup in an answer counts against it
    flags = [f for f in answer.flags if rng.random() < 0.9]
    rationale = ""
    if scores[2] <= 2 or flags or "<" in answer.text:
        rationale = _sentence(answer.issue or "Misses the figure the user asked for.")
    elif scores[0] >= 4 and rng.random() < 0.2:
        rationale = rng.choice(PRAISE)
    helpfulness, harmlessness, accuracy = scores
    return {
        "prompt_id": q.row["prompt_id"],
        "prompt": q.row["prompt"],
        "model": model,
        "response": answer.text,
        "reviewer": reviewer,
        "helpfulness": helpfulness,
        "harmlessness": harmlessness,
        "accuracy": accuracy,
        "flags": flags,
        "rationale": rationale,
        "created_at": clock.judged(q.at).isoformat(),
    }


def _sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _comparison(q: _Asked, reviewer: str, clock: Clock, rng: Random) -> dict[str, Any]:
    """An expert prefers the more accurate, safer, more helpful answer (see data/guidelines/comparison.md)."""
    models = list(CHATBOTS)
    rng.shuffle(models)
    a, b = (q.answers[m] for m in models)
    gap = b.quality - a.quality + rng.gauss(0, 0.35)  # > 0: b is better
    if max(a.quality, b.quality) <= 3.0 and abs(gap) < 1.6:
        choice, strength = "both_bad", None
        rationale = f"Neither is usable. A: {_clause(a.issue or 'no figure')}. B: {_clause(b.issue or 'no figure')}."
    elif abs(gap) < 0.45:
        choice, strength = "tie", None
        rationale = "Both give the figure and the rule; no real difference."
    else:
        choice = "b" if gap > 0 else "a"
        strength = "strong" if abs(gap) >= 2.5 else "clear" if abs(gap) >= 1.3 else "slight"
        winner, loser = (b, a) if choice == "b" else (a, b)
        why = _clause(loser.issue or "less complete, and no caveat")
        rationale = f"{choice.upper()} {_strength_of(winner)}. {'A' if choice == 'b' else 'B'}: {why}."
    return {
        "prompt_id": q.row["prompt_id"],
        "prompt": q.row["prompt"],
        "model_a": models[0],
        "response_a": a.text,
        "model_b": models[1],
        "response_b": b.text,
        "choice": choice,
        "reviewer": reviewer,
        "strength": strength,
        "rationale": rationale if rng.random() < 0.8 else "",
        "created_at": clock.judged(q.at).isoformat(),
    } | _dimensions(q, reviewer, a, b)


def _dimensions(q: _Asked, reviewer: str, a: Answer, b: Answer) -> dict[str, Any]:
    """Per-dimension preferences for about two comparisons in five (as if the queue asked for them a while): on each
    rubric dimension the answer whose profile scores higher, else a tie. Drawn from a generator of their own, so the
    rest of the demo stays as it was."""
    if Random(f"{q.row['prompt_id']}:{reviewer}:dimensions").random() >= 0.4:
        return {}
    scores = zip(RUBRIC, RUBRIC_BY_PROFILE[a.profile], RUBRIC_BY_PROFILE[b.profile], strict=True)
    return {"dimensions": {name: "a" if x > y else "b" if y > x else "tie" for name, x, y in scores}}


def _clause(text: str) -> str:
    """An issue as a clause after a colon: no final full stop, no capital unless it starts a name."""
    text = text.strip().rstrip(".")
    return text[0].lower() + text[1:] if text[1:2].islower() else text


def _strength_of(answer: Answer) -> str:
    if answer.profile in ("full", "concise", "good"):
        return "gives the right figure and names the rule"
    return "is at least not wrong"


# --- loading ---------------------------------------------------------------------------------------------------------


COUNTED = {
    "users": User,
    "prompts": Prompt,
    "responses": Response,
    "moderation_items": ModerationItem,
    "moderation_scores": ModerationScore,
    "ratings": Rating,
    "comparisons": Comparison,
    "labels": ModerationLabel,
    "experiment_outcomes": ExperimentEvent,
}


@dataclass(frozen=True)
class DemoSummary:
    """What a load added to the store (zero everywhere when the demo was there already)."""

    users: int
    prompts: int
    responses: int
    moderation_items: int
    moderation_scores: int
    ratings: int
    comparisons: int
    labels: int
    experiment_outcomes: int
    seconds: float
    imports: list[str] = field(default_factory=list)  # one ImportSummary.line() per file

    @property
    def added(self) -> int:
        return sum(getattr(self, name) for name in COUNTED)

    def line(self) -> str:
        if not self.added:
            return f"demo data already present: nothing added ({self.seconds:.1f} s)"
        return (
            f"demo data loaded in {self.seconds:.1f} s: {self.users} users, {self.prompts:,} prompts, "
            f"{self.responses:,} answers, {self.moderation_items:,} moderation items "
            f"({self.moderation_scores:,} scores), {self.ratings:,} ratings, {self.comparisons:,} comparisons, "
            f"{self.labels:,} labels, {self.experiment_outcomes:,} experiment outcomes"
        )


def _counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {name: session.exec(select(func.count()).select_from(m)).one() for name, m in COUNTED.items()}


def store_is_empty(engine: Engine) -> bool:
    """True when the store has no prompts, no moderation items and no users (a fresh install)."""
    counts = _counts(engine)
    return not (counts["prompts"] or counts["moderation_items"] or counts["users"])


def load_demo(engine: Engine, *, seed: int = 7, progress: Progress | None = None) -> DemoSummary:
    """Create the demo users and import the demo files; idempotent (a second load adds nothing)."""
    from core.ingest import import_file  # the importers pull in pydantic models: only needed here

    started, before = time.perf_counter(), _counts(engine)
    report = _Report(progress)
    report.step("users")
    admin_id = _create_users(engine)
    data = generate(seed)
    lines = []
    with tempfile.TemporaryDirectory(prefix="workbench-demo-") as folder:
        for kind, rows in data.files():
            report.step(kind)
            path = Path(folder) / f"demo-{kind}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            summary = import_file(path, kind, engine=engine, actor_id=admin_id, progress=report.within(kind))
            lines.append(summary.line())
    report.step("settings")
    with session_scope(engine, write=True) as session:
        _configure_queues(session, admin_id)
        _describe_versions(session, admin_id)
    after = _counts(engine)
    report.step("done")
    seconds = round(time.perf_counter() - started, 2)
    return DemoSummary(**{k: after[k] - before[k] for k in COUNTED}, seconds=seconds, imports=lines)


class _Report:
    """Turns the load's steps (and an import's bytes read) into fractions of one progress bar."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.starts: dict[str, tuple[float, float]] = {}
        start = 0.0
        for name, share in STEPS:
            self.starts[name] = (start, share)
            start += share

    def step(self, name: str) -> None:
        if self.progress:
            self.progress(name, self.starts[name][0] if name in self.starts else 1.0)

    def within(self, name: str) -> Callable[[int, int], None] | None:
        if not self.progress:
            return None
        start, share = self.starts[name]
        return lambda done, total: self.progress(name, start + share * done / max(total, 1))


def _create_users(engine: Engine) -> int:
    """Create the demo users that do not exist yet; return the admin's id."""
    with session_scope(engine, write=True) as session:
        existing = {u.username: u for u in session.exec(select(User))}
        for username, password, role, display_name in DEMO_USERS:
            user = existing.get(username)
            if user is None or not (user.active or user.password_hash):
                create_user(session, username=username, role=role, password=password, display_name=display_name)
        return session.exec(select(User.id).where(User.username == "admin")).one()


def _configure_queues(session: Session, actor_id: int) -> None:
    """Serve both chatbot versions in the review queues, where nobody has chosen versions yet; the borderline queue
    with its defaults (k = 2, fed by the two newest moderation classifiers)."""
    for queue in ("rating", "comparison"):
        config = session.get(QueueConfig, queue)
        if config is None or not config.versions:
            settings.configure(session, queue=queue, actor_id=actor_id, versions=list(CHATBOTS))
    if session.get(QueueConfig, "moderation") is None:
        settings.configure(session, queue="moderation", actor_id=actor_id, k=queues.DEFAULT_K["moderation"])


def _describe_versions(session: Session, actor_id: int) -> None:
    """Notes on the demo's model versions, where nobody has written any."""
    for version in session.exec(select(ModelVersion).where(ModelVersion.name.in_(VERSION_NOTES))):
        if not version.notes:
            version.notes = VERSION_NOTES[version.name]
            session.add(version)
            audit.record(
                session,
                actor_id=actor_id,
                action="model_version.describe",
                entity="model_version",
                entity_id=version.id,
                after={"notes": version.notes},
            )
