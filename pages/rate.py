"""Rate one answer on the rubric, blind. Submit or Skip; the next answer comes at once."""

import streamlit as st

from app.review_widgets import guidelines_expander, leave_notice, progress_line, rating_form, show_notice, show_text
from app.session import require_page
from core.review import service as review
from core.review.judgments import FeedbackError, LeaseLost

user = require_page("rate")
st.title("Rate answers")
progress_line(review.progress_in(actor=user, queue="rating"))
guidelines_expander("rating")

show_notice("rate_notice")

view = review.next_item(actor=user, queue="rating")
if view is None:
    st.info("Nothing left to rate for you right now. Thank you!")
else:
    st.subheader("Question")
    show_text(view.prompt)
    st.subheader("Answer")
    show_text(view.answer, height=360)
    submitted = rating_form(key=f"rate-{view.assignment_id}", skip=True)
    if submitted == "skip":
        review.skip(actor=user, queue="rating", assignment_id=view.assignment_id)
        leave_notice("rate_notice", "Skipped: the answer goes to another reviewer.")
    elif submitted is not None:
        try:
            review.rate(actor=user, assignment_id=view.assignment_id, rating=submitted)
        except LeaseLost as error:
            leave_notice("rate_notice", str(error), "warning")
        except FeedbackError as error:
            st.error(str(error))
        else:
            leave_notice("rate_notice", "Saved. Here is the next answer.")

last = review.last_judgment(actor=user, queue="rating")
if last is not None:
    with st.expander("Change my last rating"):
        st.caption("The change is saved as a new version; the earlier one stays in the audit trail.")
        show_text(last.prompt)
        show_text(last.answer, height=200)
        changed = rating_form(key=f"change-rating-{last.rating_id}", initial=last.values, submit_label="Save change")
        if changed is not None and changed != "skip":
            try:
                review.change_rating(actor=user, rating_id=last.rating_id, rating=changed)
            except FeedbackError as error:
                st.error(str(error))
            else:
                leave_notice("rate_notice", "Your last rating was changed.")
