"""The one skeleton of the four judging pages: the item's texts on the left, its form on the right, all on one screen;
keys for everything (app/hotkeys.js); and only the judging part reruns on a submission (st.fragment)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from app import hotkeys
from app.comment_widgets import comment_thread, thread_of
from app.qualification_widgets import closed_notice, gold_feedback, progress_caption
from app.review_forms import COMMON_KEYS, FORMS, LABELS, REFUSAL_KEY, Incomplete, refusal
from app.session import require_page
from core.auth import Forbidden, UserPublic
from core.moderation.labels import LabelIn
from core.oversight.history import ItemRef
from core.review import service as review
from core.review.guidelines import guidelines, rubric
from core.review.judgments import AlreadyJudged, ComparisonIn, FeedbackError, LeaseLost
from core.review.progress import Progress
from core.review.qualification import Standing
from core.review.queues import QueueError
from core.review.skips import SKIP_LABELS
from core.review.views import ItemView, LastComparison, LastLabel, LastRating
from core.store.db import StoreError
from core.store.models import RUBRIC, SKIP_REASONS

NOTICE_KEY = "review_notice"  # (level, text) left by a callback for the next run: shown as a toast
# (queue, item view, judgment id, values): an item judged already in another tab, kept on screen with the values
# refused, which the change dialog offers
HELD_KEY = "review_held"
RECENT_KEY = "review_recent"  # set while the reviewer's "My recent" dialog is open
CHANGED_KEY = "review_changed"  # the last judgment was changed: the dialog closes

Last = LastRating | LastComparison | LastLabel

STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem; padding-bottom: 0.5rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 1.75rem; padding: 0; }
.st-key-wb-question { max-height: 22vh; overflow-y: auto; }
.st-key-wb-question-conversation { max-height: 34vh; overflow-y: auto; }
.st-key-wb-question-conversation [data-testid="stChatMessage"] { padding: 0.2rem 0.4rem; gap: 0.5rem; }
.st-key-wb-answer, .st-key-wb-left, .st-key-wb-right, .st-key-wb-comment {
  max-height: calc(100vh - 22vh - 11rem); overflow-y: auto;  /* app/hotkeys.js fits them to the window */
}
.st-key-wb-labels { max-height: calc(50vh - 8rem); overflow-y: auto; }
.st-key-wb-form [data-testid="stVerticalBlock"] { gap: 0.45rem; }
.wb-anchor { font-size: 0.85rem; opacity: 0.75; margin-top: -0.4rem; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.wb-anchor.wb-hovered { opacity: 1; }
.st-key-wb-form [class*="-dim_"] { margin-top: -0.25rem; }  /* Compare's questions per dimension: 800 px high */
.wb-active [data-testid="stWidgetLabel"] p::before { content: "▸ "; color: #ff4b4b; font-size: 1.1rem; }
</style>"""


@dataclass(frozen=True)
class Change:
    """Reopening the reviewer's last judgment of the queue."""

    noun: str  # "rating": the dialog is "Change my last rating"
    id_of: Callable[[Any], int]
    show: Callable[[Any], None]
    save: Callable[..., None]  # (actor=, judgment_id=, values=)
    item_of: Callable[[Any], ItemRef] | None = None  # the judged item, whose comment thread shows under the form


@dataclass(frozen=True)
class Judging:
    queue: str
    page: str  # the page key its role check uses
    title: str
    noun: str  # what one item is: "answer", "pair", "item"
    passes_to: str  # who gets a skipped item: "another reviewer"
    empty: str
    guidelines: str  # the queue whose guidelines apply
    layout: tuple[float, float]  # widths of the texts and the form
    show: Callable[[ItemView], None]
    submit: Callable[..., Any]  # (actor=, assignment_id=, values=, hidden_seconds=)
    change: Change | None = None
    saved: str = ""  # the notice after a submission; by default "Saved. Here is the next {noun}."
    # the item on screen, whose comment thread opens beside Guidelines: only where the page shows the item's other
    # judgments already (Adjudicate); elsewhere a thread shows once the item is judged (Change.item_of)
    item_of: Callable[[ItemView], ItemRef] | None = None


def judging_page(judging: Judging) -> None:
    user = require_page(judging.page)
    st.html(STYLE)
    hotkeys.listen()
    _judging(judging, user)


@st.fragment
def _judging(judging: Judging, user: UserPublic) -> None:
    try:
        _judge(judging, user)
    except StoreError as error:
        st.error(str(error), icon=":material/cloud_off:")


def _judge(judging: Judging, user: UserPublic) -> None:
    held = st.session_state.get(HELD_KEY)
    _, view, judged, wanted = held if held and held[0] == judging.queue else (None, None, None, None)
    view = view or review.next_item(actor=user, queue=judging.queue)
    standing, feedback = review.my_qualification(actor=user, queue=judging.queue)
    gold_feedback(standing, feedback)
    last = review.last_judgment(actor=user, queue=judging.queue, judgment_id=judged) if judging.change else None
    if last is not None and wanted is not None:
        last = replace(last, values=wanted)
    _header(judging, review.progress_in(actor=user, queue=judging.queue), last, user, view, standing)
    prefix = None if view is None else f"{judging.queue}-{view.assignment_id}"
    refused = st.session_state.get(REFUSAL_KEY)
    if refused and refused[0].startswith(f"{judging.queue}-") and refused[0] != prefix:
        st.session_state.pop(REFUSAL_KEY)  # its item is gone from the page: say why, never drop it silently
        st.session_state[NOTICE_KEY] = ("warning", refused[1])
    if notice := st.session_state.pop(NOTICE_KEY, None):
        level, text = notice
        st.toast(text, icon=":material/warning:" if level == "warning" else ":material/check_circle:")
    if view is None:
        if closed := closed_notice(standing):
            st.warning(closed, icon=":material/pause_circle:")
        else:
            st.info(judging.empty, icon=":material/done_all:")
        return
    st.html(f'<span data-wb-item="{prefix}" data-wb-kind="{judging.queue}"></span>')  # for app/hotkeys.js
    texts, form = st.columns(judging.layout, gap="medium")
    with texts:
        judging.show(view)
    with form, st.container(key="wb-form"), st.form(prefix, border=False, enter_to_submit=False):
        FORMS[judging.queue].draw(prefix, None, getattr(view, "per_dimension", False))  # only a pair may ask
        _refusal(prefix, judging.queue)
        submit, skip = st.columns(2)
        submit.form_submit_button(
            "Submit (Enter)",
            type="primary",
            width="stretch",
            key=f"{prefix}-submit",
            on_click=_on_submit,
            args=(judging, user, view, prefix),
        )
        skip.form_submit_button(
            "Skip (s)",
            width="stretch",
            key=f"{prefix}-skip",
            help="Pass the item on; pick a reason under it first if you like (optional)",
            on_click=_on_skip,
            args=(judging, user, view, prefix),
        )
        st.pills(
            "Skip because (optional)",
            SKIP_REASONS,
            format_func=SKIP_LABELS.get,
            key=f"{prefix}-skip_reason",
            label_visibility="collapsed",  # the form must fit 800 px: the help says what they are
            help="Why you skip (optional): unclear, needs a specialist, offensive. Counted per item for the admins.",
        )


def _header(
    judging: Judging,
    progress: Progress,
    last: Last | None,
    user: UserPublic,
    view: ItemView | None,
    standing: Standing | None,
) -> None:
    title, tools = st.columns([1, 1.4], vertical_alignment="center")
    with title:
        st.title(judging.title, anchor=False)
        st.caption(
            f"Done today **{progress.done_today:,}** · Left in the queue **{progress.left:,}**"
            + progress_caption(standing)
        )
    with tools, st.container(horizontal=True, horizontal_alignment="right", gap="small"):
        with st.popover("Guidelines", icon=":material/menu_book:"):
            _guidelines(judging.guidelines)
        with st.container(key="keys-help", width="content"), st.popover("Keys (?)", icon=":material/keyboard:"):
            form, per_dimension = FORMS[judging.queue], getattr(view, "per_dimension", False)  # only a pair may ask
            keys = (form.dimension_keys if per_dimension and form.dimension_keys else form.keys) + COMMON_KEYS
            st.markdown("| Key | Does |\n|---|---|\n" + "\n".join(f"| `{key}` | {does} |" for key, does in keys))
        if judging.item_of is not None and view is not None:
            _thread_popover(user, judging.item_of(view), f"{judging.queue}-{view.assignment_id}")
        changeable = judging.change is not None and last is not None
        if changeable and st.button("Change last (u)", key="change-last", icon=":material/undo:"):
            _open_change(judging.change, judging.queue, user, last)
        if changeable:
            st.button(
                "",  # an icon only, so that the tools fit one line at 1280 px; its help names it
                key="recent",
                icon=":material/history:",
                help=f"Recent: my last 20 {judging.change.noun}s, to reopen and change any of them",
                on_click=st.session_state.update,
                kwargs={RECENT_KEY: True},
            )
    if changeable and st.session_state.get(RECENT_KEY):
        st.dialog(f"My recent {judging.change.noun}s", width="large", on_dismiss=_close_recent)(_recent)(
            judging.change, judging.queue, user
        )


def _thread_popover(user: UserPublic, item: ItemRef, key: str) -> None:
    """The item's comment thread behind a button of the header: the judging screen keeps its one-screen layout."""
    thread = thread_of(user, item)
    if thread is None:
        return
    with st.popover(f"Comments ({len(thread.comments)})", icon=":material/forum:"):
        comment_thread(user, item, key, thread, named=False)


def _guidelines(queue: str) -> None:
    st.markdown(guidelines(queue))
    if queue == "rating":
        for dimension in RUBRIC:
            spec = rubric()[dimension]
            st.markdown(f"**{dimension.title()}**: {spec['question']}")
            st.markdown("\n".join(f"- **{level}**: {spec['anchors'][level]}" for level in sorted(spec["anchors"])))


def _refusal(prefix: str, queue: str) -> None:
    """The problems of the last refusal that are about no field of the form (those are shown under their field)."""
    for text in refusal(prefix, FORMS[queue].fields)[1]:
        st.error(text, icon=":material/error:")


def _on_submit(judging: Judging, user: UserPublic, view: ItemView, prefix: str) -> None:
    st.session_state.pop(REFUSAL_KEY, None)
    values = None
    try:
        values = FORMS[judging.queue].read(prefix)
        judging.submit(
            actor=user, assignment_id=view.assignment_id, values=values, hidden_seconds=hotkeys.hidden_seconds(prefix)
        )
    except LeaseLost as error:
        st.session_state.pop(HELD_KEY, None)
        st.session_state[NOTICE_KEY] = ("warning", str(error))
    except AlreadyJudged as error:
        st.session_state[HELD_KEY] = (judging.queue, view, error.judgment_id, values)
        st.session_state[REFUSAL_KEY] = (prefix, str(error))
    except (Incomplete, FeedbackError, Forbidden, StoreError) as error:
        st.session_state[REFUSAL_KEY] = (prefix, str(error))
    else:
        st.session_state.pop(HELD_KEY, None)
        st.session_state[NOTICE_KEY] = ("success", judging.saved or f"Saved. Here is the next {judging.noun}.")


def _on_skip(judging: Judging, user: UserPublic, view: ItemView, prefix: str) -> None:
    st.session_state.pop(REFUSAL_KEY, None)
    if st.session_state.pop(HELD_KEY, None):  # judged in another tab: nothing to skip, the saved judgment stays
        st.session_state[NOTICE_KEY] = (
            "success",
            f"Your saved judgment stays as it was. Here is the next {judging.noun}.",
        )
        return
    try:
        reason = st.session_state.get(f"{prefix}-skip_reason")
        review.skip(actor=user, queue=judging.queue, assignment_id=view.assignment_id, reason=reason)
    except (Forbidden, StoreError, QueueError) as error:
        st.session_state[NOTICE_KEY] = ("warning", str(error))
    else:
        st.session_state[NOTICE_KEY] = ("success", f"Skipped: the {judging.noun} goes to {judging.passes_to}.")


def _open_change(change: Change, queue: str, user: UserPublic, last: Last) -> None:
    st.dialog(f"Change my last {change.noun}", width="large")(_change_last)(change, queue, user, last)


def _close_recent() -> None:
    st.session_state.pop(RECENT_KEY, None)


def _recent(change: Change, queue: str, user: UserPublic) -> None:
    """The reviewer's last 20 judgments of the queue: pick one, change it as the last one is changed."""
    recent = review.recent_judgments(actor=user, queue=queue)
    chosen = st.selectbox(
        f"Your last {len(recent)} {change.noun}s, newest first", recent, format_func=_summary, key="recent-choice"
    )
    if chosen is not None:
        _change_last(change, queue, user, chosen)


def _summary(last: Last) -> str:
    values = last.values
    if isinstance(values, LabelIn):
        chosen = ", ".join([LABELS.get(values.label, "?"), *values.categories])
        return f"{chosen} · {last.text[:70]}"
    if isinstance(values, ComparisonIn):
        strength = f", {values.strength}" if values.strength else ""
        return f"{values.preferred.replace('_', ' ')}{strength} · {last.prompt[:70]}"
    return f"{values.helpfulness} / {values.harmlessness} / {values.accuracy} · {last.prompt[:70]}"


def _change_last(change: Change, queue: str, user: UserPublic, last: Last) -> None:
    """The last judgment with its values, to correct; saved as a new version (the earlier one stays audited)."""
    judgment_id = change.id_of(last)
    prefix = f"change-{queue}-{judgment_id}"
    st.caption("The change is saved; the earlier values stay in the audit trail.")
    change.show(last)
    with st.form(prefix, border=False, enter_to_submit=False):
        FORMS[queue].draw(prefix, last.values, getattr(last, "per_dimension", False))
        _refusal(prefix, queue)
        st.form_submit_button(
            "Save change",
            type="primary",
            key=f"{prefix}-save",
            on_click=_on_change,
            args=(change, user, judgment_id, queue, prefix),
        )
    if change.item_of is not None:
        comment_thread(user, change.item_of(last), f"{queue}-{judgment_id}", named=False)
    if st.session_state.pop(CHANGED_KEY, False):
        _close_recent()
        st.rerun()  # close the dialog; the page shows the notice


def _on_change(change: Change, user: UserPublic, judgment_id: int, queue: str, prefix: str) -> None:
    st.session_state.pop(REFUSAL_KEY, None)
    try:
        change.save(actor=user, judgment_id=judgment_id, values=FORMS[queue].read(prefix))
    except (Incomplete, FeedbackError, Forbidden, StoreError) as error:
        st.session_state[REFUSAL_KEY] = (prefix, str(error))
    else:
        st.session_state[NOTICE_KEY] = ("success", f"Your {change.noun} was changed.")
        st.session_state[CHANGED_KEY] = True
        _close_recent()  # a full run must not open it again
        st.session_state.pop(HELD_KEY, None)
