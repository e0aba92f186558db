"""Choose, blind, the better of two answers shown side by side in a random order that is stored."""

import streamlit as st

from app.review_page import Change, Judging, judging_page
from app.review_widgets import show_conversation
from app.spans import span_editor
from core.oversight.comments import pair
from core.review import service as review


def side_by_side(item, prefix: str) -> None:
    show_conversation(item.prompt, item.turns, key=f"{prefix}-question")
    # the form's prefix: error spans are marked on each side (app/spans.py)
    form = f"comparison-{item.assignment_id}" if prefix == "wb" else f"change-comparison-{item.comparison_id}"
    initial = item.values.spans if prefix != "wb" else ((), ())
    left_column, right_column = st.columns(2)
    for side, column, text, spans in zip(
        ("left", "right"), (left_column, right_column), (item.left, item.right), initial, strict=True
    ):
        with column:
            st.markdown(f"**{side.title()}** answer" if item.turns else f"**{side.title()}**")
            span_editor(text, f"{form}-{side}", spans, key=f"{prefix}-{side}")


judging_page(
    Judging(
        queue="comparison",
        page="compare",
        title="Compare answers",
        noun="pair",
        passes_to="another reviewer",
        empty="No pairs left to compare for you right now. Thank you!",
        guidelines="comparison",
        layout=(3.4, 1.6),
        show=lambda view: side_by_side(view, "wb"),
        submit=lambda values, **kwargs: review.compare(comparison=values, **kwargs),
        change=Change(
            noun="comparison",
            id_of=lambda last: last.comparison_id,
            show=lambda last: side_by_side(last, "wbc"),
            save=lambda judgment_id, values, **kwargs: review.change_comparison(
                comparison_id=judgment_id, comparison=values, **kwargs
            ),
            item_of=lambda last: pair(*last.answer_ids),
        ),
    )
)
