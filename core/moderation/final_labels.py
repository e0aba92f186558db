"""The final human label of a moderation item, the one rule every report, retrain and export uses.

An adjudication decides; without one, the item's labels decide when they all agree. Items whose labels disagree
and that no expert has adjudicated yet have no final label. A label imported from another tool or a public
dataset (source other than "app") counts like any other and marks the final label as external."""

from __future__ import annotations

from sqlalchemy import Select, Subquery, case, func, select

from core.models import Adjudication, ModerationLabel


def final_labels(items: Select | None = None) -> Subquery:
    """Columns: item_id, label ("toxic" | "not_toxic"), basis ("adjudication" | "agreement"), n_labels, external
    (1 where any of the item's labels came from outside the app, else 0), decided_at (when the final label was
    reached: the adjudication's time, else the item's last label's). `items` (a query of item ids) limits it to those
    items, so that a report on a time range reads only the labels of that range's items."""
    query = select(
        ModerationLabel.item_id,
        func.min(ModerationLabel.label).label("label"),
        func.max(ModerationLabel.label).label("other_label"),  # equal to label when all the labels agree
        func.count().label("n_labels"),
        func.max(case((ModerationLabel.source == "app", 0), else_=1)).label("external"),
        func.max(ModerationLabel.created_at).label("last_label_at"),
    ).group_by(ModerationLabel.item_id)
    if items is not None:
        query = query.where(ModerationLabel.item_id.in_(items))
    per_item = query.subquery()
    return (
        select(
            per_item.c.item_id,
            func.coalesce(Adjudication.final_label, per_item.c.label).label("label"),
            case((Adjudication.id.is_not(None), "adjudication"), else_="agreement").label("basis"),
            per_item.c.n_labels,
            per_item.c.external,
            func.coalesce(Adjudication.created_at, per_item.c.last_label_at).label("decided_at"),
        )
        .outerjoin(Adjudication, Adjudication.item_id == per_item.c.item_id)
        .where((Adjudication.id.is_not(None)) | (per_item.c.label == per_item.c.other_label))
        .subquery("final_label")
    )
