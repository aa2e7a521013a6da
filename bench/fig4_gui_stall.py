"""Figure 4: the window never stalls — GUI event-loop gaps while a 10-page A4 PDF is OCR'd.

A fresh process runs the full app offscreen (``desktop.app.OcrTrayApp`` with its window
shown, private settings, the bench model as a custom model: a seed whose answer streams a
piece of text every token, ``bench.models``, so the window appends text as it would for a
real model) and a 5 ms heartbeat
``QTimer`` (precise) on the GUI thread. The gap between consecutive heartbeats is how
long the event loop could not run. Phases: the app idle (the baseline), then a 10-page
A4 PDF submitted to it — expanding and checking the file, importing mlx-vlm and loading
the model, streaming every page's text into the window — until the job's result arrives,
then idle again.

The pages (``bench.documents.write_pdf``): born-digital A4 text pages (Helvetica 10 pt,
45 lines; read from the text layer) and scanned pages, each a 144 dpi greyscale JPEG of
such a page (1190×1684 pixels, the app's default PDF resolution), which the app renders
and the model reads. Full run: pages 2, 5 and 8 scanned, 256 generated tokens each. The
bench model on this 2-core CPU takes about 22 s of prefill per page (64 image tokens +
the prompt) and decodes about 3 tokens/s, so a scanned page costs close to two minutes
and three of them are what a full run affords. Quick run (CI): page 2 scanned, 64 tokens.

The figure is the 99th percentile of the gaps while busy and the count of gaps over
50 ms, beside the same heartbeat while the app is idle (reported, not added to any
allowance: an app that stalls while idle must not widen its own). The model works on the
engine's own thread; a stall would mean work (or a lock such as the GIL held by a long
call) landing on the GUI thread. ``--check`` allows a fixed margin: p99 ≤ 20 ms and no
gap over 65 ms. ``--inject-gil-hold-ms N`` (a proof of the gate, never in a real run)
wraps the product's ``Backend.load`` in the worker so that the engine thread holds the
GIL for N ms as the load starts (a ``ctypes.PyDLL`` call keeps it).
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

NUMBER = 4
TITLE = "GUI event-loop stall while a 10-page A4 PDF is OCR'd"
TARGET = "p99 ≤ 16 ms, no gap over 50 ms"
BASELINE_LABEL = "same heartbeat, app idle"
HEARTBEAT_MS = 5
# 16 ms: one frame at 60 Hz, so 99% of the time the window can redraw on every frame; 50 ms: the
# longest pause a person does not notice as a hitch while typing, scrolling or dragging
P99_MS, MAX_MS = 16.0, 50.0
# --check: a fixed margin for scheduler noise on a shared 2-core machine (the idle run's gaps are
# reported beside, never added): no gap over 65 ms, so the 70 ms GIL hold of issue 19 fails
MARGIN_P99_MS, MARGIN_MAX_MS = 4.0, 15.0
PAGES = 10
SCANNED = {True: 1, False: 3}  # quick: scanned pages (the rest born-digital)
MAX_TOKENS = {True: 64, False: 256}  # quick: generated tokens per scanned page
INJECT: dict[str, float] = {}  # set by --inject-gil-hold-ms (python -m bench.fig4_gui_stall only)
STALL_TRACE_MS = 25.0  # gaps longer than this record where the other threads were
FINDINGS = """The first full run missed (max 70 ms; the quick run in CI saw 166 ms), always while the
model was loading or a page's prefill was being set up. A GIL-aware profile (py-spy `--gil
--native`) showed the holder: Python's cyclic garbage collector. Importing mlx_vlm (which
pulls in transformers, about a million objects) triggers a series of full collections, each
walking every object with the GIL held, so the GUI thread could not run for up to 170 ms;
later collections during generation walked the same objects again. The fix is in
`engine.backend`: the engine thread pauses the collector while it imports mlx_vlm and then
moves everything that exists to the permanent generation (`gc.freeze()`), so no later
collection walks those long-lived objects (docs/adr/0008-gc-freeze-after-mlx-vlm-import.md). The longest busy gap
fell from 166 ms to 28 ms
(quick) and from 70 ms to 34 ms (full run). The remaining gaps of 25–35 ms come when a
scanned page starts (the tokenizer encodes the prompt with its image tokens in one call that
holds the GIL) and during prefill, when MLX's own threads keep both cores busy. A later quick
run in CI saw 99 ms while loading a bench model written seconds before: the kernel was
still flushing its 0.9 GB to disk. The runner now fsyncs a model it builds before any
figure uses it (a downloaded model arrives at network speed, long before it is loaded);
four quick runs after that: 22–45 ms. CI's next quick run still saw 101 ms, and a later
one 135 ms, all inside mlx-vlm's `mx.eval(model.parameters())` at load. `perf sched
timehist` showed the GUI thread runnable but unscheduled for 50 ms at a time while MLX's
four loader threads each spent 50+ ms in one 4 MiB `pread` into fresh memory (zeroing the
destination pages inside the call; this kernel does not preempt a system call). On Linux
the engine now reads the weights itself: each tensor's buffer is zero-filled first from
user space, then filled with 1 MiB `preadv`s (engine/weights_reader.py, ADR 0010). The
longest gap while loading fell from 90–150 ms to 13–18 ms. The next full run (2026-11-29)
missed again with 83 and 71 ms, in the first 0.2 s of the load, while the engine thread
imported mlx_vlm's native extensions: `dlopen` and the module's init hold the GIL, and this
machine drops its page cache within minutes, so numpy's, MLX's and the tokenizers'
libraries came off the disk inside those calls. The engine now reads those ~120 MB of
libraries once before the first import, in 1 MiB reads that release the GIL
(engine/native_prefetch.py, ADR 0011). With the page cache dropped before each run (fig. 4
worker, 3 pages): longest gap 45 and 53 ms without, 19 and 25 ms with it.

Issue 19 (2026-12-02) made the gate able to fail (a fixed margin, the idle run reported beside,
not added) and the pages real (A4 at 144 dpi, 256 tokens a scanned page). The gate is proven by
`tests/bench/test_injected_regressions.py`: the worker with `--inject-gil-hold-ms 70` (tiny model,
2 pages) fails `judge`, with the 70+ ms gap between the load's start and page 1. The first quick run
with the real pages missed (10 gaps over 50 ms, max 125 ms, within one second while the born-digital
pages 3–10 were read). Part of that was this script: its stall tracer called
`traceback.extract_stack` on the GUI thread, whose source-line look-up reads and stats every file
on every stack (40–65 ms a call), so each gap over 25 ms made the next one; it now reads the frames'
own fields. With the tracer fixed, the tiny model still showed gaps of 80–145 ms while the machine
was loaded by other work (load average 1.5–2.5 on 2 cores, the hypervisor taking up to half the
CPU): during the first load's imports (transformers' `create_import_structure_from_path` reading
its source files), while the processor converted a page (`Image.convert`, `tobytes`) and while the
page-prefetch helper (ADR 0018) read text layers; `sys.setswitchinterval(0.001)` did not shorten
them. The full run at load average 3.7–6 missed as well (max 164 ms, 28 gaps over 50 ms, most during
decoding), with the idle app itself showing an 84 ms gap: no verdict on the product. At load
average 1–1.8 the quick run met the target (p99 9.7 ms, max 47.6 ms, no gap over 50 ms). But
tests/desktop/test_gui_heartbeat.py (the bench model, 3 A4 pages, one scanned) then saw 69.5 ms
with the idle loop at 5.3 ms: the engine thread in the image processor while the page-prefetch
helper rendered the next page. Rendering a scanned A4 page at 144 dpi is one MuPDF call
(`fz_run_display_list`) that keeps the GIL for 31–44 ms here (a 1 ms Python heartbeat thread
beside `engine.documents` reading a 4-page scan: longest gaps 34–44 ms); the old 64×64 test pages
never showed it. Fixed in engine/documents.py (`render_in_bands`): a page taller than 600 pixel rows is
drawn band by band from one display list, pixel for pixel the same picture; the longest call for an
A4 scan fell from 45–50 ms to 16–19 ms (three bands, about 10% more drawing time, ~5 ms a page against
a page's 20 s of prefill), and tests/desktop/test_gui_heartbeat.py passed again.

The quick check in CI still missed (max 144 ms, then 172 ms; 4 gaps over 50 ms), always while the
born-digital pages 3–10 went by. A timed `QApplication.notify` put the time in the main window's paint
(`UpdateRequest`, 60–90 ms), yet the same paint took 3–14 ms when nothing ran beside it, and laying
out a page of text took 1.4 ms. The cause: the capture work (issue 15) had installed an
application-wide event filter written in Python (for `ocrtray://` URLs arriving as FileOpen events),
so every event of every widget crossed into Python, and each crossing waited for the GIL (up to the
5 ms switch interval) while the page helper extracted the next text layer: a convoy of waits inside
one paint. The URL is now taken in `Application.event` (no filter; tests/desktop/test_application.py
checks that none is installed), and a page read from its text layer no longer has its successor
prepared beside it (engine/page_prefetch.py). Quick run after the fix: p99 7.5 ms, max 44.5 ms,
no gap over 50 ms.
The full run of 2026-12-02 (commit 4515f12, one run for every figure) missed: p99 7.8 ms, max 84.6 ms,
4 gaps over 50 ms, none while the model loaded (6.3–9.4 s, the new weights reader: no gap over 25 ms
there). Each came when a scanned page began (pages 2, 5 and 8: 77 ms at 9.4 s, 85 ms at 117 s, 61 and
59 ms at 240 s), and one more as the job ended (101 ms at 367 s, after the last page, outside the busy
window). At 9.4 s and 240 s the page helper was drawing a band of the next scan
(`fz_run_display_list`): one MuPDF call holds the GIL, and with MLX's prefill on both cores a third of
an A4 scan took 60–77 ms of wall time. At 117 s and at the end neither the helper nor the engine held
Python: the GUI thread itself was busy (a page section finished; then the job's end).
A profile of the GUI thread's CPU time then showed that its work when a page ends and the next begins is
6–22 ms, stretched to 40–85 ms because each crossing into Python waited for the lock while two threads
held it in turns: the page helper (a scan's bands each decoded the JPEG again from the top, 15–23 ms a
call) and the engine thread in the model's processor for the page it had just taken; the status bar also
read /proc on the GUI thread at every page. Fixed (ADR 0021): a scan is decoded once before its bands
(then 2–9 ms a band), in the app each drawing step is followed by an equal pause, the next page is
prepared once the model has this page's inputs (not beside the processor), and the status bar shows the
RSS the engine sent. Quick runs after: max 31.3 and 38.1 ms, 0 gaps over 50 ms (before: 73–96 ms);
tests/desktop/test_gui_heartbeat.py 27–37 ms (before: 69–80 ms). One full quick check then saw 59.9 ms
while the born-digital pages went by (the helper's text extraction is Python, and each of the window's
crossings waited up to the 5 ms switch interval): the app now sets it to 1 ms (ADR 0021; four worker runs
each: 30–84 ms at most with 5 ms, 34–56 ms with 1 ms, half as many gaps over 30 ms); quick run after: max
32.4 ms.
2026-12-02 afternoon (issue 16). With MLX's float32 products on OpenBLAS (ADR 0023) at its default of a
thread per core, a full-size run had one 97 ms gap inside a prefill: both cores busy with the model, no
Python thread holding the lock, the window's thread waiting for a core. OpenBLAS now takes one thread fewer
than the machine has cores: two full-size runs 50.3 and 46.1 ms, their longest gaps where born-digital pages
went by (the helper in PyMuPDF's text sorting). A page read from its text layer now gives way to the window
step by step, as drawing steps do (ADR 0021): 31.6 and 26.3 ms; 35.1 ms in a full run that was stopped
before its end, and this run's 45.7 ms."""


def scanned_pages(pages: int, scans: int) -> set[int]:
    """Which pages of the PDF are scans: ``scans`` of them, evenly spread from page 2 (page 1 is text)."""
    scans = max(0, min(scans, pages - 1))
    step = max(1, (pages - 1) // scans) if scans else 1
    return {2 + k * step for k in range(scans)}


def hold_gil_during_load(ms: float) -> None:
    """The injected regression (a proof of the gate, never in a real run): the product's ``Backend.load`` is
    wrapped, in this worker process only, so the engine thread holds the GIL for ``ms`` as the load starts
    (``ctypes.PyDLL`` keeps the GIL through the C call, as a long native call without a release would)."""
    import ctypes
    import functools

    from engine import backend

    usleep = ctypes.PyDLL(None).usleep
    usleep.argtypes = [ctypes.c_uint]
    load = backend.Backend.load

    @functools.wraps(load)
    def held(self, *args, **kwargs):
        usleep(int(ms * 1000))
        return load(self, *args, **kwargs)

    backend.Backend.load = held  # type: ignore[method-assign]


def worker(model: str, pages: int, scans: int, max_tokens: int, idle_s: float, switch_interval: float | None,
           inject_gil_hold_ms: float = 0.0) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if inject_gil_hold_ms:
        hold_gil_during_load(inject_gil_hold_ms)
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QSettings, Qt, QTimer

    from bench import documents
    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    scanned = scanned_pages(pages, scans)
    pdf = documents.write_pdf(tmp / "a4.pdf", pages, scanned)
    qapp = Application([sys.argv[0]])
    if switch_interval:  # an experiment: how long a waiting thread lets the GIL holder run (the app sets 1 ms)
        sys.setswitchinterval(switch_interval)
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", model)
    settings.set("ocr/max_tokens", max_tokens)
    settings.set("ui/notify", False)
    app = OcrTrayApp(settings, tray=False, show_window=True)

    ticks: list[float] = []
    events: list[tuple[float, str]] = []
    phases: dict[str, float] = {}
    t0 = time.perf_counter()

    def now() -> float:
        return time.perf_counter() - t0

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    stalls: list[tuple[float, float, list[str]]] = []  # (gap ms, time, where the other threads were)

    def beat():
        t = now()
        if ticks and (t - ticks[-1]) * 1000 > STALL_TRACE_MS:
            stalls.append(((t - ticks[-1]) * 1000, t, _other_threads()))
        ticks.append(t)

    heartbeat.timeout.connect(beat)
    heartbeat.start(HEARTBEAT_MS)
    result: dict = {}

    def start_busy():
        phases["busy_start"] = now()
        result["mlx_vlm_before_job"] = "mlx_vlm" in sys.modules  # the first load pays for the import
        app.submit([str(pdf)])

    def on_done(r):
        result.update(status=r.status, pages=len(r.pages), error=r.error,
                      tokens=[p.generation_tokens for p in r.pages if p.generation_tokens])
        phases["busy_end"] = now()
        QTimer.singleShot(int(idle_s * 1000), finish)

    def finish():
        phases["end"] = now()
        heartbeat.stop()
        app.quit()

    app.engine.jobFinished.connect(on_done)
    app.engine.jobFailed.connect(on_done)
    app.engine.stateChanged.connect(lambda st: events.append((now(), st.state.value)))
    app.engine.pageStarted.connect(lambda p: events.append((now(), f"page {p.page}")))
    QTimer.singleShot(int(idle_s * 1000), start_busy)
    QTimer.singleShot(600_000, finish)  # a guard
    phases["start"] = now()
    qapp.exec()
    os.unlink(pdf)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    if result.get("status") != JobStatus.DONE:
        raise RuntimeError(f"the job did not finish: {result}")
    stalls.sort(reverse=True)
    return {"ticks": ticks, "phases": phases, "events": events, "job": result, "scanned": sorted(scanned),
            "max_tokens": max_tokens, "heartbeat_ms": HEARTBEAT_MS, "stalls": stalls[:10],
            "inject_gil_hold_ms": inject_gil_hold_ms}


def _other_threads() -> list[str]:
    """Where the other Python threads are right after a stall: the call that held the GIL has
    usually just returned into the frame shown (a diagnosis aid, not proof). It runs on the GUI thread
    inside a heartbeat, so it reads only the frames' own fields, never a source file (``traceback``'s
    line look-up reads and stats every file on the stack: 40–65 ms, which stalled the loop it watched)."""
    import threading

    me = threading.get_ident()
    out = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        where, f = [], frame
        while f is not None and len(where) < 3:
            where.append(f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno} {f.f_code.co_name}")
            f = f.f_back
        out.append(" ← ".join(where))
    return out


def gaps(ticks: list[float], start: float, end: float) -> list[float]:
    """Gaps (ms) between consecutive heartbeats whose later tick falls in [start, end)."""
    return [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if start <= b < end]


def judge(busy: list[float], idle: list[float]) -> dict:
    """The gate, from the gaps (ms) while busy and while idle: target met (p99 ≤ 16 ms and no gap over 50 ms),
    and within ``--check``'s fixed margin (p99 ≤ 20 ms and no gap over 65 ms). The idle gaps are summarised
    beside, never added to the allowance."""

    def summary(g: list[float]) -> dict:
        return {"p50": common.percentile(g, 50), "p99": common.percentile(g, 99), "max": max(g, default=0.0),
                "n": len(g), "over_16": sum(x > P99_MS for x in g), "over_50": sum(x > MAX_MS for x in g)}

    b, i = summary(busy), summary(idle)
    return {
        "busy": b, "idle": i,
        "meets": bool(busy) and b["p99"] <= P99_MS and b["over_50"] == 0,
        "passes_check": bool(busy) and b["p99"] <= P99_MS + MARGIN_P99_MS and b["max"] <= MAX_MS + MARGIN_MAX_MS,
    }


def run(ctx: common.Context) -> Result:
    idle_s = 2.5 if ctx.quick else 6.0
    scans, max_tokens = SCANNED[ctx.quick], MAX_TOKENS[ctx.quick]
    inject = INJECT.get("gil_hold_ms", 0.0)
    from bench import models

    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", models.streaming(ctx, "bench"), "--pages", PAGES,
                       "--scans", scans, "--max-tokens", max_tokens, "--idle-s", idle_s,
                       *(["--inject-gil-hold-ms", inject] if inject else []), timeout=3600)
    ph, ticks = r["phases"], r["ticks"]
    warm = ph["start"] + 0.5  # the first half second is the window's first paint
    idle = gaps(ticks, warm, ph["busy_start"]) + gaps(ticks, ph["busy_end"] + 0.2, ph["end"])
    busy = gaps(ticks, ph["busy_start"], ph["busy_end"])
    verdict = judge(busy, idle)
    b, i = verdict["busy"], verdict["idle"]
    stats = {"idle": i, "busy": b}
    worst = sorted(((g, t) for g, t in _gaps_with_time(ticks, ph["busy_start"], ph["busy_end"])), reverse=True)[:5]
    raw = common.write_json(ctx.path("fig4_gui_stall.json"), {
        "note": "ticks: seconds of each 5 ms heartbeat; phases and events in the same clock",
        "stats_ms": stats, **r})
    plot = ctx.path("fig4_gui_stall.png")
    _plot(plot, r, stats)
    scanned = r.get("scanned", [])
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"p99 {i['p99']:.1f} ms, max {i['max']:.1f} ms, {i['over_50']} gap(s) over 50 ms",
        ours=f"p99 {b['p99']:.1f} ms, max {b['max']:.1f} ms, {b['over_50']} gap(s) over 50 ms",
        meets=verdict["meets"],
        passes_check=verdict["passes_check"],
        margin=f"+{MARGIN_P99_MS:.0f} ms p99, no gap over {MAX_MS + MARGIN_MAX_MS:.0f} ms (fixed)",
        note=(f"INJECTED: the engine thread held the GIL {inject:.0f} ms as the load started (a proof of the gate, "
              "not a measurement of the product); " if inject else "")
        + f"{r['job']['pages']} A4 pages, {len(scanned)} scanned at 144 dpi (page{'s' if len(scanned) > 1 else ''} "
        f"{', '.join(map(str, scanned))}; {max_tokens} tokens each, generated: {r['job'].get('tokens')}), the rest "
        f"born-digital, in {ph['busy_end'] - ph['busy_start']:.1f} s (model load included); "
        f"{b['n']} heartbeats while busy ({b['over_16']} gaps over 16 ms), {i['n']} idle; longest busy gaps: "
        + ", ".join(f"{g:.0f} ms at {t:.2f} s ({_event_at(r['events'], t)})" for g, t in worst[:3]) + ".",
        plots=[plot.name], raw=[raw.name],
        values={"stats_ms": stats, "scanned": scanned, "max_tokens": max_tokens, "inject_gil_hold_ms": inject},
    )


def _gaps_with_time(ticks, start, end):
    return [((b - a) * 1000, b) for a, b in zip(ticks, ticks[1:]) if start <= b < end]


def _event_at(events, t) -> str:
    before = [e for e in events if e[0] <= t]
    return f"during {before[-1][1]}" if before else "before the first event"


def _plot(path, r: dict, stats: dict) -> None:
    plt = common.pyplot()
    ph, ticks = r["phases"], r["ticks"]
    fig, (a, b) = plt.subplots(2, 1, figsize=(7.4, 5.6), gridspec_kw={"height_ratios": [3, 2]})
    ts = ticks[1:]
    gs = [(y - x) * 1000 for x, y in zip(ticks, ticks[1:])]
    a.axvspan(ph["busy_start"], ph["busy_end"], color="#a8d5a2", alpha=0.5, linewidth=0,
              label=f"OCR of the {PAGES}-page A4 PDF")
    for t, name in r["events"]:
        if name.startswith("page") or name == "loading":
            a.axvline(t, color="#888888", linewidth=0.5, linestyle=":")
    a.plot(ts, gs, linewidth=0.7, color="#1f3b5a", label="gap between 5 ms heartbeats")
    a.axhline(P99_MS, color="#e0a030", linestyle="--", linewidth=0.9, label=f"{P99_MS:.0f} ms (p99 target)")
    a.axhline(MAX_MS, color="#c0504d", linestyle="--", linewidth=0.9, label=f"{MAX_MS:.0f} ms (no gap above)")
    a.set_ylim(0, max(MAX_MS * 1.2, max(gs) * 1.1))
    a.set_xlim(ph["start"], ph["end"])
    a.set_xlabel("seconds (dotted: model load starts, each page starts)")
    a.set_ylabel("ms")
    a.legend(fontsize=7, loc="upper right")
    a.set_title(f"Fig. 4 — GUI heartbeat while busy: p99 {stats['busy']['p99']:.1f} ms, max "
                f"{stats['busy']['max']:.1f} ms (idle: p99 {stats['idle']['p99']:.1f}, max {stats['idle']['max']:.1f})",
                fontsize=9)
    for name, colour in (("idle", "#999999"), ("busy", "#2f6ea8")):
        start, end = (ph["busy_start"], ph["busy_end"]) if name == "busy" else (None, None)
        g = gaps(ticks, start, end) if name == "busy" else (gaps(ticks, ph["start"] + 0.5, ph["busy_start"])
                                                           + gaps(ticks, ph["busy_end"] + 0.2, ph["end"]))
        g = sorted(g)
        n = len(g)
        b.plot(g, [1 - k / n for k in range(n)], color=colour, label=name)
    b.set_yscale("log")
    b.set_xscale("log")
    b.axvline(P99_MS, color="#e0a030", linestyle="--", linewidth=0.9)
    b.axhline(0.01, color="#e0a030", linestyle=":", linewidth=0.9)
    b.axvline(MAX_MS, color="#c0504d", linestyle="--", linewidth=0.9)
    b.set_xlabel("gap (ms, log)")
    b.set_ylabel("share of gaps ≥ x")
    b.legend(fontsize=8)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) measure and print JSON")
    p.add_argument("--worker-model")
    p.add_argument("--pages", type=int, default=10)
    p.add_argument("--scans", type=int, default=9)
    p.add_argument("--switch-interval", type=float, default=None, help="(experiment) sys.setswitchinterval in seconds")
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--idle-s", type=float, default=5.0)
    p.add_argument("--inject-gil-hold-ms", type=float, default=0.0,
                   help="(a proof of the gate) the engine thread holds the GIL this long as the load starts")
    args, rest = p.parse_known_args(argv)
    if args.worker:
        measured = worker(args.worker_model, args.pages, args.scans, args.max_tokens, args.idle_s,
                          args.switch_interval, args.inject_gil_hold_ms)
        print(json.dumps(measured))
        return 0
    if args.inject_gil_hold_ms:
        INJECT["gil_hold_ms"] = args.inject_gil_hold_ms
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
