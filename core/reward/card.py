"""The model card (README.md) saved beside a trained reward model."""

from __future__ import annotations

import json
from typing import Any

from core.reward.baselines import baseline_lines, beats_baselines
from core.reward.snapshot import SEPARATOR


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _interval(ci: list[float] | None) -> str:
    return "" if not ci else f" (95% CI {ci[0]:.1%} to {ci[1]:.1%})"


def _baselines(metrics: dict[str, Any]) -> str:
    lines = baseline_lines(metrics)
    if not lines:
        return "- not measured (no held-out pairs)"
    verdict = "beats both" if beats_baselines(metrics) else "does not beat both"
    rule = "a higher accuracy, and the lower bound of its 95% interval above theirs"
    return "\n".join(f"- {line}." for line in lines) + f"\n- The model {verdict} baselines ({rule})."


def model_card(
    *, run_id: int, snapshot: dict[str, Any], base_model: str, params: dict[str, Any], metrics: dict[str, Any]
) -> str:
    topics = "\n".join(
        f"| {name} | {_percent(m['accuracy'])} | {m['n']} |" for name, m in metrics.get("by_topic", {}).items()
    )
    expert = metrics.get("expert_agreement") or {}
    expert_line = (
        f"{_percent(expert['share'])} of {expert['n']} single expert votes from the app{_interval(expert['ci'])}"
        if expert.get("n")
        else "no held-out expert votes from the app in this snapshot"
    )
    return f"""---
library_name: transformers
pipeline_tag: text-classification
tags: [reward-model, trl, workbench]
base_model: {json.dumps(base_model)}
---

# Reward model, run {run_id}

A reward model trained with TRL's `RewardTrainer` on expert preferences collected in the human-evaluation
workbench: `AutoModelForSequenceClassification` with one output, the reward (higher is better).

## Data
- Snapshot {snapshot["id"]}, SHA-256 `{snapshot["content_hash"]}` ({snapshot["path"]}).
- {metrics.get("train_pairs", 0):,} training pairs ({metrics.get("dropped_pairs", 0):,} more dropped as longer than
  {params["max_length"]} tokens); {metrics.get("n_eval_pairs", 0):,} held-out pairs on prompts never seen in
  training (the split is by prompt).
- A pair is two answers to one prompt whose reviewers chose one by majority; ties, both-bad and split votes are
  left out.

## Training
- Base model: `{base_model}`
- Parameters: `{json.dumps({k: v for k, v in params.items() if k != "out"}, sort_keys=True)}`
- Final training loss: {metrics.get("final_loss", "n/a")}; {metrics.get("pairs_per_second", "n/a")} pairs/s
  on {metrics.get("device", "cpu")}.

## Held-out metrics
- Pairwise accuracy: {_percent(metrics.get("accuracy"))} of {metrics.get("n_eval_pairs", 0)} pairs
  {_interval(metrics.get("accuracy_ci"))}.
- Agreement with experts: {expert_line}.

Against style baselines on the same held-out pairs (a model that learned only length or wording would do no
better than they do):
{_baselines(metrics)}

| topic | accuracy | pairs |
| --- | --- | --- |
{topics}

## Use
Scores an answer to a question: the input is the question, a blank line (`{json.dumps(SEPARATOR)}`) and the answer,
followed by the tokenizer's end-of-sequence token, exactly as in training.

```python
from transformers import AutoModelForSequenceClassification, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("PATH")
model = AutoModelForSequenceClassification.from_pretrained("PATH").eval()
text = question + "\\n\\n" + answer + tokenizer.eos_token
inputs = tokenizer(text, truncation=True, max_length={params["max_length"]}, return_tensors="pt")
reward = model(**inputs).logits[0, 0].item()
```

## Intended use and limitations
- Intended: ranking answers of chatbot versions in this product's domain, next to (never instead of) expert review;
  reading A/B results with what the reward model thinks.
- Rewards are relative: compare answers to the same or similar questions; the scale has no absolute meaning and
  differs between runs.
- It learns what these reviewers preferred in this data, including their blind spots and any style that went with
  better answers; it does not check facts and can be fooled by answers that look like good ones.
- Held-out accuracy is measured on few pairs: read it with its interval. Topics with few pairs are not measured
  reliably.
"""
