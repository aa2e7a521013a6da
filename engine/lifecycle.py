"""The model lifecycle as pure logic: states, memory modes and the idle deadline.

No Qt and no MLX live here. The engine thread feeds events in (a job was queued, a
load finished, a job finished, the user asked to unload, a timer fired, the mode
changed) and carries out the actions that come back (load, start the next job,
unload, fail the waiting jobs). The clock is injected, so every rule is testable
without sleeping.

Holds (ADR 0015): every job that ends, and every "load now" request, leaves a hold on the
model. A job without ``keep_alive`` follows the user's memory mode (keep-resident holds for
ever, auto-release not at all, idle-timeout for the idle timeout after the last such job);
a job with ``keep_alive`` holds for that many seconds after it ends (0: none, negative: for
ever). The model is released when the longest hold has run out; "unload now" ends every hold.

Prewarm (ADR 0018): intent seen before a request (a drag with files entering the window, the capture
shortcut, "OCR File…", the clipboard action, ``POST /v1/load`` without ``keep_alive``) loads the model
when it is unloaded, and the prewarm then stands for the job it announces: it holds the model until
that job is queued, for at most ``PREWARM_WAIT_S`` after the model is ready. A prewarm that no job
follows is released by the memory mode as if a job had ended when its wait ran out (auto-release: then;
idle-timeout: the timeout after it; keep-resident: never); one that its job follows ends when the job
is queued, so the job's own hold decides (auto-release releases when the job ends, not at the wait's end).

The idle deadline is kept in wall-clock seconds (``time.time`` by default): a Mac
that slept past the deadline unloads on wake, because ``time.monotonic`` does not
advance during sleep on macOS. A timer that fires early only causes a re-check.
"""

from __future__ import annotations

import enum
import math
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
KEEP_FOREVER = -1.0  # keep_alive: hold the model until it is unloaded by hand
PREWARM_WAIT_S = 30.0  # a prewarm holds the model this long after it is ready, for the job it announces


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
    held_forever: bool = False  # a keep_alive of -1 (or keep-resident) holds the model until unloaded by hand


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
        self._mode_anchor: float | None = None  # wall time the last job that follows the mode ended
        self._hold_until: float | None = None  # the longest keep_alive hold since the load (inf: for ever)
        self._load_holds: list[float | None] = []  # keep_alive of "load now" requests waiting for the load
        self._reload = False  # a "load now" came while an unload was under way or pending: load after it
        self._intent_until: float | None = None  # a prewarm holds the model for its job until then
        self._intent_pending = False  # a prewarm came before the model was ready: its wait starts when it is
        self._epoch = 0  # bumps whenever the deadline is armed or voided

    # ----------------------------------------------------------------- queries
    @property
    def deadline(self) -> float | None:
        """Wall-clock time of the idle unload, or None when none is armed."""
        if self._idle():
            release = self._release_time()
            if release is not None and release != math.inf:
                return release
        return None

    @property
    def held_forever(self) -> bool:
        """Loaded and idle, and some hold never runs out (keep-resident, or a keep_alive of -1)."""
        return self._idle() and self._release_time() == math.inf

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
            self.held_forever,
        )

    # ------------------------------------------------------------------ events
    def job_queued(self) -> list[Action]:
        self.waiting += 1
        self._void_deadline()
        self._fulfil_prewarm()
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

    def request_load(self, keep_alive: float | None = None) -> list[Action]:
        """"Load now" (prewarm): load when unloaded; a loaded model gets a hold from now.

        ``keep_alive`` as for a job (None: the memory mode). Requests are carried out in order:
        one that arrives while an unload is under way or pending loads again after it."""
        keep = _check_keep_alive(keep_alive)
        if self.state is State.UNLOADED:
            self.state = State.LOADING
            self.last_error = None
            self._load_holds.append(keep)
            return [Action.LOAD]
        if self.state is State.LOADING and not self.unload_pending:
            self._load_holds.append(keep)
            return []
        if self.state is State.UNLOADING or self.unload_pending:
            self._reload = True
            self._load_holds.append(keep)
            return []
        self._hold(keep, self._clock())  # ready or busy: the hold counts from now
        if self._idle():
            return self._became_idle()
        return []

    def prewarm(self) -> list[Action]:
        """Intent seen (ADR 0018): load when unloaded, and hold the model for the job the intent announces.

        As ``request_load()`` (one that comes while an unload is under way or pending loads again after
        it), but the hold is a wait for a job: until one is queued, for at most ``PREWARM_WAIT_S`` after
        the model is ready (or after now, when it is ready already). When no job comes, the memory mode
        releases the model as if a job had ended when the wait ran out."""
        if self.state is State.UNLOADED:
            self.state = State.LOADING
            self.last_error = None
            self._intent_pending = True
            return [Action.LOAD]
        if self.state is State.LOADING and not self.unload_pending:
            self._intent_pending = True
            return []
        if self.state is State.UNLOADING or self.unload_pending:
            self._reload = True
            self._intent_pending = True
            return []
        self._wait_for_job(self._clock())  # ready or busy: the wait counts from now
        if self._idle():
            return self._became_idle()
        return []

    def load_finished(self, ok: bool, error: str | None = None) -> list[Action]:
        self._expect(State.LOADING)
        if not ok:
            self.state = State.UNLOADED
            self.last_error = error or "the model could not be loaded"
            self.unload_pending = False
            self._load_holds.clear()
            self._reload = False
            self._intent_pending = False
            self._intent_until = None
            had_waiting = self.waiting > 0
            self.waiting = 0
            return [Action.FAIL_WAITING] if had_waiting else []
        self.state = State.READY
        now = self._clock()
        for keep in self._load_holds:
            self._hold(keep, now)
        self._load_holds.clear()
        if self._intent_pending and not self.unload_pending:
            self._intent_pending = False
            self._wait_for_job(now)  # the prewarm's wait starts when the model is ready
        elif not self._reload:
            self._intent_pending = False  # an unload by hand beat it (one asked for after it keeps it)
        if self.waiting:
            return self._start_next()
        return self._became_idle()

    def job_finished(self, keep_alive: float | None = None) -> list[Action]:
        """The running job ended; ``keep_alive`` is its hold (None: the memory mode's)."""
        self._expect(State.BUSY)
        self._hold(_check_keep_alive(keep_alive), self._clock())
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
        self._mode_anchor = None
        self._hold_until = None
        self._intent_until = None
        if self.waiting or self._reload:
            self._reload = False
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
        if self._idle():
            return self._became_idle()
        return []

    def check_deadline(self, token: int | None = None) -> list[Action]:
        """A timer fired (or the machine woke): unload if the wall-clock deadline has passed.

        A token from before the deadline was re-armed or voided is ignored.
        """
        if token is not None and token != self._epoch:
            return []
        release = self._release_time() if self._idle() else None
        if release is not None and self._clock() >= release:
            return self._unload()
        return []

    # ----------------------------------------------------------------- helpers
    def _start_next(self) -> list[Action]:
        self.state = State.BUSY
        self.waiting -= 1
        self._void_deadline()
        return [Action.START_JOB]

    def _became_idle(self) -> list[Action]:
        if self.unload_pending:
            return self._unload()
        if self._mode_anchor is None and self._hold_until is None and self._intent_until is None:
            self._mode_anchor = self._clock()  # a load no one asked a hold for follows the mode
        self._epoch += 1
        return self.check_deadline()

    def _idle(self) -> bool:
        return self.state is State.READY and self.waiting == 0 and not self.unload_pending

    def _hold(self, keep: float | None, at: float) -> None:
        """Record a hold that starts at ``at``: None follows the mode; otherwise ``keep`` seconds (inf: for ever)."""
        if keep is None:
            self._mode_anchor = at if self._mode_anchor is None else max(self._mode_anchor, at)
        else:
            until = at + keep
            self._hold_until = until if self._hold_until is None else max(self._hold_until, until)

    def _wait_for_job(self, now: float) -> None:
        """A prewarm on a ready model: hold it for its job until ``now + PREWARM_WAIT_S`` at most."""
        until = now + PREWARM_WAIT_S
        self._intent_until = until if self._intent_until is None else max(self._intent_until, until)

    def _fulfil_prewarm(self) -> None:
        """A job was queued: the prewarms waiting for it end now (the job's own hold takes over)."""
        self._intent_pending = False
        if self._intent_until is not None:
            self._hold(None, min(self._clock(), self._intent_until))  # as a job that ended then
            self._intent_until = None

    def _release_time(self) -> float | None:
        """When the longest hold runs out (inf: never), or None when there is no hold."""
        ends: list[float] = []
        anchor = self._mode_anchor
        if self._intent_until is not None:  # a prewarm no job followed: as a job that ends when its wait does
            anchor = self._intent_until if anchor is None else max(anchor, self._intent_until)
        if anchor is not None:
            if self.mode is Mode.KEEP_RESIDENT:
                ends.append(math.inf)
            elif self.mode is Mode.AUTO_RELEASE:
                ends.append(anchor)
            else:
                ends.append(anchor + self.idle_timeout_s)
        if self._hold_until is not None:
            ends.append(self._hold_until)
        return max(ends) if ends else None

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


def _check_keep_alive(seconds: float | None) -> float | None:
    """A job's keep_alive: None (the memory mode), seconds ≥ 0, or inf for any negative value (for ever)."""
    if seconds is None:
        return None
    seconds = float(seconds)
    if math.isnan(seconds):
        raise ValueError("keep_alive must be a number of seconds")
    return math.inf if seconds < 0 else seconds


def _check_timeout(seconds: float) -> float:
    seconds = float(seconds)
    if not seconds > 0:
        raise ValueError(f"idle timeout must be positive, got {seconds}")
    return seconds
