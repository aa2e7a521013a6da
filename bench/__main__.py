"""Run the benchmark figures: ``python -m bench [--quick] [--check] [--report] [--only 1,5]``.

- ``--quick``: a short run (about 2 minutes in all) for CI and a first look.
- ``--check``: exit non-zero when a figure misses its target by more than the noise
  margin written in its script (``MARGIN…``), or when a figure fails to run.
- ``--report``: write the raw samples and plots to ``docs/bench/`` and rewrite
  ``docs/benchmarks.md`` (with ``--no-run``: rewrite it from ``docs/bench/results.json``).

Without ``--report``, raw samples, plots and ``results.json`` go to ``bench/results/``.
Each figure can also be run alone: ``python -m bench.fig1_unload_rss --quick``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common, report

FIGURES = (
    "bench.fig1_unload_rss",
    "bench.fig2_growth_per_cycle",
    "bench.fig3_resident_growth",
    "bench.fig4_gui_stall",
    "bench.fig5_pipeline_overhead",
    "bench.fig6_pdf_peak_rss",
    "bench.fig7_rasterise_speed",
    "bench.fig8_cold_start",
    "bench.fig9_load_and_first_token",
    "bench.fig10_api_overhead",
    "bench.fig11_warm_cli",
    "bench.fig12_api_soak",
    "bench.fig13_cold_drop",
    "bench.fig14_warm_pages",
    "bench.fig20_render_streaming",
    "bench.fig21_convert_cost",
    "bench.fig30_capture_to_text",
    "bench.fig31_overlay_shown",
    "bench.fig40_result_append_cost",
    "bench.fig50_scanned_pdf_peak",
    "bench.fig51_download",
    "bench.fig52_idle",
    "bench.fig53_idle_unload",
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a short run (about 10 minutes on 2 cores)")
    p.add_argument("--check", action="store_true", help="exit non-zero when a figure misses by more than its margin")
    p.add_argument("--report", action="store_true", help="write docs/bench/ and rewrite docs/benchmarks.md")
    p.add_argument("--no-run", action="store_true", help="with --report: only rewrite the report from saved results")
    p.add_argument("--only", default="", help="comma-separated figure numbers, e.g. 1,2,5")
    p.add_argument("--out", type=Path, default=None, help="where raw samples and plots go")
    p.add_argument("--model", type=Path, default=None,
                   help="a local model folder (e.g. a real checkpoint) instead of the random bench model")
    args = p.parse_args(argv)

    out = args.out or (common.REPORT_OUT if args.report else common.DEFAULT_OUT)
    if args.report and args.no_run:
        saved = json.loads((out / "results.json").read_text())
        report.write(saved, out)
        print(f"rewrote {report.REPORT.relative_to(common.ROOT)} from {out / 'results.json'}")
        return 0

    wanted = {int(x) for x in args.only.split(",") if x.strip()}
    modules = [importlib.import_module(name) for name in FIGURES]
    modules = [m for m in modules if not wanted or m.NUMBER in wanted]
    quiet, load = common.load_ok()
    if args.report and not quiet:
        common.log(f"note: the machine is busy ({load}); figures will be noisier")
    ctx = common.Context(quick=args.quick, out=out, model_dir=args.model)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    results = []
    try:
        for module in modules:
            common.log(f"figure {module.NUMBER}: {module.TITLE} …")
            result = common.run_figure(module, ctx)
            results.append(result)
            common.log(f"figure {module.NUMBER}: {result.verdict()} — ours {result.ours}; baseline {result.baseline}"
                       + (f"; skipped: {result.skipped}" if result.skipped else "")
                       + (f" ({result.seconds:.0f} s)"))
    finally:
        ctx.cleanup()
    total = time.perf_counter() - t0
    run = dict(ctx.run_info, seconds=total, load_before=load, figures=[r.number for r in results])
    saved = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": total,
        "quick": args.quick,
        "machine": common.machine(),
        "load_before": load,
        "model": ctx.model_label,
        "results": [dict(r.as_dict(), run_started=run["run_started"]) for r in results],
        "runs": [run],
        "superseded": [],  # results a later run re-measured: kept, so every miss of every run stays listed
    }
    if wanted and (out / "results.json").exists():  # a partial run updates the saved figures it re-measured
        saved = _merge(json.loads((out / "results.json").read_text()), saved, {r.number for r in results})
    common.write_json(out / "results.json", saved)
    if args.report:
        report.write(saved, out)
        common.log(f"rewrote {report.REPORT.relative_to(common.ROOT)}")

    print(report.table(saved))
    print(f"\n{len(results)} figure(s) in {total:.0f} s; raw samples and plots in {out}")
    mixed = report.mixed_provenance(saved)
    if args.report and mixed:
        common.log(f"WARNING: the report shows {mixed}; run every figure on one commit for a report to commit")
    failed = [r for r in results if r.passes_check is False]
    if args.check and failed:
        for r in failed:
            what = f"skipped: {r.skipped}" if r.skipped else f"ours {r.ours}, target {r.target}"
            print(f"CHECK FAILED: figure {r.number} ({r.title}): {what} (margin {r.margin or 'none'}) {r.note}",
                  file=sys.stderr)
        return 1
    if args.check:
        print("check passed: every figure within its target plus noise margin (skips listed above)")
    return 0


def _merge(old: dict, new: dict, measured: set[int]) -> dict:
    """A partial run's results replace the saved ones of the figures it measured; the replaced ones
    move to ``superseded`` and the earlier runs stay listed, each result keeping its provenance."""
    merged = dict(new)
    old_run = old.get("runs") or [{"run_started": old.get("started"), "commit": "unknown", "dirty": True,
                                   "quick": old.get("quick"), "figures": [r["number"] for r in old.get("results", [])]}]
    keep, superseded = [], list(old.get("superseded", []))
    for r in old.get("results", []):
        r = dict(r, run_started=r.get("run_started", old.get("started")))
        (superseded if r["number"] in measured else keep).append(r)
    merged["results"] = sorted(keep + new["results"], key=lambda r: r["number"])
    merged["runs"] = [*old_run, *new["runs"]]
    merged["superseded"] = superseded
    return merged


if __name__ == "__main__":
    sys.exit(main())
