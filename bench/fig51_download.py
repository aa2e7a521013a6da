"""Figure 51: a model download costs no memory and no stalls — RSS and GUI gaps while the app downloads a model.

The first-run path, as a person meets it: the whole app offscreen (``desktop.app.OcrTrayApp``,
window shown, private settings and Hugging Face cache) is set to a model that is not on disk
(``bench-org/bench-model``), a one-page scanned A4 PDF is dropped on it, the engine fails it
with "model missing", the app asks, and the script clicks Download; the app's downloader
(``engine.models.downloads.Downloader``, huggingface_hub over plain HTTP) fetches the model from a
loopback hub (``tests/engine/hub_server.py``, in its own process, so the served bytes are not in
the app's memory) while the window shows the progress. The model is the bench model: about
0.9 GB in one safetensors file plus its small files. A 5 ms heartbeat ``QTimer`` on the GUI
thread measures how long the event loop could not run (as in figure 4), and a 20 ms sampler
thread (with the kernel's high-water mark, reset before the download) reads RSS.

The download phase runs from the click to the flow's end (the model complete in the cache);
the app then starts reading the held document, and the measurement stops there (loading a
model is figure 4's). Baselines: the RSS at the click (the document dropped and failed, the
question open: what the app holds before any byte is fetched), and the heartbeat's gaps in
the seconds before the drop, the app idle.
Full run: 3 downloads, each in a fresh app with an empty cache; quick run (CI): 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import common
from bench.common import MB, Result

NUMBER = 51
TITLE = "A model download (0.9 GB, loopback hub): app RSS and GUI event-loop gaps"
# Memory: the download streams to disk, so it must not hold the file: 100 MB covers the HTTP client, the
# hub library and their buffers (huggingface_hub writes in 10 MB chunks) with room, and is a ninth of the
# file. Stalls: the window's promise while anything runs (figure 4): 99% of gaps within a 60 Hz frame,
# none over 50 ms.
TARGET = "RSS ≤ before the download + 100 MB; p99 ≤ 16 ms, no gap over 50 ms"
BASELINE_LABEL = "the app before the download (RSS at the click; heartbeat while idle)"
RSS_LIMIT_MB, P99_MS, MAX_MS = 100.0, 16.0, 50.0
MARGIN_MB, MARGIN_P99_MS, MARGIN_MAX_MS = 15.0, 4.0, 15.0  # --check: as figure 4's (fixed), and RSS noise
HEARTBEAT_MS = 5
REPO = "bench-org/bench-model"
FINDINGS = ""

# The loopback hub, in its own process: serves the model folder given; prints its URL; ends at stdin's end.
_HUB = """
import sys
from tests.engine.hub_server import HubServer, serve_hub
hub = HubServer()
repo = hub.add_repo(sys.argv[2], sys.argv[1])
etags = {name: repo.etag(name) for name in repo.files}  # hashed once, not on every request
repo.etag = etags.__getitem__
with serve_hub(hub) as served:
    print(served.url, flush=True)
    sys.stdin.read()
"""


def worker(idle_s: float) -> dict:
    """In the app's process (HF_ENDPOINT, HF_HUB_OFFLINE=0 and HF_HUB_CACHE set by the caller)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    import psutil
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QMessageBox, QPushButton

    from bench import documents
    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    pdf = documents.write_pdf(tmp / "scan.pdf", 1, {1})
    qapp = Application([sys.argv[0]])
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", REPO)
    settings.set("ui/notify", False)
    app = OcrTrayApp(settings, tray=False, show_window=True)
    proc = psutil.Process()
    t0 = time.perf_counter()
    ticks: list[float] = []
    phases: dict[str, float] = {}
    progress: list[tuple[float, int, int]] = []
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    outcome: dict = {}

    def now() -> float:
        return time.perf_counter() - t0

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.timeout.connect(lambda: ticks.append(now()))
    heartbeat.start(HEARTBEAT_MS)

    def sample() -> None:
        while not stop.wait(0.02):
            samples.append((now(), proc.memory_info().rss))

    def drop_document() -> None:
        phases["idle_end"] = now()
        app.submit([str(pdf)])

    def on_asking(_text: str) -> None:
        QTimer.singleShot(200, click)

    def click() -> None:
        box = app.flow.question
        if box is None:
            outcome["error"] = "no question to answer"
            finish()
            return
        outcome["rss_before"] = proc.memory_info().rss  # the question open, nothing downloaded yet
        outcome["hwm_reset"] = _reset_peak()
        phases["download_start"] = now()
        box.findChild(QPushButton, "downloadAccept").click()

    def on_ended(ok: bool, message: str) -> None:
        phases["download_end"] = now()
        outcome.update(ok=ok, message=message)
        outcome["peak_hwm"] = common.peak_rss_bytes() if outcome.get("hwm_reset") else None
        finish()

    def finish() -> None:
        phases["end"] = now()
        heartbeat.stop()
        stop.set()
        qapp.quit()

    app.flow.asking.connect(on_asking)
    app.flow.ended.connect(on_ended)
    app.flow.progress.connect(lambda p: progress.append((now(), p.done_bytes, p.total_bytes)))
    threading.Thread(target=sample, name="rss-sampler", daemon=True).start()
    phases["start"] = now()
    QTimer.singleShot(int(idle_s * 1000), drop_document)
    QTimer.singleShot(900_000, finish)  # a guard
    qapp.exec()
    boxes = len(app.window.findChildren(QMessageBox, "downloadQuestion"))
    pdf.unlink()
    if outcome.get("ok") is not True:
        raise RuntimeError(f"the download did not complete: {outcome} (questions: {boxes})")
    return {"ticks": ticks, "phases": phases, "progress": progress, "samples": [(t, r / MB) for t, r in samples],
            "rss_before_mb": outcome["rss_before"] / MB,
            "peak_hwm_mb": None if outcome.get("peak_hwm") is None else outcome["peak_hwm"] / MB,
            "bytes": progress[-1][2] if progress else 0}


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5\n")
        return True
    except OSError:
        return False


def gaps(ticks: list[float], start: float, end: float) -> list[float]:
    """Gaps (ms) between consecutive heartbeats whose later tick falls in [start, end)."""
    return [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if start <= b < end]


def judge(rss_over_mb: float, busy: list[float]) -> tuple[bool, bool]:
    """(meets, passes --check): RSS over the idle app, and the heartbeat's gaps while downloading."""
    p99, worst = common.percentile(busy, 99), max(busy, default=0.0)
    meets = bool(busy) and rss_over_mb <= RSS_LIMIT_MB and p99 <= P99_MS and worst <= MAX_MS
    passes = (bool(busy) and rss_over_mb <= RSS_LIMIT_MB + MARGIN_MB and p99 <= P99_MS + MARGIN_P99_MS
              and worst <= MAX_MS + MARGIN_MAX_MS)
    return meets, passes


def one_download(ctx: common.Context, model: Path, idle_s: float, k: int) -> dict:
    """A hub process serving ``model``, and a fresh app process with an empty cache downloading it."""
    hub = subprocess.Popen([ctx.python, "-c", _HUB, str(model), REPO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True, env=ctx.env, cwd=common.ROOT)
    try:
        assert hub.stdout is not None
        url = hub.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the loopback hub did not start: {url!r}")
        cache = ctx.tmp / f"hf-cache-{k}"
        env = dict(ctx.env, HF_ENDPOINT=url, HF_HUB_OFFLINE="0", HF_HUB_CACHE=str(cache))
        r = ctx.run_module(__spec__.name, "--worker", "--idle-s", idle_s, env=env, timeout=1800)
    finally:
        if hub.stdin is not None:
            hub.stdin.close()
        try:
            hub.wait(30)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
    import shutil

    shutil.rmtree(ctx.tmp / f"hf-cache-{k}", ignore_errors=True)
    return r


def run(ctx: common.Context) -> Result:
    model = ctx.model("bench")
    downloads = 1 if ctx.quick else 3
    idle_s = 2.0 if ctx.quick else 4.0
    runs = []
    for k in range(downloads):
        r = one_download(ctx, model, idle_s, k)
        runs.append(r)
        common.log(f"fig51 download {k + 1}: {r['bytes'] / MB:.0f} MB in "
                   f"{r['phases']['download_end'] - r['phases']['download_start']:.1f} s")
    busy, idle, over, idle_rss = [], [], [], []
    for r in runs:
        ph, ticks = r["phases"], r["ticks"]
        busy += gaps(ticks, ph["download_start"], ph["download_end"])
        idle += gaps(ticks, ph["start"] + 0.5, ph["idle_end"])  # after the window's first paint
        during = [m for t, m in r["samples"] if ph["download_start"] <= t <= ph["download_end"]]
        peak = max(during + ([r["peak_hwm_mb"]] if r["peak_hwm_mb"] else []))
        over.append(peak - r["rss_before_mb"])
        idle_rss.append(r["rss_before_mb"])
    worst_over = max(over)
    meets, passes = judge(worst_over, busy)
    b = {"p99": common.percentile(busy, 99), "max": max(busy), "over_50": sum(g > MAX_MS for g in busy),
         "n": len(busy)}
    i = {"p99": common.percentile(idle, 99), "max": max(idle), "n": len(idle)}
    seconds = [r["phases"]["download_end"] - r["phases"]["download_start"] for r in runs]
    raw = common.write_json(ctx.path("fig51_download.json"), {"runs": runs, "rss_over_idle_mb": over})
    plot = ctx.path("fig51_download.png")
    _plot(plot, runs[-1])
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"RSS {common.median(idle_rss):.0f} MB; heartbeat p99 {i['p99']:.1f} ms, max {i['max']:.1f} ms",
        ours=f"RSS +{worst_over:.1f} MB at most over the click's; p99 {b['p99']:.1f} ms, max {b['max']:.1f} ms, "
             f"{b['over_50']} gap(s) over 50 ms",
        meets=meets, passes_check=passes,
        margin=f"+{MARGIN_MB:.0f} MB; +{MARGIN_P99_MS:.0f} ms p99, no gap over {MAX_MS + MARGIN_MAX_MS:.0f} ms",
        note=f"{downloads} download(s) of {runs[0]['bytes'] / MB:.0f} MB from a loopback hub, each into an empty "
             f"cache by a fresh app: {', '.join(f'{s:.1f}' for s in seconds)} s; RSS peak over the click's per "
             f"download: {', '.join(f'{x:+.1f}' for x in over)} MB; {b['n']} heartbeats while downloading, "
             f"{i['n']} idle.",
        plots=[plot.name], raw=[raw.name],
        values={"rss_over_idle_mb": over, "busy_ms": b, "idle_ms": i, "seconds": seconds},
    )


def _plot(path, r: dict) -> None:
    plt = common.pyplot()
    ph, ticks = r["phases"], r["ticks"]
    fig, (a, b) = plt.subplots(2, 1, figsize=(7.2, 5.2), sharex=True)
    a.axvspan(ph["download_start"], ph["download_end"], color="#a8d5a2", alpha=0.5, linewidth=0, label="downloading")
    a.plot(ticks[1:], [(y - x) * 1000 for x, y in zip(ticks, ticks[1:])], linewidth=0.7, color="#1f3b5a",
           label=f"gap between {HEARTBEAT_MS} ms heartbeats")
    a.axhline(MAX_MS, color="#c0504d", linestyle="--", linewidth=0.9, label=f"{MAX_MS:.0f} ms")
    a.set_ylabel("ms")
    a.legend(fontsize=7, loc="upper right")
    a.set_title("Fig. 51 — the app while it downloads a 0.9 GB model from a loopback hub", fontsize=10)
    b.plot([t for t, _ in r["samples"]], [m for _, m in r["samples"]], color="#2f6ea8", linewidth=0.9, label="RSS")
    b.axhline(r["rss_before_mb"] + RSS_LIMIT_MB, color="#c0392b", linestyle="--", linewidth=0.8,
              label=f"before the download + {RSS_LIMIT_MB:.0f} MB (target)")
    b.axvspan(ph["download_start"], ph["download_end"], color="#a8d5a2", alpha=0.5, linewidth=0)
    b.set_ylabel("RSS (MB)")
    b.set_xlabel("seconds")
    b.legend(fontsize=7, loc="upper left")
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) run the app through a download; print JSON")
    p.add_argument("--idle-s", type=float, default=2.0)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.idle_s)), flush=True)
        os._exit(0)  # the app has begun loading the downloaded model; that is figure 4's, not this one's
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
