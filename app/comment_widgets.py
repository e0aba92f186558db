"""The comment thread of an item, drawn the same way wherever one shows: Rate, Compare and Label items once the item
is judged (the dialogs that reopen a judgment), Adjudicate, Audit sample and Flags. Comments are shown as text, never
as Markdown or HTML; the thread names people by username and answers by store id, never a model. Who reads and
writes which thread is core.oversight.comments' rule: an item the person may not read yet shows no comment."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.widgets import escape_markdown
from core.auth import Forbidden, UserPublic, may
from core.oversight import service as oversight
from core.oversight.comments import CommentError, CommentView, Mention, Thread, item_name
from core.oversight.history import ItemRef
from core.store.db import StoreError
from core.text import TEXT_LIMIT

PLACEHOLDER = "Plain text. @username mentions an expert, lead or admin: it shows on their home page."
WHERE = (
    "Threads show on Rate answers, Compare answers and Label items once you have judged the item (Change last, "
    "Recent), and on Adjudicate, Audit sample and Flags."
)


def comment_threads(user: UserPublic, items: Sequence[ItemRef]) -> dict[ItemRef, Thread]:
    """The threads of several items in one read (a page of flags); nothing for those who take no part in threads."""
    if not items or not may(user, "comments.read"):
        return {}
    return oversight.threads(actor=user, items=items)


def thread_of(user: UserPublic, item: ItemRef) -> Thread | None:
    return comment_threads(user, [item]).get(item)


def comment_thread(
    user: UserPublic, item: ItemRef, key: str, thread: Thread | None = None, *, named: bool = True
) -> None:
    """The item's comments, oldest first, and a form to add one; `key` tells apart two threads drawn on one page
    (the same answer flagged twice). named=False leaves out the item's store ids (the judging pages show none: ids
    in import order could hint at a model)."""
    thread = thread or thread_of(user, item)
    if thread is None:  # the role takes no part in threads (annotators, product owners)
        return
    with st.container(key=f"thread-{key}"):
        if thread.hidden:
            st.caption("The comments on this item show once you have judged it.")
            return
        title = f"Comments on {item_name(item)}" if named else "Comments"
        st.markdown(f"**{title}** ({len(thread.comments)})")
        for comment in thread.comments:
            show_comment(comment)
        if may(user, "comments.write"):
            _form(user, item, key)


def show_comment(comment: CommentView) -> None:
    mentions = f" · mentions {', '.join('@' + name for name in comment.mentions)}" if comment.mentions else ""
    with st.container(border=True):
        st.caption(escape_markdown(f"{comment.author} · {comment.at:%Y-%m-%d %H:%M} UTC{mentions}"))
        st.text(comment.text, width="stretch")


def show_mention(mention: Mention) -> None:
    """A comment that mentions the signed-in person, as their home page lists it."""
    with st.container(border=True):
        st.caption(
            escape_markdown(f"{mention.author} mentioned you on {mention.item_name} · {mention.at:%Y-%m-%d %H:%M} UTC")
        )
        if mention.text is None:
            st.caption("You can read it once you have judged this item.")
        else:
            st.text(mention.text, width="stretch")


def _form(user: UserPublic, item: ItemRef, key: str) -> None:
    with st.form(f"thread-{key}-form", border=False):  # Ctrl+Enter in the box posts (app/hotkeys.js leaves it)
        st.text_area("Add a comment", key=f"thread-{key}-draft", max_chars=TEXT_LIMIT, placeholder=PLACEHOLDER)
        st.form_submit_button(
            "Post comment", key=f"thread-{key}-post", icon=":material/send:", on_click=_post, args=(user, item, key)
        )
    if notice := st.session_state.pop(f"thread-{key}-notice", None):
        level, text = notice
        (st.error if level == "error" else st.success)(escape_markdown(text))


def _post(user: UserPublic, item: ItemRef, key: str) -> None:
    """The Post button's callback: it runs before the page is drawn again, so the thread drawn shows the comment."""
    draft = f"thread-{key}-draft"
    try:
        comment = oversight.add_comment(actor=user, item=item, text=st.session_state.get(draft) or "")
    except (CommentError, Forbidden, StoreError) as error:
        st.session_state[f"thread-{key}-notice"] = ("error", str(error))  # the draft stays in the box
        return
    st.session_state[draft] = ""
    mentions = f", mentioning {', '.join('@' + name for name in comment.mentions)}" if comment.mentions else ""
    st.session_state[f"thread-{key}-notice"] = ("success", f"Comment posted{mentions}.")
