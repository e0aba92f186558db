"""Rate one answer on the rubric, blind, by keyboard or mouse; the next answer comes at once."""

import streamlit as st

from app.review_page import Change, Judging, judging_page
from app.review_widgets import show_conversation
from app.spans import span_editor
from core.oversight.comments import answer
from core.review import service as review


def show(view, prefix: str = "wb") -> None:
    show_conversation(view.prompt, view.turns, key=f"{prefix}-question")
    if view.turns:
        st.markdown("**The assistant's answer, to rate**")
    if prefix == "wb":  # the item to rate; its form's prefix
        span_editor(view.answer, f"rating-{view.assignment_id}", key=f"{prefix}-answer")
    else:  # the rating to change, with its spans
        span_editor(view.answer, f"change-rating-{view.rating_id}", view.values.spans, key=f"{prefix}-answer")


judging_page(
    Judging(
        queue="rating",
        page="rate",
        title="Rate answers",
        noun="answer",
        passes_to="another reviewer",
        empty="Nothing left to rate for you right now. Thank you!",
        guidelines="rating",
        layout=(3.3, 1.7),
        show=show,
        submit=lambda values, **kwargs: review.rate(rating=values, **kwargs),
        change=Change(
            noun="rating",
            id_of=lambda last: last.rating_id,
            show=lambda last: show(last, "wbc"),
            save=lambda judgment_id, values, **kwargs: review.change_rating(
                rating_id=judgment_id, rating=values, **kwargs
            ),
            item_of=lambda last: answer(last.answer_id),
        ),
    )
)
