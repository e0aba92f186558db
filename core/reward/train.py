"""Train a reward model on a snapshot with TRL's RewardTrainer, following the run in the store.

A run is created queued (by the CLI, or by the page that then starts `python -m core reward train --run ID` as a
detached process), runs, and ends done with metrics, a saved model and a model card, or failed with its error.
Progress (step, total, loss, epoch, the loss curve) is written to RewardModelRun.progress every few seconds, so a
page can follow a run started anywhere."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update

from core import audit
from core.config import get_settings
from core.jobs.gate import GateDecision
from core.reward import RewardError, gate
from core.reward.baselines import against_baselines, baseline_lines
from core.reward.card import model_card
from core.reward.evaluate import pair_metrics, vote_agreement
from core.reward.inference import (
    chat,
    check_model_folder,
    default_base_model,
    device,
    offline,
    pair_texts,
    plain_pair,
    prepare_tokenizer,
    rewards,
    token_lengths,
)
from core.reward.mlflow_log import log_to_mlflow
from core.reward.snapshot import export_snapshot, get_snapshot, load_splits
from core.store.db import session_scope
from core.store.models import DatasetSnapshot, RewardModelRun, utcnow

TRL_COLUMNS = ["prompt", "chosen", "rejected"]
SAVE_EVERY_SECONDS = 2.0  # progress writes to the store at most this often (and at every logged loss)

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainParams:
    epochs: float = field(default=1.0, metadata={"help": "passes over the training pairs"})
    max_length: int = field(default=256, metadata={"help": "tokens; longer pairs are dropped from training"})
    batch_size: int = field(default=8, metadata={"help": "pairs per step"})
    learning_rate: float = field(default=1e-4, metadata={"help": "AdamW learning rate (TRL's default)"})
    seed: int = field(default=42, metadata={"help": "seed of the new reward head and the data order"})


def reward_config(params: TrainParams, output_dir: str, logging_steps: int) -> Any:
    """TRL's RewardConfig for these parameters: fp32, no activation checkpointing, no checkpoints, no reporting."""
    import torch
    from trl import RewardConfig

    gpu = torch.cuda.is_available()
    return RewardConfig(
        output_dir=output_dir,
        num_train_epochs=params.epochs,
        per_device_train_batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        max_length=params.max_length,
        seed=params.seed,
        logging_steps=logging_steps,
        use_cpu=not gpu,
        bf16=gpu and torch.cuda.is_bf16_supported(),
        activation_checkpointing=False,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def logging_steps_for(train_pairs: int, params: TrainParams) -> int:
    """About a hundred points on the loss curve, whatever the run's length."""
    steps = -(-train_pairs // params.batch_size) * params.epochs
    return max(1, int(steps // 100))


def create_run(
    engine: Engine,
    *,
    snapshot_id: int,
    base_model: str | None = None,
    params: TrainParams | None = None,
    out: str | Path | None = None,
    actor_id: int | None = None,
) -> int:
    """A queued run on a snapshot; refused (nothing written) for an unknown snapshot or a folder that is no model."""
    params = params or TrainParams()
    if params.epochs <= 0 or params.max_length < 8 or params.batch_size < 1 or params.learning_rate <= 0:
        raise RewardError("epochs and the learning rate must be positive, max length at least 8, batch size >= 1")
    base_model = check_model_folder(base_model or default_base_model())
    with session_scope(engine, write=True) as session:
        snapshot = get_snapshot(session, snapshot_id)
        run = RewardModelRun(snapshot_id=snapshot.id, base_model=base_model, params=asdict(params), status="queued")
        session.add(run)
        session.flush()
        folder = Path(out) if out else get_settings().artifacts_dir / "reward-models" / f"run-{run.id}"
        run.params = asdict(params) | {"out": str(folder)}
        audit.record(
            session,
            actor_id=actor_id,
            action="reward_run.create",
            entity="reward_model_run",
            entity_id=run.id,
            after={"snapshot_id": snapshot.id, "base_model": base_model, "params": run.params},
        )
        return run.id


def _set(engine: Engine, run_id: int, **values: Any) -> None:
    with session_scope(engine, write=True) as session:
        session.execute(update(RewardModelRun).where(RewardModelRun.id == run_id).values(**values))


class ProgressWriter:
    """Keeps the run's progress and writes it to the store every few seconds (and passes it to the CLI)."""

    def __init__(self, engine: Engine, run_id: int, on_progress: Progress | None) -> None:
        self.engine, self.run_id, self.on_progress = engine, run_id, on_progress
        self.state: dict[str, Any] = {"phase": "starting", "step": 0, "total": 0, "epoch": 0.0, "loss": None}
        self.state |= {"history": [], "pid": os.getpid()}
        self.saved_at = 0.0
        self.own_seconds = 0.0  # time spent here: what following a run costs the training

    def update(self, force: bool = False, **values: Any) -> None:
        started = time.perf_counter()
        self.state |= values
        if self.on_progress:
            self.on_progress(self.state)
        if force or time.monotonic() - self.saved_at >= SAVE_EVERY_SECONDS:
            self.save()
        self.own_seconds += time.perf_counter() - started

    def loss(self, step: int, loss: float) -> None:
        self.state["history"].append([step, round(loss, 5)])
        self.update(force=True, loss=round(loss, 5))

    def save(self) -> None:
        self.saved_at = time.monotonic()
        _set(self.engine, self.run_id, progress=self.state | {"updated_at": utcnow().isoformat()})


def _callback(writer: ProgressWriter) -> Any:
    from transformers import TrainerCallback

    class StoreProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            writer.update(force=True, phase="training", total=state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):
            writer.update(step=state.global_step, epoch=round(state.epoch or 0.0, 3))

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                writer.loss(state.global_step, float(logs["loss"]))

    return StoreProgress()


@dataclass(frozen=True)
class RunResult:
    run_id: int
    status: str
    metrics: dict[str, Any]
    artifact_path: str
    notes: list[str]
    gate: GateDecision | None = None  # the promotion gate's decision on the run

    def line(self) -> str:
        m = self.metrics
        ci = m.get("accuracy_ci") or [0.0, 0.0]
        accuracy = "n/a" if m.get("accuracy") is None else f"{m['accuracy']:.1%} (95% CI {ci[0]:.1%}-{ci[1]:.1%})"
        return (
            f"run {self.run_id} {self.status}: held-out accuracy {accuracy} on {m['n_eval_pairs']:,} pairs; "
            f"{m['train_pairs']:,} pairs trained ({m['dropped_pairs']:,} dropped as longer than "
            f"{m['max_length']} tokens), {m['pairs_per_second']} pairs/s\n"
            + "".join(f"  against {line}\n" for line in baseline_lines(m))
            + f"  model  {self.artifact_path}"
            + (f"\n  gate   {self.gate.line()}" if self.gate else "")
        )


def train_reward_model(
    engine: Engine,
    *,
    snapshot_id: int | None = None,
    with_ratings: bool = False,
    base_model: str | None = None,
    params: TrainParams | None = None,
    out: str | Path | None = None,
    on_progress: Progress | None = None,
) -> RunResult:
    """Snapshot (unless one is named), create the run and train it."""
    if snapshot_id is None:
        snapshot_id = export_snapshot(engine, with_ratings=with_ratings).id
    run_id = create_run(engine, snapshot_id=snapshot_id, base_model=base_model, params=params, out=out)
    return train_run(engine, run_id, on_progress=on_progress)


def train_run(engine: Engine, run_id: int, *, on_progress: Progress | None = None) -> RunResult:
    """Train a queued run; a failure marks it failed with its error and raises RewardError."""
    with session_scope(engine, write=True) as session:
        run = session.get(RewardModelRun, run_id, with_for_update=True)  # one process takes a queued run
        if run is None or run.status != "queued":
            state = "does not exist" if run is None else f"is {run.status}, not queued"
            raise RewardError(f"run {run_id} {state}: start a new one with `python -m core reward train`")
        run.status, run.started_at = "running", utcnow()
        snapshot = session.get(DatasetSnapshot, run.snapshot_id)
    writer = ProgressWriter(engine, run_id, on_progress)
    try:
        metrics, notes = _train(engine, run, snapshot, writer)
    except (Exception, KeyboardInterrupt) as error:
        interrupted = isinstance(error, KeyboardInterrupt)
        message = str(error) if isinstance(error, RewardError) else f"{type(error).__name__}: {error}"
        message = "interrupted" if interrupted else message
        writer.update(force=True, phase="failed")
        _set(engine, run_id, status="failed", error=message, finished_at=utcnow())
        if interrupted:
            raise
        raise RewardError(f"run {run_id} failed: {message}") from error
    writer.update(force=True, phase="done")
    _set(engine, run_id, status="done", metrics=metrics, artifact_path=run.params["out"], finished_at=utcnow())
    decision = None
    try:  # the run is done whatever the gate says; a gate that fails leaves it a candidate
        decision = gate.check(engine, run_id)
    except Exception as error:
        notes.append(f"the promotion gate could not decide ({type(error).__name__}: {error}): the run is a candidate")
    return RunResult(run_id, "done", metrics, run.params["out"], notes, decision)


def _train(engine: Engine, run: RewardModelRun, snapshot: DatasetSnapshot, writer: ProgressWriter) -> tuple[dict, list]:
    offline()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, PrinterCallback, set_seed
    from trl import RewardTrainer

    params = TrainParams(**{k: v for k, v in run.params.items() if k != "out"})
    splits = load_splits(snapshot)
    writer.update(force=True, phase="loading")
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(run.base_model))
    train = _trl_pairs(tokenizer, splits["train"])
    dropped = _too_long(tokenizer, splits["train"], params.max_length)
    if dropped == len(train):
        raise RewardError(
            f"all {len(train):,} training pairs are longer than {params.max_length} tokens: raise --max-length"
        )
    set_seed(params.seed)
    model = AutoModelForSequenceClassification.from_pretrained(run.base_model, num_labels=1)
    with tempfile.TemporaryDirectory(prefix="reward-trainer-") as scratch:
        config = reward_config(params, scratch, logging_steps_for(len(train) - dropped, params))
        trainer = RewardTrainer(
            model=model, args=config, train_dataset=train, processing_class=tokenizer, callbacks=[_callback(writer)]
        )
        trainer.remove_callback(PrinterCallback)
        started, cpu_started, progress_before = time.perf_counter(), time.process_time(), writer.own_seconds
        output = trainer.train()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        progress_seconds = writer.own_seconds - progress_before
    trained = (len(train) - dropped) * params.epochs
    writer.update(force=True, phase="evaluating")
    model = trainer.model.eval()
    metrics = _evaluate(model, tokenizer, splits, params)
    metrics |= {
        "train_pairs": len(train) - dropped,
        "dropped_pairs": dropped,
        "max_length": params.max_length,
        "final_loss": round(float(output.training_loss), 5),
        "train_seconds": round(seconds, 2),
        "train_cpu_seconds": round(cpu_seconds, 2),
        "progress_seconds": round(progress_seconds, 3),  # of train_seconds: the progress callback and its writes
        "pairs_per_second": round(trained / seconds, 2) if seconds else None,
        "device": device(),
    }
    writer.update(force=True, phase="saving")
    folder = Path(run.params["out"])
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    card = {"id": snapshot.id, "content_hash": snapshot.content_hash, "path": snapshot.path}
    (folder / "README.md").write_text(
        model_card(run_id=run.id, snapshot=card, base_model=run.base_model, params=run.params, metrics=metrics),
        encoding="utf-8",
    )
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    note = log_to_mlflow(run_id=run.id, params=run.params, metrics=metrics, artifact=folder)
    if note:
        metrics["mlflow"] = note
    return metrics, [note] if note else []


def _trl_pairs(tokenizer: Any, split: Any) -> Any:
    """The split as RewardTrainer takes it: conversational where the tokenizer has a chat template (TRL applies it),
    else in the standard format (core.reward.inference.plain_pair)."""
    pairs = split.select_columns(TRL_COLUMNS)
    if chat(tokenizer):
        return pairs
    return pairs.map(
        lambda row: plain_pair(row["prompt"], row["chosen"][0]["content"], row["rejected"][0]["content"]),
        remove_columns=TRL_COLUMNS,
    )


def _too_long(tokenizer: Any, split: Any, max_length: int) -> int:
    """Pairs TRL drops: prompt + chosen or prompt + rejected longer than max_length tokens."""
    lengths = token_lengths(tokenizer, pair_texts(tokenizer, split.to_list()))
    return sum(c > max_length or r > max_length for c, r in zip(lengths[0::2], lengths[1::2], strict=True))


def _evaluate(model: Any, tokenizer: Any, splits: dict[str, Any], params: TrainParams) -> dict[str, Any]:
    """Held-out pairs and expert votes scored (truncated at max_length, never dropped)."""
    held_out, votes = splits["eval"].to_list(), splits["expert_votes"].to_list()
    texts = pair_texts(tokenizer, held_out + votes)
    scores = rewards(model, tokenizer, texts, max_length=params.max_length)
    n = len(held_out)
    chosen, rejected = scores[0 : 2 * n : 2], scores[1 : 2 * n : 2]
    metrics = pair_metrics(held_out, chosen, rejected)
    right = [c > r for c, r in zip(chosen, rejected, strict=True)]
    metrics |= against_baselines(splits["train"].to_list(), held_out, right)
    longest = [max(pair) for pair in zip(*[iter(token_lengths(tokenizer, texts[: 2 * n]))] * 2, strict=True)]
    metrics["eval_truncated"] = sum(length > params.max_length for length in longest)
    vote_scores = scores[2 * n :]
    metrics["expert_agreement"] = vote_agreement(vote_scores[0::2], vote_scores[1::2]) if votes else None
    return metrics
