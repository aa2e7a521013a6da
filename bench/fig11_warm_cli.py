"""Figure 11: ``ocr-tray ocr one.png`` with the app running and its model resident ÷ the same command standalone.

One worker process is the app without widgets (``bench.fig1x_api_host.Host``, keep-resident), its
discovery file in a private runtime folder that the commands are pointed at (``OCR_TRAY_RUNTIME_DIR``);
its model is loaded once before the clock starts (``POST /v1/load``). Rounds alternate two fresh
command-line processes, timed from start to exit: ``ocr-tray ocr one.png`` (finds the app, sends the file
over the local API, prints the streamed text) and ``ocr-tray ocr one.png --standalone`` (its own engine:
imports MLX, loads the model, reads the page, unloads). The same 64×64 PNG and ``max_tokens``. The worker
counts its model loads: it must stay at one — the warm commands load no model anywhere.

Reported, no target: the warm command saves the model load and the MLX imports, and pays a process start
and an HTTP round trip. The quick run uses the tiny model, one round.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.common import Result

NUMBER = 11
TITLE = "Warm CLI (app running, model resident) ÷ standalone CLI"
TARGET = "report"
BASELINE_LABEL = "ocr-tray ocr --standalone (loads the model)"
COLUMNS = ["round", "side", "seconds", "exit_code"]


def worker(model: str, rounds: int, max_tokens: int) -> dict:
    from bench.fig1x_api_host import Host
    from engine.lifecycle import State
    from engine.testing import samples

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    runtime = tmp / "run"
    runtime.mkdir(mode=0o700)
    png = str(samples.write_png(tmp / "one.png"))
    host = Host(model, runtime=runtime)
    env = dict(os.environ, OCR_TRAY_RUNTIME_DIR=str(runtime), QT_QPA_PLATFORM="offscreen")
    command = [sys.executable, "-m", "desktop.main", "ocr", png, "--max-tokens", str(max_tokens)]

    def timed(extra: list[str]) -> tuple[float, int]:
        def go():
            t0 = time.perf_counter()
            proc = subprocess.run(command + extra, env=env, capture_output=True, timeout=900, cwd=common.ROOT)
            return time.perf_counter() - t0, proc.returncode, proc.stderr[-500:]

        seconds, code, err = host.call(go)
        if code != 0:
            raise RuntimeError(f"ocr-tray ocr {' '.join(extra)} failed: {err!r}")
        return seconds, code

    rows = []
    try:
        host.controller.load_now()
        host.wait(lambda: host.engine.status.state is State.READY, 600)
        timed([])  # warm-up: the page cache holds Python's and Qt's files for both sides alike
        for r in range(rounds):
            order = [("warm", []), ("standalone", ["--standalone", "--model", model])]
            if r % 2:
                order.reverse()
            for side, extra in order:
                rows.append((r, side, *timed(extra)))
        loads = host.engine.status.loads
        api_jobs = sum(1 for result in host.ended if result.client == "api")
    finally:
        host.close()
    return {"rows": rows, "loads": loads, "api_jobs": api_jobs}


def run(ctx: common.Context) -> Result:
    rounds = 1 if ctx.quick else 5
    size = "tiny" if ctx.quick else "bench"
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model(size), "--rounds", rounds,
                       "--max-tokens", 8, timeout=3600)
    rows = r["rows"]
    warm = common.median([row[2] for row in rows if row[1] == "warm"])
    alone = common.median([row[2] for row in rows if row[1] == "standalone"])
    raw = common.write_csv(ctx.path("fig11_warm_cli.csv"), COLUMNS, rows)
    plot = ctx.path("fig11_warm_cli.png")
    _plot(plot, rows, warm, alone, size)
    one_load = r["loads"] == 1 and r["api_jobs"] == rounds + 1
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"median {alone:.2f} s",
        ours=f"median {warm:.2f} s → ratio {warm / alone:.2f}; app's model loads: {r['loads']}",
        meets=None, passes_check=None if one_load else False,
        note=f"{size} model, 64×64 PNG, max_tokens 8; medians of {rounds} round(s) of fresh processes, order "
             f"alternating; the app served {r['api_jobs']} CLI job(s) with {r['loads']} model load(s)"
             + ("" if one_load else " — A WARM COMMAND LOADED A MODEL OR WAS NOT SERVED BY THE APP (a bug)"),
        plots=[plot.name], raw=[raw.name],
        values={"warm_s": warm, "standalone_s": alone, "ratio": warm / alone, "loads": r["loads"]},
    )


def _plot(path, rows, warm, alone, size) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    ax.bar(["app running\n(model resident)", "--standalone\n(loads the model)"], [warm, alone],
           color=["#2f6ea8", "#999999"])
    for i, side in enumerate(("warm", "standalone")):
        pts = [row[2] for row in rows if row[1] == side]
        ax.plot([i] * len(pts), pts, "k.", markersize=5)
        ax.annotate(f"{(warm, alone)[i]:.2f} s", (i, (warm, alone)[i]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("seconds, command start to exit")
    ax.set_title(f"Fig. 11 — `ocr-tray ocr one.png` ({size} model): warm ÷ standalone = {warm / alone:.2f}",
                 fontsize=9)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) measure and print JSON")
    p.add_argument("--worker-model")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--max-tokens", type=int, default=8)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker_model, args.rounds, args.max_tokens)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
