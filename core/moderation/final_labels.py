"""The final human label of a moderation item, the one rule every report, retrain and export uses.

An adjudication decides. Without one, the item's labels decide when they all agree and no more are expected: the item
is not waiting in the borderline queue for its k labels (k = 2 by default), or one of its labels came from outside
the app (an import from another tool or a public dataset, which counts as a finished judgment on its own). So a
single app label on an item that still waits for its second annotator is not final yet: the overlap is there to catch
one annotator's mistake, and a label that a second one may contradict should not train or grade the classifier.
Items whose labels disagree and that no expert has adjudicated yet have no final label; they wait in the
adjudication queue. A final label is "external" when any of the item's labels came from outside the app."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from sqlalchemy import Select, Subquery, case, exists, func, select
from sqlmodel import Session

from core.store.models import Adjudication, ModerationLabel, WorkItem


def final_labels(items: Select | None = None) -> Subquery:
    """Columns: item_id, label ("toxic" | "not_toxic"), basis ("adjudication" | "agreement"), n_labels, external
    (1 where any of the item's labels came from outside the app, else 0), decided_at (the adjudication's time, or the
    time of the item's latest label or label change). `items` (a query of item ids) limits it to those items, so that
    a report on a time range reads only the labels of that range's items."""
    query = select(
        ModerationLabel.item_id,
        func.min(ModerationLabel.label).label("label"),
        func.max(ModerationLabel.label).label("other_label"),  # equal to label when all the labels agree
        func.count().label("n_labels"),
        func.max(case((ModerationLabel.source == "app", 0), else_=1)).label("external"),
        func.max(func.coalesce(ModerationLabel.updated_at, ModerationLabel.created_at)).label("labelled_at"),
    ).group_by(ModerationLabel.item_id)
    if items is not None:
        query = query.where(ModerationLabel.item_id.in_(items))
    per_item = query.subquery()
    waiting = exists().where(
        WorkItem.queue == "moderation",
        WorkItem.subject_id == per_item.c.item_id,
        WorkItem.open,
        ~WorkItem.is_gold,
    )
    adjudicated = Adjudication.id.is_not(None)
    agreed = (per_item.c.label == per_item.c.other_label) & ((per_item.c.external == 1) | ~waiting)
    return (
        select(
            per_item.c.item_id,
            func.coalesce(Adjudication.final_label, per_item.c.label).label("label"),
            case((adjudicated, "adjudication"), else_="agreement").label("basis"),
            per_item.c.n_labels,
            per_item.c.external,
            case(
                (adjudicated, func.coalesce(Adjudication.updated_at, Adjudication.created_at)),
                else_=per_item.c.labelled_at,
            ).label("decided_at"),
        )
        .outerjoin(Adjudication, Adjudication.item_id == per_item.c.item_id)
        .where(adjudicated | agreed)
        .subquery("final_label")
    )


def final_categories(session: Session, item_ids: Collection[int]) -> dict[int, list[str]]:
    """The categories of items with a final label: the adjudication's; otherwise those named by at least half of
    the item's labels (one of two annotators is enough: a category one careful reader sees is worth training on).
    Items judged not toxic have none."""
    ids = [int(i) for i in item_ids]
    decided: dict[int, list[str]] = {}
    labels: dict[int, list[list[str]]] = {}
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        rows = session.execute(
            select(Adjudication.item_id, Adjudication.final_label, Adjudication.categories).where(
                Adjudication.item_id.in_(chunk)
            )
        )
        decided.update({item: sorted(cats) if label == "toxic" else [] for item, label, cats in rows})
        rows = session.execute(
            select(ModerationLabel.item_id, ModerationLabel.categories).where(
                ModerationLabel.item_id.in_(chunk), ModerationLabel.label == "toxic"
            )
        )
        for item, cats in rows:
            labels.setdefault(item, []).append(cats)
    result = {}
    for item in ids:
        if item in decided:
            result[item] = decided[item]
            continue
        named = labels.get(item, [])
        counts = Counter(c for cats in named for c in set(cats))
        result[item] = sorted(c for c, n in counts.items() if 2 * n >= len(named))
    return result
