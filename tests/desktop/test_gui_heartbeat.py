"""The GUI never waits, measured where it used to: the first load of a real-sized model.

A fresh process runs the whole app offscreen (benchmark figure 4's worker) with a 5 ms
heartbeat timer on the GUI thread, on the ~0.9 GB bench model, and reads a 3-page A4 PDF (one
page scanned at 144 dpi). Nothing is imported beforehand, so the gaps include importing mlx_vlm
(GC pauses, ADR 0008; native libraries off the disk, ADR 0011) and reading the weights
(ADR 0010). The target is the product's: no gap over 50 ms. The stated margin is figure 4's
fixed one (+15 ms, so no gap over 65 ms); the idle loop's gaps are printed beside, never added
to the allowance (an app that stalls while idle must not widen its own).

Timing alone is a weak witness (a broken build can get lucky on a quiet machine), so the
mechanisms are also checked directly: tests/engine/test_backend.py (no collection during the
import, the weights reader in use) and tests/engine/test_native_prefetch.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import fig4_gui_stall as fig4
from engine.jobs import JobStatus
from tests.processes import ROOT, child_env

pytestmark = [pytest.mark.slow, pytest.mark.linux_only]


def test_no_gui_gap_over_the_target_while_the_first_load_imports_and_reads_a_real_sized_model(bench_model_dir):
    run = subprocess.run(
        [sys.executable, "-m", "bench.fig4_gui_stall", "--worker", "--worker-model", str(bench_model_dir),
         "--pages", "3", "--scans", "1", "--max-tokens", "4", "--idle-s", "1.0"],
        capture_output=True, text=True, timeout=900, cwd=ROOT, env=child_env(QT_QPA_PLATFORM="offscreen"),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    r = json.loads([line for line in run.stdout.splitlines() if line.startswith("{")][-1])
    assert r["job"]["status"] == JobStatus.DONE and r["job"]["pages"] == 3
    assert r["job"]["mlx_vlm_before_job"] is False  # the import happened inside the measured window
    states = [what for _, what in r["events"]]
    assert "loading" in states, states  # and so did the load

    ticks, ph = r["ticks"], r["phases"]
    idle = fig4.gaps(ticks, ph["start"] + 0.5, ph["busy_start"])  # after the window's first paint
    busy = fig4.gaps(ticks, ph["busy_start"], ph["busy_end"])
    assert len(idle) > 20 and len(busy) > 20, "too few heartbeats to judge"
    allowed = fig4.MAX_MS + fig4.MARGIN_MAX_MS
    worst = max(busy)
    print(f"longest gap while busy {worst:.1f} ms (idle {max(idle):.1f} ms); allowed {allowed:.1f} ms;"
          f" stalls: {r['stalls'][:3]}")
    assert worst <= allowed, f"the GUI thread stalled {worst:.0f} ms (target {fig4.MAX_MS:.0f} ms): {r['stalls'][:3]}"
