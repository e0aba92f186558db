"""Small stores for the reward-model tests: prompts answered well by one version and badly by another, with
comparisons and ratings written as rows; and a tiny randomly initialised BERT with the MiniLM tokenizer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from core.store.db import session_scope
from core.store.models import Comparison, ModelVersion, Prompt, Rating, Response, User

GOOD = "The flat rate is €6 a day for at most 210 days: {n} days give €{amount}. Check it with a tax adviser."
BAD = "Taxes are complicated and it depends. Hope this helps! {n}"
TOPICS = ("deductions", "VAT", "pensions")


def add_answers(engine: Engine, prompts: int = 20, *, prefix: str = "p") -> dict[str, tuple[int, int, int]]:
    """`prompts` questions, each with a good answer (good-v2) and a bad one (bad-v1); external id -> (prompt id,
    good answer id, bad answer id)."""
    ids = {}
    with session_scope(engine, write=True) as session:
        versions = {}
        for name in ("bad-v1", "good-v2"):
            version = session.exec(select(ModelVersion).where(ModelVersion.name == name)).one_or_none()
            if version is None:
                version = ModelVersion(name=name, kind="chatbot")
                session.add(version)
                session.flush()
            versions[name] = version.id
        for i in range(prompts):
            ext = f"{prefix}{i:03d}"
            prompt = Prompt(external_id=ext, text=f"How much can I deduct for {i + 40} home-office days?")
            prompt.topic = TOPICS[i % len(TOPICS)]
            session.add(prompt)
            session.flush()
            good = Response(
                external_id=f"{ext}-good",
                prompt_id=prompt.id,
                model_version_id=versions["good-v2"],
                text=GOOD.format(n=i + 40, amount=6 * (i + 40)),
            )
            bad = Response(
                external_id=f"{ext}-bad", prompt_id=prompt.id, model_version_id=versions["bad-v1"], text=BAD.format(n=i)
            )
            session.add_all([good, bad])
            session.flush()
            ids[ext] = (prompt.id, good.id, bad.id)
    return ids


def reviewer(engine: Engine, name: str) -> int:
    with session_scope(engine, write=True) as session:
        user = User(username=name, role="expert")
        session.add(user)
        session.flush()
        return user.id


def compare(
    engine: Engine, prompt_id: int, a: int, b: int, choice: str, user_id: int | None, *, source: str = "import"
) -> int:
    with session_scope(engine, write=True) as session:
        row = Comparison(
            key=f"{source}:{user_id}:{a}:{b}",
            source=source,
            prompt_id=prompt_id,
            response_a_id=a,
            response_b_id=b,
            version_a_id=session.get(Response, a).model_version_id,
            version_b_id=session.get(Response, b).model_version_id,
            choice=choice,
            user_id=user_id,
        )
        session.add(row)
        session.flush()
        return row.id


def rate(engine: Engine, response_id: int, score: int, user_id: int) -> None:
    with session_scope(engine, write=True) as session:
        session.add(
            Rating(
                key=f"r:{user_id}:{response_id}",
                response_id=response_id,
                user_id=user_id,
                helpfulness=score,
                harmlessness=score,
                accuracy=score,
            )
        )


def preferred_store(engine: Engine, prompts: int = 20, *, source: str = "import") -> dict[str, tuple[int, int, int]]:
    """Every prompt compared once: the good answer wins (stored as a or as b, alternately)."""
    ids = add_answers(engine, prompts)
    expert = reviewer(engine, "expert-a")
    for i, (prompt_id, good, bad) in enumerate(ids.values()):
        if i % 2:
            compare(engine, prompt_id, good, bad, "a", expert, source=source)
        else:
            compare(engine, prompt_id, bad, good, "b", expert, source=source)
    return ids


def tiny_bert(folder: Path) -> Path:
    """A randomly initialised BERT (hidden 32, 2 layers, one output) with the MiniLM tokenizer, saved to `folder`."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from core.reward.inference import default_base_model, offline

    offline()
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_base_model())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
