"""The demo's clock: when things arrived and were judged, relative to the time the demo is loaded."""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

DAYS = 60  # arrivals spread over the last DAYS days


class Clock:
    """Deterministic offsets from the load time: arrivals over the last DAYS days, judgments some hours later."""

    def __init__(self, now: datetime, rng: Random) -> None:
        self.now, self.rng = now.replace(microsecond=0), rng
        self.today = self.now.replace(hour=0, minute=0, second=0)

    def arrival(self) -> datetime:
        if self.rng.random() < 0.06:
            return self._today_after(self.today)
        return self.now - timedelta(seconds=self.rng.randrange(3600, DAYS * 86400))

    def judged(self, arrival: datetime) -> datetime:
        """When a judgment of something that arrived at `arrival` was made: mostly within a few days, some today."""
        if self.rng.random() < 0.12:
            return self._today_after(arrival)
        delay = timedelta(seconds=round(3600 * min(self.rng.lognormvariate(3.0, 1.0), 24 * 20)))
        latest = self.now - timedelta(seconds=self.rng.randrange(60, 3600))
        if latest <= arrival:  # arrived within the last hour: judged since
            latest = arrival + (self.now - arrival) // 2
        return min(arrival + delay, latest)

    def _today_after(self, start: datetime) -> datetime:
        start = max(start, self.today)
        span = max(int((self.now - start).total_seconds()), 1)
        return start + timedelta(seconds=self.rng.randrange(span))
