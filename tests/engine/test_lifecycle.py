"""Every lifecycle rule, with an injected clock; plus a hypothesis state machine for the invariants."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.lifecycle import Action, Lifecycle, LifecycleError, Mode, State


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, s):
        self.t += s


@pytest.fixture
def clock():
    return Clock()


def ready(lc):
    """Bring a fresh lifecycle to ready-and-idle through one job."""
    assert lc.job_queued() == [Action.LOAD]
    assert lc.load_finished(True) == [Action.START_JOB]
    return lc.job_finished()


def test_defaults_are_idle_timeout_five_minutes(clock):
    lc = Lifecycle(clock)
    assert lc.mode is Mode.IDLE_TIMEOUT
    assert lc.idle_timeout_s == 300
    assert lc.state is State.UNLOADED


def test_full_cycle_states(clock):
    lc = Lifecycle(clock)
    assert lc.job_queued() == [Action.LOAD]
    assert lc.state is State.LOADING
    assert lc.load_finished(True) == [Action.START_JOB]
    assert lc.state is State.BUSY
    assert lc.job_finished() == []
    assert lc.state is State.READY
    assert lc.request_unload() == [Action.UNLOAD]
    assert lc.state is State.UNLOADING
    assert lc.unload_finished() == []
    assert lc.state is State.UNLOADED


def test_load_failure_returns_to_unloaded_and_fails_waiting_jobs(clock):
    lc = Lifecycle(clock)
    lc.job_queued()
    lc.job_queued()
    assert lc.load_finished(False, "no config.json") == [Action.FAIL_WAITING]
    assert lc.state is State.UNLOADED
    assert lc.waiting == 0
    assert lc.last_error == "no config.json"
    # the next job tries again, and clears the error
    assert lc.job_queued() == [Action.LOAD]
    assert lc.last_error is None


def test_idle_timeout_unloads_after_t(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 60)
    ready(lc)
    assert lc.deadline == clock.t + 60
    clock.advance(59.9)
    assert lc.check_deadline() == []
    clock.advance(0.2)
    assert lc.check_deadline(lc.deadline_token) == [Action.UNLOAD]


def test_deadline_never_fires_while_a_job_runs_or_is_queued(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 10)
    ready(lc)
    token = lc.deadline_token
    assert lc.job_queued() == [Action.START_JOB]  # busy now
    assert lc.deadline is None
    clock.advance(1000)
    assert lc.check_deadline() == []
    assert lc.check_deadline(token) == []
    lc.job_queued()  # one more waits
    assert lc.job_finished() == [Action.START_JOB]
    clock.advance(1000)
    assert lc.check_deadline() == []
    assert lc.state is State.BUSY


def test_deadline_armed_before_a_job_is_void(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 10)
    ready(lc)
    old_token = lc.deadline_token
    lc.job_queued()
    lc.job_finished()  # idle again: new deadline 10 s from now
    clock.advance(9)
    assert lc.check_deadline(old_token) == []  # the old timer is void
    assert lc.state is State.READY
    clock.advance(2)
    assert lc.check_deadline(lc.deadline_token) == [Action.UNLOAD]


def test_unload_now_during_a_job_is_deferred_and_reported(clock):
    lc = Lifecycle(clock, Mode.KEEP_RESIDENT)
    ready(lc)
    lc.job_queued()
    assert lc.request_unload() == []
    assert lc.unload_pending
    assert lc.snapshot().unload_pending
    assert lc.state is State.BUSY
    assert lc.job_finished() == [Action.UNLOAD]
    assert not lc.unload_pending


def test_unload_requested_while_loading_happens_when_idle(clock):
    lc = Lifecycle(clock, Mode.KEEP_RESIDENT)
    lc.job_queued()
    assert lc.request_unload() == []
    assert lc.unload_pending
    assert lc.load_finished(True) == [Action.START_JOB]  # the job that asked for the load still runs
    assert lc.job_finished() == [Action.UNLOAD]


def test_unload_when_nothing_is_loaded_is_a_no_op(clock):
    lc = Lifecycle(clock)
    assert lc.request_unload() == []
    assert lc.state is State.UNLOADED
    assert not lc.unload_pending


def test_auto_release_unloads_when_the_queue_empties(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    lc.job_queued()
    lc.job_queued()
    assert lc.load_finished(True) == [Action.START_JOB]
    assert lc.job_finished() == [Action.START_JOB]  # queue not empty yet
    assert lc.job_finished() == [Action.UNLOAD]


def test_keep_resident_never_unloads_by_itself(clock):
    lc = Lifecycle(clock, Mode.KEEP_RESIDENT)
    ready(lc)
    assert lc.deadline is None
    clock.advance(10**7)
    assert lc.check_deadline() == []
    assert lc.state is State.READY


def test_switch_to_auto_release_while_ready_unloads_now(clock):
    lc = Lifecycle(clock, Mode.KEEP_RESIDENT)
    ready(lc)
    assert lc.set_mode(Mode.AUTO_RELEASE) == [Action.UNLOAD]


def test_switch_to_auto_release_while_busy_applies_when_job_ends(clock):
    lc = Lifecycle(clock, Mode.KEEP_RESIDENT)
    ready(lc)
    lc.job_queued()
    assert lc.set_mode(Mode.AUTO_RELEASE) == []
    assert lc.job_finished() == [Action.UNLOAD]


def test_switch_to_keep_resident_cancels_deadline(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 10)
    ready(lc)
    token = lc.deadline_token
    assert lc.set_mode(Mode.KEEP_RESIDENT) == []
    assert lc.deadline is None
    clock.advance(100)
    assert lc.check_deadline(token) == []
    assert lc.check_deadline() == []
    assert lc.state is State.READY


def test_timeout_change_applies_at_once_counting_from_last_document(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 300)
    ready(lc)
    clock.advance(120)
    # shortening to 60 s when the model has been idle 120 s unloads now
    assert lc.set_mode(Mode.IDLE_TIMEOUT, 60) == [Action.UNLOAD]


def test_timeout_lengthened_moves_deadline(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 60)
    ready(lc)
    start = clock.t
    clock.advance(30)
    assert lc.set_mode(Mode.IDLE_TIMEOUT, 600) == []
    assert lc.deadline == start + 600


def test_jobs_arriving_while_unloading_wait_and_trigger_reload(clock):
    lc = Lifecycle(clock, Mode.KEEP_RESIDENT)
    ready(lc)
    lc.request_unload()
    assert lc.job_queued() == []
    assert lc.state is State.UNLOADING
    assert lc.unload_finished() == [Action.LOAD]
    assert lc.state is State.LOADING
    assert lc.load_finished(True) == [Action.START_JOB]


def test_wall_clock_deadline_fires_on_wake_after_sleep(clock):
    """The machine slept past the deadline: the first check on wake unloads."""
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 300)
    ready(lc)
    token = lc.deadline_token
    clock.advance(3600)  # an hour asleep; no timer fired meanwhile
    assert lc.check_deadline(token) == [Action.UNLOAD]


def test_withdrawn_job_before_start(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    lc.job_queued()
    assert lc.job_withdrawn() == []
    assert lc.waiting == 0
    # the load goes on; with nothing to do, auto-release unloads at once
    assert lc.load_finished(True) == [Action.UNLOAD]
    with pytest.raises(LifecycleError):
        lc.job_withdrawn()


def test_events_in_wrong_state_raise(clock):
    lc = Lifecycle(clock)
    with pytest.raises(LifecycleError):
        lc.job_finished()
    with pytest.raises(LifecycleError):
        lc.load_finished(True)
    with pytest.raises(LifecycleError):
        lc.unload_finished()


def test_bad_timeout_rejected(clock):
    with pytest.raises(ValueError):
        Lifecycle(clock, Mode.IDLE_TIMEOUT, 0)


class LifecycleMachine(RuleBasedStateMachine):
    """Random event sequences; the engine carries out every action like the real engine thread."""

    def __init__(self):
        super().__init__()
        self.clock = Clock()
        self.lc = Lifecycle(self.clock, Mode.IDLE_TIMEOUT, 30)
        self.loads = 0
        self.unloads = 0
        self.started = 0
        self.queued = 0
        self.failed = 0

    def apply(self, actions):
        for a in actions:
            if a is Action.LOAD:
                assert self.lc.state is State.LOADING
                self.loads += 1
            elif a is Action.UNLOAD:
                assert self.lc.state is State.UNLOADING
                self.unloads += 1
            elif a is Action.START_JOB:
                assert self.lc.state is State.BUSY
                self.started += 1
            elif a is Action.FAIL_WAITING:
                self.failed = self.queued - self.started

    @rule()
    def queue_job(self):
        self.queued += 1
        self.apply(self.lc.job_queued())

    @precondition(lambda self: self.lc.state is State.LOADING)
    @rule(ok=st.booleans())
    def finish_load(self, ok):
        self.apply(self.lc.load_finished(ok, None if ok else "boom"))

    @precondition(lambda self: self.lc.state is State.BUSY)
    @rule()
    def finish_job(self):
        self.apply(self.lc.job_finished())

    @precondition(lambda self: self.lc.state is State.UNLOADING)
    @rule()
    def finish_unload(self):
        self.apply(self.lc.unload_finished())

    @rule()
    def unload_now(self):
        busy = self.lc.state is State.BUSY
        actions = self.lc.request_unload()
        if busy:
            assert actions == [] and self.lc.unload_pending
        self.apply(actions)

    @rule(mode=st.sampled_from(list(Mode)), timeout=st.sampled_from([1, 30, 600]))
    def change_mode(self, mode, timeout):
        busy = self.lc.state is State.BUSY
        actions = self.lc.set_mode(mode, timeout)
        if busy:
            assert Action.UNLOAD not in actions
        self.apply(actions)

    @rule(seconds=st.sampled_from([0.5, 10, 29.9, 31, 10_000]), stale=st.booleans())
    def time_passes(self, seconds, stale):
        token = self.lc.deadline_token - (1 if stale else 0)
        was_working = self.lc.state is State.BUSY or self.lc.waiting > 0
        self.clock.advance(seconds)
        actions = self.lc.check_deadline(token)
        if was_working or stale:
            assert actions == []
        self.apply(actions)

    @invariant()
    def deadline_only_when_idle_and_ready(self):
        if self.lc.deadline is not None:
            assert self.lc.state is State.READY
            assert self.lc.waiting == 0
            assert self.lc.mode is Mode.IDLE_TIMEOUT

    @invariant()
    def waiting_never_negative(self):
        assert self.lc.waiting >= 0

    @invariant()
    def loads_and_unloads_pair_up(self):
        in_memory = self.lc.state in (State.READY, State.BUSY, State.UNLOADING)
        # every successful load is followed by exactly one unload
        assert self.unloads <= self.loads
        if self.lc.state is State.UNLOADED:
            assert not self.lc.unload_pending
        if in_memory:
            assert self.loads >= 1

    @invariant()
    def auto_release_never_idles_loaded(self):
        if self.lc.mode is Mode.AUTO_RELEASE and self.lc.state is State.READY:
            assert self.lc.waiting > 0


LifecycleMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestLifecycleMachine = LifecycleMachine.TestCase
