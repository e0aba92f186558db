"""Adjudicate (experts and admins): items whose labels disagree, with every label, note and annotator. The expert's
final label, categories and reason are stored as the item's adjudication: its final label."""

import streamlit as st

from app.moderation_widgets import adjudication_form, labels_table, show_item
from app.review_widgets import guidelines_expander, leave_notice, progress_line, show_notice
from app.session import require_page
from core.review import service as review
from core.review.judgments import FeedbackError, LeaseLost

user = require_page("adjudicate")
st.title("Adjudicate disagreements")
progress_line(review.progress_in(actor=user, queue="adjudication"))
guidelines_expander("moderation")

show_notice("adjudicate_notice")

view = review.next_item(actor=user, queue="adjudication")
if view is None:
    st.info("No disagreements are waiting for you. Thank you!")
else:
    st.subheader("Comment")
    show_item(view.text)
    st.subheader("Labels")
    labels_table(view.labels)
    decided = adjudication_form(key=f"adjudicate-{view.assignment_id}")
    if decided == "skip":
        review.skip(actor=user, queue="adjudication", assignment_id=view.assignment_id)
        leave_notice("adjudicate_notice", "Skipped: the item goes to another expert.")
    elif decided is not None:
        try:
            review.adjudicate(actor=user, assignment_id=view.assignment_id, adjudication=decided)
        except LeaseLost as error:
            leave_notice("adjudicate_notice", str(error), "warning")
        except FeedbackError as error:
            st.error(str(error))
        else:
            leave_notice("adjudicate_notice", "Decided: the final label is stored. Here is the next item.")
