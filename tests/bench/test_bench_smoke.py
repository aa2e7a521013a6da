"""The benchmark machinery: `python -m bench --check` fails on a miss beyond the margin, passes otherwise,
writes results, plots and the report; and one cheap real figure runs end to end."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bench import __main__ as runner
from bench import common, report
from bench.common import Result

ROOT = Path(__file__).resolve().parents[2]


def _fake_figure(name: str, number: int, ours: float, limit: float, margin: float, fail: bool = False):
    """A figure module whose measurement is ``ours`` against ``limit`` (lower is better)."""
    module = types.ModuleType(name)
    module.NUMBER, module.TITLE, module.TARGET, module.BASELINE_LABEL = number, f"fake {number}", f"≤ {limit}", "none"

    def run(ctx):
        if fail:
            raise RuntimeError("the measurement broke")
        plot = ctx.path(f"fake{number}.png")
        plt = common.pyplot()
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, ours])
        common.save(fig, plot)
        return Result(number, module.TITLE, module.TARGET, "none", "—", f"{ours}", ours <= limit,
                      ours <= limit + margin, margin=f"+{margin}", plots=[plot.name])

    module.run = run
    sys.modules[name] = module
    return name


@pytest.fixture
def fake_figures(monkeypatch):
    names = []

    def use(*specs):
        for spec in specs:
            names.append(_fake_figure(*spec))
        monkeypatch.setattr(runner, "FIGURES", tuple(names))

    yield use
    for name in names:
        sys.modules.pop(name, None)


def test_check_passes_when_every_figure_is_within_its_margin(fake_figures, tmp_path):
    fake_figures(("fake_ok", 1, 1.0, 1.05, 0.05), ("fake_noisy", 2, 1.08, 1.05, 0.05))
    assert runner.main(["--quick", "--check", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "results.json").read_text())
    verdicts = {r["number"]: (r["meets"], r["passes_check"]) for r in saved["results"]}
    assert verdicts == {1: (True, True), 2: (False, True)}
    assert (tmp_path / "fake1.png").stat().st_size > 0


def test_check_fails_on_a_miss_beyond_the_margin(fake_figures, tmp_path, capsys):
    fake_figures(("fake_ok", 1, 1.0, 1.05, 0.05), ("fake_miss", 2, 1.2, 1.05, 0.05))
    assert runner.main(["--quick", "--check", "--out", str(tmp_path)]) == 1
    assert "CHECK FAILED: figure 2" in capsys.readouterr().err
    # without --check a miss is reported, not fatal
    assert runner.main(["--quick", "--out", str(tmp_path)]) == 0


def test_a_figure_that_breaks_fails_the_check(fake_figures, tmp_path):
    fake_figures(("fake_broken", 3, 0.0, 1.0, 0.1, True))
    assert runner.main(["--quick", "--check", "--out", str(tmp_path)]) == 1
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["results"][0]["note"].startswith("the benchmark failed: RuntimeError")


def test_report_lists_every_figure_with_its_plot(fake_figures, tmp_path):
    fake_figures(("fake_ok", 1, 1.0, 1.05, 0.05), ("fake_miss", 2, 1.2, 1.05, 0.05))
    runner.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    md = report.write(saved, tmp_path, path=tmp_path / "benchmarks.md").read_text()
    assert "| 1 | fake 1 |" in md and "| 2 | fake 2 |" in md
    assert "❌ misses" in md and "✅ meets" in md
    assert "![Figure 1](fake1.png)" in md
    assert "Figure 2 (fake 2)** missed its target" in md


def test_readme_table_is_replaced_between_its_markers(fake_figures, tmp_path):
    fake_figures(("fake_a", 1, 1.0, 1.05, 0.05), ("fake_b", 2, 2.0, 1.05, 0.05))
    runner.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{report.README_START}\nold table\n{report.README_END}\n\nafter\n")
    report.update_readme(saved, readme)
    report.update_readme(saved, readme)  # twice: the block is replaced, not repeated
    text = readme.read_text()
    assert "old table" not in text
    assert text.count("| 1 | fake 1 |") == 1 and text.count("| 2 | fake 2 |") == 1
    assert text.startswith("# Title\n\nbefore\n\n" + report.README_START)
    assert text.endswith(report.README_END + "\n\nafter\n")
    assert "❌ misses" in text  # figure 2 misses beyond its margin, and the README says so


def test_statistics():
    assert common.percentile(list(range(101)), 99) == 99
    assert common.slope([10, 12, 14, 16]) == pytest.approx(2.0)
    assert common.median([3, 1, 2]) == 2
    # 24 samples: the 7th and 18th smallest bound the median at ≥ 95 % (binomial tails 1.1 % each)
    assert common.median_interval(list(range(24))) == (6, 17)
    assert common.median_interval([5, 1, 4, 2, 3, 6, 9, 8, 7]) == (2, 8)  # n = 9: 2nd and 8th
    lo, hi = common.median_interval([1.0, 2.0])  # too few for 95 %
    assert lo != lo and hi != hi


def test_report_header_says_which_run_measured_which_figure():
    from bench import report

    one = {"started": "T1", "seconds": 120, "results": [{"number": 1, "run_started": "T1"}, {"number": 2}]}
    assert report._runs(one, "full") == "full run started T1, 2.0 min"
    mixed = {"started": "T2", "seconds": 60,
             "results": [{"number": 1, "run_started": "T1"}, {"number": 3, "run_started": "T1"},
                         {"number": 2, "run_started": "T2"}]}
    assert report._runs(mixed, "full") == ("figures 1, 3 from the full run started T1; "
                                          "figure 2 re-measured in a later full run started T2")


def test_figure_5_pairs_the_runs_of_each_round():
    from bench import fig5_pipeline_overhead as fig5

    rows = [  # round, side, max_tokens, seconds, cpu seconds, generated tokens, prompt tokens, token time
        (0, "engine", 8, 11.0, 11.0, 8, 37, 0.3), (0, "bare", 8, 10.0, 10.0, 8, 37, 0.3),
        (1, "bare", 8, 20.0, 20.0, 8, 37, 0.3), (1, "engine", 8, 18.0, 18.0, 8, 37, 0.3),
        (2, "engine", 8, 12.0, 12.0, 8, 37, 0.3),  # a round cut short has no pair and is left out
    ]
    assert fig5._paired(rows) == pytest.approx([1.1, 0.9])
    assert fig5._paired(rows, lambda e, b: e - b) == pytest.approx([1.0, -2.0])
    assert fig5._side(rows, "bare") == [10.0, 20.0]
    assert fig5._tokens(rows) == {"engine": [(8, 37)], "bare": [(8, 37)]}
    assert fig5._tokens(rows + [(3, "bare", 8, 1.0, 1.0, 8, 36, 0.3)])["bare"] == [(8, 36), (8, 37)]


@pytest.mark.slow
def test_a_real_figure_runs_quick_and_checks(tmp_path):
    """Figure 6 (PDF peak RSS; no model needed) through the real command line."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--check", "--only", "6", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    saved = json.loads((tmp_path / "results.json").read_text())
    (fig6,) = saved["results"]
    assert fig6["number"] == 6 and fig6["meets"] is True
    assert all(abs(d) < 50 for d in fig6["values"]["difference_mb"].values())
    assert (tmp_path / "fig6_pdf_peak_rss.png").stat().st_size > 1000
    assert "| 6 |" in run.stdout
