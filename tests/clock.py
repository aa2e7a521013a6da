"""A wall clock the test moves: injected into engines (``Engine(clock=…)``), so idle deadlines
fall when the test says, on any machine, and "nothing happened yet" needs no sleep."""

from __future__ import annotations


class SteppedClock:
    """Returns the same time until ``advance``; read from any thread."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
