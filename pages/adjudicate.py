"""Adjudicate (experts and admins): items whose labels disagree, with every label, note and annotator, and the item's
comment thread (Comments, beside Guidelines). The expert's final label, categories and reason are stored as the item's
adjudication: its final label."""

import streamlit as st

from app.moderation_widgets import labels_table
from app.review_page import Judging, judging_page
from app.review_widgets import show_plain
from core.oversight.comments import moderation_item
from core.review import service as review


def show(view) -> None:
    show_plain(view.text, key="wb-comment")
    with st.container(key="wb-labels"):
        labels_table(view.labels)


judging_page(
    Judging(
        queue="adjudication",
        page="adjudicate",
        title="Adjudicate disagreements",
        noun="item",
        passes_to="another expert",
        empty="No disagreements are waiting for you. Thank you!",
        guidelines="moderation",
        layout=(3.3, 1.7),
        show=show,
        submit=lambda values, **kwargs: review.adjudicate(adjudication=values, **kwargs),
        saved="Decided: the final label is stored. Here is the next item.",
        item_of=lambda view: moderation_item(view.item_id),
    )
)
