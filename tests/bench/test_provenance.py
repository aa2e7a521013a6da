"""Benchmark provenance and the check's honesty: every result says which code measured it, when and
under what load; the report warns when figures come from different commits or a changed tree and
lists every miss of every run it shows; a skip or a target without a verdict fails --check; raw
CSVs keep full precision."""

from __future__ import annotations

import csv
import json
import sys
import types

import pytest

from bench import __main__ as runner
from bench import common, report
from bench.common import Result


def _figure(name: str, number: int, outcome: str, optional: str = ""):
    """A figure module whose run() meets, misses, skips or gives no verdict."""
    module = types.ModuleType(name)
    module.NUMBER, module.TITLE, module.TARGET, module.BASELINE_LABEL = number, f"fake {number}", "≤ 1", "none"
    if optional:
        module.OPTIONAL = optional

    def run(ctx):
        if outcome == "skip":
            return Result.skip(number, module.TITLE, module.TARGET, "none", "a tool is missing")
        verdict = {"meets": (True, True), "misses": (False, False), "none": (None, None)}[outcome]
        return Result(number, module.TITLE, module.TARGET, "none", "1", "2", *verdict)

    module.run = run
    sys.modules[name] = module
    return name


@pytest.fixture
def figures(monkeypatch):
    names: list[str] = []

    def use(*specs):
        names.extend(_figure(*spec) for spec in specs)
        monkeypatch.setattr(runner, "FIGURES", tuple(names))

    yield use
    for name in names:
        sys.modules.pop(name, None)


def test_every_result_records_the_code_the_time_the_load_and_the_machine(figures, tmp_path):
    figures(("prov_a", 1, "meets"))
    assert runner.main(["--quick", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "results.json").read_text())
    commit, dirty = common.git_state()
    [r] = saved["results"]
    prov = r["provenance"]
    assert (prov["commit"], prov["dirty"], prov["quick"]) == (commit, dirty, True)
    assert len(prov["commit"]) == 40 and prov["figure_started"] and prov["run_started"]
    assert len(prov["load_start"]) == 3 and len(prov["load_end"]) == 3
    assert prov["machine"] == common.machine_short(common.machine()) and prov["model"].startswith("random bench")
    assert saved["runs"][0]["commit"] == commit and saved["runs"][0]["figures"] == [1]


def test_a_skip_fails_the_check_unless_the_figure_says_why_it_may_be_skipped(figures, tmp_path, capsys,
                                                                             monkeypatch):
    figures(("prov_skip", 7, "skip"), ("prov_optional", 8, "skip", "needs a Mac's screen recording permission"))
    assert runner.main(["--quick", "--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "CHECK FAILED: figure 7 (fake 7): skipped: a tool is missing" in err and "FAILED: figure 8" not in err
    monkeypatch.setattr(runner, "FIGURES", ("prov_optional",))
    assert runner.main(["--quick", "--check", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert "(optional: needs a Mac's screen recording permission)" in saved["results"][0]["note"]


def test_a_figure_with_a_target_must_give_a_verdict(figures, tmp_path, capsys):
    figures(("prov_silent", 9, "none"))
    assert runner.main(["--quick", "--check", "--out", str(tmp_path)]) == 1
    assert "gave no verdict" in capsys.readouterr().err


def _saved(results, runs, superseded=()):
    return {"started": "2026-12-02T01:00:00+00:00", "seconds": 60.0, "quick": False, "model": "random bench model",
            "machine": common.machine(), "load_before": "?", "results": list(results), "runs": list(runs),
            "superseded": list(superseded)}


def _result(number, meets, commit, dirty=False, when="2026-12-02T01:00:00+00:00", ours="x"):
    return {"number": number, "title": f"fake {number}", "target": "≤ 1", "baseline_label": "b", "baseline": "1",
            "ours": ours, "meets": meets, "passes_check": meets, "margin": "", "note": "", "skipped": "",
            "plots": [], "raw": [], "seconds": 1.0, "quick": False, "values": {}, "run_started": when,
            "provenance": {"commit": commit, "dirty": dirty, "run_started": when, "figure_started": when}}


def test_the_report_warns_in_its_header_and_each_row_when_commits_differ(tmp_path):
    a, b = "a" * 40, "b" * 40
    saved = _saved([_result(1, True, a), _result(2, True, b, when="2026-12-02T03:00:00+00:00")],
                   [{"commit": a, "dirty": False, "run_started": "2026-12-02T01:00:00+00:00", "figures": [1, 2]},
                    {"commit": b, "dirty": False, "run_started": "2026-12-02T03:00:00+00:00", "figures": [2]}])
    assert report.mixed_provenance(saved) == "figures from 2 commits (aaaaaaa: 1; bbbbbbb: 2)"
    md = report.write(saved, tmp_path, path=tmp_path / "benchmarks.md").read_text()
    assert "⚠️ **Mixed provenance: this report shows figures from 2 commits" in md
    rows = [line for line in md.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    assert len(rows) == 2 and all("⚠️ " in row for row in rows)
    assert "⚠️ aaaaaaa 2026-12-02 01:00" in rows[0] and "⚠️ bbbbbbb 2026-12-02 03:00" in rows[1]
    one = _saved([_result(1, True, a), _result(2, True, a)],
                 [{"commit": a, "dirty": False, "run_started": "2026-12-02T01:00:00+00:00", "figures": [1, 2]}])
    assert report.mixed_provenance(one) == ""
    md = report.write(one, tmp_path, path=tmp_path / "one.md").read_text()
    assert f"Every figure below was measured by one run of commit `{a}`" in md and "⚠️" not in md
    dirty = _saved([_result(1, True, a, dirty=True)], [{"commit": a, "dirty": True, "figures": [1]}])
    assert "uncommitted changes (1)" in report.mixed_provenance(dirty)


def test_the_misses_section_lists_every_miss_of_every_run_shown(tmp_path):
    """The full run missed figure 4; a later partial run met it: the report says both, never 'none'."""
    a, b = "a" * 40, "b" * 40
    old = _result(4, False, a, ours="max 83 ms")
    saved = _saved([_result(4, True, b, when="2026-12-02T03:00:00+00:00", ours="max 30 ms")],
                   [{"commit": a, "dirty": False, "figures": [4]}, {"commit": b, "dirty": False, "figures": [4]}],
                   superseded=[old])
    lines = report.misses(saved)
    assert len(lines) == 1 and "Figure 4 (fake 4)** missed its target (≤ 1)" in lines[0]
    assert "max 83 ms" in lines[0] and "Re-measured later (bbbbbbb 2026-12-02 03:00): ✅ meets, max 30 ms" in lines[0]
    md = report.write(saved, tmp_path, path=tmp_path / "benchmarks.md").read_text()
    assert "None: every measured figure" not in md


def test_a_partial_run_keeps_what_it_replaced(figures, tmp_path):
    figures(("prov_one", 1, "misses"), ("prov_two", 2, "meets"))
    runner.main(["--quick", "--out", str(tmp_path)])
    sys.modules["prov_one"].run = lambda ctx: Result(1, "fake 1", "≤ 1", "none", "1", "0.5", True, True)
    runner.main(["--quick", "--only", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["meets"] for r in saved["results"]] == [True, True]
    assert [(r["number"], r["meets"]) for r in saved["superseded"]] == [(1, False)]
    assert [run["figures"] for run in saved["runs"]] == [[1, 2], [1]]
    assert any("missed its target" in line for line in report.misses(saved))


def test_raw_csv_keeps_full_precision(tmp_path):
    path = common.write_csv(tmp_path / "x.csv", ["a", "b"], [(0.1 + 0.2, 123456.789012345)])
    [row] = list(csv.reader(path.open()))[1:]
    assert float(row[0]) == 0.1 + 0.2 and float(row[1]) == 123456.789012345
