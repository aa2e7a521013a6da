"""Every lifecycle rule, with an injected clock; plus a hypothesis state machine for the invariants."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.lifecycle import PREWARM_WAIT_S, Action, Lifecycle, LifecycleError, Mode, State


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


# ------------------------------------------------------------------ keep_alive holds and "load now" (ADR 0015)
def run_job(lc, keep_alive=None):
    """One job through a loaded, idle lifecycle; the actions after it ended."""
    assert lc.job_queued() == [Action.START_JOB]
    return lc.job_finished(keep_alive)


def loaded(clock, mode, idle=60.0):
    """Loaded and idle with no hold yet (a prewarm that asked for none would follow the mode: avoid it)."""
    lc = Lifecycle(clock, mode, idle)
    assert lc.job_queued() == [Action.LOAD]
    assert lc.load_finished(True) == [Action.START_JOB]
    return lc


@pytest.mark.parametrize("mode", list(Mode))
def test_keep_alive_zero_releases_when_the_job_is_done_in_every_mode(clock, mode):
    lc = loaded(clock, mode)
    assert lc.job_finished(0) == [Action.UNLOAD]


@pytest.mark.parametrize("mode", list(Mode))
def test_keep_alive_minus_one_keeps_resident_in_every_mode(clock, mode):
    lc = loaded(clock, mode, idle=10)
    assert lc.job_finished(-1) == []
    assert lc.deadline is None and lc.held_forever and lc.snapshot().held_forever
    clock.advance(10**6)
    assert lc.check_deadline() == []
    assert lc.state is State.READY
    assert lc.request_unload() == [Action.UNLOAD]  # only an unload by hand ends it
    assert lc.unload_finished() == [] and not lc.held_forever


@pytest.mark.parametrize("mode", list(Mode))
def test_keep_alive_n_holds_n_seconds_after_the_job_in_every_mode(clock, mode):
    lc = loaded(clock, mode, idle=300)
    end = clock.t
    assert lc.job_finished(30) == []
    assert lc.deadline == end + 30
    clock.advance(29.9)
    assert lc.check_deadline(lc.deadline_token) == []
    clock.advance(0.2)
    assert lc.check_deadline(lc.deadline_token) == [Action.UNLOAD]


def test_the_longest_hold_wins_over_a_later_shorter_one(clock):
    lc = loaded(clock, Mode.AUTO_RELEASE)
    start = clock.t
    assert lc.job_finished(120) == []
    clock.advance(10)
    assert run_job(lc, 0) == []  # 0 asks for no hold of its own, but the 120 s one still runs
    assert lc.deadline == start + 120
    clock.advance(5)
    assert run_job(lc, 30) == []  # ends at +45: shorter than +120
    assert lc.deadline == start + 120
    clock.advance(200)
    assert run_job(lc, 60) == []  # a later hold that outlasts the first one moves the deadline
    assert lc.deadline == clock.t + 60


def test_a_job_that_follows_the_mode_is_held_by_the_mode_beside_keep_alive(clock):
    lc = loaded(clock, Mode.IDLE_TIMEOUT, idle=300)
    window_job_end = clock.t
    assert lc.job_finished() == []  # the window's job: the idle timeout applies
    clock.advance(5)
    assert run_job(lc, 0) == []  # an API job with keep_alive 0 does not take the window's warm model away
    assert lc.deadline == window_job_end + 300
    clock.advance(10)
    assert run_job(lc, 1000) == []  # …and a longer one extends it
    assert lc.deadline == clock.t + 1000


def test_keep_resident_mode_outlasts_any_finite_keep_alive_of_a_later_job(clock):
    lc = loaded(clock, Mode.KEEP_RESIDENT)
    assert lc.job_finished() == []
    assert run_job(lc, 0) == [] and run_job(lc, 5) == []
    clock.advance(10**6)
    assert lc.check_deadline() == [] and lc.state is State.READY


def test_auto_release_mode_with_a_keep_alive_job_waits_for_the_hold(clock):
    lc = loaded(clock, Mode.AUTO_RELEASE)
    assert lc.job_finished(20) == []
    clock.advance(5)
    assert run_job(lc) == []  # a job that follows auto-release ends inside the 20 s hold: it waits for it
    clock.advance(15)
    assert lc.check_deadline(lc.deadline_token) == [Action.UNLOAD]


def test_holds_end_with_the_unload_and_do_not_carry_over_to_the_next_load(clock):
    lc = loaded(clock, Mode.AUTO_RELEASE)
    assert lc.job_finished(-1) == []
    assert lc.request_unload() == [Action.UNLOAD]
    assert lc.unload_finished() == []
    assert lc.job_queued() == [Action.LOAD]
    assert lc.load_finished(True) == [Action.START_JOB]
    assert lc.job_finished() == [Action.UNLOAD]  # auto-release again: the old "for ever" is gone


def test_unload_by_hand_during_a_job_beats_its_keep_alive(clock):
    lc = loaded(clock, Mode.KEEP_RESIDENT)
    assert lc.request_unload() == []
    assert lc.job_finished(-1) == [Action.UNLOAD]


def test_mode_change_applies_to_mode_holds_not_to_keep_alive_holds(clock):
    lc = loaded(clock, Mode.KEEP_RESIDENT)
    assert lc.job_finished(60) == []  # only a keep_alive hold: the mode holds nothing
    assert lc.deadline == clock.t + 60
    assert lc.set_mode(Mode.AUTO_RELEASE) == []  # the 60 s hold still runs
    clock.advance(61)
    assert lc.check_deadline(lc.deadline_token) == [Action.UNLOAD]


def test_negative_keep_alive_means_for_ever_and_nan_is_refused(clock):
    lc = loaded(clock, Mode.AUTO_RELEASE)
    with pytest.raises(ValueError):
        lc.job_finished(float("nan"))
    assert lc.job_finished(-5) == [] and lc.held_forever


def test_load_now_loads_an_unloaded_model_and_follows_the_mode(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 60)
    assert lc.request_load() == [Action.LOAD]
    assert lc.state is State.LOADING
    assert lc.request_load() == []  # a second request while loading waits for the same load
    assert lc.load_finished(True) == []
    assert lc.state is State.READY and lc.deadline == clock.t + 60


def test_load_now_with_keep_alive(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    assert lc.request_load(-1) == [Action.LOAD]
    assert lc.load_finished(True) == []
    assert lc.held_forever
    lc2 = Lifecycle(clock, Mode.KEEP_RESIDENT)
    assert lc2.request_load(0) == [Action.LOAD]
    assert lc2.load_finished(True) == [Action.UNLOAD]  # Ollama's empty request with keep_alive 0


def test_load_now_in_auto_release_mode_loads_and_releases(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    assert lc.request_load() == [Action.LOAD]
    assert lc.load_finished(True) == [Action.UNLOAD]


def test_load_now_on_a_loaded_model_is_a_hold_from_now(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 60)
    ready(lc)
    clock.advance(50)
    assert lc.request_load() == []  # the idle timer counts from now
    assert lc.deadline == clock.t + 60
    assert lc.request_load(600) == []
    assert lc.deadline == clock.t + 600
    assert lc.job_queued() == [Action.START_JOB]
    assert lc.request_load(-1) == []  # busy: the hold is kept for when it is idle
    assert lc.job_finished(0) == [] and lc.held_forever


def test_load_now_while_an_unload_is_pending_or_running_loads_again_after_it(clock):
    lc = Lifecycle(clock, Mode.KEEP_RESIDENT)
    ready(lc)
    lc.job_queued()
    assert lc.request_unload() == [] and lc.unload_pending
    assert lc.request_load() == []  # in order: unload after the job, then load again
    assert lc.job_finished() == [Action.UNLOAD]
    assert lc.unload_finished() == [Action.LOAD]
    assert lc.load_finished(True) == [] and lc.state is State.READY
    assert lc.request_unload() == [Action.UNLOAD]
    assert lc.request_load() == []
    assert lc.unload_finished() == [Action.LOAD]


def test_a_failed_prewarm_reports_its_error_and_fails_no_one(clock):
    lc = Lifecycle(clock)
    assert lc.request_load() == [Action.LOAD]
    assert lc.load_finished(False, "no weights") == []
    assert lc.state is State.UNLOADED and lc.last_error == "no weights"


class HoldsMachine(LifecycleMachine):
    """The machine above plus keep_alive on every job and "load now" requests, with the hold rule checked."""

    def __init__(self):
        super().__init__()
        self.holds = []  # (end time, keep_alive) of every job since the last load, as the rule reads them

    @precondition(lambda self: self.lc.state is State.BUSY)
    @rule(keep=st.sampled_from([None, 0, 5, 45, -1]))
    def finish_job_with_keep_alive(self, keep):
        self.holds.append((self.clock.t, keep))
        self.apply(self.lc.job_finished(keep))

    @rule(keep=st.sampled_from([None, 0, 20, -1]))
    def load_now(self, keep):
        self.apply(self.lc.request_load(keep))

    def apply(self, actions):
        if Action.UNLOAD in actions:
            self.holds = []
        super().apply(actions)

    @invariant()
    def deadline_only_when_idle_and_ready(self):
        if self.lc.deadline is not None:
            assert self.lc.state is State.READY and self.lc.waiting == 0

    @invariant()
    def auto_release_never_idles_loaded(self):
        pass  # a keep_alive hold may keep it

    @invariant()
    def an_explicit_hold_is_never_cut_short(self):
        if self.lc.state is State.READY and self.lc.waiting == 0 and not self.lc.unload_pending:
            for end, keep in self.holds:
                if keep is not None and keep != 0:
                    until = float("inf") if keep < 0 else end + keep
                    if until > self.clock.t:
                        assert self.lc.deadline is None or self.lc.deadline >= until

    @invariant()
    def held_forever_means_no_deadline(self):
        if self.lc.held_forever:
            assert self.lc.deadline is None and self.lc.state is State.READY


HoldsMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestHoldsMachine = HoldsMachine.TestCase


# ---------------------------------------------------------------- prewarm (ADR 0018)
def prewarmed(clock, mode, idle=60):
    """A lifecycle whose model a prewarm loaded, with no job yet."""
    lc = Lifecycle(clock, mode, idle)
    assert lc.prewarm() == [Action.LOAD]
    assert lc.state is State.LOADING
    assert lc.load_finished(True) == []  # held for the job the intent announced
    assert lc.state is State.READY
    return lc


def test_a_prewarm_no_job_follows_is_released_at_the_end_of_its_wait_in_auto_release(clock):
    lc = prewarmed(clock, Mode.AUTO_RELEASE)
    assert lc.deadline == clock.t + PREWARM_WAIT_S
    clock.advance(PREWARM_WAIT_S - 1)
    assert lc.check_deadline(lc.deadline_token) == []
    clock.advance(1)
    assert lc.check_deadline(lc.deadline_token) == [Action.UNLOAD]


def test_a_prewarm_no_job_follows_is_released_the_timeout_after_its_wait_in_idle_timeout(clock):
    lc = prewarmed(clock, Mode.IDLE_TIMEOUT, idle=60)
    assert lc.deadline == clock.t + PREWARM_WAIT_S + 60  # as a job that ended when the wait ran out
    clock.advance(PREWARM_WAIT_S + 59)
    assert lc.check_deadline(lc.deadline_token) == []
    clock.advance(1)
    assert lc.check_deadline(lc.deadline_token) == [Action.UNLOAD]


def test_a_prewarm_in_keep_resident_mode_stays(clock):
    lc = prewarmed(clock, Mode.KEEP_RESIDENT)
    assert lc.deadline is None and lc.held_forever
    clock.advance(10_000)
    assert lc.check_deadline(lc.deadline_token) == []


def test_the_job_a_prewarm_announced_ends_its_wait_and_its_own_hold_decides(clock):
    lc = prewarmed(clock, Mode.AUTO_RELEASE)
    clock.advance(3)  # the drop comes after the load
    assert lc.job_queued() == [Action.START_JOB]
    clock.advance(5)
    assert lc.job_finished() == [Action.UNLOAD]  # auto-release: when the job ends, not at the wait's end


def test_a_drop_during_the_prewarm_load_runs_at_once_and_the_job_decides(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    assert lc.prewarm() == [Action.LOAD]
    assert lc.job_queued() == []  # dropped while the model loads: it waits for the same load
    assert lc.load_finished(True) == [Action.START_JOB]
    assert lc.job_finished() == [Action.UNLOAD]


def test_a_job_after_the_wait_counts_the_prewarm_as_ended_when_the_wait_ran_out(clock):
    lc = prewarmed(clock, Mode.IDLE_TIMEOUT, idle=600)
    start = clock.t
    clock.advance(PREWARM_WAIT_S + 100)  # still loaded (the timeout is long); the job comes late
    assert lc.job_queued() == [Action.START_JOB]
    assert lc.job_finished(0) == []  # a keep_alive 0 job: only the mode's hold is left
    assert lc.deadline == start + PREWARM_WAIT_S + 600  # not the job's queue time + 600


def test_a_prewarm_on_a_ready_model_waits_from_now(clock):
    lc = Lifecycle(clock, Mode.IDLE_TIMEOUT, 60)
    ready(lc)
    clock.advance(50)
    assert lc.prewarm() == []
    assert lc.deadline == clock.t + PREWARM_WAIT_S + 60


def test_a_prewarm_while_busy_holds_for_its_job_past_the_running_one(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    assert lc.job_queued() == [Action.LOAD]
    assert lc.load_finished(True) == [Action.START_JOB]
    assert lc.prewarm() == []  # a drag enters while a document is read
    clock.advance(2)
    assert lc.job_finished() == []  # the dragged file has not come yet: held for it
    assert lc.deadline == clock.t - 2 + PREWARM_WAIT_S


def test_a_prewarm_during_an_unload_loads_again_and_waits_for_its_job(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    ready(lc)  # auto-release: the job's end unloads
    assert lc.state is State.UNLOADING
    assert lc.prewarm() == []
    assert lc.unload_finished() == [Action.LOAD]
    assert lc.load_finished(True) == []  # not released at once: the reload waits for its job
    assert lc.deadline == clock.t + PREWARM_WAIT_S
    lc2 = Lifecycle(clock, Mode.AUTO_RELEASE)
    assert lc2.job_queued() == [Action.LOAD]
    assert lc2.request_unload() == []  # during the load: after it
    assert lc2.prewarm() == []  # then a drag: in order, load again after the unload
    assert lc2.load_finished(True) == [Action.START_JOB]
    assert lc2.job_finished() == [Action.UNLOAD]
    assert lc2.unload_finished() == [Action.LOAD]
    assert lc2.load_finished(True) == []  # the reload waits for the dragged file's job
    assert lc2.deadline == clock.t + PREWARM_WAIT_S


def test_unload_by_hand_beats_a_prewarm(clock):
    lc = prewarmed(clock, Mode.KEEP_RESIDENT)
    assert lc.request_unload() == [Action.UNLOAD]
    assert lc.unload_finished() == []
    lc2 = Lifecycle(clock, Mode.KEEP_RESIDENT)
    assert lc2.prewarm() == [Action.LOAD]
    assert lc2.request_unload() == []  # during the load: after it
    assert lc2.load_finished(True) == [Action.UNLOAD]
    assert lc2.unload_finished() == []
    assert lc2.state is State.UNLOADED
    assert lc2.request_load(0) == [Action.LOAD]  # a later load is not held by the beaten prewarm
    assert lc2.load_finished(True) == [Action.UNLOAD]


def test_a_failed_prewarm_fails_no_one_and_leaves_no_wait(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    assert lc.prewarm() == [Action.LOAD]
    assert lc.load_finished(False, "the model does not fit in memory") == []
    assert lc.state is State.UNLOADED and lc.last_error == "the model does not fit in memory"
    assert lc.request_load() == [Action.LOAD]
    assert lc.load_finished(True) == [Action.UNLOAD]  # a plain load now: auto-release at once


def test_a_withdrawn_job_leaves_the_prewarm_to_the_mode(clock):
    lc = Lifecycle(clock, Mode.AUTO_RELEASE)
    assert lc.prewarm() == [Action.LOAD]
    assert lc.job_queued() == []
    assert lc.job_withdrawn() == []  # the dropped document was cancelled before the model was ready
    assert lc.load_finished(True) == [Action.UNLOAD]  # its prewarm ended with the drop: nothing waits


class PrewarmMachine(HoldsMachine):
    """The holds machine plus prewarms: a loaded, idle model always has a way out (a deadline, or a hold
    for ever), and no prewarm holds an auto-release model for longer than its wait."""

    @rule()
    def prewarm(self):
        self.apply(self.lc.prewarm())

    @invariant()
    def an_idle_loaded_model_is_always_released_some_day_or_held_for_ever(self):
        if self.lc.state is State.READY and self.lc.waiting == 0 and not self.lc.unload_pending:
            assert self.lc.deadline is not None or self.lc.held_forever

    @invariant()
    def a_prewarm_never_holds_an_auto_release_model_past_its_wait(self):
        lc = self.lc
        if lc.mode is Mode.AUTO_RELEASE and lc.deadline is not None and not any(k for _, k in self.holds):
            assert lc.deadline <= self.clock.t + PREWARM_WAIT_S


PrewarmMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestPrewarmMachine = PrewarmMachine.TestCase
