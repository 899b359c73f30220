"""The system tier's tally: what its tests tried and how it went, printed at the end of the run.

Each test process (every xdist worker) keeps its own TALLY; a worker hands its counts to the
process that prints them when it finishes (see tests/conftest.py).
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass, field
from typing import Any

_COUNTS = (
    "faults_injected",
    "faults_survived",
    "hostile_inputs",
    "load_commands",
    "slots_checked",
    "posts_lost",
    "posts_duplicated",
    "commands_sent",
    "commands_answered",
)
_LISTS = ("ack_latencies_s", "notes")


@dataclass
class Tally:
    faults_injected: int = 0
    faults_survived: int = 0
    hostile_inputs: int = 0
    load_commands: int = 0
    ack_latencies_s: list[float] = field(default_factory=list)
    slots_checked: int = 0
    posts_lost: int = 0
    posts_duplicated: int = 0
    commands_sent: int = 0
    commands_answered: int = 0
    notes: list[str] = field(default_factory=list)
    used: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, survived: bool) -> None:
        with self.lock:
            self.used = True
            self.faults_injected += 1
            self.faults_survived += int(survived)

    def commands(self, *, sent: int, answered: int) -> None:
        with self.lock:
            self.used = True
            self.commands_sent += sent
            self.commands_answered += answered

    def note(self, text: str) -> None:
        with self.lock:
            self.used = True
            self.notes.append(text)

    def counts(self) -> dict[str, Any]:
        """Everything counted, as plain values that can travel to another process."""
        with self.lock:
            found: dict[str, Any] = {name: getattr(self, name) for name in _COUNTS}
            found.update({name: list(getattr(self, name)) for name in _LISTS})
            found["used"] = self.used
            return found

    def add(self, counts: dict[str, Any]) -> None:
        """Add the counts another process made (see `counts`)."""
        with self.lock:
            for name in _COUNTS:
                setattr(self, name, getattr(self, name) + counts[name])
            for name in _LISTS:
                getattr(self, name).extend(counts[name])
            self.used = self.used or counts["used"]


TALLY = Tally()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary_lines() -> list[str]:
    t = TALLY
    lines = [
        f"faults injected: {t.faults_injected}, survived: {t.faults_survived}",
        f"hostile inputs tried: {t.hostile_inputs}",
    ]
    if t.ack_latencies_s:
        lat = t.ack_latencies_s
        lines.append(
            f"commands under load: {t.load_commands}, ack latency p50 "
            f"{_percentile(lat, 0.5) * 1000:.0f} ms, p99 {_percentile(lat, 0.99) * 1000:.0f} ms, "
            f"max {max(lat) * 1000:.0f} ms (mean {statistics.fmean(lat) * 1000:.0f} ms)"
        )
    else:
        lines.append("commands under load: 0")
    lines.append(
        f"commands answered at the response_url: sent {t.commands_sent}, answered "
        f"{t.commands_answered}, lost {t.commands_sent - t.commands_answered}"
    )
    lines.append(
        f"digest slots checked: {t.slots_checked}, posts lost: {t.posts_lost}, "
        f"duplicated: {t.posts_duplicated}"
    )
    lines.extend(f"note: {n}" for n in t.notes)
    return lines
