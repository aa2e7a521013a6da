"""The model lifecycle as pure logic: states, memory modes and the idle deadline.

No Qt and no MLX live here. The engine thread feeds events in (a job was queued, a
load finished, a job finished, the user asked to unload, a timer fired, the mode
changed) and carries out the actions that come back (load, start the next job,
unload, fail the waiting jobs). The clock is injected, so every rule is testable
without sleeping.

The idle deadline is kept in wall-clock seconds (``time.time`` by default): a Mac
that slept past the deadline unloads on wake, because ``time.monotonic`` does not
advance during sleep on macOS. A timer that fires early only causes a re-check.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass


class State(str, enum.Enum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    BUSY = "busy"
    UNLOADING = "unloading"


class Mode(str, enum.Enum):
    KEEP_RESIDENT = "keep-resident"
    AUTO_RELEASE = "auto-release"
    IDLE_TIMEOUT = "idle-timeout"


class Action(str, enum.Enum):
    LOAD = "load"
    START_JOB = "start-job"
    UNLOAD = "unload"
    FAIL_WAITING = "fail-waiting"  # a load failed: the jobs that waited for it fail with its error


DEFAULT_MODE = Mode.IDLE_TIMEOUT
DEFAULT_IDLE_TIMEOUT_S = 300.0


class LifecycleError(RuntimeError):
    """An event arrived that the current state cannot accept (a bug in the caller)."""


@dataclass(frozen=True)
class Snapshot:
    state: State
    mode: Mode
    idle_timeout_s: float
    waiting: int
    unload_pending: bool
    deadline: float | None
    last_error: str | None


class Lifecycle:
    """State machine for one model: unloaded → loading → ready ⇄ busy → unloading → unloaded."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        mode: Mode = DEFAULT_MODE,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self._clock = clock
        self.state = State.UNLOADED
        self.mode = Mode(mode)
        self.idle_timeout_s = _check_timeout(idle_timeout_s)
        self.waiting = 0  # jobs queued and not yet started
        self.unload_pending = False
        self.last_error: str | None = None
        self._idle_since: float | None = None  # wall time the model last became idle
        self._epoch = 0  # bumps whenever the deadline is armed or voided

    # ----------------------------------------------------------------- queries
    @property
    def deadline(self) -> float | None:
        """Wall-clock time of the idle unload, or None when none is armed."""
        if (
            self.mode is Mode.IDLE_TIMEOUT
            and self.state is State.READY
            and self.waiting == 0
            and not self.unload_pending
            and self._idle_since is not None
        ):
            return self._idle_since + self.idle_timeout_s
        return None

    @property
    def deadline_token(self) -> int:
        """Changes whenever the deadline is armed or voided; a timer carrying an old token is void."""
        return self._epoch

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.state,
            self.mode,
            self.idle_timeout_s,
            self.waiting,
            self.unload_pending,
            self.deadline,
            self.last_error,
        )

    # ------------------------------------------------------------------ events
    def job_queued(self) -> list[Action]:
        self.waiting += 1
        self._void_deadline()
        if self.state is State.UNLOADED:
            self.state = State.LOADING
            self.last_error = None
            return [Action.LOAD]
        if self.state is State.READY:
            return self._start_next()
        return []  # loading, busy or unloading: it waits its turn

    def job_withdrawn(self) -> list[Action]:
        """A queued job was cancelled before it started."""
        if self.waiting <= 0:
            raise LifecycleError("no queued job to withdraw")
        self.waiting -= 1
        if self.state is State.READY and self.waiting == 0:
            return self._became_idle()
        return []

    def load_finished(self, ok: bool, error: str | None = None) -> list[Action]:
        self._expect(State.LOADING)
        if not ok:
            self.state = State.UNLOADED
            self.last_error = error or "the model could not be loaded"
            self.unload_pending = False
            had_waiting = self.waiting > 0
            self.waiting = 0
            return [Action.FAIL_WAITING] if had_waiting else []
        self.state = State.READY
        if self.waiting:
            return self._start_next()
        return self._became_idle()

    def job_finished(self) -> list[Action]:
        self._expect(State.BUSY)
        self.state = State.READY
        if self.unload_pending:
            return self._unload()
        if self.waiting:
            return self._start_next()
        return self._became_idle()

    def unload_finished(self) -> list[Action]:
        self._expect(State.UNLOADING)
        self.state = State.UNLOADED
        self.unload_pending = False
        self._idle_since = None
        if self.waiting:
            self.state = State.LOADING
            return [Action.LOAD]
        return []

    def request_unload(self) -> list[Action]:
        """"Unload now": at once when idle, after the current job when busy (reported as pending)."""
        if self.state is State.READY:
            return self._unload()
        if self.state in (State.BUSY, State.LOADING):
            self.unload_pending = True
            self._void_deadline()
        return []

    def set_mode(self, mode: Mode, idle_timeout_s: float | None = None) -> list[Action]:
        """Applies at once: auto-release unloads an idle model now; keep-resident voids the deadline."""
        self.mode = Mode(mode)
        if idle_timeout_s is not None:
            self.idle_timeout_s = _check_timeout(idle_timeout_s)
        self._epoch += 1
        if self.state is State.READY and self.waiting == 0 and not self.unload_pending:
            return self._became_idle(keep_idle_since=True)
        return []

    def check_deadline(self, token: int | None = None) -> list[Action]:
        """A timer fired (or the machine woke): unload if the wall-clock deadline has passed.

        A token from before the deadline was re-armed or voided is ignored.
        """
        if token is not None and token != self._epoch:
            return []
        deadline = self.deadline
        if deadline is not None and self._clock() >= deadline:
            return self._unload()
        return []

    # ----------------------------------------------------------------- helpers
    def _start_next(self) -> list[Action]:
        self.state = State.BUSY
        self.waiting -= 1
        self._void_deadline()
        return [Action.START_JOB]

    def _became_idle(self, keep_idle_since: bool = False) -> list[Action]:
        if self.unload_pending or self.mode is Mode.AUTO_RELEASE:
            return self._unload()
        if not keep_idle_since or self._idle_since is None:
            self._idle_since = self._clock()
        self._epoch += 1
        if self.mode is Mode.IDLE_TIMEOUT:
            return self.check_deadline()
        return []

    def _unload(self) -> list[Action]:
        self.state = State.UNLOADING
        self.unload_pending = False
        self._void_deadline()
        return [Action.UNLOAD]

    def _void_deadline(self) -> None:
        self._epoch += 1

    def _expect(self, state: State) -> None:
        if self.state is not state:
            raise LifecycleError(f"expected state {state.value}, was {self.state.value}")


def _check_timeout(seconds: float) -> float:
    seconds = float(seconds)
    if not seconds > 0:
        raise ValueError(f"idle timeout must be positive, got {seconds}")
    return seconds
