"""Choose, blind, the better of two answers shown side by side in a random order that is stored."""

import streamlit as st

from app.review_widgets import comparison_form, guidelines_expander, leave_notice, progress_line, show_notice, show_text
from app.session import require_page
from core.review import service as review
from core.review.judgments import FeedbackError, LeaseLost

user = require_page("compare")
st.title("Compare answers")
progress_line(review.progress_in(actor=user, queue="comparison"))
guidelines_expander("comparison")

show_notice("compare_notice")


def side_by_side(prompt: str, left: str, right: str, height: int) -> None:
    st.subheader("Question")
    show_text(prompt)
    left_column, right_column = st.columns(2)
    with left_column:
        st.subheader("Left")
        show_text(left, height=height)
    with right_column:
        st.subheader("Right")
        show_text(right, height=height)


view = review.next_item(actor=user, queue="comparison")
if view is None:
    st.info("No pairs left to compare for you right now. Thank you!")
else:
    side_by_side(view.prompt, view.left, view.right, height=420)
    submitted = comparison_form(key=f"compare-{view.assignment_id}", skip=True)
    if submitted == "skip":
        review.skip(actor=user, queue="comparison", assignment_id=view.assignment_id)
        leave_notice("compare_notice", "Skipped: the pair goes to another reviewer.")
    elif submitted is not None:
        try:
            review.compare(actor=user, assignment_id=view.assignment_id, comparison=submitted)
        except LeaseLost as error:
            leave_notice("compare_notice", str(error), "warning")
        except FeedbackError as error:
            st.error(str(error))
        else:
            leave_notice("compare_notice", "Saved. Here is the next pair.")

last = review.last_judgment(actor=user, queue="comparison")
if last is not None:
    with st.expander("Change my last comparison"):
        st.caption("The change is saved as a new version; the earlier one stays in the audit trail.")
        side_by_side(last.prompt, last.left, last.right, height=200)
        changed = comparison_form(
            key=f"change-comparison-{last.comparison_id}", initial=last.values, submit_label="Save change"
        )
        if changed is not None and changed != "skip":
            try:
                review.change_comparison(actor=user, comparison_id=last.comparison_id, comparison=changed)
            except FeedbackError as error:
                st.error(str(error))
            else:
                leave_notice("compare_notice", "Your last comparison was changed.")
