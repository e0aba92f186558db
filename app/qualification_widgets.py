"""The qualification gate on screen: the lead's section of the Review queues page (the gate per queue, each
reviewer's standing, Release / Discard / Allow retry) and what a reviewer sees on a judging page (their progress,
the known answer and the deciding guideline after each qualifying gold item, and why a queue serves them nothing)."""

from __future__ import annotations

import streamlit as st

from core.auth import UserPublic
from core.review import service as review
from core.review.qualification import GoldFeedback, QualificationError, Standing
from core.review.queues import QueueError

SHOWN_KEY = "qualification_feedback_shown"  # the gold item whose feedback the reviewer saw last
STATUS_TEXT = {
    "qualifying": "qualifying",
    "qualified": "qualified",
    "failed": "failed: waits for a retry",
    "paused": "paused: judgments held",
}


def qualification_section(user: UserPublic, notice_key: str) -> None:
    """Set each queue's gate; follow and decide on the reviewers' standings (expert leads and admins)."""
    st.subheader("Qualification gate", anchor=False)
    st.caption(
        "A reviewer new to a gated queue first judges its gold items, seeing the known answer after each. Until they "
        "pass, their judgments are provisional: kept and audited, but out of k, the reports, the agreement, the KPIs, "
        "the reward snapshots and the retraining. A qualified reviewer whose share of their last 10 gold items falls "
        "below the pass share is paused, with their judgments since the last gold item they passed held for you."
    )
    gates = review.qualification_gates(actor=user)
    for column, gate in zip(st.columns(len(gates)), gates, strict=True):
        with column, st.form(f"gate-{gate.queue}", border=True):
            st.markdown(f"**{gate.queue.capitalize()}** · {gate.gold_items:,} gold items")
            qualify = st.number_input(
                "Gold items to qualify", 0, max(gate.gold_items, gate.qualify), gate.qualify,
                help="0: no gate. At most the queue's gold items.", key=f"gate-{gate.queue}-qualify",
            )  # fmt: skip
            share = st.number_input(
                "Pass share", 0.01, 1.0, gate.pass_share, step=0.05, format="%.2f",
                help="Share of the gold items to get right, and to keep right", key=f"gate-{gate.queue}-share",
            )  # fmt: skip
            if st.form_submit_button("Save gate"):
                try:
                    saved = review.configure_gate(actor=user, queue=gate.queue, qualify=qualify, pass_share=share)
                except QueueError as error:
                    st.error(str(error))
                else:
                    what = f"{saved.qualify} gold items at {saved.pass_share:.0%}" if saved.qualify else "off"
                    st.session_state[notice_key] = f"{saved.queue}: qualification gate {what}."
                    st.rerun()
    standings = review.qualification_standings(actor=user)
    if not standings:
        st.caption("No reviewer has met a gated queue yet.")
        return
    st.dataframe(
        [
            {
                "Queue": s.queue,
                "Reviewer": s.user,
                "Standing": STATUS_TEXT[s.status],
                "Attempt": s.attempt,
                "Gold right": f"{s.passed} of {s.judged}" if s.status in ("qualifying", "failed") else "",
                "Provisional": s.held,
            }
            for s in standings
        ],
        hide_index=True,
        column_config={"Provisional": st.column_config.NumberColumn(help="Judgments held out of every count")},
    )
    for s in standings:
        if s.status in ("paused", "failed"):
            _decision_line(user, s, notice_key)


def _decision_line(user: UserPublic, s: Standing, notice_key: str) -> None:
    key = f"decide-{s.queue}-{s.user}"
    with st.container(horizontal=True, vertical_alignment="center", key=key):
        if s.status == "paused":
            st.markdown(
                f"**{s.user}** is paused on **{s.queue}**: {s.held:,} judgments held since their last gold item passed."
            )
            if st.button("Release", key=f"{key}-release", help="They count; the reviewer is qualified again"):
                _decide(review.release_held, user, s, notice_key, "released {n} judgments of {user}")
            if st.button("Discard", key=f"{key}-discard", help="Kept out for good; the reviewer qualifies again"):
                _decide(review.discard_held, user, s, notice_key, "discarded {n} judgments of {user}")
        else:
            st.markdown(f"**{s.user}** failed the **{s.queue}** qualification ({s.passed} of {s.judged} right).")
            if st.button("Allow retry", key=f"{key}-retry"):
                _decide(review.allow_retry, user, s, notice_key, "{user} may qualify again")


def _decide(action, user: UserPublic, s: Standing, notice_key: str, said: str) -> None:
    try:
        n = action(actor=user, queue=s.queue, user=s.user)
    except QualificationError as error:
        st.error(str(error))
    else:
        st.session_state[notice_key] = f"{s.queue}: " + said.format(n=f"{n or 0:,}", user=s.user) + "."
        st.rerun()


def progress_caption(standing: Standing | None) -> str:
    """The reviewer's qualification as the judging page's header says it ("" when qualified or no gate)."""
    if standing is None or standing.status != "qualifying":
        return ""
    return f" · Qualification: **{standing.judged} of {standing.qualify}** gold items"


def closed_notice(standing: Standing | None) -> str | None:
    """Why a gated queue serves the reviewer nothing, and what happens next."""
    if standing is None:
        return None
    if standing.status == "failed":
        return (
            f"You got {standing.passed} of {standing.judged} gold items right, below the {standing.pass_share:.0%} "
            "this queue asks for. An expert lead can let you try again; the guidelines explain each answer."
        )
    if standing.status == "paused":
        return (
            f"This queue is paused for you: your share right of your last gold items fell below "
            f"{standing.pass_share:.0%}. An expert lead is reviewing your recent judgments, which are kept but not "
            "counted until then."
        )
    return None


def gold_feedback(standing: Standing | None, feedback: GoldFeedback | None) -> None:
    """Once per qualifying gold item: the known answer beside the reviewer's, and the guideline that decides it."""
    if standing is None or feedback is None:
        return
    seen = (standing.queue, standing.attempt, standing.judged, feedback.work_item_id)
    if st.session_state.get(SHOWN_KEY) == seen:
        return
    st.session_state[SHOWN_KEY] = seen
    st.dialog("Gold item: the known answer", width="large")(_feedback)(standing, feedback)


def _feedback(standing: Standing, feedback: GoldFeedback) -> None:
    answer = ", ".join(f"{name} {value}" for name, value in feedback.answer.items())
    given = ", ".join(f"{name} {value}" for name, value in feedback.given.items())
    if feedback.passed:
        st.success(f"Right: the known answer is {answer}.", icon=":material/check_circle:")
    else:
        st.warning(f"Not this time: you gave {given}; the known answer is {answer}.", icon=":material/info:")
    st.markdown(feedback.guideline)
    if standing.status == "qualified":
        st.info("You qualified: your judgments on this queue count from now on.", icon=":material/verified:")
    elif standing.status == "qualifying":
        st.caption(f"Qualification: {standing.judged} of {standing.qualify} gold items.")
