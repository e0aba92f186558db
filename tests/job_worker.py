"""A worker with one more kind of job, `sleep`, for the tests that kill or stop a worker in the middle of a job:
`python -m tests.job_worker [worker options]` runs `python -m core worker` with it. The job sleeps
SLEEP_JOB_SECONDS (default 60), reporting its progress first; it starts by itself only where SLEEP_JOB_DUE is set
(then it is always due: one thing waits, its threshold is one)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from sqlalchemy import Engine

from core.jobs.kinds import KINDS, JobKind, Pending, Progress


def _run(engine: Engine, progress: Progress) -> dict[str, Any]:
    progress("sleeping", 0.5)
    time.sleep(float(os.environ.get("SLEEP_JOB_SECONDS", "60")))
    return {"slept": True}


def _pending(engine: Engine) -> Pending:
    return Pending(1 if os.environ.get("SLEEP_JOB_DUE") else 0)


SLEEP = JobKind("sleep", "Sleep", "reasons to sleep", 1, (1, 10), _pending, _run)


def register() -> None:
    KINDS.setdefault(SLEEP.name, SLEEP)


if __name__ == "__main__":
    register()
    from core.cli.main import main

    sys.exit(main(["worker", *sys.argv[1:]]))
