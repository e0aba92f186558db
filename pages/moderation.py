"""Label moderation items, the ones the classifier is least sure of: toxic or not, the categories that apply, a note.
Submit or Skip; the next item comes at once. The page shows the text only, never a classifier's score or name."""

import streamlit as st

from app.moderation_widgets import label_form, show_item
from app.review_widgets import guidelines_expander, leave_notice, progress_line, show_notice
from app.session import require_page
from core.review import service as review
from core.review.judgments import FeedbackError, LeaseLost

user = require_page("moderation")
st.title("Label moderation items")
progress_line(review.progress_in(actor=user, queue="moderation"))
guidelines_expander("moderation")

show_notice("label_notice")

view = review.next_item(actor=user, queue="moderation")
if view is None:
    st.info("Nothing left to label for you right now. Thank you!")
else:
    st.subheader("Comment")
    show_item(view.text)
    submitted = label_form(key=f"label-{view.assignment_id}", skip=True)
    if submitted == "skip":
        review.skip(actor=user, queue="moderation", assignment_id=view.assignment_id)
        leave_notice("label_notice", "Skipped: the item goes to another annotator.")
    elif submitted is not None:
        try:
            review.label(actor=user, assignment_id=view.assignment_id, label=submitted)
        except LeaseLost as error:
            leave_notice("label_notice", str(error), "warning")
        except FeedbackError as error:
            st.error(str(error))
        else:
            leave_notice("label_notice", "Saved. Here is the next item.")

last = review.last_judgment(actor=user, queue="moderation")
if last is not None:
    with st.expander("Change my last label"):
        st.caption("The change is saved in place; the earlier label stays in the audit trail.")
        show_item(last.text)
        changed = label_form(key=f"change-label-{last.label_id}", initial=last.values, submit_label="Save change")
        if changed is not None and changed != "skip":
            try:
                review.change_label(actor=user, label_id=last.label_id, label=changed)
            except FeedbackError as error:
                st.error(str(error))
            else:
                leave_notice("label_notice", "Your last label was changed.")
