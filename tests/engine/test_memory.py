"""Unload gives the memory back: 5 load/OCR/unload cycles of the ~0.9 GB bench model, in a subprocess."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_rss_returns_to_baseline_after_each_unload():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [sys.executable, "-m", "bench.memory_cycles", "--cycles", "5", "--release", "full", "--size", "bench", "--json"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    print("baseline", result["baseline_mb"], "loaded", result["loaded_mb"], "over", result["over_baseline_mb"])
    # the model really was in memory: the weights are ~0.9 GB
    assert min(result["loaded_mb"]) - result["baseline_mb"] > 700
    # and really went away: imported modules may stay, weights must go
    assert max(result["over_baseline_mb"]) <= 100
    assert result["growth_per_cycle_mb"] <= 5
