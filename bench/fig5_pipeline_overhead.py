"""Figure 5: the engine adds next to nothing — engine pipeline time ÷ bare ``mlx_vlm.stream_generate``.

One process holds two copies of the bench model: one in the engine (its own thread,
keep-resident) and one loaded by plain ``mlx_vlm.load`` in the main thread. Rounds
alternate: the engine reads a 64×64 PNG (submit → sniff, open, fit, chat template,
``stream_generate`` with per-token signals and event pumping → ``jobFinished`` received
back in the caller's thread), then bare ``stream_generate`` reads the same file with the
same prompt, ``max_tokens`` and ``temperature=0``. Both produce the same number of
tokens (checked). The figure is the ratio of the medians. While one side runs the other
is idle, so they do not compete for the cores. The engine's ``mx.clear_cache()`` after
each document is part of its time (MLX's buffer cache is per process, so the bare run
that follows starts from a cleared cache too).

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
MARGIN = 0.07  # --check accepts ≤ 1.12: interleaved medians still wobble a few % on a shared machine
FINDINGS = """Still being fixed. Before the engine read weights itself on Linux (ADR 0010) the
full run gave 0.996. Seven full runs of this figure on one machine since, alternating the
reader on and off in the same code: with the reader 1.092, 1.076, 1.045, 0.969; without
it 1.002, 0.978, 0.975. So the reader looks to cost a few per cent of generation time
some of the time, and one 8-round run spreads by about ±6%. Not the cause, as far as
measured: matrix-vector products on the reader's arrays time the same as on `mx.load`'s;
a `stream_generate` A/B of the two loads in one thread showed no difference (12.0–12.6 s
vs 12.7–13.3 s), nor did the same with the reader's model on a worker thread (ratio
0.962); active memory, MLX's cache and transparent huge pages are the same either way.
Next to try: a reader variant without the zero-fill (where the pages are first touched),
and more rounds per run. The quick run (the engine's overhead per document, tiny model)
stays at 1.000.
"""


def bare_worker(model: str, max_tokens: int) -> dict:
    """One bare mlx-vlm OCR of the 64×64 PNG after a load (the quick run's scale for the overhead)."""
    import tempfile
    from pathlib import Path

    import mlx.core as mx
    from mlx_vlm import load, stream_generate
    from mlx_vlm.prompt_utils import apply_chat_template

    from engine import samples
    from engine.presets import ModelSpec

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    png = str(samples.write_png(tmp / "page.png"))
    model_, processor = load(model, trust_remote_code=False)
    mx.eval(model_.parameters())
    prompt = apply_chat_template(processor, model_.config, ModelSpec.resolve(model).prompt, num_images=1)
    t0 = time.perf_counter()
    last = None
    for last in stream_generate(model_, processor, prompt, image=[png], max_tokens=max_tokens, temperature=0.0):
        pass
    seconds = time.perf_counter() - t0
    os.unlink(png)
    tmp.rmdir()
    return {"seconds": seconds, "tokens": last.generation_tokens if last else 0}


def worker(model: str, rounds: int, max_tokens: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    import mlx.core as mx
    from mlx_vlm import load, stream_generate
    from mlx_vlm.prompt_utils import apply_chat_template

    from engine import samples
    from engine.engine_thread import Engine
    from engine.jobs import OcrOptions
    from engine.lifecycle import Mode, State
    from engine.presets import ModelSpec

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    png = str(samples.write_png(tmp / "page.png"))
    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
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

    def engine_once() -> tuple[float, int]:
        n = len(done)
        t0 = time.perf_counter()
        engine.submit([png], OcrOptions(max_tokens=max_tokens))
        guard.start(600_000)
        while len(done) == n:
            loop.exec()
        seconds = time.perf_counter() - t0
        guard.stop()
        r = done[-1]
        if r.status != "done":
            raise RuntimeError(r.error)
        return seconds, sum(p.generation_tokens for p in r.pages)

    bare_model, processor = load(model, trust_remote_code=False)
    mx.eval(bare_model.parameters())
    prompt = apply_chat_template(processor, bare_model.config, spec.prompt, num_images=1)

    def bare_once() -> tuple[float, int]:
        t0 = time.perf_counter()
        last = None
        for last in stream_generate(bare_model, processor, prompt, image=[png], max_tokens=max_tokens, temperature=0.0):
            pass
        return time.perf_counter() - t0, last.generation_tokens if last else 0

    engine_once()  # warm-up: the engine loads its model here
    bare_once()
    rows = []
    for r in range(rounds):
        order = (("engine", engine_once), ("bare", bare_once)) if r % 2 == 0 else (("bare", bare_once), ("engine", engine_once))
        for name, fn in order:
            seconds, tokens = fn()
            rows.append((r, name, seconds, tokens))
    assert engine.status.state in (State.READY, State.BUSY)
    engine.shutdown()
    os.unlink(png)
    tmp.rmdir()
    return {"rows": rows, "max_tokens": max_tokens}


def run(ctx: common.Context) -> Result:
    if ctx.quick:
        return _run_quick(ctx)
    rounds, max_tokens = 8, 8
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model("bench"), "--rounds", rounds,
                       "--max-tokens", max_tokens, timeout=3600)
    rows = r["rows"]
    eng = [s for _, n, s, _ in rows if n == "engine"]
    bare = [s for _, n, s, _ in rows if n == "bare"]
    tokens = _tokens(rows)
    ratio = common.median(eng) / common.median(bare)
    same_tokens = tokens["engine"] == tokens["bare"]
    raw = common.write_csv(ctx.path("fig5_pipeline_overhead.csv"), ["round", "side", "seconds", "tokens"], rows)
    plot = ctx.path("fig5_pipeline_overhead.png")
    _plot(plot, rows, f"Fig. 5 — engine ÷ bare = {ratio:.3f} (target ≤ {LIMIT}), bench model")
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"median {common.median(bare) * 1000:.0f} ms",
        ours=f"median {common.median(eng) * 1000:.0f} ms → ratio {ratio:.3f}",
        meets=ratio <= LIMIT and same_tokens,
        passes_check=ratio <= LIMIT + MARGIN and same_tokens,
        margin=f"+{MARGIN}",
        note=f"bench model; {rounds} interleaved rounds, 64×64 PNG, max_tokens {max_tokens}; overhead "
             f"{(common.median(eng) - common.median(bare)) * 1000:+.0f} ms per document; tokens generated: engine "
             f"{tokens['engine']}, bare {tokens['bare']}" + ("" if same_tokens else " — NOT THE SAME (a bug)"),
        plots=[plot.name], raw=[raw.name],
        values={"ratio": ratio, "engine_s": common.median(eng), "bare_s": common.median(bare),
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
    eng = [s for _, n, s, _ in rows if n == "engine"]
    bare = [s for _, n, s, _ in rows if n == "bare"]
    tokens = _tokens(rows)
    same_tokens = tokens["engine"] == tokens["bare"]
    overhead = common.median(eng) - common.median(bare)
    bench = ctx.run_module(__spec__.name, "--bare-worker", "--worker-model", ctx.model("bench"),
                           "--max-tokens", max_tokens, timeout=900)
    ratio = (bench["seconds"] + overhead) / bench["seconds"]
    raw = common.write_csv(ctx.path("fig5_pipeline_overhead.csv"), ["round", "side", "seconds", "tokens"],
                           rows + [("bench", "bare-bench", bench["seconds"], bench["tokens"])])
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
             f"max_tokens {max_tokens}), set against one bare bench-model OCR of the same PNG and token count; "
             f"tokens generated: engine {tokens['engine']}, bare {tokens['bare']}"
             + ("" if same_tokens else " — NOT THE SAME (a bug)") + ".",
        plots=[plot.name], raw=[raw.name],
        values={"ratio": ratio, "overhead_s": overhead, "tiny_engine_s": common.median(eng),
                "tiny_bare_s": common.median(bare), "bench_bare_s": bench["seconds"], "same_tokens": same_tokens},
    )


def _tokens(rows) -> dict:
    return {n: sorted({t for _, m, _, t in rows if m == n}) for n in ("engine", "bare")}


def _plot(path, rows, title: str) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for side, colour, label in (("bare", "#999999", "bare mlx-vlm"), ("engine", "#2f6ea8", "engine pipeline")):
        pts = [(r, s * 1000) for r, n, s, _ in rows if n == side]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=colour, label=label, markersize=4)
    ax.set_ylim(0, None)
    ax.set_xlabel("round (interleaved; order alternates)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("ms per document")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="best")
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
