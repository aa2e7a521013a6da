"""Figure 5: the engine adds next to nothing — its own cost per document and per token, and at real scale.

Two measurements, each pairing the engine with bare ``mlx_vlm.stream_generate`` in one process:
the engine in its own thread (keep-resident: submit → sniff, open, fit, chat template,
``stream_generate`` with per-token signals, cancel checks and event pumping → ``jobFinished``
received back in the caller's thread), and bare mlx-vlm in the main thread (``load``, its own
chat template, ``stream_generate`` of the same file with the same prompt and ``max_tokens``,
``temperature=0``). While one side runs the other is idle, so they do not compete for the
cores. The engine's ``mx.clear_cache()`` after each document is part of its time. Both sides
produce the same numbers of generated and prompt tokens (checked). The page is one A4 page of
real text rendered at the app's default 144 dpi (``bench.documents.write_png``: 1190×1684
pixels, a PNG, which the engine fits to the model's 1600-pixel side as it would any file).

Both models are seeds whose answers stream (``bench.models``: a text delta every second token
for the tiny model, every token for the bench model), so the engine's per-token path — the
text callback, its signal to the caller's thread — runs as it would for a real model.

**The engine's absolute cost** (the gate): the tiny model, where the engine's own work is not
drowned by the model's arithmetic. Each round runs engine and bare at 256 generated tokens and
at 1 (order rotates): the cost per document is engine − bare at 1 token, the cost per token is
((engine − bare) at 256 − (engine − bare) at 1) ÷ the extra tokens; the figure is the median
over rounds of each, with a distribution-free 95% interval. Full run 30 rounds, quick run (CI)
12.

**At real scale** (full run only): the bench model (~0.9 GB), the same page, 8 generated
tokens, 12 rounds; the ratio is the median over rounds of engine ÷ bare within the same round,
with its interval. On this 2-core CPU one bench-model document is about 22 s of prefill (64
image tokens + the prompt) and the decoder makes about 3 tokens/s, so 256 tokens a side would
be two minutes a round and 12 rounds three quarters of an hour: the full run affords 8 tokens, and the
per-token cost is bounded by the tiny-model measurement instead. Pairing matters here: the same
document takes anywhere from 10 to 14 s in one run on this shared machine (its CPU time moves
with it, pinned or not), one round's ratio spreads by about ±8%, so 24 rounds gave an interval
of about ±7%; 12 rounds (about 6 minutes, so the full report fits its time) give about ±10%,
which the gate's margin (a ratio up to 1.12) absorbs: the engine's own cost is gated in
milliseconds above, and this ratio shows it stays negligible at scale.

``--inject-ms-per-token N`` (a proof of the gate, never in a real run) wraps the product's
``Backend.ocr`` in the worker so that every text delta reaches the engine N ms late.
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
TITLE = "Engine cost per document and per token; engine ÷ bare mlx-vlm at real scale"
TARGET = "≤ 100 ms/document, ≤ 0.25 ms/token; bench-model ratio ≤ 1.05"
BASELINE_LABEL = "bare mlx-vlm"
# 100 ms a document: what a person does not notice on a page that takes seconds, 2% of the fastest real
# page we expect (a 1B OCR model reads a page in about 5 s on Apple silicon, whose CPU also runs the
# engine's own code faster than this one), 0.4% of a bench-model page here. 0.25 ms a token: 2.5% of a
# token on Apple silicon (about 10 ms a token for a 1B bf16 model), under 0.1% here; a per-token cost
# that grows (a signal storm, a copy of the text so far on every token) shows up here first.
DOC_MS, TOKEN_MS = 100.0, 0.25
MARGIN_DOC_MS, MARGIN_TOKEN_MS = 50.0, 0.15  # --check: ≤ 150 ms and ≤ 0.4 ms (2 ms/token must fail)
LIMIT = 1.05
MARGIN = 0.07  # --check accepts a ratio ≤ 1.12: interleaved medians still wobble a few % on a shared machine
ROUNDS = 12  # the bench-model ratio: see the module text for the interval this gives
TINY_ROUNDS = {True: 12, False: 30}  # quick: rounds of the tiny-model cost
LONG, SHORT = 256, 1  # generated tokens of the two tiny-model runs of a round
BENCH_TOKENS = 8
INJECT: dict[str, float] = {}  # set by --inject-ms-per-token (python -m bench.fig5_pipeline_overhead only)
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
    Returns ``once(png, max_tokens)`` → (seconds, CPU seconds, generated tokens, prompt tokens, the median
    time between two pieces of text) for one ``stream_generate`` of the PNG at ``temperature=0``."""
    import mlx.core as mx
    from mlx_vlm import load, stream_generate
    from mlx_vlm.prompt_utils import apply_chat_template

    from engine.models.presets import ModelSpec

    model_, processor = load(model, trust_remote_code=False)
    mx.eval(model_.parameters())
    prompt = apply_chat_template(processor, model_.config, ModelSpec.resolve(model).prompt, num_images=1)

    def once(png: str, max_tokens: int) -> tuple[float, float, int, int, float]:
        STAMPS.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        last = None
        for last in stream_generate(model_, processor, prompt, image=[png], max_tokens=max_tokens, temperature=0.0):
            pass
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        if last is None:
            return seconds, cpu, 0, 0, float("nan")
        return seconds, cpu, last.generation_tokens, last.prompt_tokens, token_time(STAMPS)

    return once


def delay_every_token(ms: float) -> None:
    """The injected regression (a proof of the gate, never in a real run): the product's ``Backend.ocr`` is
    wrapped, in this worker process only, so the engine's check between two tokens (``should_stop``, called
    after every token) takes ``ms`` longer."""
    import functools

    from engine import backend

    ocr = backend.Backend.ocr

    @functools.wraps(ocr)
    def slowed(self, image, max_tokens, on_text, should_stop=lambda: False, *args, **kwargs):
        def late() -> bool:
            time.sleep(ms / 1000)
            return should_stop()

        return ocr(self, image, max_tokens, on_text, late, *args, **kwargs)

    backend.Backend.ocr = slowed  # type: ignore[method-assign]


STAMPS: list[float] = []  # when each token was yielded, in the run going on (either side)
TRIM = 0.1  # token_time drops this share of the intervals at each end


def token_time(stamps: list[float]) -> float:
    """One token's time in a run: the mean time between consecutive tokens, the shortest and the longest 10%
    left out (a pause of the shared machine is not the engine's), nan with fewer than two stamps."""
    steps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    cut = int(len(steps) * TRIM)
    kept = steps[cut:len(steps) - cut] or steps
    return sum(kept) / len(kept) if kept else float("nan")


def stamp_every_token() -> None:
    """Measurement only, the same for both sides: ``mlx_vlm.stream_generate`` is wrapped in this worker process
    so the time each token is yielded goes into ``STAMPS``. The time between two stamps is the model's step
    plus whatever its caller did with the previous token (the engine: the text callback and its signal, the
    cancel check, the event pumping; bare: nothing)."""
    import functools

    import mlx_vlm

    generate = mlx_vlm.stream_generate

    @functools.wraps(generate)
    def stamped(*args, **kwargs):
        inner = generate(*args, **kwargs)
        try:
            for response in inner:
                STAMPS.append(time.perf_counter())
                yield response
        finally:
            inner.close()  # the caller's close() reaches mlx-vlm's own clean-up, as without the wrapper

    mlx_vlm.stream_generate = stamped


def worker(model: str, rounds: int, token_counts: list[int], inject_ms_per_token: float = 0.0) -> dict:
    """``rounds`` rounds; in each, engine and bare read the A4 page once at every count in ``token_counts``
    (a count's two runs back to back; which count and which side goes first alternate). Rows: round, side,
    max_tokens, seconds, CPU seconds, generated tokens, prompt tokens, median time between text deltas."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if inject_ms_per_token:
        delay_every_token(inject_ms_per_token)
    stamp_every_token()  # imports mlx_vlm here, in the main thread, as the bare side needs it anyway
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from bench import documents
    from engine.engine_thread import Engine
    from engine.jobs import JobStatus, OcrOptions
    from engine.lifecycle import Mode, State
    from engine.models.presets import ModelSpec

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    png = str(documents.write_png(tmp / "a4-page.png"))
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

    def engine_once(max_tokens: int) -> tuple[float, float, int, int, float]:
        n = len(done)
        STAMPS.clear()
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
        return (seconds, cpu, sum(p.generation_tokens for p in r.pages), sum(p.prompt_tokens for p in r.pages),
                token_time(STAMPS))

    bare = _bare(model)
    for n in token_counts:  # warm-up: the engine loads its model here; both sides see each length once
        engine_once(n)
        bare(png, n)
    rows = []
    for r in range(rounds):
        counts = token_counts if r % 2 == 0 else token_counts[::-1]
        sides = ("engine", "bare") if (r // 2) % 2 == 0 else ("bare", "engine")
        for side, n in [(side, n) for n in counts for side in sides]:  # a count's two runs back to back
            measured = engine_once(n) if side == "engine" else bare(png, n)
            rows.append((r, side, n, *measured))
    assert engine.status.state in (State.READY, State.BUSY)
    engine.shutdown()
    os.unlink(png)
    tmp.rmdir()
    return {"rows": rows, "token_counts": token_counts, "inject_ms_per_token": inject_ms_per_token}


COLUMNS = ["round", "side", "max_tokens", "seconds", "cpu_seconds", "tokens", "prompt_tokens", "token_interval_s"]


def costs(rows, long: int = LONG, short: int = SHORT) -> list[tuple[float, float]]:
    """Per round that has all four runs: (the engine's cost per document, its cost per token), in seconds.
    Per document: engine − bare at ``short`` tokens (opening and fitting the file, the template, the signals,
    the hand-back; the model's work is the same on both sides). Per token: engine − bare in one token's time
    at ``long`` tokens (``token_time``: everything the engine does between two tokens — the text callback
    and its signal, the cancel check, the event pumping, the caller's thread taking the GIL to receive the
    delta). (The end-to-end times at both lengths are in the CSV too.)"""
    by: dict = {}
    for row in rows:
        by.setdefault(row[0], {})[(row[1], row[2])] = row
    out = []
    for r in sorted(by):
        got = by[r]
        if not {("engine", long), ("bare", long), ("engine", short), ("bare", short)} <= got.keys():
            continue
        doc = got[("engine", short)][3] - got[("bare", short)][3]
        per_token = got[("engine", long)][7] - got[("bare", long)][7]
        if per_token == per_token:  # not nan
            out.append((doc, per_token))
    return out


def judge(per_doc_s: float, per_token_s: float, same_tokens: bool, ratio: float | None = None) -> tuple[bool, bool]:
    """(meets, passes --check) from the medians: the engine's costs in ms against 100 ms/document and
    0.25 ms/token (+50 ms, +0.15 ms), and, when measured, the bench-model ratio against 1.05 (+0.07)."""
    ms_doc, ms_token = per_doc_s * 1000, per_token_s * 1000
    meets = same_tokens and ms_doc <= DOC_MS and ms_token <= TOKEN_MS and (ratio is None or ratio <= LIMIT)
    passes = (same_tokens and ms_doc <= DOC_MS + MARGIN_DOC_MS and ms_token <= TOKEN_MS + MARGIN_TOKEN_MS
              and (ratio is None or ratio <= LIMIT + MARGIN))
    return meets, passes


def run(ctx: common.Context) -> Result:
    inject = INJECT.get("ms_per_token", 0.0)
    rounds = TINY_ROUNDS[ctx.quick]
    from bench import models

    t = ctx.run_module(__spec__.name, "--worker", "--worker-model", models.streaming(ctx, "tiny"), "--rounds", rounds,
                       "--tokens", f"{LONG},{SHORT}", *(["--inject-ms-per-token", inject] if inject else []),
                       timeout=1800)
    tiny_rows = t["rows"]
    pairs = costs(tiny_rows)
    per_doc, per_token = common.median([d for d, _ in pairs]), common.median([k for _, k in pairs])
    doc_lo, doc_hi = common.median_interval([d for d, _ in pairs])
    tok_lo, tok_hi = common.median_interval([k for _, k in pairs])
    tiny_tokens = {n: _tokens([row for row in tiny_rows if row[2] == n]) for n in (LONG, SHORT)}
    same = all(v["engine"] == v["bare"] for v in tiny_tokens.values())
    generated = sorted({row[5] for row in tiny_rows if row[2] == LONG})
    ratio = lo = hi = None
    bench_rows: list = []
    if not ctx.quick:
        b = ctx.run_module(__spec__.name, "--worker", "--worker-model", models.streaming(ctx, "bench"),
                           "--rounds", ROUNDS, "--tokens", str(BENCH_TOKENS),
                           *(["--inject-ms-per-token", inject] if inject else []), timeout=7200)
        bench_rows = b["rows"]
        paired = _paired(bench_rows)
        ratio = common.median(paired)
        lo, hi = common.median_interval(paired)
        bench_tokens = _tokens(bench_rows)
        same = same and bench_tokens["engine"] == bench_tokens["bare"]
    meets, passes = judge(per_doc, per_token, same, ratio)
    raw = common.write_csv(ctx.path("fig5_pipeline_overhead.csv"), ["model", *COLUMNS],
                           [("tiny", *row) for row in tiny_rows] + [("bench", *row) for row in bench_rows])
    plot = ctx.path("fig5_pipeline_overhead.png")
    _plot(plot, pairs, bench_rows, ratio)
    which = f"model {ctx.model_dir.name}" if ctx.model_dir else "bench model"
    ours = (f"{per_doc * 1000:+.1f} ms/document (95% {doc_lo * 1000:+.1f}…{doc_hi * 1000:+.1f}), "
            f"{per_token * 1000:+.3f} ms/token (95% {tok_lo * 1000:+.3f}…{tok_hi * 1000:+.3f})")
    if ratio is not None:
        ours += f"; {which} ratio {ratio:.3f} (95% {lo:.3f}–{hi:.3f})"
    tiny_e = common.median(_side(tiny_rows, "engine", LONG))
    tiny_b = common.median(_side(tiny_rows, "bare", LONG))
    baseline = f"tiny model, {LONG} tokens: median {tiny_b * 1000:.0f} ms"
    if bench_rows:
        baseline += f"; {which}, {BENCH_TOKENS} tokens: median {common.median(_side(bench_rows, 'bare')) * 1000:.0f} ms"
    note = (f"INJECTED: every token costs the engine {inject:g} ms more (a proof of the gate, not a measurement of "
            "the product); "
            if inject else "")
    note += (f"one A4 page at 144 dpi (PNG, 1190×1684); tiny model: {len(pairs)} rounds of engine and bare at {LONG} "
             f"and {SHORT} generated tokens (order rotates; generated at {LONG}: {generated}), engine "
             f"{tiny_e * 1000:.0f} ms vs bare {tiny_b * 1000:.0f} ms at {LONG} tokens; tokens (generated, prompt) "
             f"engine {tiny_tokens[LONG]['engine']}, bare {tiny_tokens[LONG]['bare']}")
    if bench_rows:
        note += (f"; {which}: {ROUNDS} interleaved rounds at {BENCH_TOKENS} tokens, ratio = median over rounds of "
                 f"engine ÷ bare in the same round; the engine was slower in {sum(x > 1 for x in _paired(bench_rows))} "
                 f"of {ROUNDS}; tokens engine {_tokens(bench_rows)['engine']}, bare {_tokens(bench_rows)['bare']}")
    else:
        note += f"; quick run: the {which}'s ratio is measured in the full run only"
    note += ("" if same else " — TOKENS NOT THE SAME (a bug)") + "."
    values = {"per_document_ms": per_doc * 1000, "per_token_ms": per_token * 1000,
              "per_document_interval_ms": [doc_lo * 1000, doc_hi * 1000],
              "per_token_interval_ms": [tok_lo * 1000, tok_hi * 1000], "same_tokens": same,
              "tiny_engine_s": tiny_e, "tiny_bare_s": tiny_b, "inject_ms_per_token": inject}
    if ratio is not None:
        values.update(ratio=ratio, interval=[lo, hi], paired=_paired(bench_rows),
                      engine_s=common.median(_side(bench_rows, "engine")),
                      bare_s=common.median(_side(bench_rows, "bare")))
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL, baseline=baseline, ours=ours, meets=meets, passes_check=passes,
        margin=f"+{MARGIN_DOC_MS:.0f} ms/document, +{MARGIN_TOKEN_MS} ms/token, ratio +{MARGIN}",
        note=note, plots=[plot.name], raw=[raw.name], values=values,
    )


def _side(rows, side: str, max_tokens: int | None = None) -> list[float]:
    return [row[3] for row in rows if row[1] == side and (max_tokens is None or row[2] == max_tokens)]


def _paired(rows, compare=lambda engine, bare: engine / bare) -> list[float]:
    """engine ÷ bare (or ``compare``) within each round (one token count): the two ran back to back, so a slow
    spell of the machine that spans a round cancels out."""
    by: dict = {}
    for row in rows:
        by.setdefault(row[0], {})[row[1]] = row[3]
    return [compare(by[r]["engine"], by[r]["bare"]) for r in sorted(by) if {"engine", "bare"} <= by[r].keys()]


def _tokens(rows) -> dict:
    """Per side, the distinct (generated, prompt) token counts seen."""
    return {n: sorted({(row[5], row[6]) for row in rows if row[1] == n}) for n in ("engine", "bare")}


def _plot(path, pairs: list[tuple[float, float]], bench_rows, ratio: float | None) -> None:
    plt = common.pyplot()
    panels = 3 if bench_rows else 2
    fig, axes = plt.subplots(panels, 1, figsize=(6.4, 2.3 * panels + 0.6))
    rounds = range(len(pairs))
    for ax, values, limit, unit, label in (
        (axes[0], [d * 1000 for d, _ in pairs], DOC_MS, "ms", "engine − bare per document (1 token)"),
        (axes[1], [k * 1000 for _, k in pairs], TOKEN_MS, "ms", f"engine's extra cost per token ({LONG} tokens)"),
    ):
        ax.plot(rounds, values, "o", color="#2f6ea8", markersize=4, label=label)
        ax.axhline(common.median(values), color="#2f6ea8", linewidth=1.2, label=f"median {common.median(values):.3g}")
        ax.axhline(limit, color="#c0392b", linewidth=0.8, linestyle="--", label=f"target ≤ {limit:g} {unit}")
        ax.axhline(0, color="#999999", linewidth=0.8)
        ax.set_ylabel(unit)
        ax.legend(fontsize=7, loc="upper right")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].set_title("Fig. 5 — the engine's own cost, tiny model, one A4 page (per round)", fontsize=9)
    axes[1].set_xlabel("round")
    if bench_rows:
        paired = _paired(bench_rows)
        bx = axes[2]
        bx.plot(range(len(paired)), paired, "o", color="#2f6ea8", markersize=4)
        bx.axhline(1.0, color="#999999", linewidth=0.8)
        bx.axhline(LIMIT, color="#c0392b", linewidth=0.8, linestyle="--", label=f"target ≤ {LIMIT}")
        bx.axhline(ratio, color="#2f6ea8", linewidth=1.2, label=f"median {ratio:.3f}")
        bx.set_ylabel("engine ÷ bare")
        bx.set_xlabel(f"round (bench model, {BENCH_TOKENS} tokens; interleaved, order alternates)")
        bx.legend(fontsize=7, loc="upper right")
        bx.xaxis.get_major_locator().set_params(integer=True)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) measure and print JSON")
    p.add_argument("--worker-model")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--tokens", default=f"{LONG},{SHORT}", help="(worker) comma-separated max_tokens per round")
    p.add_argument("--inject-ms-per-token", type=float, default=0.0,
                   help="(a proof of the gate) every text delta reaches the engine this many ms late")
    args, rest = p.parse_known_args(argv)
    if args.worker:
        counts = [int(x) for x in args.tokens.split(",") if x.strip()]
        print(json.dumps(worker(args.worker_model, args.rounds, counts, args.inject_ms_per_token)))
        return 0
    if args.inject_ms_per_token:
        INJECT["ms_per_token"] = args.inject_ms_per_token
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
