"""Figure 9: load time and time to first token, the engine beside bare mlx-vlm.

Each measurement is a fresh process (a cold model load), alternating engine and bare, and the model's files
are read through once before the first round (``common.read_through``), so the page cache holds them for both
sides alike, the first process too. Both import ``mlx`` and ``mlx_vlm`` before the clock starts.

- Engine: submit a 64×64 PNG to a fresh ``Engine`` (keep-resident). Load time = from the
  ``loading`` state to ``jobStarted`` (locating and checking the folder, ``mlx_vlm.load``,
  evaluating every weight in the engine thread), as seen by the caller; time to first
  token = from ``jobStarted`` to the first ``textDelta`` (opening the PNG, the chat
  template, prefill and the first token).
- Bare: ``mlx_vlm.load`` + ``mx.eval(model.parameters())``; then ``stream_generate`` on the
  same PNG to its first yield.

Target (issue 16): the engine's load ≤ 1.15× bare mlx-vlm's (medians of five fresh processes a side), in
the same full run as figure 4's heartbeat target. The first token is reported beside it (the engine's clock
stops at its first text delta, bare mlx-vlm's at its first piece of text: ``bench.common.first_text``).
Quick (CI): the same model, three processes a side (about half a minute), checked on what the engine adds to
a load (engine − bare, median) instead of the ratio: runs of the same commit spread from ×1.04 to ×1.51 on a
shared 2-core machine, and a gate must not flip on that; the bound still catches a load path that does much
more than bare mlx-vlm's (the zero-filling reader this figure measured at the start of the day added
0.4–0.5 s). (A tiny model would not do: it loads in tens of milliseconds, and its reading shows nothing.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench import common
from bench.common import Result
from engine.jobs import JobStatus

NUMBER = 9
TITLE = "Load time and time to first token (engine beside bare mlx-vlm)"
TARGET = "load ≤ 1.15× bare"
BASELINE_LABEL = "bare mlx-vlm"
LIMIT = 1.15
MARGIN = 0.10  # --check: five cold loads a side of under half a second each, on a shared 2-core machine
QUICK_MS = 200.0  # quick: what the engine may add to a load (median engine − bare), ms: +20 to +202 ms seen
QUICK_MARGIN_MS = 150.0
FINDINGS = """Until 2026-12-02 the engine loaded in about twice bare mlx-vlm's time on Linux
(0.9 GB bench model: 1.36 s vs 0.63 s, 1.57 vs 0.65, 2.45 vs 1.16): its own weights reader
(ADR 0010, for a GUI that keeps its heartbeat while a model loads) zero-filled every buffer and
then read it in 1 MiB steps on one thread, where MLX reads with four threads straight into fresh
memory. Measured in one process (issue 16): zero-filling 0.55–0.63 s (a page fault per 4 KiB,
taken from user space), reading 0.25 s, against 0.34–0.40 s for `mx.load` + eval. The reader now
lets MLX allocate and parse as `mx.load` does and only does the reading, through a file object:
1 MiB steps, a big tensor split between two threads, no zero-fill (the faults are taken inside the
reads, one step at a time): 0.40–0.43 s in the same test, with a 5 ms heartbeat's longest gap
7–10 ms (MLX's own loader: 17–26 ms). The first render of the chat template, which the engine does
inside its load to refuse a hostile template before a job (bare mlx-vlm renders it at the first
token), was traced line by line through jinja's compiler; it is now traced line by line only in
the template's own code (0.09–0.15 s → about 0.07 s). Still ×1.4–1.5 in fresh processes (0.65–0.71 s
against 0.43–0.50 s): the reader's two threads against MLX's four (+0.05 s), the template render
(+0.07 s), and about 0.1 s not yet placed. Issue 16's target of 1.15× is not met; this figure stays
a report until it is. On macOS the engine uses MLX's own loader.

The full run of 2026-12-02 (commit 4515f12, 3 fresh processes a side): load 0.88 s against 0.50 s
(×1.75), first token ×0.97.

2026-12-02 afternoon (issue 16; ADR 0010's second amendment, ADR 0023). Three changes: each 1 MiB step's
pages are faulted in with `madvise(MADV_POPULATE_WRITE)` just before its `preadv` (in one process: the
reader 0.41–0.43 s → 0.31–0.37 s, `mx.load` + eval 0.33–0.39 s); the folder is vetted once per load, not
twice (5–10 ms); and the bare side's first token is its first piece of text, where the engine's clock
stops (`bench.common.first_text`: the bench model's first token is often held back by the streaming
detokenizer). MLX's float32 products now run on OpenBLAS, so the first-token column is 1.5–2.3 s instead of
10–20 s. What the engine still does that bare mlx-vlm does not is the guarded first render of the chat
template (40–60 ms, most of it jinja compiling under the guard's tracer) and the job's first page prepared
beside the load. Compiling the template on a helper thread during the read was tried and made the load
slower (0.55–0.76 s against 0.48–0.55 s, five A/B pairs): every 1 MiB step of the reader takes Python's
lock back, and a Python thread beside it makes each step wait (with a busy Python thread beside it the
reader took 1.3–1.9 s against 0.36 s; MLX's own loader, which never takes the lock, 0.40–0.43 s). The
figure is noisy: an aborted full run of the same commit an hour earlier measured ×1.38 (engine 0.50–1.13 s,
bare 0.37–0.44 s); this run ×1.09. A reader that never takes Python's lock between steps (a small native
loop) is what would make the margin safe.

2026-12-02 evening (issue 16). The reader's steps now run in C without Python's lock (ADR 0010, third
amendment), the lever named above. The full run of 54b7c36 still measured ×1.28 (engine 0.47–1.14 s,
median 0.55 s; bare 0.38–0.48 s, median 0.43 s; the 1.14 s was the first process after figure 8), where the
same code measured ×1.12 twice within the hour before (+55 ms, +54 ms). Its pieces in fresh processes,
three pairs: the weights' read 0.34–0.41 s; mlx-vlm's model and processor 0.44–0.53 s against bare's
0.46–0.53 s; locating, vetting and sizing the folder 10–20 ms; the guarded first render of the chat template
65–74 ms (bare mlx-vlm renders its template unguarded, in about 24 ms, at its first token, outside this
clock). So the guard (engine/models/template_guard.py: a deadline and a memory budget checked by a tracer)
is most of what the engine adds, and ×1.15 leaves 65 ms on a 0.43 s load: the target is met only when the
machine is kind. What would make it safe: compiling the template during the weights' read on a helper
thread (with the C steps that thread no longer slows the read), which needs a memory budget the read's own
growth does not trip (the guard's budget is the process's RSS growth, and the read grows it by the model).

2026-12-02 night (issue 16, ADR 0024). The guard now watches the template's deadline and memory budget from
a thread of its own and stops a render by raising in it, instead of tracing the rendering thread: the first
render of the bench model's template takes 13–26 ms in the load (35–74 ms traced; 15–22 ms unguarded, as
bare mlx-vlm renders it). The engine's load in pieces (fresh processes, three): locating, vetting and sizing
12–24 ms, mlx-vlm's model and processor as bare's, the template 15–25 ms; from the loading state to the job's
start 353–407 ms against bare mlx-vlm's 322–384 ms. Partial runs of this code: figures 4 and 9 together
×1.03 (engine 0.42 s, bare 0.40 s; figure 4 p99 6.3 ms, max 24.1 ms), figure 9 alone ×0.92. A third, taken
while a stray test process spun on one of the two cores, measured ×1.34 (engine 0.51–0.66 s, bare
0.36–0.50 s): the engine prepares page 1 on the second core while it loads, so a busy core probably costs it
more than bare mlx-vlm (not measured further); this figure wants a quiet machine.

The full run of d899e3e (the watched guard): ×1.14, which meets, in the same run as figure 4 (p99 6.6 ms,
max 28.5 ms). Engine 0.37–0.93 s (median 0.42 s; the 0.93 s is again the first process after figure 8,
whose launches drop the page cache), bare 0.32–0.42 s (median 0.37 s). Without that first round the
engine is 0.02–0.05 s behind bare in each pair, the locating, vetting and template named above.

On an AMD EPYC machine (from 2026-12-02 23:00; the runs above were on an Intel Xeon). The full run of
ffa46a2 measured ×1.25 (+83 ms), inside the margin: engine 1.80, 0.43, 0.32, 0.41, 0.42 s; bare 0.34, 0.34,
0.31, 0.27, 0.34 s. Its first engine process was again the slow one. It was slow when the figure ran alone
too, right after building the model (1.2–1.4 s, the others 0.30–0.39 s), so it is not only figure 8's cache
drop: this VM's memory monitor (kdamond) reclaims cold page cache, and the first process read the model from
disk. Round 0's first process is always the engine, so the bias always fell on the engine's side. The figure
now reads the model's files through once before round 0 (`common.read_through`), for both sides alike.
What the engine adds, measured inside the worker (fresh processes, four): locating 2–4 ms, vetting 4–7 ms,
the fit check about 1 ms, the guarded first render of the template 11–20 ms; `mlx_vlm.load` with the
engine's reader 334–537 ms; the load as the figure clocks it 9–13 ms longer than the backend's. So about
25–35 ms is structural, ×1.08–1.12 on this CPU's 0.3 s load, and the rest is the read's spread. The full
run of e6b900b: ×1.10 (+32 ms), which meets, in the same run as figure 4 (p99 7.6 ms, max 27.0 ms, no gap over
50 ms)."""


def worker(side: str, model: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    import mlx.core as mx
    import mlx_vlm  # noqa: F401 - both sides import before the clock starts
    from mlx_vlm.prompt_utils import apply_chat_template

    from engine.models.presets import ModelSpec
    from engine.testing import samples

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    png = str(samples.write_png(tmp / "page.png"))
    spec = ModelSpec.resolve(model)
    try:
        if side == "bare":
            from mlx_vlm import load, stream_generate

            t0 = time.perf_counter()
            m, processor = load(model, trust_remote_code=False)
            mx.eval(m.parameters())
            load_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            prompt = apply_chat_template(processor, m.config, spec.prompt, num_images=1)
            common.first_text(stream_generate(m, processor, prompt, image=[png], max_tokens=4, temperature=0.0))
            ttft = time.perf_counter() - t1
            return {"side": side, "load_s": load_s, "ttft_s": ttft}

        from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

        from engine.engine_thread import Engine
        from engine.jobs import OcrOptions
        from engine.lifecycle import Mode, State

        _app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])  # the engine's event loop
        engine = Engine(spec, Mode.KEEP_RESIDENT)
        marks: dict[str, float] = {}
        loop = QEventLoop()

        def on_state(st):
            if st.state is State.LOADING and "loading" not in marks:
                marks["loading"] = time.perf_counter()

        def on_started(_info):
            marks.setdefault("started", time.perf_counter())

        def on_delta(_d):
            if "first" not in marks:
                marks["first"] = time.perf_counter()

        def on_done(r):
            marks["done"] = time.perf_counter()
            marks["status"] = r.status
            loop.quit()

        engine.stateChanged.connect(on_state)
        engine.jobStarted.connect(on_started)
        engine.textDelta.connect(on_delta)
        engine.jobFinished.connect(on_done)
        engine.jobFailed.connect(on_done)
        QTimer.singleShot(600_000, loop.quit)
        marks["submit"] = time.perf_counter()
        engine.submit([png], OcrOptions(max_tokens=4))
        loop.exec()
        engine.shutdown()
        if marks.get("status") != JobStatus.DONE or "first" not in marks:
            raise RuntimeError(f"the engine did not produce a token: {marks}")
        return {
            "side": side,
            "load_s": marks["started"] - marks.get("loading", marks["submit"]),
            "ttft_s": marks["first"] - marks["started"],
            "submit_to_first_s": marks["first"] - marks["submit"],
        }
    finally:
        os.unlink(png)
        tmp.rmdir()


def run(ctx: common.Context) -> Result:
    rounds = 3 if ctx.quick else 5
    size = "bench"
    model = ctx.model(size)
    common.read_through(model)  # the page cache holds the model for both sides, the first process too
    rows = []
    for r in range(rounds):
        for side in (("engine", "bare") if r % 2 == 0 else ("bare", "engine")):
            out = ctx.run_module(__spec__.name, "--worker", side, "--worker-model", model, timeout=900)
            rows.append((r, side, out["load_s"], out["ttft_s"]))
            common.log(f"fig9 {side}: load {out['load_s']:.2f} s, first token {out['ttft_s'] * 1000:.0f} ms")

    def med(side, i):
        return common.median([row[i] for row in rows if row[1] == side])

    load = {s: med(s, 2) for s in ("engine", "bare")}
    loads = {s: [row[2] for row in rows if row[1] == s] for s in ("engine", "bare")}
    ttft = {s: med(s, 3) for s in ("engine", "bare")}
    raw = common.write_csv(ctx.path("fig9_load_and_first_token.csv"), ["round", "side", "load_s", "ttft_s"], rows)
    plot = ctx.path("fig9_load_and_first_token.png")
    _plot(plot, load, ttft, rounds)
    ratio = load["engine"] / load["bare"]
    added_ms = 1000 * (load["engine"] - load["bare"])
    target, meets, passes, margin = common.ratio_gate(ctx.quick, ratio, LIMIT, MARGIN, TARGET, added_ms, QUICK_MS,
                                                      QUICK_MARGIN_MS, "load: engine − bare")
    return Result(
        NUMBER, TITLE, target, BASELINE_LABEL,
        baseline=f"load {load['bare']:.2f} s, first token {ttft['bare'] * 1000:.0f} ms",
        ours=f"load {load['engine']:.2f} s (×{ratio:.2f}, {added_ms:+.0f} ms), first token "
             f"{ttft['engine'] * 1000:.0f} ms (×{ttft['engine'] / ttft['bare']:.2f})",
        meets=meets, passes_check=passes, margin=margin,
        note=f"medians of {rounds} fresh process(es) per side, alternating; {size} model, 64×64 PNG; "
             f"loads engine {', '.join(f'{x:.2f}' for x in loads['engine'])} s, bare "
             f"{', '.join(f'{x:.2f}' for x in loads['bare'])} s.",
        plots=[plot.name], raw=[raw.name],
        values={"load_s": load, "ttft_s": ttft, "load_ratio": ratio, "load_added_ms": added_ms,
                "ttft_ratio": ttft["engine"] / ttft["bare"]},
    )


def _plot(path, load, ttft, rounds) -> None:
    plt = common.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(6.8, 3.2))
    colours = ["#2f6ea8", "#999999"]
    for ax, data, title, scale, unit in ((a, load, "load", 1, "s"), (b, ttft, "first token after load", 1000, "ms")):
        names = ["engine", "bare"]
        vals = [data[n] * scale for n in names]
        ax.bar(["engine", "bare mlx-vlm"], vals, color=colours)
        for i, v in enumerate(vals):
            ax.annotate(f"{v:.2f}" if unit == "s" else f"{v:.0f}", (i, v), ha="center", va="bottom", fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=9)
        ax.set_ylim(0, max(vals) * 1.2)
    fig.suptitle(f"Fig. 9 — load and first token (median of {rounds} fresh process(es) per side)", fontsize=10)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", choices=("engine", "bare"), help="(internal) measure one side and print JSON")
    p.add_argument("--worker-model")
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.worker_model)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
