"""Hand-built stores for the audit and KPI tests: every judgment placed with its reviewer, values and time, so each
figure of a report can be worked out by hand."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from core.store.models import (
    Adjudication,
    Assignment,
    Comparison,
    ImportRun,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
    WorkItem,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
_keys = itertools.count(1)


def at(hours: float = 0, *, days: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, days=days)


def users(session: Session, *names: str, role: str = "expert") -> dict[str, int]:
    made = {name: User(username=name, display_name=name.title(), role=role) for name in names}
    session.add_all(made.values())
    session.flush()
    return {name: user.id for name, user in made.items()}


def version(session: Session, name: str, kind: str = "chatbot", created: datetime | None = None) -> int:
    v = ModelVersion(name=name, kind=kind, created_at=created or T0)
    session.add(v)
    session.flush()
    return v.id


def answers(session: Session, version_id: int, n: int, *, created: datetime | None = None) -> list[int]:
    """n prompts, one answer each from the version; returns the answers' ids."""
    ids = []
    for _ in range(n):
        key = next(_keys)
        prompt = Prompt(external_id=f"p{key}", text=f"Question {key}?", created_at=created or T0)
        session.add(prompt)
        session.flush()
        response = Response(
            external_id=f"r{key}",
            prompt_id=prompt.id,
            model_version_id=version_id,
            text=f"Answer {key}",
            created_at=created or T0,
        )
        session.add(response)
        session.flush()
        ids.append(response.id)
    return ids


def second_answer(session: Session, response_id: int, version_id: int) -> int:
    """Another version's answer to the same prompt."""
    first = session.get(Response, response_id)
    key = next(_keys)
    response = Response(
        external_id=f"r{key}", prompt_id=first.prompt_id, model_version_id=version_id, text=f"Answer {key}"
    )
    session.add(response)
    session.flush()
    return response.id


def rate(
    session: Session,
    user_id: int,
    response_id: int,
    scores: tuple[int, int, int],
    *,
    when: datetime | None = None,
    seconds: float | None = None,
    flags: tuple[str, ...] = (),
    rationale: str = "",
) -> int:
    h, harm, acc = scores
    r = Rating(
        key=f"t:rating:{next(_keys)}",
        response_id=response_id,
        user_id=user_id,
        helpfulness=h,
        harmlessness=harm,
        accuracy=acc,
        flags=list(flags),
        rationale=rationale,
        seconds_spent=seconds,
        created_at=when or T0,
    )
    session.add(r)
    session.flush()
    return r.id


def compare(
    session: Session,
    user_id: int,
    a: int,
    b: int,
    choice: str,
    *,
    when: datetime | None = None,
    seconds: float | None = None,
) -> int:
    first, second = session.get(Response, a), session.get(Response, b)
    prompt_id = first.prompt_id
    c = Comparison(
        version_a_id=first.model_version_id,
        version_b_id=second.model_version_id,
        key=f"t:comparison:{next(_keys)}",
        prompt_id=prompt_id,
        response_a_id=a,
        response_b_id=b,
        left_response_id=a,
        choice=choice,
        strength="clear" if choice in ("a", "b") else None,
        user_id=user_id,
        seconds_spent=seconds,
        created_at=when or T0,
    )
    session.add(c)
    session.flush()
    return c.id


def moderation_item(session: Session, *, created: datetime | None = None) -> int:
    key = next(_keys)
    item = ModerationItem(external_id=f"m{key}", text=f"comment {key}", created_at=created or T0)
    session.add(item)
    session.flush()
    return item.id


def score(session: Session, item_id: int, version_id: int, value: float, *, when: datetime | None = None) -> None:
    label = "toxic" if value >= 0.5 else "not_toxic"
    session.add(
        ModerationScore(
            item_id=item_id, model_version_id=version_id, score=value, predicted_label=label, created_at=when or T0
        )
    )


def label(
    session: Session,
    user_id: int | None,
    item_id: int,
    value: str,
    *,
    when: datetime | None = None,
    seconds: float | None = None,
) -> int:
    row = ModerationLabel(
        key=f"t:label:{next(_keys)}",
        item_id=item_id,
        user_id=user_id,
        label=value,
        seconds_spent=seconds,
        created_at=when or T0,
    )
    session.add(row)
    session.flush()
    return row.id


def adjudicate(session: Session, user_id: int, item_id: int, value: str, *, when: datetime | None = None) -> int:
    row = Adjudication(item_id=item_id, user_id=user_id, final_label=value, reason="decided", created_at=when or T0)
    session.add(row)
    session.flush()
    return row.id


def work_item(
    session: Session,
    queue: str,
    subject_id: int,
    *,
    arrived: datetime,
    k: int = 1,
    judged: list[tuple[int, int, datetime]] = (),
    subject_b_id: int = 0,
    gold_answer: dict | None = None,
) -> int:
    """A work item that arrived at `arrived`, with done assignments (user, judgment id, when); it is open until it
    has k of them (gold items stay open)."""
    item = WorkItem(
        queue=queue,
        subject_id=subject_id,
        subject_b_id=subject_b_id,
        k=k,
        done=len(judged),
        open=gold_answer is not None or len(judged) < k,
        is_gold=gold_answer is not None,
        gold_answer=gold_answer,
        created_at=arrived,
    )
    session.add(item)
    session.flush()
    for user_id, judgment_id, when in judged:
        session.add(
            Assignment(
                work_item_id=item.id,
                user_id=user_id,
                status="done",
                judgment_id=judgment_id,
                started_at=when,
                expires_at=when,
                updated_at=when,
            )
        )
    session.flush()
    return item.id


def import_run(
    session: Session,
    kind: str,
    *,
    finished: datetime,
    status: str = "done",
    rows_read: int = 10,
    rows_refused: int = 0,
) -> None:
    session.add(
        ImportRun(
            kind=kind,
            file_name=f"{kind}.jsonl",
            status=status,
            rows_read=rows_read,
            rows_added=rows_read - rows_refused if status == "done" else 0,
            rows_refused=rows_refused,
            started_at=finished - timedelta(seconds=5),
            finished_at=finished,
        )
    )


def flagged_rating(session: Session) -> tuple[dict[str, int], int]:
    """Users ann and lead, and one answer ann rated and flagged unsafe: (users, the rating's id)."""
    people = users(session, "ann", "lead")
    (answer,) = answers(session, version(session, "bot-v1"), 1)
    return people, rate(session, people["ann"], answer, (2, 1, 1), flags=("unsafe",), rationale="wrong")
