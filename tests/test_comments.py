"""Comment threads on answers, pairs and moderation items: what is stored (the comment, its mentions, one audit
event), who reads a thread (never a reviewer before judging the item, except on the oversight pages), what is refused
with nothing stored, the mention on the mentioned person's home page, the command line, and the pages (AppTest)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from core.auth import Forbidden, UserPublic
from core.cli.main import main
from core.oversight import service as oversight
from core.oversight.comments import CommentError, answer, mentioned, moderation_item, pair, parse_item
from core.oversight.history import ItemRef
from core.oversight.samples import draw_sample
from core.reports import service as reports
from core.store.db import session_scope
from core.store.models import AuditEvent, Comment, CommentMention, Rating, Response, User, utcnow
from core.text import TEXT_LIMIT
from tests import audit_store as store
from tests.app_helpers import (  # noqa: F401
    REPO_ROOT,
    TIMEOUT,
    add_users,
    everything,
    field,
    fresh_streamlit_cache,
    texts,
)

HOSTILE = "<script>window.__pwned = 1</script> **bold** [click](http://evil.example) \u202eevil"


@dataclass
class Store:
    engine: Engine
    people: dict[str, UserPublic]  # admin, lead, expert (eve), annotator, product_owner, rita, bert (experts)
    a1: int  # bot-v1's answer to question 1
    a2: int  # bot-v2's answer to question 1: (a1, a2) is a pair
    a3: int  # bot-v1's answer to question 2
    m1: int  # a moderation item

    def add(self, who: str, item: ItemRef, text: str):
        return oversight.add_comment(actor=self.people[who], item=item, text=text, engine=self.engine)

    def thread(self, who: str, item: ItemRef):
        return oversight.threads(actor=self.people[who], items=[item], engine=self.engine)[item]

    def rate(self, who: str, answer_id: int, flags: tuple[str, ...] = ()) -> int:
        with session_scope(self.engine, write=True) as s:
            return store.rate(s, self.people[who].id, answer_id, (4, 4, 4), flags=flags, rationale="checked")


def _build(engine: Engine) -> Store:
    people = add_users(engine)
    with session_scope(engine, write=True) as s:
        experts = store.users(s, "rita", "bert")
        s.add(User(username="gone", role="expert", active=False))
        v1, v2 = store.version(s, "bot-v1"), store.version(s, "bot-v2")
        a1, a3 = store.answers(s, v1, 2)
        a2 = store.second_answer(s, a1, v2)
        m1 = store.moderation_item(s)
    for name, user_id in experts.items():
        people[name] = UserPublic(user_id, name, name.title(), "expert", True)
    return Store(engine, people, a1, a2, a3, m1)


@pytest.fixture
def comments(any_engine) -> Store:
    return _build(any_engine)


def count(engine: Engine, model) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def stored(engine: Engine) -> tuple[int, int, int]:
    return count(engine, Comment), count(engine, CommentMention), count(engine, AuditEvent)


# --- the service -----------------------------------------------------------------------------------------------


def test_a_comment_is_stored_with_its_mentions_and_one_audit_event(comments):
    comments.rate("expert", comments.a1)
    text = "The VAT rate quoted is last year's, @lea and @rita. Agree, @bert?"
    comment = comments.add("expert", answer(comments.a1), f"  {text}\n")
    assert (comment.author, comment.text, comment.mentions) == ("eve", text, ("lea", "rita", "bert"))
    with session_scope(comments.engine) as s:
        row = s.get(Comment, comment.id)
        mentioned_ids = set(s.execute(select(CommentMention.user_id)).scalars())
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "comment.create")).scalar_one()
    assert (row.subject, row.subject_id, row.subject_b_id, row.text) == ("answer", comments.a1, 0, text)
    assert mentioned_ids == {comments.people[n].id for n in ("lead", "rita", "bert")}
    assert (event.actor_id, event.entity, event.entity_id) == (comments.people["expert"].id, "comment", comment.id)
    # the trail, open to every expert, names the item and the mentions, never the text
    assert event.after == {
        "item": f"answer #{comments.a1}",
        "mentions": ["lea", "rita", "bert"],
        "characters": len(text),
    }


def test_a_mention_of_an_unknown_or_non_participating_user_stays_plain_text(comments):
    comments.rate("expert", comments.a1)
    text = "Ask @nobody, @ann (annotator), @pat, @gone (inactive), myself @eve, or mail x@lea; but @lea."
    comment = comments.add("expert", answer(comments.a1), text)
    assert comment.mentions == ("lea",)  # "@lea." is lea, the full stop ends the sentence; x@lea is an address
    assert comments.thread("expert", answer(comments.a1)).comments[0].text == text  # kept as written
    with session_scope(comments.engine) as s:
        assert list(s.execute(select(CommentMention.user_id)).scalars()) == [comments.people["lead"].id]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("@lea", [("lea", "lea")]),
        ("hi @lea.", [("lea.", "lea")]),
        ("mail me@lea.org", []),
        ("@a.b-c+d @x", [("a.b-c+d", "a.b-c+d"), ("x", "x")]),
        ("@@lea @ lea", []),
    ],
)
def test_mentions_are_read_as_written(text, names):
    assert mentioned(text) == names


def test_a_reviewer_never_sees_a_thread_before_judging_the_item_and_sees_it_after(comments):
    item = answer(comments.a1)
    comments.rate("expert", comments.a1)
    comments.add("expert", item, "Is the threshold right here, @rita?")
    before = comments.thread("rita", item)
    assert before.hidden and before.comments == []
    with pytest.raises(CommentError, match="once you have judged it"):
        comments.add("rita", item, "me too")
    assert count(comments.engine, Comment) == 1
    comments.rate("rita", comments.a1)
    after = comments.thread("rita", item)
    assert not after.hidden
    assert [(c.author, c.text, c.mentions) for c in after.comments] == [
        ("eve", "Is the threshold right here, @rita?", ("rita",))
    ]
    comments.add("rita", item, "It is: 10,000 EUR since January.")
    assert [c.author for c in comments.thread("expert", item).comments] == ["eve", "rita"]  # oldest first
    # leads and admins audit: they read every thread, judged or not; another expert still sees nothing
    assert len(comments.thread("lead", item).comments) == len(comments.thread("admin", item).comments) == 2
    assert comments.thread("bert", item).hidden


def test_threads_of_a_pair_and_of_a_moderation_item_follow_their_own_judgments(comments):
    the_pair = pair(comments.a2, comments.a1)  # either order names the same pair
    assert the_pair == pair(comments.a1, comments.a2) == ItemRef("pair", (comments.a1, comments.a2))
    with session_scope(comments.engine, write=True) as s:
        store.compare(s, comments.people["rita"].id, comments.a2, comments.a1, "a")
        store.label(s, comments.people["bert"].id, comments.m1, "toxic")
    comments.add("rita", the_pair, "Both cite the wrong article.")
    comments.add("bert", moderation_item(comments.m1), "Sarcasm, not an insult?")
    assert [c.text for c in comments.thread("rita", the_pair).comments] == ["Both cite the wrong article."]
    assert comments.thread("rita", moderation_item(comments.m1)).hidden  # she labelled nothing
    assert comments.thread("bert", the_pair).hidden  # a rating of one answer is no comparison of the pair
    assert comments.thread("expert", answer(comments.a1)).hidden
    assert [c.text for c in comments.thread("bert", moderation_item(comments.m1)).comments] == [
        "Sarcasm, not an insult?"
    ]


def test_experts_read_threads_where_the_oversight_pages_show_the_items_judgments(comments):
    """Flags (a flagged answer), Adjudicate (an item in the adjudication queue), Audit sample (a sampled judgment)
    show every expert the other judgments already: their threads show there too, to experts who judged nothing."""
    flagged, sampled = answer(comments.a1), answer(comments.a3)
    disputed = moderation_item(comments.m1)
    assert all(comments.thread("bert", item).hidden for item in (flagged, sampled, disputed))
    comments.rate("rita", comments.a1, flags=("incorrect",))
    with session_scope(comments.engine, write=True) as s:
        store.rate(s, comments.people["rita"].id, comments.a3, (2, 2, 2), when=utcnow())
        draw_sample(s, month=f"{utcnow():%Y-%m}", size=1, seed=1, actor_id=None)
        store.work_item(s, "adjudication", comments.m1, arrived=utcnow())
    assert not any(comments.thread("bert", item).hidden for item in (flagged, sampled, disputed))
    comments.add("bert", flagged, "Confirmed with the 2026 tables.")
    assert [c.author for c in comments.thread("rita", flagged).comments] == ["bert"]


def test_threads_show_texts_and_usernames_only(comments):
    """Blind: no model version, no imported id, only the store's answer ids."""
    comments.rate("expert", comments.a1)
    comments.add("expert", answer(comments.a1), "Compare with the other answer, @rita.")
    thread = comments.thread("expert", answer(comments.a1))
    home = reports.home(actor=comments.people["rita"], engine=comments.engine)
    with session_scope(comments.engine) as s:
        imported = list(s.execute(select(Response.external_id)).scalars())
    for shown in (repr(thread), repr(home.mentions)):
        assert "bot-v" not in shown
        assert not [external for external in imported if f"'{external}'" in shown or f" {external} " in shown]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the comment is empty"),
        (" \n\t ", "the comment is empty"),
        ("@lea " + "x" * TEXT_LIMIT, "the comment is 5,005 characters long; the limit is 5,000: shorten it"),
        ("@lea a\x00b", "NUL character"),
    ],
)
def test_an_empty_or_over_long_comment_is_refused_with_the_reason_and_nothing_stored(comments, text, reason):
    comments.rate("expert", comments.a1)
    before = stored(comments.engine)
    with pytest.raises(CommentError, match=reason):
        comments.add("expert", answer(comments.a1), text)
    assert stored(comments.engine) == before


def test_a_comment_on_an_item_that_is_not_there_is_refused_and_nothing_stored(comments):
    before = stored(comments.engine)
    for item, reason in [
        (answer(99_999), "there is no answer #99999"),
        (moderation_item(99_999), "there is no moderation item #99999"),
        (pair(comments.a1, comments.a3), "answer different questions"),
        (ItemRef("pair", (comments.a2, comments.a1)), "lower id first"),
        (ItemRef("work_item", (1,)), "not an item"),
    ]:
        with pytest.raises(CommentError, match=reason):
            comments.add("admin", item, "hello")
    assert stored(comments.engine) == before
    text_limit = "x" * TEXT_LIMIT
    comments.add("admin", answer(comments.a1), text_limit)  # the limit itself is allowed
    assert count(comments.engine, Comment) == 1


@pytest.mark.parametrize("role", ["annotator", "product_owner", "inactive", "signed_out"])
def test_only_experts_leads_and_admins_read_and_write_threads(comments, role):
    others = {"inactive": replace(comments.people["expert"], active=False), "signed_out": None}
    actor = others[role] if role in others else comments.people[role]
    before = stored(comments.engine)
    with pytest.raises(Forbidden):
        oversight.threads(actor=actor, items=[answer(comments.a1)], engine=comments.engine)
    with pytest.raises(Forbidden):
        oversight.add_comment(actor=actor, item=answer(comments.a1), text="hi", engine=comments.engine)
    assert stored(comments.engine) == before


def test_a_mention_shows_on_the_mentioned_persons_home_with_the_text_once_they_may_read_it(comments):
    comments.rate("expert", comments.a1)
    comments.add("expert", answer(comments.a1), "@rita please look at the rate.")
    comments.add("expert", answer(comments.a1), "@rita and the date.")
    newest, _ = reports.home(actor=comments.people["rita"], engine=comments.engine).mentions
    assert (newest.author, newest.item_name, newest.text) == ("eve", f"answer #{comments.a1}", None)  # not judged
    comments.rate("rita", comments.a1)
    mentions = reports.home(actor=comments.people["rita"], engine=comments.engine).mentions
    assert [m.text for m in mentions] == ["@rita and the date.", "@rita please look at the rate."]  # newest first
    assert reports.home(actor=comments.people["bert"], engine=comments.engine).mentions == []
    assert reports.home(actor=comments.people["annotator"], engine=comments.engine).mentions == []


def test_the_trail_leads_from_a_comment_event_to_the_items_history(comments):
    comments.rate("expert", comments.a1)
    comment = comments.add("expert", answer(comments.a1), "See the history.")
    lead = comments.people["lead"]
    reference = oversight.event_item(actor=lead, entity="comment", entity_id=comment.id, engine=comments.engine)
    history = oversight.item_history(actor=lead, reference=reference, engine=comments.engine)
    assert history.ref == answer(comments.a1)
    assert [e.action for e in history.events if e.entity == "comment"] == ["comment.create"]


# --- the command line --------------------------------------------------------------------------------------------


def test_parse_item_reads_the_items_the_command_line_names():
    assert parse_item("answer:12") == answer(12)
    assert parse_item("pair:13, 12") == pair(12, 13)
    assert parse_item("moderation:7") == parse_item("moderation_item:7") == moderation_item(7)
    for wrong in ("answer", "answer:x", "pair:1", "rating:3", ""):
        with pytest.raises(CommentError, match="write answer:ID"):
            parse_item(wrong)


def test_comment_add_and_list_on_the_command_line(engine, capsys):
    comments = _build(engine)
    comments.rate("expert", comments.a1)
    assert main(["comment", "add", f"answer:{comments.a1}", "Wrong threshold, @lea.", "--as", "eve"]) == 0
    assert capsys.readouterr().out == f"comment 1 on answer #{comments.a1}, mentioning @lea\n"
    assert main(["comment", "list", f"answer:{comments.a1}", "--as", "lea"]) == 0
    out = capsys.readouterr().out
    assert "eve\n  Wrong threshold, @lea.\n" in out
    assert main(["comment", "list", f"answer:{comments.a1}", "--as", "rita"]) == 0
    assert capsys.readouterr().out == f"The thread on answer #{comments.a1} shows once you have judged it.\n"
    assert main(["comment", "add", f"answer:{comments.a1}", "", "--as", "eve"]) == 1
    assert "error: the comment is empty" in capsys.readouterr().err
    assert main(["comment", "add", f"answer:{comments.a1}", "hi", "--as", "ann"]) == 1
    assert "error: Only experts, expert leads and admins may comment on items" in capsys.readouterr().err
    assert count(engine, Comment) == 1


# --- the pages ---------------------------------------------------------------------------------------------------


def open_page(name: str, user: UserPublic) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT)
    at.session_state["user"] = user
    return at.run()


def _rating_queue(engine: Engine, comments: Store) -> None:
    from core.review import settings

    with session_scope(engine, write=True) as s:
        settings.configure(s, queue="rating", actor_id=None, versions=["bot-v1", "bot-v2"], k=2)


def test_the_rate_page_shows_the_thread_only_once_the_answer_is_judged(engine):
    comments = _build(engine)
    _rating_queue(engine, comments)
    rita = comments.people["rita"]
    at = open_page("rate", rita)
    shown = [html.unescape(re.sub(r"<[^>]*>", "", h.proto.body)) for h in at.get("html")]  # the answer, as text
    served = next(found.group(0) for text in shown if (found := re.search(r"Answer \d+", text)))
    with session_scope(engine) as s:
        answer_id = s.execute(select(Response.id).where(Response.text == served)).scalar_one()
    comments.rate("expert", answer_id)
    comments.add("expert", answer(answer_id), f"Secret hint {HOSTILE}")
    at.run()
    assert not at.exception and "Secret hint" not in everything(at)  # the item on screen: not judged yet
    for name in ("helpfulness", "harmlessness", "accuracy"):
        field(at, name).set_value(4)
    field(at, "submit").click().run()
    at.button(key="change-last").click().run()  # reopens the judged answer: its thread shows under the form
    assert "**Comments** (1)" in texts(at.markdown)
    assert f"answer #{answer_id}" not in everything(at)  # the judging pages name no answer by id
    assert f"Secret hint {HOSTILE}" in texts(at.text)  # as text: never Markdown, never HTML
    assert not any("Secret hint" in str(m.value) for m in at.markdown)
    at.text_area(key=f"thread-rating-{_rating_id(engine, rita)}-draft").input("Agreed, @eve: last year's rate.")
    at.button(key=f"thread-rating-{_rating_id(engine, rita)}-post").click().run()
    # AppTest runs the whole page again, where a browser runs the dialog alone (it stays open): open it again
    at.button(key="change-last").click().run()
    assert not at.exception
    assert "Comment posted, mentioning @eve." in texts(at.success)
    assert "Agreed, @eve: last year's rate." in texts(at.text)
    with session_scope(engine) as s:
        assert s.execute(select(Comment.user_id).order_by(Comment.id.desc())).scalars().first() == rita.id


def _rating_id(engine: Engine, user: UserPublic) -> int:
    with session_scope(engine) as s:
        return s.execute(select(Rating.id).where(Rating.user_id == user.id)).scalar_one()


def test_an_empty_comment_on_the_page_is_refused_with_the_reason(engine):
    comments = _build(engine)
    comments.rate("rita", comments.a1, flags=("incorrect",))
    at = open_page("flags", comments.people["bert"])  # judged nothing: the flagged answer's thread shows here
    key = f"thread-flag-{_rating_id(engine, comments.people['rita'])}"
    at.button(key=f"{key}-post").click().run()
    assert "the comment is empty: write something first" in texts(at.error)
    assert count(engine, Comment) == 0


def test_the_flags_page_shows_each_answers_thread_and_takes_a_comment(engine):
    comments = _build(engine)
    comments.rate("rita", comments.a1, flags=("incorrect",))
    comments.add("rita", answer(comments.a1), "Flagged: the 2025 threshold, @bert.")
    bert = comments.people["bert"]
    at = open_page("flags", bert)
    assert not at.exception
    assert f"**Comments on answer #{comments.a1}** (1)" in texts(at.markdown)
    assert "Flagged: the 2025 threshold, @bert." in texts(at.text)
    assert any("rita · " in c and "mentions @bert" in c for c in texts(at.caption))
    key = f"thread-flag-{_rating_id(engine, comments.people['rita'])}"
    at.text_area(key=f"{key}-draft").input(HOSTILE)
    at.button(key=f"{key}-post").click().run()
    assert not at.exception and HOSTILE in texts(at.text)
    assert at.text_area(key=f"{key}-draft").value == ""  # posted: the box is empty again
    assert not any(m.proto.allow_html for m in at.markdown)


def test_the_adjudicate_page_has_the_items_thread_beside_the_guidelines(engine):
    comments = _build(engine)
    with session_scope(engine, write=True) as s:
        store.label(s, None, comments.m1, "toxic")
        store.work_item(s, "adjudication", comments.m1, arrived=utcnow())
    comments.add("lead", moderation_item(comments.m1), "Quoting a slur is not using it, @eve.")
    at = open_page("adjudicate", comments.people["expert"])
    assert not at.exception
    labels = [p.proto.popover.label for p in at.get("popover")]
    assert labels == ["Guidelines", "Keys (?)", "Comments (1)"]
    assert "Quoting a slur is not using it, @eve." in texts(at.text)


def test_the_home_page_lists_the_mention(engine):
    comments = _build(engine)
    comments.rate("expert", comments.a1)
    comments.add("expert", answer(comments.a1), "@rita have a look, please.")
    at = open_page("home", comments.people["rita"])
    assert not at.exception and "Mentions" in texts(at.subheader)
    assert any(f"eve mentioned you on answer #{comments.a1}" in c for c in texts(at.caption))
    assert "You can read it once you have judged this item." in texts(at.caption)
    assert "@rita have a look, please." not in everything(at)  # not judged yet
    comments.rate("rita", comments.a1)
    at.run()
    assert "@rita have a look, please." in texts(at.text)
    assert "Mentions" not in texts(open_page("home", comments.people["annotator"]).subheader)


def test_the_audit_sample_page_shows_the_thread_of_the_judgment_re_reviewed(engine):
    comments = _build(engine)
    with session_scope(engine, write=True) as s:
        store.rate(s, comments.people["rita"].id, comments.a3, (2, 2, 2), when=utcnow())
        draw_sample(s, month=f"{utcnow():%Y-%m}", size=1, seed=1, actor_id=None)
    comments.add("rita", answer(comments.a3), "I was unsure about the deadline, @bert.")
    at = open_page("audit_sample", comments.people["bert"])  # judged nothing: auditing shows him the thread
    assert not at.exception
    assert f"**Comments on answer #{comments.a3}** (1)" in texts(at.markdown)
    assert "I was unsure about the deadline, @bert." in texts(at.text)
