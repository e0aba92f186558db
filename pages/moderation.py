"""Label moderation items, the ones the classifier is least sure of: toxic or not, the categories that apply, a note.
The page shows the text only, never a classifier's score or name."""

from app.review_page import Change, Judging, judging_page
from app.review_widgets import show_plain
from core.oversight.comments import moderation_item
from core.review import service as review

judging_page(
    Judging(
        queue="moderation",
        page="moderation",
        title="Label moderation items",
        noun="item",
        passes_to="another annotator",
        empty="Nothing left to label for you right now. Thank you!",
        guidelines="moderation",
        layout=(3.3, 1.7),
        show=lambda view: show_plain(view.text, key="wb-comment"),
        submit=lambda values, **kwargs: review.label(label=values, **kwargs),
        change=Change(
            noun="label",
            id_of=lambda last: last.label_id,
            show=lambda last: show_plain(last.text, key="wbc-comment"),
            save=lambda judgment_id, values, **kwargs: review.change_label(
                label_id=judgment_id, label=values, **kwargs
            ),
            item_of=lambda last: moderation_item(last.item_id),  # experts' (annotators take no part in threads)
        ),
    )
)
