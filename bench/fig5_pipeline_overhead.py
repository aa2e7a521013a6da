"""Figure 5: the engine adds next to nothing — engine pipeline time ÷ bare ``mlx_vlm.stream_generate``.

One process holds two copies of the bench model: one in the engine (its own thread,
keep-resident) and one loaded by plain ``mlx_vlm.load`` in the main thread. Rounds
alternate: the engine reads a 64×64 PNG (submit → sniff, open, fit, chat template,
``stream_generate`` with per-token signals and event pumping → ``jobFinished`` received
back in the caller's thread), then bare ``stream_generate`` reads the same file with the
same prompt, ``max_tokens`` and ``temperature=0``. Both produce the same numbers of
generated and prompt tokens (checked). While one side runs the other is idle, so they do
not compete for the cores. The engine's ``mx.clear_cache()`` after each document is part
of its time (MLX's buffer cache is per process, so the bare run that follows starts from
a cleared cache too).

The figure is the median over rounds of engine ÷ bare within the same round, with a
distribution-free 95% interval for that median (order statistics). Pairing matters here:
one bench-model document is about ten seconds of single-threaded matrix arithmetic, and
on this shared machine the same document takes anywhere from 10 to 14 s — process CPU
time moves with it, and pinning to one core does not calm it, so it is the arithmetic
running slower, not scheduling. One round's ratio spreads by about ±8%, so the full run
takes 24 rounds (the 95% interval is then about ±7%, the median's own error about
±2.5%); the 8 rounds it used to take gave anything from 0.97 to 1.09 for the same code. The ratio of the two
sides' medians, the
CPU seconds and every sample are in the note and the CSV.

The quick run (CI) measures the engine's overhead per document with the tiny model, where
it is easy to see (20 interleaved rounds in seconds), and sets it against one bare
bench-model OCR: on a CPU without fast matrix kernels each bench-model document takes
about ten seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench import common
from bench.common import Result

NUMBER = 5
TITLE = "Engine pipeline time ÷ bare mlx_vlm.stream_generate"
TARGET = "≤ 1.05"
BASELINE_LABEL = "bare mlx-vlm"
LIMIT = 1.05
ROUNDS = 24  # the full run: see the module text for why so many
MARGIN = 0.07  # --check accepts ≤ 1.12: interleaved medians still wobble a few % on a shared machine
FINDINGS = """The full runs of 2026-11-29 first missed (1.092, 1.076 with 8 rounds each) after the
engine began reading weights itself on Linux (ADR 0010), and it looked as if the reader
cost a few per cent. It does not: with both loads in one thread, a single 3584×1024
linear layer and a whole document time the same on the reader's arrays as on
`mx.load`'s (136–141 ms vs 135–165 ms; 9.8–10.7 s vs 9.2–10.8 s), and 50 more
interleaved rounds with the reader (20, 10, and 10 pinned to one core) gave medians of
per-round ratios of 1.004, 0.992 and 1.012, the engine slower in 18 of 40 rounds. What
missed was the measurement: the same document takes 10–14 s here (its CPU time varies
as much, pinned or not), so one round's ratio spreads ±8–10% and the median of 8 rounds
±5%. Fixed by pairing each round's two runs and taking 24 rounds, with an interval. The
interval is still about as wide as the target's distance from 1 (the first such run:
1.018, 95% interval 0.941–1.079; the full run in this report: 1.002, 0.940–1.030): at this
scale the engine's cost is below what the machine lets us measure, and the quick run bounds
it directly (tiny model: a few milliseconds per document).
"""


def _bare(model: str):
    """Bare mlx-vlm: ``load`` + evaluate the weights + chat template, as its own examples do.
    Returns ``once(png, max_tokens)`` → (seconds, CPU seconds, generated tokens, prompt tokens)
    for one ``stream_generate`` of the PNG at ``temperature=0``."""
    import mlx.core as mx
    from mlx_vlm import load, stream_generate
    from mlx_vlm.prompt_utils import apply_chat_template

    from engine.models.presets import ModelSpec

    model_, processor = load(model, trust_remote_code=False)
    mx.eval(model_.parameters())
    prompt = apply_chat_template(processor, model_.config, ModelSpec.resolve(model).prompt, num_images=1)

    def once(png: str, max_tokens: int) -> tuple[float, float, int, int]:
        t0, c0 = time.perf_counter(), time.process_time()
        last = None
        for last in stream_generate(model_, processor, prompt, image=[png], max_tokens=max_tokens, temperature=0.0):
            pass
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        if last is None:
            return seconds, cpu, 0, 0
        return seconds, cpu, last.generation_tokens, last.prompt_tokens

    return once


def bare_worker(model: str, max_tokens: int) -> dict:
    """One bare mlx-vlm OCR of the 64×64 PNG after a load (the quick run's scale for the overhead)."""
    import tempfile
    from pathlib import Path

    from engine.testing import samples

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    png = str(samples.write_png(tmp / "page.png"))
    seconds, cpu, tokens, prompt_tokens = _bare(model)(png, max_tokens)
    os.unlink(png)
    tmp.rmdir()
    return {"seconds": seconds, "cpu_seconds": cpu, "tokens": tokens, "prompt_tokens": prompt_tokens}


def worker(model: str, rounds: int, max_tokens: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from engine.engine_thread import Engine
    from engine.jobs import JobStatus, OcrOptions
    from engine.lifecycle import Mode, State
    from engine.models.presets import ModelSpec
    from engine.testing import samples

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    png = str(samples.write_png(tmp / "page.png"))
    _app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])  # the event loop the engine needs
    spec = ModelSpec.resolve(model)
    engine = Engine(spec, Mode.KEEP_RESIDENT)
    done: list = []
    engine.jobFinished.connect(done.append)
    engine.jobFailed.connect(done.append)
    loop = QEventLoop()
    engine.jobFinished.connect(lambda _r: loop.quit())
    engine.jobFailed.connect(lambda _r: loop.quit())
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)

    def engine_once() -> tuple[float, float, int, int]:
        n = len(done)
        t0, c0 = time.perf_counter(), time.process_time()
        engine.submit([png], OcrOptions(max_tokens=max_tokens))
        guard.start(600_000)
        while len(done) == n:
            loop.exec()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        guard.stop()
        r = done[-1]
        if r.status is not JobStatus.DONE:
            raise RuntimeError(r.error)
        return seconds, cpu, sum(p.generation_tokens for p in r.pages), sum(p.prompt_tokens for p in r.pages)

    bare = _bare(model)

    def bare_once() -> tuple[float, float, int, int]:
        return bare(png, max_tokens)

    engine_once()  # warm-up: the engine loads its model here
    bare_once()
    rows = []
    for r in range(rounds):
        order = [("engine", engine_once), ("bare", bare_once)]
        if r % 2:
            order.reverse()
        for name, fn in order:
            rows.append((r, name, *fn()))  # round, side, seconds, cpu seconds, tokens, prompt tokens
    assert engine.status.state in (State.READY, State.BUSY)
    engine.shutdown()
    os.unlink(png)
    tmp.rmdir()
    return {"rows": rows, "max_tokens": max_tokens}


COLUMNS = ["round", "side", "seconds", "cpu_seconds", "tokens", "prompt_tokens"]


def run(ctx: common.Context) -> Result:
    if ctx.quick:
        return _run_quick(ctx)
    rounds, max_tokens = ROUNDS, 8
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model("bench"), "--rounds", rounds,
                       "--max-tokens", max_tokens, timeout=3600)
    rows = r["rows"]
    eng = _side(rows, "engine")
    bare = _side(rows, "bare")
    paired = _paired(rows)
    ratio = common.median(paired)
    lo, hi = common.median_interval(paired)
    of_medians = common.median(eng) / common.median(bare)
    tokens = _tokens(rows)
    same_tokens = tokens["engine"] == tokens["bare"]
    raw = common.write_csv(ctx.path("fig5_pipeline_overhead.csv"), COLUMNS, rows)
    plot = ctx.path("fig5_pipeline_overhead.png")
    which = f"model {ctx.model_dir.name}" if ctx.model_dir else "bench model"
    _plot(plot, rows, f"Fig. 5 — engine ÷ bare, {which}: median of {rounds} paired rounds {ratio:.3f}\n"
                      f"(95% interval {lo:.3f}–{hi:.3f}; target ≤ {LIMIT})", paired)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"median {common.median(bare) * 1000:.0f} ms",
        ours=f"median {common.median(eng) * 1000:.0f} ms → ratio {ratio:.3f} (95% {lo:.3f}–{hi:.3f})",
        meets=ratio <= LIMIT and same_tokens,
        passes_check=ratio <= LIMIT + MARGIN and same_tokens,
        margin=f"+{MARGIN}",
        note=f"{which}; {rounds} interleaved rounds (order alternates), 64×64 PNG, max_tokens {max_tokens}; "
             f"ratio = median over rounds of engine ÷ bare in the same round, with a distribution-free 95% "
             f"interval for that median; the ratio of the two sides' medians is {of_medians:.3f}; "
             f"the engine was slower in {sum(p > 1 for p in paired)} of {rounds} rounds; tokens (generated, prompt): "
             f"engine {tokens['engine']}, bare {tokens['bare']}" + ("" if same_tokens else " — NOT THE SAME (a bug)"),
        plots=[plot.name], raw=[raw.name],
        values={"ratio": ratio, "interval": [lo, hi], "ratio_of_medians": of_medians, "paired": paired,
                "engine_s": common.median(eng), "bare_s": common.median(bare),
                "overhead_s": common.median(eng) - common.median(bare), "same_tokens": same_tokens},
    )


def _run_quick(ctx: common.Context) -> Result:
    """The engine's own cost per document, measured where it is easy to see: with the tiny model
    (about 50 ms a document, so 20 interleaved rounds take seconds), then set against one bare
    bench-model OCR of the same PNG and token count: ratio = (bare bench + overhead) ÷ bare bench."""
    rounds, max_tokens = 20, 8
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model("tiny"), "--rounds", rounds,
                       "--max-tokens", max_tokens, timeout=900)
    rows = r["rows"]
    eng = _side(rows, "engine")
    bare = _side(rows, "bare")
    tokens = _tokens(rows)
    same_tokens = tokens["engine"] == tokens["bare"]
    overhead = common.median(_paired(rows, lambda e, b: e - b))
    bench = ctx.run_module(__spec__.name, "--bare-worker", "--worker-model", ctx.model("bench"),
                           "--max-tokens", max_tokens, timeout=900)
    ratio = (bench["seconds"] + overhead) / bench["seconds"]
    raw = common.write_csv(ctx.path("fig5_pipeline_overhead.csv"), COLUMNS,
                           rows + [("bench", "bare-bench", bench["seconds"], bench["cpu_seconds"], bench["tokens"],
                                    bench["prompt_tokens"])])
    plot = ctx.path("fig5_pipeline_overhead.png")
    _plot(plot, rows, f"Fig. 5 (quick) — tiny model: engine {common.median(eng) * 1000:.0f} ms vs bare "
                      f"{common.median(bare) * 1000:.0f} ms; overhead {overhead * 1000:+.1f} ms/doc")
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"bare bench-model OCR {bench['seconds'] * 1000:.0f} ms",
        ours=f"overhead {overhead * 1000:+.1f} ms/doc → ratio {ratio:.3f}",
        meets=ratio <= LIMIT and same_tokens,
        passes_check=ratio <= LIMIT + MARGIN and same_tokens,
        margin=f"+{MARGIN}",
        note=f"quick run: the engine's overhead per document measured with the tiny model over {rounds} interleaved "
             f"rounds (engine {common.median(eng) * 1000:.0f} ms, bare {common.median(bare) * 1000:.0f} ms, "
             f"max_tokens {max_tokens}; overhead = median over rounds of engine − bare in the same round), set "
             "against one bare bench-model OCR of the same PNG and token count; tokens (generated, prompt): "
             f"engine {tokens['engine']}, bare {tokens['bare']}"
             + ("" if same_tokens else " — NOT THE SAME (a bug)") + ".",
        plots=[plot.name], raw=[raw.name],
        values={"ratio": ratio, "overhead_s": overhead, "tiny_engine_s": common.median(eng),
                "tiny_bare_s": common.median(bare), "bench_bare_s": bench["seconds"], "same_tokens": same_tokens},
    )


def _side(rows, side: str) -> list[float]:
    return [row[2] for row in rows if row[1] == side]


def _paired(rows, compare=lambda engine, bare: engine / bare) -> list[float]:
    """engine ÷ bare (or ``compare``) within each round: the two ran back to back, so a slow
    spell of the machine that spans a round cancels out."""
    by: dict = {}
    for row in rows:
        by.setdefault(row[0], {})[row[1]] = row[2]
    return [compare(by[r]["engine"], by[r]["bare"]) for r in sorted(by) if {"engine", "bare"} <= by[r].keys()]


def _tokens(rows) -> dict:
    """Per side, the distinct (generated, prompt) token counts seen."""
    return {n: sorted({(row[4], row[5]) for row in rows if row[1] == n}) for n in ("engine", "bare")}


def _plot(path, rows, title: str, paired: list[float] | None = None) -> None:
    plt = common.pyplot()
    if paired:
        fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.4, 5.2), sharex=True, height_ratios=[3, 2])
    else:
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        bx = None
    for side, colour, label in (("bare", "#999999", "bare mlx-vlm"), ("engine", "#2f6ea8", "engine pipeline")):
        pts = [(row[0], row[2] * 1000) for row in rows if row[1] == side]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=colour, label=label, markersize=4)
    ax.set_ylim(0, None)
    ax.set_ylabel("ms per document")
    ax.set_title(title, fontsize=9)
    last = ax if bx is None else bx
    if bx is not None:  # its legend goes in the empty lower part of the panel above
        bx.axhline(1.0, color="#999999", linewidth=0.8)
        bx.axhline(LIMIT, color="#c0392b", linewidth=0.8, linestyle="--", label=f"ratio target ≤ {LIMIT}")
        bx.axhline(common.median(paired), color="#2f6ea8", linewidth=1.2,
                   label=f"median ratio {common.median(paired):.3f}")
        bx.plot(range(len(paired)), paired, "o", color="#2f6ea8", markersize=4)
        bx.set_ylabel("engine ÷ bare\n(same round)")
    handles = ax.get_legend_handles_labels()[0] + (bx.get_legend_handles_labels()[0] if bx is not None else [])
    ax.legend(handles=handles, fontsize=8, loc="lower right", ncol=2)
    last.set_xlabel("round (interleaved; order alternates)")
    last.xaxis.get_major_locator().set_params(integer=True)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) measure and print JSON")
    p.add_argument("--bare-worker", action="store_true", help="(internal) one bare OCR after a load")
    p.add_argument("--worker-model")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--max-tokens", type=int, default=16)
    args, rest = p.parse_known_args(argv)
    if args.bare_worker:
        print(json.dumps(bare_worker(args.worker_model, args.max_tokens)))
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker_model, args.rounds, args.max_tokens)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
