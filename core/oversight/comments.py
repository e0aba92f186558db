"""Comment threads on items: an answer, a pair of answers or a moderation item (core.oversight.history.ItemRef),
written by experts, leads and admins, with `@username` mentions that show on the mentioned person's home page.

Threads never break blindness or independence:

- who may read a thread: leads and admins, always (they audit); an expert who has judged the item (rated the answer,
  compared the pair, labelled or adjudicated the moderation item); and an expert on the oversight pages that show
  the item's other judgments already: Adjudicate (a moderation item in the adjudication queue), Audit sample (an
  item with a sampled judgment) and Flags (an answer with a flagged rating). Anyone else gets the thread hidden:
  no comment, no count. The judging pages draw a thread only once the item is judged, for leads too.
- who may write: whoever may read the thread (rule comments.write: experts, leads, admins). Annotators take no
  part: they neither read nor write threads, and cannot be mentioned.
- a thread shows texts and usernames only: never a model version, nor an answer's imported id (answers are named
  by store id, #12).
- a comment is plain text (the pages show it as text, never as Markdown or HTML), at most TEXT_LIMIT characters;
  an empty one is refused. It is never edited or deleted. Each is an audit event, `comment.create`, naming the
  item, the mentions and the length, not the text: the trail is open to every expert, judged or not.
- `@name` mentions an active expert, lead or admin called exactly `name` (other than the author); any other `@name`
  stays plain text and no mention is stored."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlmodel import Session

from core import audit
from core.auth import LEADS, RULES, UserPublic
from core.oversight.history import ItemRef
from core.oversight.sources import answer_name
from core.store.models import (
    Adjudication,
    AuditSampleItem,
    Comment,
    CommentMention,
    Comparison,
    ModerationItem,
    ModerationLabel,
    Rating,
    Response,
    User,
    WorkItem,
)
from core.text import text_problems

# `@name`, not inside a word or an e-mail address: the name in the characters a username may hold
MENTION = re.compile(r"(?<![A-Za-z0-9._@+-])@([A-Za-z0-9][A-Za-z0-9._@+-]*)")
TRAILING = "._@+-"  # a sentence's full stop or dash after a name ("thanks @lead.") is not part of it
HOME_MENTIONS = 10  # mentions listed on a home page, newest first
SIZES = {"answer": 1, "pair": 2, "moderation_item": 1}  # answer ids, or the moderation item's id
NOUNS = {"answer": "answer", "pair": "pair", "moderation_item": "moderation item"}


class CommentError(Exception):
    """A comment was refused, or its thread is hidden from the actor; nothing was written. The message says why."""


@dataclass(frozen=True)
class CommentView:
    id: int
    author: str  # a username
    at: datetime
    text: str
    mentions: tuple[str, ...]  # the usernames it mentions, in the order written


@dataclass(frozen=True)
class Thread:
    item: ItemRef
    hidden: bool  # True: the actor may not read it yet (judge the item first); comments is then empty
    comments: list[CommentView]  # oldest first


@dataclass(frozen=True)
class Mention:
    """A comment that mentions the person, as their home page lists it."""

    comment_id: int
    item: ItemRef
    item_name: str  # "answer #12"
    author: str
    at: datetime
    text: str | None  # None while the person may not read the item's thread (they have not judged it yet)


def answer(answer_id: int) -> ItemRef:
    return ItemRef("answer", (answer_id,))


def pair(a: int, b: int) -> ItemRef:
    return ItemRef("pair", (min(a, b), max(a, b)))


def moderation_item(item_id: int) -> ItemRef:
    return ItemRef("moderation_item", (item_id,))


def item_name(item: ItemRef) -> str:
    """The item as threads name it to everyone: by store id, which says nothing of the model that wrote it."""
    if item.kind == "answer":
        return f"answer {answer_name(item.ids[0])}"
    if item.kind == "pair":
        return f"pair {' and '.join(answer_name(i) for i in item.ids)}"
    return f"moderation item #{item.ids[0]}"


def parse_item(reference: str) -> ItemRef:
    """`answer:12`, `pair:12,13` or `moderation_item:7` (`moderation:7` too), as the command line takes an item."""
    kind, _, ids = reference.strip().partition(":")
    numbers = [part.strip() for part in ids.split(",")]
    if not all(n.isdigit() for n in numbers):
        numbers = []
    kind = "moderation_item" if kind == "moderation" else kind
    if kind in ("answer", "moderation_item") and len(numbers) == 1:
        return ItemRef(kind, (int(numbers[0]),))
    if kind == "pair" and len(numbers) == 2:
        return pair(int(numbers[0]), int(numbers[1]))
    raise CommentError(f"item {reference!r}: write answer:ID, pair:ID,ID or moderation_item:ID (store ids)")


def _subject(item: ItemRef) -> dict[str, int | str]:
    return {"subject": item.kind, "subject_id": item.ids[0], "subject_b_id": item.ids[1] if item.kind == "pair" else 0}


def _check_item(session: Session, item: ItemRef) -> None:
    """Refuse an item that is not in the store, or a pair of answers that is no pair."""
    if SIZES.get(item.kind) != len(item.ids) or list(item.ids) != sorted(set(item.ids)):
        raise CommentError(
            f"{item.kind} {item.ids}: not an item (an answer, a pair of two answers lower id first, a moderation item)"
        )
    if item.kind == "moderation_item":
        if session.get(ModerationItem, item.ids[0]) is None:
            raise CommentError(f"there is no {item_name(item)}")
        return
    prompts = dict(session.execute(select(Response.id, Response.prompt_id).where(Response.id.in_(item.ids))).all())
    missing = [answer_name(i) for i in item.ids if i not in prompts]
    if missing:
        raise CommentError(f"there is no answer {', '.join(missing)}")
    if len(set(prompts.values())) > 1:
        raise CommentError(f"answers {' and '.join(answer_name(i) for i in item.ids)} answer different questions")


def _either_way(low: int, high: int):
    return or_(
        and_(Comparison.response_a_id == low, Comparison.response_b_id == high),
        and_(Comparison.response_a_id == high, Comparison.response_b_id == low),
    )


def _judgments(item: ItemRef) -> list[tuple[str, type, object]]:
    """(audit-sample queue, table, condition) of every judgment of the item."""
    if item.kind == "answer":
        return [("rating", Rating, Rating.response_id == item.ids[0])]
    if item.kind == "pair":
        return [("comparison", Comparison, _either_way(*item.ids))]
    return [
        ("moderation", ModerationLabel, ModerationLabel.item_id == item.ids[0]),
        ("adjudication", Adjudication, Adjudication.item_id == item.ids[0]),
    ]


def judged(session: Session, user_id: int, item: ItemRef) -> bool:
    """The user has judged the item: rated the answer, compared the pair, labelled or adjudicated the item."""
    found = [exists().where(where, model.user_id == user_id) for _, model, where in _judgments(item)]
    return bool(session.execute(select(or_(*found))).scalar())


def under_oversight(session: Session, item: ItemRef) -> bool:
    """The item is on a page that shows every expert its judgments already: Flags (an answer with a flagged rating),
    Audit sample (a sampled judgment of it) or Adjudicate (a moderation item in the adjudication queue)."""
    found = [
        exists().where(
            AuditSampleItem.queue == queue,
            AuditSampleItem.judgment_id.in_(select(model.id).where(where)),
        )
        for queue, model, where in _judgments(item)
    ]
    if item.kind == "answer":
        found.append(exists().where(Rating.response_id == item.ids[0], func.json_array_length(Rating.flags) > 0))
    if item.kind == "moderation_item":
        found.append(exists().where(WorkItem.queue == "adjudication", WorkItem.subject_id == item.ids[0]))
    return bool(session.execute(select(or_(*found))).scalar())


def may_read(session: Session, actor: UserPublic, item: ItemRef) -> bool:
    if not actor.active or actor.role not in RULES["comments.read"].roles:
        return False
    if actor.role in LEADS:
        return True
    return judged(session, actor.id, item) or under_oversight(session, item)


def mentioned(text: str) -> list[tuple[str, str]]:
    """Each `@name` as written, and the name without a trailing full stop or dash (either may be a username)."""
    return [(match[1], match[1].rstrip(TRAILING)) for match in MENTION.finditer(text)]


def mentionable(session: Session, text: str, author_id: int) -> dict[str, int]:
    """The users the text mentions, in the order written, each once: active experts, leads and admins other than
    the author (name -> user id). "@lead." names "lead" unless a user is called "lead." itself."""
    written = mentioned(text)
    names = {name for both in written for name in both if name}
    if not names:
        return {}
    found = dict(
        session.execute(
            select(User.username, User.id).where(
                User.username.in_(names),
                User.active,
                User.role.in_(RULES["comments.read"].roles),
                User.id != author_id,
            )
        ).all()
    )
    chosen: dict[str, int] = {}
    for whole, short in written:
        name = whole if whole in found else short
        if name in found:
            chosen.setdefault(name, found[name])
    return chosen


def add_comment(session: Session, *, actor: UserPublic, item: ItemRef, text: str) -> CommentView:
    """Store one comment on the item's thread with its mentions and its audit event; refuse (CommentError) an
    empty or over-long text, an unknown item, or a thread the actor may not read yet."""
    text = text.strip()
    if problems := text_problems("comment", text):
        raise CommentError(problems[0])
    if not text:
        raise CommentError("the comment is empty: write something first")
    _check_item(session, item)
    if not may_read(session, actor, item):
        raise CommentError(f"You may comment on this {NOUNS[item.kind]} once you have judged it.")
    mentions = mentionable(session, text, actor.id)
    comment = Comment(**_subject(item), user_id=actor.id, text=text)
    session.add(comment)
    session.flush()
    session.add_all(CommentMention(comment_id=comment.id, user_id=user_id) for user_id in mentions.values())
    audit.record(
        session,
        actor_id=actor.id,
        action="comment.create",
        entity="comment",
        entity_id=comment.id,
        after={"item": item_name(item), "mentions": list(mentions), "characters": len(text)},
    )
    session.flush()
    return CommentView(comment.id, actor.username, comment.created_at, text, tuple(mentions))


def _where(items: Iterable[ItemRef]):
    return or_(
        *(and_(*(getattr(Comment, column) == value for column, value in _subject(item).items())) for item in items)
    )


def _mention_names(session: Session, comment_ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    if comment_ids:
        rows = session.execute(
            select(CommentMention.comment_id, User.username)
            .join(User, User.id == CommentMention.user_id)
            .where(CommentMention.comment_id.in_(comment_ids))
        )
        for comment_id, username in rows:
            names.setdefault(comment_id, []).append(username)
    return names


def threads(session: Session, actor: UserPublic, items: Sequence[ItemRef]) -> dict[ItemRef, Thread]:
    """The thread of each item, oldest comment first; hidden where the actor may not read it (yet)."""
    for item in dict.fromkeys(items):
        _check_item(session, item)
    readable = [item for item in dict.fromkeys(items) if may_read(session, actor, item)]
    found: dict[ItemRef, list[CommentView]] = {item: [] for item in readable}
    if readable:
        rows = session.execute(
            select(Comment, User.username)
            .join(User, User.id == Comment.user_id)
            .where(_where(readable))
            .order_by(Comment.created_at, Comment.id)
        ).all()
        mentions = _mention_names(session, [c.id for c, _ in rows])
        for comment, author in rows:
            item = ItemRef(comment.subject, _ids(comment))
            names = mentions.get(comment.id, [])
            ordered = tuple(sorted(names, key=lambda n: comment.text.find(f"@{n}")))
            found[item].append(CommentView(comment.id, author, comment.created_at, comment.text, ordered))
    return {item: Thread(item, item not in found, found.get(item, [])) for item in items}


def _ids(comment: Comment) -> tuple[int, ...]:
    return (comment.subject_id, comment.subject_b_id) if comment.subject == "pair" else (comment.subject_id,)


def mentions_of(session: Session, user: UserPublic, *, limit: int = HOME_MENTIONS) -> list[Mention]:
    """The comments that mention the user, newest first; the text only where they may read the thread."""
    if user.role not in RULES["comments.read"].roles:
        return []
    rows = session.execute(
        select(Comment, User.username)
        .join(CommentMention, CommentMention.comment_id == Comment.id)
        .join(User, User.id == Comment.user_id)
        .where(CommentMention.user_id == user.id)
        .order_by(CommentMention.comment_id.desc())
        .limit(limit)
    ).all()
    readable: dict[ItemRef, bool] = {}
    found = []
    for comment, author in rows:
        item = ItemRef(comment.subject, _ids(comment))
        if item not in readable:
            readable[item] = may_read(session, user, item)
        text = comment.text if readable[item] else None
        found.append(Mention(comment.id, item, item_name(item), author, comment.created_at, text))
    return found
