"""`python -m core moderation ...`: embeddings, retraining and the borderline thresholds of the classifier."""

from __future__ import annotations

import argparse
import sys

from core.cli import add_command, add_group
from core.db import get_engine, session_scope


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "moderation", "the moderation classifier: embeddings, retraining, thresholds")
    add_command(group, "embed", _embed, "embed the moderation items that have no stored embedding yet (resumable)")
    retrain = add_command(
        group, "retrain", _retrain, "retrain on the final human labels, re-score every item, rebuild the queue"
    )
    retrain.add_argument("--name", help="name of the new version (default: modclf-YYYYMMDD-HHMMSS)")
    retrain.add_argument("--test-size", type=float, default=0.2, help="share of labels held out (default 0.2)")
    retrain.add_argument("--seed", type=int, default=0, help="random seed of the split (default 0)")
    threshold = add_command(
        group, "threshold", _threshold, "list the versions' thresholds and bands, or set one version's"
    )
    threshold.add_argument("version", nargs="?", help="the classifier version to show or change")
    threshold.add_argument("--threshold", type=float, help="score from which the version says toxic, e.g. 0.5")
    threshold.add_argument("--band", type=float, help="scores within threshold ± band are borderline, e.g. 0.15")


def _bar(desc: str):
    from tqdm import tqdm

    bar = tqdm(total=0, unit="item", desc=desc, file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, progress


def _embed(_args: argparse.Namespace) -> None:
    from core.moderation.embeddings import embed_missing

    bar, progress = _bar("embed")
    try:
        summary = embed_missing(get_engine(), progress=progress)
    finally:
        bar.close()
    print(summary.line())


def _retrain(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from core.moderation.retrain import retrain

    bar = tqdm(
        total=100, desc="embedding new items", file=sys.stderr, leave=False, bar_format="{l_bar}{bar}| {elapsed}"
    )
    stages = {"fit": "fitting", "evaluate": "evaluating", "score": "re-scoring every item", "queue": "rebuilding"}

    def progress(stage: str, fraction: float) -> None:
        if stage == "embed":
            bar.update(round(100 * fraction) - bar.n)
        elif stage in stages and fraction == 0:
            bar.set_description(stages[stage])

    try:
        summary = retrain(get_engine(), name=args.name, test_size=args.test_size, seed=args.seed, progress=progress)
    finally:
        bar.close()
    print("\n".join(summary.lines()))


def _threshold(args: argparse.Namespace) -> None:
    from core import queues
    from core.moderation.borderline import feeding_versions, moderation_versions, set_threshold

    with session_scope(get_engine(), write=args.threshold is not None or args.band is not None) as session:
        if args.threshold is not None or args.band is not None:
            if not args.version:
                raise ValueError("name the version to change: python -m core moderation threshold VERSION ...")
            set_threshold(session, version=args.version, actor_id=None, threshold=args.threshold, band=args.band)
        feeding = {v.name for v in feeding_versions(session, queues.get_config(session, "moderation"))}
        versions = [v for v in moderation_versions(session) if args.version in (None, v.name)]
        if args.version and not versions:
            raise ValueError(f"no moderation classifier version {args.version!r}")
        print(f"{'version':<28} {'threshold':>9} {'band':>6}  feeds the borderline queue")
        for v in versions:
            print(f"{v.name:<28} {v.threshold:>9.3f} {v.band:>6.3f}  {'yes' if v.name in feeding else 'no'}")
