"""Widgets the review pages share: texts shown safely, guidelines, progress, the rating and comparison forms."""

from __future__ import annotations

import streamlit as st

from core.review.guidelines import guidelines, rubric
from core.review.judgments import ComparisonIn, RatingIn
from core.review.progress import Progress
from core.store.models import FLAGS, RUBRIC, STRENGTHS

CHOICES = {"left": "Left is better", "right": "Right is better", "tie": "Tie", "both_bad": "Both bad"}


def show_text(text: str, height: int | str = "content") -> None:
    """Markdown with HTML escaped (Streamlit's default): a <script> in an answer is shown as text, never run.
    A fixed height scrolls, so long answers stay readable side by side."""
    with st.container(border=True, height=height):
        st.markdown(text)


def show_notice(key: str) -> None:
    """A message left by the previous run (saved, skipped, item lost), shown once at the top."""
    if notice := st.session_state.pop(key, None):
        level, text = notice
        (st.warning if level == "warning" else st.success)(text)


def leave_notice(key: str, text: str, level: str = "success") -> None:
    st.session_state[key] = (level, text)
    st.rerun()


def guidelines_expander(queue: str) -> None:
    with st.expander("Guidelines"):
        st.markdown(guidelines(queue))
        if queue == "rating":
            for dimension in RUBRIC:
                anchors = rubric()[dimension]["anchors"]
                st.markdown(f"**{dimension.title()}**: {rubric()[dimension]['question']}")
                st.markdown("\n".join(f"- **{level}**: {anchors[level]}" for level in sorted(anchors)))


def progress_line(progress: Progress) -> None:
    done, left = st.columns(2)
    done.metric("Done today", progress.done_today)
    left.metric("Left in the queue", progress.left)


def rating_form(
    *, key: str, initial: RatingIn | None = None, skip: bool = False, submit_label: str = "Submit"
) -> RatingIn | str | None:
    """A RatingIn when submitted complete, "skip" when skipped, None otherwise (incomplete: says what is missing)."""
    with st.form(key):
        scores = {}
        for dimension in RUBRIC:
            spec = rubric()[dimension]
            scores[dimension] = st.radio(
                f"**{dimension.title()}**: {spec['question']}",
                options=[1, 2, 3, 4, 5],
                format_func=lambda level, anchors=spec["anchors"]: f"{level}: {anchors[str(level)]}",
                index=None if initial is None else getattr(initial, dimension) - 1,
                key=f"{key}-{dimension}",
            )
        flags = st.multiselect(
            "Flags",
            options=list(FLAGS),
            default=list(initial.flags) if initial else [],
            format_func=lambda flag: rubric()["flags"][flag],
            key=f"{key}-flags",
        )
        rationale = st.text_area(
            "Rationale (required when accuracy is 2 or less or a flag is set)",
            value=initial.rationale if initial else "",
            key=f"{key}-rationale",
        )
        left, right = st.columns([1, 5])
        submitted = left.form_submit_button(submit_label, type="primary")
        skipped = skip and right.form_submit_button("Skip")
    if skipped:
        return "skip"
    if not submitted:
        return None
    missing = [d for d in RUBRIC if scores[d] is None]
    if missing:
        st.error(f"Score every dimension: {', '.join(missing)} is missing.")
        return None
    return RatingIn(scores["helpfulness"], scores["harmlessness"], scores["accuracy"], tuple(flags), rationale)


def comparison_form(
    *, key: str, initial: ComparisonIn | None = None, skip: bool = False, submit_label: str = "Submit"
) -> ComparisonIn | str | None:
    with st.form(key):
        preferred = st.radio(
            "Which answer would you rather give the user?",
            options=list(CHOICES),
            format_func=CHOICES.get,
            index=None if initial is None else list(CHOICES).index(initial.preferred),
            horizontal=True,
            key=f"{key}-choice",
        )
        strength = st.radio(
            "How strong is the preference? (for left or right)",
            options=list(STRENGTHS),
            horizontal=True,
            index=None if initial is None or initial.strength is None else list(STRENGTHS).index(initial.strength),
            key=f"{key}-strength",
        )
        rationale = st.text_area("Rationale", value=initial.rationale if initial else "", key=f"{key}-rationale")
        left, right = st.columns([1, 5])
        submitted = left.form_submit_button(submit_label, type="primary")
        skipped = skip and right.form_submit_button("Skip")
    if skipped:
        return "skip"
    if not submitted:
        return None
    if preferred is None:
        st.error("Choose left, right, tie or both bad.")
        return None
    return ComparisonIn(preferred, strength, rationale)
