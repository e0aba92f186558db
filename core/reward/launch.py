"""Start a training run in a process of its own, detached from the caller (a page's script run, a browser tab), so
that it goes on when the page reloads; the caller follows it through RewardModelRun.progress. The process is the
command line (`python -m core reward train --run ID --as USER`), acting as the user who started the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from core.config import REPO_ROOT
from core.reward.snapshot import export_snapshot
from core.reward.train import TrainParams, create_run


def training_command(run_id: int, as_user: str) -> list[str]:
    return [sys.executable, "-m", "core", "reward", "train", "--run", str(run_id), "--as", as_user]


def start_training(
    engine: Engine,
    *,
    as_user: str,
    snapshot_id: int | None = None,
    with_ratings: bool = False,
    base_model: str | None = None,
    params: TrainParams | None = None,
    actor_id: int | None = None,
) -> int:
    """Create a queued run (on a fresh snapshot unless one is named) and start its training process, acting as the
    user named `as_user` (the one of `actor_id`); returns the run's id."""
    if snapshot_id is None:
        snapshot_id = export_snapshot(engine, with_ratings=with_ratings, actor_id=actor_id).id
    run_id = create_run(engine, snapshot_id=snapshot_id, base_model=base_model, params=params, actor_id=actor_id)
    _spawn(training_command(run_id, as_user), engine, log=_log_path(engine, run_id))
    return run_id


def _log_path(engine: Engine, run_id: int) -> Path:
    from core.reward.registry import get_run

    folder = Path(get_run(engine, run_id).params["out"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "train.log"


def _spawn(command: list[str], engine: Engine, *, log: Path) -> None:
    """A new session, no shared stdin, output to the log: neither a page rerun nor a closed tab stops it."""
    env = os.environ | {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
