"""The demo's online experiment: the tax assistant's new greeting, tried on about half of the chat sessions.

One row per session (the unit) in the `experiment-events` format, with three 0/1 outcomes; the treatment lifts
thumbs-up a little and changes little else, so the A/B page has a finding and two "no difference shown"."""

from __future__ import annotations

from random import Random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.demo.clock import Clock

EXPERIMENT = "greeting-v2"
UNITS = 2400
# variant -> metric -> chance of a 1
RATES = {
    "control": {"thumbs_up": 0.60, "escalated": 0.10, "flagged": 0.02},
    "treatment": {"thumbs_up": 0.66, "escalated": 0.09, "flagged": 0.02},
}


def experiment_rows(seed: int, clock: Clock) -> list[dict[str, Any]]:
    rng = Random(f"{seed}:experiment")
    rows = []
    for n in range(UNITS):
        variant = "treatment" if rng.random() < 0.5 else "control"
        row: dict[str, Any] = {
            "experiment": EXPERIMENT,
            "unit_id": f"demo{seed}-session-{n + 1:05d}",
            "variant": variant,
            "at": clock.arrival().isoformat(),
        }
        row |= {metric: int(rng.random() < chance) for metric, chance in RATES[variant].items()}
        rows.append(row)
    return rows
