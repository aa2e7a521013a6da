"""Each figure's gate catches what it exists for: the pure functions that turn measurements into a verdict
(figures 4, 5, 7, 8, 50–53), fed with numbers chosen on both sides of the line."""

from __future__ import annotations

import pytest

from bench import fig4_gui_stall as fig4
from bench import fig5_pipeline_overhead as fig5
from bench import fig7_rasterise_speed as fig7
from bench import fig8_cold_start as fig8
from bench import fig50_scanned_pdf_peak as fig50
from bench import fig51_download as fig51
from bench import fig52_idle as fig52
from bench import fig53_idle_unload as fig53

STEADY = [5.0] * 2000  # a heartbeat that never waits


# ------------------------------------------------------------------ figure 4
def test_figure_4_fails_the_70_ms_stall_that_its_old_allowance_let_through():
    verdict = fig4.judge(STEADY + [70.0], STEADY)
    assert verdict["busy"]["over_50"] == 1 and verdict["busy"]["max"] == 70.0
    assert verdict["meets"] is False and verdict["passes_check"] is False


def test_figure_4_does_not_widen_its_allowance_for_a_noisy_idle_loop():
    verdict = fig4.judge(STEADY + [70.0], STEADY + [90.0, 80.0])  # the app stalls while idle too
    assert verdict["passes_check"] is False
    assert verdict["idle"]["max"] == 90.0  # reported beside, never added


def test_figure_4_within_the_fixed_margin_misses_the_target_but_passes_the_check():
    verdict = fig4.judge(STEADY + [60.0], STEADY)
    assert verdict["meets"] is False and verdict["passes_check"] is True
    assert fig4.judge(STEADY + [45.0], STEADY)["meets"] is True


def test_figure_4_catches_many_short_stalls_through_p99():
    verdict = fig4.judge(STEADY + [25.0] * 60, STEADY)  # 3% of the gaps at 25 ms, none over 50
    assert verdict["busy"]["over_50"] == 0 and verdict["busy"]["over_16"] == 60
    assert verdict["passes_check"] is False


def test_figure_4_without_heartbeats_while_busy_gives_no_pass():
    assert fig4.judge([], STEADY)["passes_check"] is False


def test_figure_4_spreads_its_scanned_pages_after_the_first():
    assert fig4.scanned_pages(10, 3) == {2, 5, 8}
    assert fig4.scanned_pages(10, 1) == {2}
    assert fig4.scanned_pages(3, 1) == {2}
    assert fig4.scanned_pages(10, 9) == set(range(2, 11))
    assert fig4.scanned_pages(1, 1) == set()


# ------------------------------------------------------------------ figure 5
def test_figure_5_token_time_leaves_out_a_pause_of_the_machine():
    stamps = [0.003 * k for k in range(100)]
    paused = stamps[:50] + [t + 0.2 for t in stamps[50:]]  # one 200 ms pause in the middle
    assert fig5.token_time(stamps) == pytest.approx(0.003)
    assert fig5.token_time(paused) == pytest.approx(0.003)
    assert fig5.token_time([1.0]) != fig5.token_time([1.0])  # nan: no interval


def test_figure_5_costs_per_document_and_per_token_come_from_the_same_round():
    rows = [  # round, side, max_tokens, seconds, cpu, generated, prompt, token time
        (0, "engine", 256, 1.10, 1.0, 256, 87, 0.0031), (0, "bare", 256, 1.00, 1.0, 256, 87, 0.0030),
        (0, "engine", 1, 0.25, 0.2, 1, 87, 0.0), (0, "bare", 1, 0.20, 0.2, 1, 87, 0.0),
        (1, "bare", 1, 0.30, 0.3, 1, 87, 0.0), (1, "engine", 1, 0.33, 0.3, 1, 87, 0.0),
        (1, "bare", 256, 2.00, 2.0, 256, 87, 0.0060), (1, "engine", 256, 2.10, 2.0, 256, 87, 0.0062),
        (2, "engine", 256, 1.00, 1.0, 256, 87, 0.003),  # a round cut short is left out
    ]
    got = fig5.costs(rows)
    assert [d for d, _ in got] == pytest.approx([0.05, 0.03])
    assert [k for _, k in got] == pytest.approx([0.0001, 0.0002])


def test_figure_5_fails_two_milliseconds_added_to_every_token():
    assert fig5.judge(0.010, 0.002, True) == (False, False)
    assert fig5.judge(0.010, 0.0001, True) == (True, True)
    assert fig5.judge(0.120, 0.0001, True) == (False, True)  # within the margin
    assert fig5.judge(0.160, 0.0001, True)[1] is False  # a document's cost beyond it
    assert fig5.judge(0.010, 0.0001, False) == (False, False)  # different tokens: a bug, whatever the time
    assert fig5.judge(0.010, 0.0001, True, ratio=1.03) == (True, True)
    assert fig5.judge(0.010, 0.0001, True, ratio=1.20) == (False, False)


# ------------------------------------------------------------------ figure 7
def test_figure_7_takes_start_up_out_of_every_side_alike():
    rows = [  # round, side, pages rendered, seconds, bytes
        (0, "ours", 2, 0.60, 1), (0, "ours", 20, 1.14, 1), (0, "pdftoppm", 2, 0.10, 1), (0, "pdftoppm", 20, 0.82, 1),
        (1, "ours", 20, 1.32, 1), (1, "ours", 2, 0.78, 1),
    ]
    assert fig7.per_page(rows, "ours", 20) == pytest.approx([0.03, 0.03])
    assert fig7.per_page(rows, "pdftoppm", 20) == pytest.approx([0.04])


# ------------------------------------------------------------------ figure 8
def test_figure_8_gates_the_window_absolutely_and_the_first_character_against_bare_mlx_vlm():
    assert fig8.judge(1.2, None) == (True, True)
    assert fig8.judge(2.3, None) == (False, True)
    assert fig8.judge(2.7, None) == (False, False)
    assert fig8.judge(1.2, 1.05) == (True, True)
    assert fig8.judge(1.2, 1.15) == (False, True)
    assert fig8.judge(1.2, 1.30) == (False, False)


# ------------------------------------------------------------------ figures 50–53
def test_figure_50_bounds_the_peak_by_the_loaded_model_and_one_pages_allowance():
    assert fig50.judge(25.0) == (True, True)
    assert fig50.judge(105.0) == (False, True)  # 100 MB allowed, 15 MB of noise
    assert fig50.judge(130.0) == (False, False)


def test_figure_51_gates_memory_and_stalls_during_a_download():
    assert fig51.judge(40.0, STEADY) == (True, True)
    assert fig51.judge(40.0, STEADY + [70.0]) == (False, False)
    assert fig51.judge(150.0, STEADY) == (False, False)
    assert fig51.judge(40.0, []) == (False, False)
    assert fig51.gaps([0.0, 0.005, 0.010, 0.080, 0.085], 0.006, 0.09) == pytest.approx([5.0, 70.0, 5.0])


def test_figure_52_summarises_an_idle_window_and_gates_cpu_and_growth():
    samples = [(float(t), 0.001 * t, 120.0 + (0.5 if t > 300 else 0.0), 10 * t) for t in range(0, 601)]
    s = fig52.summary(samples)
    assert s["cpu_percent"] == pytest.approx(0.1) and s["rss_growth_mb"] == pytest.approx(0.5)
    assert s["wakeups_per_s"] == pytest.approx(10.0)
    assert fig52.judge(s["cpu_percent"], s["rss_growth_mb"]) == (True, True)
    assert fig52.judge(1.0, 0.0) == (False, False)
    assert fig52.judge(0.1, 10.0) == (False, False)


def test_figure_52_counts_wake_ups_per_thread_so_a_thread_that_ends_takes_nothing_back():
    start = {"100": 50, "101": 7_000, "102": 40}  # 101: a pool thread with a long past, about to expire
    later = {"100": 55, "102": 40, "103": 3}  # 101 ended; 103 was born
    assert fig52.woken(start, later) == 5 + 0 + 3
    assert fig52.woken(later, later) == 0


def test_figure_53_needs_every_cycle_back_and_every_unload_on_time():
    assert fig53.judge([20.0, 22.0], [0.2, 0.3]) == (True, True)
    assert fig53.judge([20.0, 60.0], [0.2, 0.3]) == (False, True)
    assert fig53.judge([20.0, 70.0], [0.2, 0.3]) == (False, False)
    assert fig53.judge([20.0], [30.0]) == (False, False)  # unloaded, but long after its deadline
    assert fig53.judge([20.0], [None]) == (False, False)  # no deadline seen
