"""A small hand-built store whose A/B numbers are known: three chatbot versions judged on two topics, two moderation
classifiers scored against human labels. Shared by the report, CLI and page tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from core.store.db import session_scope
from core.store.models import (
    Adjudication,
    Comparison,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
)

JUNE = datetime(2026, 6, 15, 12, tzinfo=UTC)
JANUARY = datetime(2026, 1, 10, 12, tzinfo=UTC)
# (topic, version of answer a, version of answer b, choice, how many): A = bot-a, B = bot-b, in June unless noted
COMPARISONS = [
    ("vat", "bot-a", "bot-b", "b", 3),
    ("vat", "bot-b", "bot-a", "a", 2),  # answer a is B's: B wins
    ("vat", "bot-a", "bot-b", "a", 1),
    ("vat", "bot-a", "bot-b", "tie", 2),
    ("payroll", "bot-b", "bot-a", "a", 3),
    ("payroll", "bot-b", "bot-a", "b", 1),
    ("payroll", "bot-a", "bot-b", "both_bad", 1),
    ("vat", "bot-c", "bot-a", "a", 4),
    ("vat", "bot-c", "bot-a", "b", 1),
    ("payroll", "bot-c", "bot-b", "a", 2),
    ("payroll", "bot-b", "bot-c", "a", 2),
]
OLD_COMPARISONS = [("vat", "bot-a", "bot-b", "a", 6)]  # in January: A wins, outside a June range
# version -> (helpfulness, harmlessness, accuracy, flags) on the vat prompt
RATINGS = {
    "bot-a": [(3, 5, 2, ["incorrect"]), (3, 5, 3, []), (4, 4, 3, [])],
    "bot-b": [(4, 5, 4, []), (4, 5, 5, []), (5, 5, 5, [])],
}
# item: (meta, mod-1's label, mod-2's label, human labels, adjudication)
ITEMS = {
    "m1": ({"language": "en"}, "toxic", "toxic", ["toxic"], None),
    "m2": ({"language": "en"}, "toxic", "not_toxic", ["not_toxic", "not_toxic"], None),
    "m3": ({"language": "de"}, "not_toxic", "toxic", ["toxic"], None),
    "m4": ({"language": "de"}, "not_toxic", "not_toxic", ["not_toxic"], None),
    "m5": ({"language": "de", "id": "x5"}, "toxic", "toxic", ["toxic", "not_toxic"], "not_toxic"),
    "m6": ({"language": "en"}, "toxic", "toxic", ["toxic", "not_toxic"], None),  # no final label: left out
    "m7": ({"nested": {"a": 1}}, "not_toxic", "toxic", ["toxic"], None),  # no language
}


def build_ab_store(engine: Engine, *, moderation: bool = True) -> None:
    with session_scope(engine, write=True) as s:
        user = User(username="judge", role="expert")
        s.add(user)
        versions = {n: ModelVersion(name=n, kind="chatbot") for n in ("bot-a", "bot-b", "bot-c")}
        if moderation:
            versions |= {n: ModelVersion(name=n, kind="moderation") for n in ("mod-1", "mod-2")}
        s.add_all(versions.values())
        s.flush()
        answers: dict[tuple[str, str], Response] = {}
        for topic in ("vat", "payroll"):
            prompt = Prompt(external_id=f"p-{topic}", text=f"A {topic} question?", topic=topic)
            s.add(prompt)
            s.flush()
            for name in ("bot-a", "bot-b", "bot-c"):
                answers[topic, name] = Response(
                    external_id=f"r-{topic}-{name}", prompt_id=prompt.id, model_version_id=versions[name].id, text="."
                )
        s.add_all(answers.values())
        s.flush()
        n = 0
        for rows, at in ((COMPARISONS, JUNE), (OLD_COMPARISONS, JANUARY)):
            for topic, first, second, choice, count in rows:
                for _ in range(count):
                    n += 1
                    a, b = answers[topic, first], answers[topic, second]
                    s.add(
                        Comparison(
                            key=f"c{n}",
                            prompt_id=a.prompt_id,
                            response_a_id=a.id,
                            response_b_id=b.id,
                            version_a_id=a.model_version_id,
                            version_b_id=b.model_version_id,
                            choice=choice,
                            user_id=user.id,
                            created_at=at,
                        )
                    )
        for name, rows in RATINGS.items():
            for k, (helpful, harmless, accurate, flags) in enumerate(rows):
                s.add(
                    Rating(
                        key=f"{name}-{k}",
                        response_id=answers["vat", name].id,
                        helpfulness=helpful,
                        harmlessness=harmless,
                        accuracy=accurate,
                        flags=flags,
                        created_at=JUNE,
                    )
                )
        if moderation:
            _moderation(s, versions, user)


def _moderation(s, versions: dict[str, ModelVersion], user: User) -> None:
    for external, (meta, first, second, labels, adjudicated) in ITEMS.items():
        item = ModerationItem(external_id=external, text="a comment", meta=meta, created_at=JUNE)
        s.add(item)
        s.flush()
        for name, label in (("mod-1", first), ("mod-2", second)):
            s.add(
                ModerationScore(
                    item_id=item.id,
                    model_version_id=versions[name].id,
                    score=0.9 if label == "toxic" else 0.1,
                    predicted_label=label,
                )
            )
        for k, label in enumerate(labels):
            s.add(ModerationLabel(key=f"{external}-{k}", item_id=item.id, label=label))
        if adjudicated:
            s.add(Adjudication(item_id=item.id, user_id=user.id, final_label=adjudicated, reason="checked"))
