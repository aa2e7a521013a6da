"""``ocr-tray --self-test`` and ``ocr-tray self-test``: the device and memory lines, the golden pages end to
end on the tiny model, the memory cycles with their CSV, and the verdicts that fail a release."""

import csv
import io
import os
import re
import subprocess
import sys

import pytest

from engine.cli import self_test
from engine.cli.self_test import Sample

MB = 1_000_000


def ocr_tray(*args, timeout=300):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "desktop.main", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def metal() -> bool:
    import mlx.core as mx

    return bool(mx.metal.is_available())


# ------------------------------------------------------------------------------ real runs
@pytest.mark.slow
def test_plain_self_test_prints_the_summary_the_device_and_the_memory():
    run = ocr_tray("--self-test")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("self-test ok: 3 pages (2 by the model, 1 from the text layer)")
    device = "gpu" if metal() else "cpu"
    assert re.fullmatch(rf"device: {device} \(.+; (Metal available|no Metal); mlx [\d.]+\)", lines[1]), lines[1]
    assert re.match(r"memory after unload: RSS \d+ MB, [+-]\d+\.\d MB over the baseline of \d+ MB "
                    r"\(figure 1 target ≤ \+50 MB: ok\); MLX active [\d.]+ MB \(baseline [\d.]+ MB\), "
                    r"cache [\d.]+ MB", lines[2]), lines[2]


@pytest.mark.slow
def test_the_subcommand_without_a_mode_is_the_plain_self_test_and_checks_the_device():
    other = "cpu" if metal() else "gpu"
    run = ocr_tray("self-test", "--require-device", other)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "self-test ok: 3 pages" in run.stdout
    assert f"device check FAILED: MLX ran on the {'gpu' if metal() else 'cpu'}, the {other} was required" in run.stdout


@pytest.mark.slow
def test_golden_pages_end_to_end_on_the_tiny_model(tmp_path):
    table, pages = tmp_path / "cer.csv", tmp_path / "pages"
    run = ocr_tray("self-test", "--golden", "--csv", table, "--out", pages)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "golden pages: 6 pages" in out and "a random-weight qwen2_vl (tiny)" in out
    assert re.search(r"^device: (cpu|gpu) \(", out, re.M)
    for name in ("body-8pt", "body-11pt", "body-16pt", "two-column", "table", "receipt-photo", "overall"):
        assert re.search(rf"^  {name} +\d+ ", out, re.M), name
    assert "CER means nothing" in out
    assert out.rstrip().endswith("golden ok (machinery only)")
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert [r["page"] for r in rows][-1] == "overall" and len(rows) == 7
    assert all(r["model"] == "random-tiny" and float(r["cer"]) >= 0 for r in rows)
    assert int(rows[-1]["reference_chars"]) == sum(int(r["reference_chars"]) for r in rows[:-1])
    for r in rows[:-1]:  # every page went through the model and its text was kept beside its truth
        assert (pages / f"{r['page']}.ocr.txt").is_file() and (pages / f"{r['page']}.txt").is_file()
        assert int(r["generation_tokens"]) > 0


@pytest.mark.slow
def test_golden_fails_above_the_threshold():
    run = ocr_tray("self-test", "--golden", "--max-cer", "0.01", "--max-tokens", "4")
    assert run.returncode == 1
    assert re.search(r"^golden FAILED: overall CER \d\.\d{3} > 0\.010$", run.stdout, re.M), run.stdout


@pytest.mark.slow
def test_memory_cycles_write_the_samples_and_meet_figures_1_and_2(tmp_path):
    table = tmp_path / "memory.csv"
    run = ocr_tray("self-test", "--memory-cycles", "2", "--size", "tiny", "--csv", table)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "memory cycles: 2 of 2 × random-weight tiny model" in run.stdout
    assert re.search(r"^figure 1 \(RSS after every unload ≤ baseline \+ 50 MB\): ok", run.stdout, re.M)
    assert re.search(r"^figure 2 \(growth ≤ 2 MB/cycle\): ok", run.stdout, re.M)
    assert run.stdout.rstrip().endswith("memory cycles ok")
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert [(r["cycle"], r["phase"]) for r in rows] == [
        ("0", "baseline"), ("1", "before-unload"), ("1", "after-unload"), ("2", "before-unload"), ("2", "after-unload")]
    assert set(rows[0]) == {"cycle", "phase", "rss_mb", "rss_over_baseline_mb", "footprint_mb", "mlx_active_mb",
                            "mlx_cache_mb", "wired_limit_mb", "device", "model"}
    loaded, unloaded = rows[1], rows[2]
    assert float(loaded["mlx_active_mb"]) > float(unloaded["mlx_active_mb"])  # the weights were there, then gone
    assert float(unloaded["mlx_cache_mb"]) == 0.0
    assert (rows[0]["footprint_mb"] == "") == (sys.platform != "darwin")


# ------------------------------------------------------------------------------ the verdicts
def s(rss_mb: float, active_mb: float = 0, cache_mb: float = 0, wired_mb: float = 0) -> Sample:
    return Sample(int(rss_mb * MB), None, int(active_mb * MB), int(cache_mb * MB), int(wired_mb * MB))


def verdict(after: list[Sample], before: list[Sample] | None = None, base: Sample | None = None):
    base = base or s(200)
    before = before or [s(1100, 900)] * len(after)
    rows = [(0, "baseline", base)]
    for i, (b, a) in enumerate(zip(before, after), 1):
        rows += [(i, "before-unload", b), (i, "after-unload", a)]
    out = io.StringIO()
    code = self_test._memory_verdict(rows, len(after), "cpu", "a model", 900 * MB, "", out)
    return code, out.getvalue()


def test_memory_within_figures_1_and_2_passes():
    code, text = verdict([s(210), s(211), s(211.5), s(212), s(212)])
    assert code == 0 and text.rstrip().endswith("memory cycles ok"), text


def test_one_unload_that_keeps_50_mb_fails_figure_1():
    code, text = verdict([s(210), s(251), s(212)])
    assert code == 1 and "figure 1 (RSS after every unload ≤ baseline + 50 MB): MISSED, worst +51.0 MB" in text


def test_growth_over_2_mb_per_cycle_fails_figure_2():
    code, text = verdict([s(205), s(208), s(211), s(214), s(217)])
    assert code == 1 and "figure 2 (growth ≤ 2 MB/cycle): MISSED, +3.00 MB/cycle" in text


@pytest.mark.parametrize("after", [s(210, active_mb=20), s(210, cache_mb=5), s(210, wired_mb=900)])
def test_mlx_keeping_weights_cache_or_a_wired_limit_fails(after):
    code, text = verdict([s(210), after])
    assert code == 1 and "MLX after every unload" in text and "MISSED" in text


def test_a_failed_cycle_fails_with_its_error():
    rows = [(0, "baseline", s(200)), (1, "before-unload", s(1100, 900)), (1, "after-unload", s(210))]
    out = io.StringIO()
    assert self_test._memory_verdict(rows, 3, "cpu", "m", 0, "cycle 2: boom", out) == 1
    assert out.getvalue().rstrip().endswith("memory cycles FAILED: cycle 2: boom")


def test_slope_is_least_squares():
    assert self_test.slope([1, 2, 3, 4]) == pytest.approx(1)
    assert self_test.slope([5, 1, 5, 1, 5]) == pytest.approx(0)
    assert self_test.slope([7]) == 0


def test_samples_read_mlx_without_changing_the_wired_limit():
    import mlx.core as mx

    before = mx.set_wired_limit(0)
    mx.set_wired_limit(before)
    first = self_test.sample()
    assert first.rss > 0 and first.mlx_active >= 0 and first.mlx_cache >= 0
    assert mx.set_wired_limit(before) == first.wired_limit == before
