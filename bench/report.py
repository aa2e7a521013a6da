"""``docs/benchmarks.md`` from a run's ``results.json``: the table, the plots, and how to run them.

Everything in that file is generated; the text for each figure comes from its script's
docstring (what is measured and how) and its ``FINDINGS`` (what the numbers showed and
what was fixed), so edit those, then ``python -m bench --report --no-run``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from bench import common

REPORT = common.ROOT / "docs" / "benchmarks.md"
VERDICT = {"meets": "✅ meets", "report": "ℹ️ reported", "skipped": "⏭ skipped", "MISSES": "❌ misses"}


def _verdict(r: dict) -> str:
    if r.get("skipped"):
        return "⏭ skipped"
    if r["meets"] is None:
        return "ℹ️ reported"
    if r["meets"]:
        return "✅ meets"
    if r["passes_check"]:
        return "⚠️ misses, within noise margin"
    return "❌ misses"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _measured(r: dict, saved: dict) -> str:
    """Which code measured a result, and when: 'a1b2c3d 2026-12-02' (+ '(uncommitted changes)')."""
    prov = r.get("provenance") or {}
    commit = prov.get("commit", "unknown")
    when = (prov.get("figure_started") or r.get("run_started") or saved.get("started") or "?")[:16].replace("T", " ")
    text = f"{commit[:7]} {when}"
    if prov.get("dirty", True):
        text += " (uncommitted changes)"
    return text


def mixed_provenance(saved: dict) -> str:
    """'' when every result comes from one commit of a clean tree; otherwise what is mixed, for a warning."""
    by_commit: dict[str, list[int]] = {}
    dirty: list[int] = []
    for r in saved["results"]:
        prov = r.get("provenance") or {}
        by_commit.setdefault(prov.get("commit", "unknown")[:7], []).append(r["number"])
        if prov.get("dirty", True):
            dirty.append(r["number"])
    problems = []
    if len(by_commit) > 1:
        problems.append(f"figures from {len(by_commit)} commits ("
                        + "; ".join(f"{c}: {', '.join(map(str, sorted(ns)))}" for c, ns in by_commit.items()) + ")")
    elif "unknown" in by_commit:
        problems.append("figures whose commit is not recorded")
    if dirty:
        problems.append(f"figures measured on a tree with uncommitted changes ({', '.join(map(str, sorted(dirty)))})")
    return " and ".join(problems)


def table(saved: dict) -> str:
    m = saved["machine"]
    machine = common.machine_short(m)
    mixed = bool(mixed_provenance(saved))
    rows = [
        "| # | figure | target | baseline (same run) | ours | verdict | measured (commit, UTC) | machine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in saved["results"]:
        baseline = f"{r['baseline_label']}: {r['baseline']}" if r["baseline"] not in ("—", "") else r["baseline_label"]
        ours = r["ours"] if not r.get("skipped") else f"skipped: {r['skipped']}"
        if r["meets"] is False and r.get("note", "").startswith("the benchmark failed"):
            ours = r["note"]
        measured = ("⚠️ " if mixed else "") + _measured(r, saved)
        rows.append(
            f"| {r['number']} | {_cell(r['title'])} | {_cell(r['target'])} | {_cell(baseline)} | {_cell(ours)} "
            f"| {_verdict(r)} | {_cell(measured)} | {_cell(machine)} |"
        )
    return "\n".join(rows)


def misses(saved: dict) -> list[str]:
    """Every miss of every run the report shows: the current results' and those a later run replaced."""
    lines = []
    current = {r["number"]: r for r in saved["results"]}
    for r in sorted(saved["results"] + saved.get("superseded", []),
                    key=lambda r: (r["number"], r.get("run_started") or "")):
        if r["meets"] is not False:
            continue
        line = (f"- **Figure {r['number']} ({r['title']})** missed its target ({r['target']}) in the "
                f"{'quick' if r.get('quick') else 'full'} run measured at {_measured(r, saved)}: {r['ours']}. "
                + (r.get("note") or ""))
        if r is not current.get(r["number"]):
            now = current.get(r["number"])
            line += (f" Re-measured later ({_measured(now, saved)}): {_verdict(now)}, {now['ours']}."
                     if now else " Not re-measured since.")
        lines.append(line.rstrip())
    return lines


def _runs(saved: dict, kind: str) -> str:
    """When and on which code the figures shown were measured: one run, or which figures which run measured."""
    runs = saved.get("runs")
    if runs:
        showing = {r["number"] for r in saved["results"]}
        parts = []
        for run in runs:
            ns = sorted(showing & set(run.get("figures", [])))
            if not ns:
                continue
            which = "quick" if run.get("quick") else "full"
            commit = (run.get("commit") or "unknown")[:7]
            if run.get("dirty", True):
                commit += " with uncommitted changes"
            load = f", load {run['load_before']}" if run.get("load_before") else ""
            parts.append(f"figure{'s' if len(ns) > 1 else ''} {', '.join(map(str, ns))} from the {which} run of "
                         f"commit {commit} started {run.get('run_started')}{load}")
        if len(parts) == 1 and len(runs) == 1:
            return f"{kind} run of commit {parts[0].split(' of commit ', 1)[1]}, {saved['seconds'] / 60:.1f} min"
        return "; ".join(parts)
    by: dict[str, list[int]] = {}
    for r in saved["results"]:
        by.setdefault(r.get("run_started") or saved["started"], []).append(r["number"])
    if len(by) <= 1:
        return f"{kind} run started {saved['started']}, {saved['seconds'] / 60:.1f} min"
    parts = []
    for i, (when, ns) in enumerate(sorted(by.items())):
        which = f"figure{'s' if len(ns) > 1 else ''} {', '.join(map(str, sorted(ns)))}"
        parts.append(f"{which} from the {kind} run started {when}" if i == 0
                     else f"{which} re-measured in a later {kind} run started {when}")
    return "; ".join(parts)


def write(saved: dict, out: Path, path: Path = REPORT) -> Path:
    """Rewrite the report at ``path`` (plots and raw files are linked relative to it)."""
    docs = path.parent
    rel = Path(os.path.relpath(out, docs))
    m = saved["machine"]
    kind = "quick" if saved.get("quick") else "full"
    mixed = mixed_provenance(saved)
    commits = {(r.get("provenance") or {}).get("commit", "unknown") for r in saved["results"]}
    lines = [
        "# Benchmarks",
        "",
        f"_Generated by `python -m bench --report` ({_runs(saved, kind)}). Do not edit by hand: the text "
        "comes from the scripts in "
        "`bench/` (docstrings and `FINDINGS`); rewrite with `python -m bench --report --no-run`._",
        "",
        (f"> ⚠️ **Mixed provenance: this report shows {mixed}.** Each row says which code measured it; "
         "a report to rely on comes from one full run on one commit." if mixed else
         f"Every figure below was measured by one run of commit `{next(iter(commits))}` (no uncommitted changes)."),
        "",
        "OCR Tray exists for its memory behaviour: the model gives its memory back when it unloads, "
        "memory does not grow per request, the window never stalls while a document is read, and the "
        "engine adds next to nothing to mlx-vlm's own time. Each claim below is a number measured "
        "**against a baseline in the same run**, because these machines are shared and noisy: figures "
        "are ratios and differences (medians of interleaved runs), never a lone absolute time.",
        "",
        "## Results",
        "",
        table(saved),
        "",
        f"Machine: {m['cpu']} · {m['cores']} cores · {m['ram_gb']} GB RAM · {m['os']} {m['arch']} · "
        f"{m['device']} · Python {m['python']} · mlx {m['mlx']} · mlx-vlm {m['mlx_vlm']} · "
        f"PyMuPDF {m['pymupdf']} · PySide6 {m['PySide6']} · MLX's float32 products on "
        f"{m.get('blas', 'the reference BLAS bundled with mlx (not recorded)')}, every side alike (ADR 0023). "
        "Each figure's section gives the load average at its start and end.",
        "",
        ("The model is a random-weight checkpoint built by `engine.testing.tiny_model` (family qwen2_vl, size "
         "`bench`: about 0.9 GB of weights, every tensor under 32 MB), so no download is needed and the "
         "text it produces is meaningless; the memory and timings are real."
         if saved.get("model", "random").startswith("random") else f"Model: `{saved['model']}`."),
        "",
    ]
    missed = misses(saved)
    lines += ["## Misses", ""]
    if missed:
        lines += missed
        lines.append("")
        lines.append("Each figure's findings below say what is known of the cause, and what was changed.")
    else:
        runs = len(saved.get("runs") or [saved])
        lines.append("None: every measured figure meets its target"
                     + (" in this run." if runs == 1 else f" in each of the {runs} runs shown."))
    skipped = [r for r in saved["results"] if r.get("skipped")]
    for r in skipped:
        lines.append(f"- Figure {r['number']} was skipped here: {r['skipped']}.")
    lines.append("")
    lines += ["## Figures", ""]
    for r in saved["results"]:
        module = _module(r["number"])
        lines.append(f"### {r['number']}. {r['title']}")
        lines.append("")
        if module is not None and module.__doc__:
            doc = module.__doc__.strip().split("\n", 1)
            lines.append(doc[1].strip() if len(doc) > 1 else doc[0])
            lines.append("")
        lines.append(f"Target: **{r['target']}** · measured: baseline ({r['baseline_label']}) {r['baseline']}; "
                     f"ours {r['ours']} · {_verdict(r)} · `--check` margin: {r.get('margin') or 'none'} · "
                     f"{r.get('seconds', 0):.0f} s")
        prov = r.get("provenance") or {}
        lines += ["", f"Measured by {'the quick' if r.get('quick') else 'a full'} run at {_measured(r, saved)}"
                      + (f", commit `{prov['commit']}`" if prov.get("commit") else "")
                      + (f"; load average {prov['load_start']} at the start, {prov['load_end']} at the end"
                         if prov.get("load_start") else "") + "."]
        if r.get("note"):
            lines += ["", r["note"]]
        findings = getattr(module, "FINDINGS", "").strip() if module is not None else ""
        if findings:
            lines += ["", "**Findings.** " + findings]
        lines.append("")
        for plot in r.get("plots", []):
            lines += [f"![Figure {r['number']}]({(rel / plot).as_posix()})", ""]
        if r.get("raw"):
            lines.append("Raw samples: " + ", ".join(f"[`{x}`]({(rel / x).as_posix()})" for x in r["raw"]))
            lines.append("")
    lines += _running_section()
    path.write_text("\n".join(lines).rstrip() + "\n")
    if path == REPORT:
        update_readme(saved)
    return path


README = common.ROOT / "README.md"
README_START, README_END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def update_readme(saved: dict, readme: Path = README) -> None:
    """Put the results table between the README's markers, so the README never shows stale figures."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    kind = "quick" if saved.get("quick") else "full"
    block = (f"{README_START}\n_From the {kind} run of {saved['started'][:10]} "
             f"({common.machine_short(saved['machine'])}); details and plots in "
             f"[docs/benchmarks.md](docs/benchmarks.md)._\n\n{table(saved)}\n{README_END}")
    readme.write_text(head + block + tail)


def _module(number: int):
    from bench.__main__ import FIGURES

    for name in FIGURES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if number == module.NUMBER:
            return module
    return None


def _running_section() -> list[str]:
    return [
        "## Running them",
        "",
        "After the README's test setup (`bash scripts/test.sh` creates `.venv` with the `dev` extra, "
        "which brings matplotlib for the plots, and installs poppler-utils when run as root):",
        "",
        "```sh",
        ".venv/bin/python -m bench --quick            # every figure, shorter (about 10 minutes on 2 CPU cores)",
        ".venv/bin/python -m bench --quick --check    # what CI runs: non-zero when a figure misses"
        " by more than its margin",
        ".venv/bin/python -m bench                    # the full run (about 30 minutes on 2 CPU cores)",
        ".venv/bin/python -m bench --report           # the full run into docs/bench/ and this file",
        ".venv/bin/python -m bench --report --no-run  # rewrite this file from docs/bench/results.json",
        ".venv/bin/python -m bench --only 1,5         # some figures",
        ".venv/bin/python -m bench --model DIR        # a local model folder instead of the random bench model",
        ".venv/bin/python -m bench.fig5_pipeline_overhead --quick   # one figure alone",
        "```",
        "",
        "Raw samples (CSV/JSON), the plots and `results.json` go to `bench/results/` (ignored by git) "
        "unless `--report` is given. Figure 7 needs `pdftoppm` (Debian: `sudo apt-get install "
        "poppler-utils`; macOS: `brew install poppler`) and is skipped with that reason when it is "
        "missing. Run the full report on a quiet machine: the runner notes the load average when it starts.",
        "",
        "Each figure's noise margin for `--check` is a constant at the top of its script (`MARGIN…`), "
        "with the reason beside it. A figure that fails to run fails the check too, and so does one that "
        "is skipped, unless its script declares it optional with the reason (`OPTIONAL = \"…\"`), and one "
        "that has a target but gives no verdict.",
        "",
        "Every result records its provenance in `results.json`: the commit and whether the tree had "
        "uncommitted changes, when the run and the figure started, the load average at the figure's start "
        "and end, the machine and the model. A partial run (`--only`) replaces the figures it measured and "
        "keeps the replaced results under `superseded`, so the report's misses list every miss of every "
        "run it shows; when the figures come from different commits or a changed tree, the report says so "
        "in its header and in each row. Raw CSV files keep every digit.",
        "",
        "On a CPU without fast matrix kernels (as here: the bench model reads a 64×64 image in about "
        "ten seconds, almost all of it prefill), the quick run keeps the bench model where the figure "
        "depends on it (memory of figures 1–2, the GUI during a real load in figure 4, the time scale of "
        "figure 5) and uses fewer cycles, one generated token, or the tiny model elsewhere; each figure's "
        "text says what its quick run does.",
        "",
        "## On a Mac (Metal)",
        "",
        "`python -m bench` runs unchanged on an Apple Silicon Mac; MLX then uses the GPU through Metal. "
        "Figures 1 and 2 record, beside RSS, MLX's active memory (`mx.get_active_memory()`, from the "
        "engine's status report) after every load and unload, and on a Mac also the process's **physical "
        "footprint** (`proc_pid_rusage`: what Activity Monitor shows as Memory; it counts Metal buffers, "
        "which RSS does not fully show), in `fig1_unload_rss.json` and `fig2_growth_per_cycle.json` "
        "(`mlx_active_*_mb`, `footprint_*_mb`). On Linux the footprint is a Mac-only measure and is "
        "recorded as `null`. glibc's `malloc_trim`/`mallopt` are no-ops on macOS, so there the "
        "\"no-trim\" baseline of figure 1 equals the full release; the naive baseline still shows what "
        "`mx.clear_cache()` gives back.",
        "",
        "To send your numbers:",
        "",
        "```sh",
        "bash scripts/test.sh -q tests/bench     # sets up .venv (with the dev extra) and checks the bench machinery",
        ".venv/bin/python -m bench --out ~/ocr-tray-bench",
        "```",
        "",
        "then attach `~/ocr-tray-bench/results.json` and the PNGs to an issue, with the Mac's chip, memory "
        "and macOS version (`results.json` records the machine as well).",
        "",
    ]
