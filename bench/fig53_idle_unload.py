"""Figure 53: the idle timeout gives the memory back — the whole app's RSS before a load and after the idle unload.

Figure 1 measures an unload the engine is asked for. Here nobody asks: the whole app offscreen
(``desktop.app.OcrTrayApp``: window shown, the history on in a private database, private
settings, the product's idle-timeout memory mode with the timeout set to a few seconds) reads a
document with the bench model (~0.9 GB) and is left alone; the engine's own deadline unloads
the model. The document is a one-page scanned A4 PDF (144 dpi), 4 generated tokens.

The baseline is the app's RSS once it is up and idle, with ``mlx.core`` and ``mlx_vlm``
already imported, as in figure 1 ("imported modules may stay, the weights must go"); the RSS
before those imports is recorded too. Each cycle: the document is dropped on the app, its
result arrives (RSS with the model loaded), then the engine reports ``unloaded`` by itself at
its deadline, and RSS is read half a second later. Full run: 3 cycles; quick run (CI): 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench import common
from bench.common import MB, Result

NUMBER = 53
TITLE = "Idle-timeout unload, whole app: RSS after the deadline minus before the first load"
# Figure 1's allowance: imported code and the app's own caches may stay, the weights (0.9 GB) must go.
TARGET = "≤ 50 MB every cycle, unloaded by the deadline"
BASELINE_LABEL = "the app idle before the first load (mlx and mlx_vlm imported)"
LIMIT_MB = 50.0
MARGIN_MB = 15.0  # --check: as figure 1's
IDLE_S = 5.0  # the idle timeout the app is given (the settings' shortest is a minute)
LATE_S = 5.0  # the unload may come this long after the deadline (the engine re-reads the clock on a timer)
FINDINGS = ""


def worker(model: str, cycles: int, idle_s: float) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from bench import documents
    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.history import HistoryStore
    from engine.jobs import JobStatus
    from engine.lifecycle import State
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    pdfs = [documents.write_pdf(tmp / f"scan-{k}.pdf", 1, {1}) for k in range(cycles)]
    _qapp = Application([sys.argv[0]])  # kept alive for the whole run
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", model)
    settings.set("memory/mode", "idle-timeout")
    settings.set("ocr/max_tokens", 4)
    settings.set("ui/notify", False)
    app = OcrTrayApp(settings, history=HistoryStore(tmp / "history.sqlite"), idle_seconds=idle_s, tray=False,
                     show_window=True)
    loop = QEventLoop()
    ended: list = []
    states: list[tuple[float, str, float | None]] = []  # (time.time(), state, the engine's deadline)
    app.controller.jobEnded.connect(lambda r: (ended.append(r), loop.quit()))
    app.controller.statusChanged.connect(lambda st: (states.append((time.time(), st.state.value, st.deadline)),
                                                     loop.quit()))
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)

    def settle(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            guard.start(int(max(1, (end - time.monotonic()) * 1000)))
            loop.exec()

    def wait(until, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
            guard.start(500)
            loop.exec()

    settle(1.5)
    before_imports = common.rss_bytes()
    import mlx.core  # noqa: F401 - in the baseline, as figure 1's: imported modules may stay
    import mlx_vlm  # noqa: F401

    settle(1.0)
    baseline = common.rss_bytes()
    cycles_out = []
    for k, pdf in enumerate(pdfs):
        app.submit([str(pdf)])
        wait(lambda k=k: len(ended) > k, 900, "the document's result")
        r = ended[k]
        if r.status is not JobStatus.DONE:
            raise RuntimeError(f"{pdf.name}: {r.status.value}: {r.error}")
        done_at = time.time()
        loaded = common.rss_bytes()
        seen = len(states)
        wait(lambda seen=seen: any(s == State.UNLOADED.value for _, s, _ in states[seen:]),
             idle_s + 120, "the idle unload")
        unloaded_at = next(t for t, s, _ in states[seen:] if s == State.UNLOADED.value)
        deadlines = [d for _, s, d in states[seen:] if d is not None]
        settle(0.5)
        cycles_out.append({"loaded_mb": loaded / MB, "after_mb": common.rss_bytes() / MB,
                           "unloaded_after_s": unloaded_at - done_at,
                           "late_s": unloaded_at - deadlines[-1] if deadlines else None})
    app.shutdown()
    for f in sorted(tmp.rglob("*"), reverse=True):
        f.rmdir() if f.is_dir() else f.unlink()
    tmp.rmdir()
    return {"before_imports_mb": before_imports / MB, "baseline_mb": baseline / MB, "cycles": cycles_out,
            "idle_s": idle_s}


def judge(over_mb: list[float], late_s: list[float | None]) -> tuple[bool, bool]:
    """(meets, passes --check): every cycle's RSS after the idle unload within 50 MB (+15) of the baseline,
    and every unload no later than ``LATE_S`` after the engine's deadline."""
    on_time = all(x is not None and x <= LATE_S for x in late_s)
    return (on_time and all(x <= LIMIT_MB for x in over_mb),
            on_time and all(x <= LIMIT_MB + MARGIN_MB for x in over_mb))


def run(ctx: common.Context) -> Result:
    cycles = 1 if ctx.quick else 3
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model("bench"), "--cycles", cycles,
                       "--idle-s", IDLE_S, timeout=3600)
    base = r["baseline_mb"]
    over = [c["after_mb"] - base for c in r["cycles"]]
    late = [c["late_s"] for c in r["cycles"]]
    meets, passes = judge(over, late)
    raw = common.write_json(ctx.path("fig53_idle_unload.json"), r)
    plot = ctx.path("fig53_idle_unload.png")
    _plot(plot, r)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"{base:.0f} MB ({r['before_imports_mb']:.0f} MB before the imports)",
        ours=", ".join(f"{x:+.1f}" for x in over) + " MB after each idle unload; loaded "
             + ", ".join(f"{c['loaded_mb'] - base:+.0f}" for c in r["cycles"]) + " MB",
        meets=meets, passes_check=passes, margin=f"+{MARGIN_MB:.0f} MB",
        note=f"{cycles} cycle(s) of a one-page scanned A4 PDF with the bench model, then idle; idle timeout "
             f"{r['idle_s']:g} s; the unload came " + ", ".join(f"{c['unloaded_after_s']:.1f}" for c in r["cycles"])
             + " s after the result ("
             + ", ".join("?" if c["late_s"] is None else f"{c['late_s']:+.2f}" for c in r["cycles"])
             + " s from the engine's deadline).",
        plots=[plot.name], raw=[raw.name],
        values={"over_baseline_mb": over, "late_s": late, "baseline_mb": base,
                "before_imports_mb": r["before_imports_mb"]},
    )


def _plot(path, r: dict) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    base = r["baseline_mb"]
    xs = range(1, len(r["cycles"]) + 1)
    ax.bar([x - 0.18 for x in xs], [c["loaded_mb"] - base for c in r["cycles"]], 0.36, color="#9bb7d4",
           label="model loaded (result arrived)")
    ax.bar([x + 0.18 for x in xs], [c["after_mb"] - base for c in r["cycles"]], 0.36, color="#2f6ea8",
           label="after the idle unload")
    ax.axhline(LIMIT_MB, color="#c0392b", linestyle="--", linewidth=0.8, label=f"+{LIMIT_MB:.0f} MB (target)")
    ax.set_xticks(list(xs))
    ax.set_xlabel("cycle")
    ax.set_ylabel(f"RSS over the baseline of {base:.0f} MB")
    ax.set_title("Fig. 53 — the whole app, unloaded by its idle timeout", fontsize=10)
    ax.legend(fontsize=8)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) run the cycles and print JSON")
    p.add_argument("--worker-model")
    p.add_argument("--cycles", type=int, default=1)
    p.add_argument("--idle-s", type=float, default=IDLE_S)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker_model, args.cycles, args.idle_s)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
