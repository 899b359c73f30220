"""The time the code under test reads, set and moved by the test."""

from __future__ import annotations

from datetime import datetime, timedelta


class Clock:
    """A `now` to inject: returns `now`, which the test sets; with a `step`, each reading is
    that much later than the one before."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.step = timedelta(0)

    def __call__(self) -> datetime:
        moment = self.now
        self.now += self.step
        return moment

    def epoch(self) -> float:
        """The same reading as seconds since 1970, for code that reads `time.time()`."""
        return self().timestamp()
