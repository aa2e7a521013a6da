"""Figure 4: the window never stalls — GUI event-loop gaps while a 10-page PDF is OCR'd.

A fresh process runs the full app offscreen (``desktop.app.OcrTrayApp`` with its window
shown, private settings, the bench model as a custom model) and a 5 ms heartbeat
``QTimer`` (precise) on the GUI thread. The gap between consecutive heartbeats is how
long the event loop could not run. Phases: the app idle (the baseline), then a 10-page
PDF (one born-digital page, nine scanned pages; in the quick run one scanned page and
nine born-digital ones, as the bench model's CPU prefill takes seconds) submitted to it — expanding and checking
the file, loading the model, streaming every page's text into the window — until the
job's result arrives, then idle again. The figure is the 99th percentile and the
maximum gap while busy, beside the same while idle. The model works on the engine's own
thread; a stall would mean work (or a lock such as the GIL held by a long call) landing
on the GUI thread.
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
TITLE = "GUI event-loop stall while a 10-page PDF is OCR'd"
TARGET = "p99 ≤ 16 ms, max ≤ 50 ms"
BASELINE_LABEL = "same heartbeat, app idle"
HEARTBEAT_MS = 5
P99_MS, MAX_MS = 16.0, 50.0
# --check: the targets plus this margin, plus whatever the idle baseline shows above the heartbeat
# itself in the same run (scheduler noise on a loaded 2-core machine stalls an idle loop too)
MARGIN_P99_MS, MARGIN_MAX_MS = 4.0, 25.0
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
worker, 3 pages): longest gap 45 and 53 ms without, 19 and 25 ms with it."""


def worker(model: str, pages: int, scans: int, max_tokens: int, idle_s: float, switch_interval: float | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if switch_interval:  # an experiment: how long a waiting thread lets the GIL holder run (default 5 ms)
        sys.setswitchinterval(switch_interval)
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QSettings, Qt, QTimer

    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.settings import Settings
    from engine.testing import samples

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    text_pages = {1} | set(range(2 + scans, pages + 1))  # page 1 text, then `scans` scanned pages, then text
    pdf = samples.write_pdf(tmp / "ten-pages.pdf", pages=pages, text_pages=text_pages, size=(64, 64))
    qapp = Application([sys.argv[0]])
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
        result.update(status=r.status, pages=len(r.pages), error=r.error)
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
    return {"ticks": [round(t, 5) for t in ticks], "phases": phases, "events": events, "job": result,
            "heartbeat_ms": HEARTBEAT_MS, "stalls": stalls[:10]}


def _other_threads() -> list[str]:
    """Where the other Python threads are right after a stall: the call that held the GIL has
    usually just returned into the frame shown (a diagnosis aid, not proof)."""
    import threading
    import traceback

    me = threading.get_ident()
    out = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        stack = traceback.extract_stack(frame)[-3:]
        out.append(" ← ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in reversed(stack)))
    return out


def gaps(ticks: list[float], start: float, end: float) -> list[float]:
    """Gaps (ms) between consecutive heartbeats whose later tick falls in [start, end)."""
    return [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if start <= b < end]


def run(ctx: common.Context) -> Result:
    idle_s = 2.5 if ctx.quick else 6.0
    scans = 1 if ctx.quick else 9
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model("bench"), "--pages", 10,
                       "--scans", scans, "--max-tokens", 2 if ctx.quick else 8, "--idle-s", idle_s, timeout=1800)
    ph, ticks = r["phases"], r["ticks"]
    warm = ph["start"] + 0.5  # the first half second is the window's first paint
    idle = gaps(ticks, warm, ph["busy_start"]) + gaps(ticks, ph["busy_end"] + 0.2, ph["end"])
    busy = gaps(ticks, ph["busy_start"], ph["busy_end"])
    stats = {name: {"p50": common.percentile(g, 50), "p99": common.percentile(g, 99), "max": max(g), "n": len(g)}
             for name, g in (("idle", idle), ("busy", busy))}
    b, i = stats["busy"], stats["idle"]
    noise_p99 = max(0.0, i["p99"] - HEARTBEAT_MS)
    noise_max = max(0.0, i["max"] - HEARTBEAT_MS)
    meets = b["p99"] <= P99_MS and b["max"] <= MAX_MS
    passes = b["p99"] <= P99_MS + MARGIN_P99_MS + noise_p99 and b["max"] <= MAX_MS + MARGIN_MAX_MS + noise_max
    worst = sorted(((g, t) for g, t in _gaps_with_time(ticks, ph["busy_start"], ph["busy_end"])), reverse=True)[:5]
    raw = common.write_json(ctx.path("fig4_gui_stall.json"), {
        "note": "ticks: seconds of each 5 ms heartbeat; phases and events in the same clock",
        "stats_ms": stats, **r})
    plot = ctx.path("fig4_gui_stall.png")
    _plot(plot, r, stats)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"p99 {i['p99']:.1f} ms, max {i['max']:.1f} ms",
        ours=f"p99 {b['p99']:.1f} ms, max {b['max']:.1f} ms",
        meets=meets,
        passes_check=passes,
        margin=f"+{MARGIN_P99_MS:.0f} ms p99 / +{MARGIN_MAX_MS:.0f} ms max, plus the idle run's own excess",
        note=f"{r['job']['pages']} pages ({scans} scanned) in {ph['busy_end'] - ph['busy_start']:.1f} s"
        " (model load included); "
             f"{b['n']} heartbeats while busy, {i['n']} idle; longest busy gaps: "
             + ", ".join(f"{g:.0f} ms at {t:.2f} s ({_event_at(r['events'], t)})" for g, t in worst[:3]) + ".",
        plots=[plot.name], raw=[raw.name],
        values={"stats_ms": stats},
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
    a.axvspan(ph["busy_start"], ph["busy_end"], color="#a8d5a2", alpha=0.5, linewidth=0, label="OCR of the 10-page PDF")
    for t, name in r["events"]:
        if name.startswith("page") or name == "loading":
            a.axvline(t, color="#888888", linewidth=0.5, linestyle=":")
    a.plot(ts, gs, linewidth=0.7, color="#1f3b5a", label="gap between 5 ms heartbeats")
    a.axhline(P99_MS, color="#e0a030", linestyle="--", linewidth=0.9, label=f"{P99_MS:.0f} ms (p99 target)")
    a.axhline(MAX_MS, color="#c0504d", linestyle="--", linewidth=0.9, label=f"{MAX_MS:.0f} ms (max target)")
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
    args, rest = p.parse_known_args(argv)
    if args.worker:
        measured = worker(args.worker_model, args.pages, args.scans, args.max_tokens, args.idle_s, args.switch_interval)
        print(json.dumps(measured))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
