"""`python -m core moderation ...`: embeddings, retraining and the borderline thresholds of the classifier."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import actor, add_command, add_group, progress_bar
from core.moderation import service as moderation


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
    add_command(group, "versions", _versions, "the versions: which feeds the queue, which are candidates, the gate")
    promote = add_command(
        group, "promote", _promote, "a version feeds the borderline queue in place of the current one (audited)"
    )
    promote.add_argument("version", help="the classifier version to promote (a candidate, usually)")


def _embed(args: argparse.Namespace) -> None:
    who = actor(args)
    with progress_bar("embed", "item") as progress:
        summary = moderation.embed(actor=who, progress=progress)
    print(summary.line())


def _retrain(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    who = actor(args)
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
        summary = moderation.retrain(
            actor=who, name=args.name, test_size=args.test_size, seed=args.seed, progress=progress
        )
    finally:
        bar.close()
    print("\n".join(summary.lines()))


def _threshold(args: argparse.Namespace) -> None:
    who = actor(args)
    if args.threshold is not None or args.band is not None:
        if not args.version:
            raise ValueError("name the version to change: python -m core moderation threshold VERSION ...")
        moderation.set_threshold(actor=who, version=args.version, threshold=args.threshold, band=args.band)
    versions = [v for v in moderation.versions(actor=who) if args.version in (None, v.name)]
    if args.version and not versions:
        raise ValueError(f"no moderation classifier version {args.version!r}")
    print(f"{'version':<28} {'threshold':>9} {'band':>6}  feeds the borderline queue")
    for v in versions:
        print(f"{v.name:<28} {v.threshold:>9.3f} {v.band:>6.3f}  {'yes' if v.feeds_queue else 'no'}")


def _versions(args: argparse.Namespace) -> None:
    versions = moderation.versions(actor=actor(args))
    if not versions:
        print("no moderation classifier versions yet: import moderation scores, or retrain")
        return
    print(f"{'version':<28} {'status':<16} gate")
    for v in versions:
        print(f"{v.name:<28} {v.status:<16} {v.gate.line() if v.gate else '–'}")


def _promote(args: argparse.Namespace) -> None:
    promoted = moderation.promote(actor=actor(args), version=args.version)
    print(f"{promoted.name} feeds the borderline queue now, in place of the current version; the queue was rebuilt")
