"""Conversations: the turns before a question imported and kept, refused when they do not lead to it, shown as chat
on the pages, carried into reward snapshots in TRL's conversational format and trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.auth import UserPublic
from core.ingest import ImportRefused, import_file
from core.oversight import service as oversight
from core.reward.inference import plain_pair, reward_text
from core.reward.snapshot import export_snapshot, load_splits
from core.reward.train import TrainParams, train_reward_model
from core.store.db import session_scope
from core.store.models import DatasetSnapshot, Prompt
from tests.app_helpers import add_users
from tests.review_store import build
from tests.reward_store import tiny_bert

PAGES = Path(__file__).resolve().parents[1] / "pages"
TURNS = [
    {"role": "user", "text": "I moved to Lyon in March."},
    {"role": "assistant", "text": "Then you are resident in France from March."},
    {"role": "user", "text": "I still rent out my flat in Berlin."},
    {"role": "assistant", "text": "Its rent is taxed in Germany first."},
    {"role": "user", "text": "And in France? 🇫🇷 ما هو"},
]
QUESTION = "Do I declare it in France too?"


def conversation_row(prompt_id: str = "c1", turns: list | None = None, question: str = QUESTION) -> dict:
    turns = [*TURNS, {"role": "user", "text": question}] if turns is None else turns
    return {
        "prompt_id": prompt_id,
        "prompt": question,
        "turns": turns,
        "responses": [
            {"response_id": f"{prompt_id}-1", "model": "bot-v1", "text": "Yes, with a credit for the German tax."},
            {"response_id": f"{prompt_id}-2", "model": "bot-v2", "text": "No."},
        ],
    }


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_imported_turns_are_kept_before_the_question_as_given(any_engine, tmp_path):
    summary = import_file(write(tmp_path / "c.jsonl", [conversation_row()]), "conversations", engine=any_engine)
    assert summary.added == 2
    with session_scope(any_engine) as s:
        prompt = s.execute(select(Prompt)).scalar_one()
    assert (prompt.text, prompt.turns) == (QUESTION, TURNS)  # the question itself is the prompt's text


def test_a_conversation_without_turns_is_one_question(engine, tmp_path):
    row = conversation_row()
    del row["turns"]
    import_file(write(tmp_path / "c.jsonl", [row]), "conversations", engine=engine)
    with session_scope(engine) as s:
        assert s.execute(select(Prompt.turns)).scalar_one() == []


@pytest.mark.parametrize(
    ("turns", "reason"),
    [
        (TURNS, "the last turn must be the user's question that `prompt` holds"),  # ends with another question
        ([*TURNS, {"role": "assistant", "text": QUESTION}], "the last turn must be the user's question"),
        ([{"role": "system", "text": "Be brief."}, {"role": "user", "text": QUESTION}], "turns.0.role"),
        ([], "the last turn must be the user's question"),
        ([{"role": "user", "text": ""}, {"role": "user", "text": QUESTION}], "turns.0.text"),
    ],
)
def test_turns_that_do_not_lead_to_the_question_are_refused_naming_the_line(engine, tmp_path, turns, reason):
    rows = [conversation_row("ok"), conversation_row("bad", turns)]
    with pytest.raises(ImportRefused) as refused:
        import_file(write(tmp_path / "c.jsonl", rows), "conversations", engine=engine)
    assert "line 2" in str(refused.value) and reason in str(refused.value)
    with session_scope(engine) as s:
        assert s.execute(select(Prompt)).first() is None  # nothing written


# --- the pages ------------------------------------------------------------------------------------------------------


def reviewer_page(engine, tmp_path, name: str) -> AppTest:
    st.cache_resource.clear()
    import_file(write(tmp_path / "c.jsonl", [conversation_row()]), "conversations", engine=engine)
    users = build(engine, tmp_path, prompts=0)  # reviewers, and the queues serving both versions' answers
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=30)
    at.session_state["user"] = UserPublic(users["expert0"], "expert0", "expert0", "expert", True)
    return at.run()


def chat(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, " ".join(str(md.value) for md in m.markdown)) for m in at.get("chat_message")]


def test_the_rate_page_shows_the_conversation_in_order_with_older_turns_folded(engine, tmp_path):
    at = reviewer_page(engine, tmp_path, "rate")
    assert not at.exception
    shown = chat(at)
    assert shown == [(t["role"], t["text"]) for t in TURNS] + [("user", QUESTION)]
    (folded,) = at.expander
    assert folded.label == "2 earlier turns of the conversation"  # all but the last three before the question
    assert [m.name for m in folded.get("chat_message")] == ["user", "assistant"]
    assert "**The assistant's answer, to rate**" in [str(m.value) for m in at.markdown]


def test_the_compare_page_shows_the_conversation_above_both_answers(engine, tmp_path):
    at = reviewer_page(engine, tmp_path, "compare")
    assert not at.exception
    assert chat(at)[-1] == ("user", QUESTION) and len(chat(at)) == len(TURNS) + 1
    assert {"**Left** answer", "**Right** answer"} <= {str(m.value) for m in at.markdown}


def test_the_audit_trail_shows_an_answers_conversation_before_its_question(engine, tmp_path):
    import_file(write(tmp_path / "c.jsonl", [conversation_row()]), "conversations", engine=engine)
    history = oversight.item_history(actor=add_users(engine)["expert"], reference="c1-1", engine=engine)
    headings = [heading for heading, _ in history.texts]
    assert headings[:6] == ["Earlier turn: user", "Earlier turn: assistant"] * 2 + ["Earlier turn: user", "Question"]
    assert [text for _, text in history.texts][:5] == [t["text"] for t in TURNS]


# --- reward snapshots and training ----------------------------------------------------------------------------------


def hh_conversations(engine, tmp_path, n: int = 30) -> None:
    """n HH-RLHF pairs on two-question conversations: the careful answer is chosen."""
    lines = [
        {
            side: f"\n\nHuman: I sold shares {i}.\n\nAssistant: Noted.\n\nHuman: Do I owe tax {i}?\n\nAssistant: {a}"
            for side, a in (("chosen", f"Capital gains tax on the gain {i}."), ("rejected", f"Never {i}."))
        }
        for i in range(n)
    ]
    import_file(write(tmp_path / "hh.jsonl", lines), "hh-rlhf", engine=engine)


@pytest.fixture
def artifacts(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "artifacts"
    monkeypatch.setenv("ARTIFACTS_DIR", str(folder))
    return folder


def test_the_snapshot_carries_the_conversation_in_trls_conversational_format(engine, tmp_path, artifacts):
    hh_conversations(engine, tmp_path)
    result = export_snapshot(engine)
    with session_scope(engine) as s:
        rows = load_splits(s.get(DatasetSnapshot, result.id))["train"].to_list()
    row = next(r for r in rows if r["prompt_id"] == rows[0]["prompt_id"])
    i = row["chosen_text"].split()[-1].rstrip(".")
    assert row["prompt"] == [
        {"role": "user", "content": f"I sold shares {i}."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": f"Do I owe tax {i}?"},
    ]
    assert row["chosen"] == [{"role": "assistant", "content": f"Capital gains tax on the gain {i}."}]


def test_without_a_chat_template_the_turns_are_named_in_plain_text():
    messages = [
        {"role": "user", "content": "A?"},
        {"role": "assistant", "content": "B."},
        {"role": "user", "content": "C?"},
    ]
    assert plain_pair(messages, "yes", "no") == {
        "prompt": "User: A?\n\nAssistant: B.\n\nUser: C?",
        "chosen": "\n\nAssistant: yes",
        "rejected": "\n\nAssistant: no",
    }
    # a one-turn conversation reads as before conversations: the question, a blank line, the answer
    assert plain_pair(messages[-1:], "yes", "no") == {"prompt": "C?", "chosen": "\n\nyes", "rejected": "\n\nno"}


CHAT_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"


@pytest.mark.parametrize("template", [False, True], ids=["plain", "chat-template"])
def test_a_conversational_snapshot_trains_with_trl(engine, tmp_path, artifacts, template):
    hh_conversations(engine, tmp_path)
    model = tiny_bert(tmp_path / "tiny")
    if template:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model)
        tokenizer.chat_template = CHAT_TEMPLATE
        tokenizer.save_pretrained(model)
    snapshot = export_snapshot(engine)
    params = TrainParams(epochs=1, max_length=128, batch_size=8)
    result = train_reward_model(engine, snapshot_id=snapshot.id, base_model=str(model), params=params)
    assert result.status == "done" and result.metrics["train_pairs"] == snapshot.counts["train"]
    assert result.metrics["n_eval_pairs"] == snapshot.counts["eval"]
    from core.reward.inference import load_reward_model

    _, tokenizer = load_reward_model(result.artifact_path)
    text = reward_text(tokenizer, [{"role": "user", "content": "Q?"}], "A.")
    assert text == ("<|user|>Q?<|assistant|>A." if template else "Q?\n\nA.")
    shutil.rmtree(model)
