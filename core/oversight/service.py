"""What the audit trail, audit sample and flags pages, the comment threads, `python -m core audit` and `python -m core
comment` call: one function per action, each checked against the rule table and run in its own transaction (reads in
a read-only one). The tests reach the same code through the session-level functions these wrap."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine

from core.auth import UserPublic, guarded, may, require
from core.oversight import comments, flags, history, sources, trail
from core.oversight import samples as audit_sample
from core.store.db import session_scope
from core.text import NUL

# --- the trail (read only) -----------------------------------------------------------------------------------------


@guarded("trail.read")
def trail_page(
    *,
    actor: UserPublic,
    filters: trail.TrailFilter,
    after: trail.Cursor | None = None,
    engine: Engine | None = None,
) -> trail.TrailPage:
    """One page of the matching events, newest first, starting after `after` (None: the newest)."""
    with session_scope(engine) as session:
        return trail.trail_page(session, filters, after=after)


@guarded("trail.read")
def trail_choices(*, actor: UserPublic, engine: Engine | None = None) -> trail.TrailChoices:
    """The people, actions and entities the trail's filters offer."""
    with session_scope(engine) as session:
        return trail.trail_choices(session)


def _write_trail(out: TextIO, filters: trail.TrailFilter, limit: int | None, engine: Engine | None) -> int:
    with session_scope(engine) as session:
        return trail.write_trail_csv(session, out, filters, limit=limit)


@guarded("trail.read")
def trail_csv(
    *, actor: UserPublic, filters: trail.TrailFilter, limit: int, engine: Engine | None = None
) -> tuple[str, int]:
    """The matching events, newest first, at most `limit`, as CSV text; and how many it holds."""
    out = io.StringIO()
    written = _write_trail(out, filters, limit, engine)
    return out.getvalue(), written


@guarded("trail.read")
def write_trail(
    *, actor: UserPublic, out: TextIO | Path, filters: trail.TrailFilter, engine: Engine | None = None
) -> int:
    """Every matching event, newest first, streamed as CSV to a stream or a file; returns how many were written.
    A file is opened only once the actor may read the trail: a refusal leaves an existing file as it was."""
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8", newline="") as handle:
            return _write_trail(handle, filters, None, engine)
    return _write_trail(out, filters, None, engine)


@guarded("trail.read")
def item_history(*, actor: UserPublic, reference: str, engine: Engine | None = None) -> history.ItemHistory | None:
    """The history of the item named by `reference` (an imported id, or entity:id); None if there is none."""
    if NUL in reference:  # no id holds one (importers refuse it); PostgreSQL would refuse the query
        return None
    with session_scope(engine) as session:
        ref = history.find_item(session, reference)
        return None if ref is None else history.item_history(session, ref)


@guarded("trail.read")
def event_item(*, actor: UserPublic, entity: str, entity_id: int | None, engine: Engine | None = None) -> str | None:
    """A reference to the item an event is about, for item_history (None if it is about no judged item)."""
    with session_scope(engine) as session:
        ref = history.item_of(session, entity, entity_id)
    return None if ref is None else f"{entity}:{entity_id}"


# --- the audit sample ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleView:
    summary: audit_sample.SampleSummary
    rates: audit_sample.PassRates
    next_item: audit_sample.SampleItemView | None  # the next judgment this auditor may re-review
    left: int  # judgments without a verdict that this auditor may re-review
    reviewed: list[audit_sample.SampleItemView]


@guarded("sample.review")
def list_samples(*, actor: UserPublic, engine: Engine | None = None) -> list[audit_sample.SampleSummary]:
    with session_scope(engine) as session:
        return audit_sample.list_samples(session)


@guarded("sample.draw")
def draw_sample(
    *, actor: UserPublic, month: str, size: int, seed: int | None = None, engine: Engine | None = None
) -> audit_sample.SampleSummary:
    """Draw and store the month's stratified sample (audited), or return the one drawn before with the same month,
    size and seed."""
    with session_scope(engine, write=True) as session:
        return audit_sample.draw_sample(session, month=month, size=size, seed=seed, actor_id=actor.id)


@guarded("sample.review")
def sample_view(*, actor: UserPublic, sample_id: int, engine: Engine | None = None) -> SampleView:
    """The sample as the actor audits it: nobody is served their own judgments."""
    with session_scope(engine) as session:
        summary = audit_sample.sample_summary(session, sample_id)
        items = audit_sample.sample_items(session, sample_id)
        rates = audit_sample.pass_rates(session, sample_id=sample_id)
    mine = [i for i in items if i.verdict is None and i.reviewer != actor.username]
    return SampleView(summary, rates, mine[0] if mine else None, len(mine), [i for i in items if i.verdict])


@guarded("sample.review")
def review_sampled(*, actor: UserPublic, item_id: int, verdict: str, reason: str, engine: Engine | None = None) -> None:
    """The actor's verdict on one sampled judgment (audited)."""
    with session_scope(engine, write=True) as session:
        audit_sample.review(session, item_id=item_id, auditor_id=actor.id, verdict=verdict, reason=reason)


# --- sources (leads) -----------------------------------------------------------------------------------------------


@guarded("sources.read")
def answer_sources(
    *, actor: UserPublic, answer_ids: Sequence[int], engine: Engine | None = None
) -> dict[int, sources.AnswerSource]:
    """Which model version wrote each answer, and the id it was imported with."""
    with session_scope(engine) as session:
        return sources.answer_sources(session, answer_ids)


# --- flags ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagsView:
    counts: list[flags.FlagCount]
    versions: list[str]
    page: flags.FlagPage


@guarded("flags.read")
def flags_view(
    *,
    actor: UserPublic,
    status: str | None,
    flag: str | None,
    version: str | None,
    offset: int = 0,
    engine: Engine | None = None,
) -> FlagsView:
    """The counts per flag and status, the versions with flagged answers (for leads: filtering by version would
    tell others which answers a version wrote), and one page of the matching answers."""
    leads = may(actor, "sources.read")
    if version is not None:
        require(actor, "sources.read")
    with session_scope(engine) as session:
        return FlagsView(
            flags.flag_counts(session),
            flags.flagged_versions(session) if leads else [],
            flags.flagged_answers(session, status=status, flag=flag, version=version, offset=offset),
        )


@guarded("flags.triage")
def triage_flag(*, actor: UserPublic, rating_id: int, status: str, note: str, engine: Engine | None = None) -> None:
    """Set a flagged rating's status with a note (audited as the actor)."""
    with session_scope(engine, write=True) as session:
        flags.triage(session, rating_id=rating_id, status=status, note=note, actor_id=actor.id)


# --- comments ------------------------------------------------------------------------------------------------------


@guarded("comments.read")
def threads(
    *, actor: UserPublic, items: Sequence[history.ItemRef], engine: Engine | None = None
) -> dict[history.ItemRef, comments.Thread]:
    """The comment thread of each item, oldest first; hidden (no comment, no count) where the actor has not judged
    the item and it is on no oversight page (core.oversight.comments says who reads what)."""
    with session_scope(engine) as session:
        return comments.threads(session, actor, items)


@guarded("comments.write")
def add_comment(
    *, actor: UserPublic, item: history.ItemRef, text: str, engine: Engine | None = None
) -> comments.CommentView:
    """Add a comment to the item's thread, with its @mentions (audited as the actor); refused with the reason if
    empty, too long, on an unknown item or on a thread the actor may not read yet."""
    with session_scope(engine, write=True) as session:
        return comments.add_comment(session, actor=actor, item=item, text=text)
