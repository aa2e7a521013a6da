"""Figure 20: the window keeps its heartbeat while a Markdown page with tables streams in and is rendered.

A fresh process shows the real main window offscreen (``desktop.views.main_window.MainWindow``,
private settings) with a 5 ms heartbeat ``QTimer`` (precise) on the GUI thread, as figure 4
measures it. No model runs: a recorded answer, a 4,000-token Markdown page with three tables
(one with merged cells), headings, lists, code and display math, is replayed through the
window's own intent methods at 200 tokens a second by a second precise timer, one
``text_delta`` a token, as the engine delivers them. Each page streams as raw text, then at
its end is converted and rendered (tables as ``QTextTable``\\ s) in one go on the GUI thread.
The full run streams three such pages, the quick run one. Baseline: the same heartbeat while
the window is idle before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

from bench import common
from bench.common import Result

NUMBER = 20
TITLE = "GUI heartbeat while a 4,000-token Markdown page with three tables streams in at 200 tokens/s"
TARGET = "p99 ≤ 16 ms, max ≤ 50 ms"
BASELINE_LABEL = "same heartbeat, window idle"
HEARTBEAT_MS = 5
P99_MS, MAX_MS = 16.0, 50.0
MARGIN_P99_MS, MARGIN_MAX_MS = 4.0, 25.0  # --check: as figure 4, plus the idle run's own excess
TOKENS_PER_PAGE = 4000
TOKENS_PER_S = 200.0
WORDS = ("revenue", "quarter", "region", "growth", "margin", "forecast", "segment", "customer", "order", "total",
         "north", "south", "east", "west", "units", "price", "cost", "share", "year", "report", "table", "value")
_TOKEN = re.compile(r"[ \t]*(?:[A-Za-z]{1,6}|\d{1,3}|[^\sA-Za-z\d])|\s+")  # a word piece with its space


class _Words:
    def __init__(self, seed: int) -> None:
        self.x = seed * 7919 + 17

    def take(self, n: int) -> str:
        out = []
        for _ in range(n):
            self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
            out.append(WORDS[self.x % len(WORDS)])
        return " ".join(out)

    def number(self) -> str:
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return f"{self.x % 9000 + 100:,}"


def tokens(text: str) -> list[str]:
    """The answer cut into model-sized tokens: word pieces (up to six letters) with the space before them,
    numbers (up to three digits), marks, line breaks."""
    return _TOKEN.findall(text)


def recorded_page(seed: int = 1, size: int = TOKENS_PER_PAGE) -> str:
    """A LightOnOCR-2-style Markdown answer of about ``size`` tokens with three tables: an HTML table with
    merged header cells, a pipe table and a wide HTML table, a quarter, a half and three quarters in."""
    w = _Words(seed)
    spanned = ("<table><thead><tr><th rowspan=\"2\">Region</th><th colspan=\"2\">2023</th><th colspan=\"2\">2024</th>"
               "</tr><tr><th>H1</th><th>H2</th><th>H1</th><th>H2</th></tr></thead><tbody>"
               + "".join(f"<tr><td>{w.take(2)}</td>" + "".join(f"<td>{w.number()}</td>" for _ in range(4)) + "</tr>"
                         for _ in range(14)) + "</tbody></table>")
    pipe = "\n".join(["| Segment | Units | Price | Share |", "| --- | ---: | ---: | ---: |"]
                     + [f"| {w.take(2)} | {w.number()} | {w.number()} | {w.number()} |" for _ in range(16)])
    wide = ("<table><tr>" + "".join(f"<th>{w.take(1)}</th>" for _ in range(6)) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{w.take(1)} {w.number()}</td>" for _ in range(6)) + "</tr>"
                      for _ in range(10)) + "</table>")
    blocks: list[str] = []
    tables = {0.25: spanned, 0.5: pipe, 0.75: wide}
    i = 0
    while len(tokens("\n\n".join(blocks))) < size:
        done = len(tokens("\n\n".join(blocks))) / size
        for at in sorted(tables):
            if done >= at:
                blocks.append(tables.pop(at))
        kind = i % 7
        blocks.append({
            0: f"## {w.take(3).capitalize()}",
            1: w.take(45).capitalize() + ".",
            2: "\n".join(f"- {w.take(7)}" for _ in range(4)),
            3: w.take(35).capitalize() + f", with $x_{{{i}}}$ inline.",
            4: "$$\n\\bar{x} = \\frac{1}{n} \\sum_{k=1}^{n} x_k\n$$",
            5: "\n".join(f"{n}. {w.take(6)}" for n in range(1, 4)),
            6: f"```\ntotal = sum(values)  # {w.take(3)}\n```",
        }[kind])
        i += 1
    for at in sorted(tables):  # a short page still gets all three
        blocks.append(tables.pop(at))
    return "\n\n".join(blocks)


def worker(pages: int, idle_s: float, rate: float) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtGui import QTextTable

    from desktop.application import Application
    from desktop.views.main_window import MainWindow
    from engine.jobs import JobInfo, JobResult, JobStatus, OcrOptions, PageProgress, PageResult, PageSource, TextDelta
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    qapp = Application([sys.argv[0]])
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings)
    window.resize(980, 640)
    window.show()
    answers = [recorded_page(seed) for seed in range(1, pages + 1)]
    streams = [tokens(a) for a in answers]
    path = str(tmp / "Annual report.pdf")

    t0 = time.perf_counter()
    ticks: list[float] = []
    cpu: list[float] = []  # the GUI thread's CPU time at each tick: a gap it spent running is ours, not the machine's
    phases: dict[str, float] = {}
    renders: list[dict] = []
    state = {"page": 0, "sent": 0, "page_start": 0.0}

    def now() -> float:
        return time.perf_counter() - t0

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.timeout.connect(lambda: (ticks.append(now()), cpu.append(time.thread_time())))
    heartbeat.start(HEARTBEAT_MS)
    feeder = QTimer()
    feeder.setTimerType(Qt.TimerType.PreciseTimer)

    def start_page() -> None:
        n = state["page"]
        window.page_started(PageProgress(1, path, n + 1, pages))
        state["sent"], state["page_start"] = 0, now()

    def feed() -> None:
        n = state["page"]
        stream = streams[n]
        due = min(len(stream), int((now() - state["page_start"]) * rate))
        while state["sent"] < due:
            window.text_delta(TextDelta(1, n + 1, stream[state["sent"]]))
            state["sent"] += 1
        if state["sent"] < len(stream):
            return
        finished = now()
        window.page_finished(PageResult(1, path, n + 1, pages, answers[n], PageSource.MODEL,
                                        generation_tokens=len(stream), output="markdown"))
        QTimer.singleShot(0, lambda: wait_render(finished))
        state["page"] += 1
        if state["page"] < pages:
            start_page()
            return
        feeder.stop()
        window.job_ended(JobResult(1, path, JobStatus.DONE, page_count=pages))
        phases["busy_end"] = now()
        QTimer.singleShot(int(idle_s * 1000), finish)

    def wait_render(finished: float) -> None:
        view = window.result_view
        if view.rendering():
            QTimer.singleShot(1, lambda: wait_render(finished))
            return
        renders.append({"at": finished, "total_s": view.last_render_s, "slices_s": list(view.render_slices_s)})

    def start_busy() -> None:
        phases["busy_start"] = now()
        info = JobInfo(1, path, options=OcrOptions(output="markdown"))
        window.job_queued(info)
        window.job_started(info)
        start_page()
        feeder.start(HEARTBEAT_MS)

    def finish() -> None:
        phases["end"] = now()
        heartbeat.stop()
        qapp.quit()

    feeder.timeout.connect(feed)
    phases["start"] = now()
    QTimer.singleShot(int(idle_s * 1000), start_busy)
    QTimer.singleShot(600_000, finish)  # a guard
    qapp.exec()
    doc = window.result_view.document()
    tables = [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]
    window.close()
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    if "busy_end" not in phases:
        raise RuntimeError("the stream did not finish")
    return {"ticks": [round(t, 5) for t in ticks], "cpu": [round(c, 5) for c in cpu], "phases": phases,
            "renders": renders,
            "tokens": [len(s) for s in streams], "characters": [len(a) for a in answers],
            "tables_rendered": len(tables), "heartbeat_ms": HEARTBEAT_MS, "rate": rate}


def gaps(ticks: list[float], start: float, end: float) -> list[float]:
    return [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if start <= b < end]


def run(ctx: common.Context) -> Result:
    pages = 1 if ctx.quick else 3
    idle_s = 2.5 if ctx.quick else 5.0
    r = ctx.run_module(__spec__.name, "--worker", "--pages", pages, "--idle-s", idle_s, timeout=900)
    ph, ticks = r["phases"], r["ticks"]
    idle = gaps(ticks, ph["start"] + 0.5, ph["busy_start"]) + gaps(ticks, ph["busy_end"] + 0.2, ph["end"])
    busy = gaps(ticks, ph["busy_start"], ph["busy_end"] + 0.2)  # the last page's layout and paint included
    stats = {name: {"p50": common.percentile(g, 50), "p99": common.percentile(g, 99), "max": max(g), "n": len(g)}
             for name, g in (("idle", idle), ("busy", busy))}
    b, i = stats["busy"], stats["idle"]
    noise_p99 = max(0.0, i["p99"] - HEARTBEAT_MS)
    noise_max = max(0.0, i["max"] - HEARTBEAT_MS)
    meets = b["p99"] <= P99_MS and b["max"] <= MAX_MS
    passes = b["p99"] <= P99_MS + MARGIN_P99_MS + noise_p99 and b["max"] <= MAX_MS + MARGIN_MAX_MS + noise_max
    if r["tables_rendered"] != 3 * pages:
        meets = passes = False  # the pages did not render as documents: the figure measured the wrong thing
    raw = common.write_json(ctx.path("fig20_render_streaming.json"), {
        "note": "ticks: seconds of each 5 ms heartbeat; phases in the same clock; renders_s: each page's render",
        "stats_ms": stats, **r})
    plot = ctx.path("fig20_render_streaming.png")
    _plot(plot, r, stats)
    renders = "; ".join(f"{len(x['slices_s'])} slices over {x['total_s'] * 1000:.0f} ms, the longest "
                        f"{max(x['slices_s'], default=0) * 1000:.1f} ms" for x in r["renders"])
    worst = _worst(r, ph["busy_start"], ph["busy_end"] + 0.2)
    own = _own(r, ph["busy_start"], ph["busy_end"] + 0.2)
    seconds = ph["busy_end"] - ph["busy_start"]
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"p99 {i['p99']:.1f} ms, max {i['max']:.1f} ms",
        ours=f"p99 {b['p99']:.1f} ms, max {b['max']:.1f} ms",
        meets=meets, passes_check=passes,
        margin=f"+{MARGIN_P99_MS:.0f} ms p99 / +{MARGIN_MAX_MS:.0f} ms max, plus the idle run's own excess",
        note=f"{pages} page(s) of {r['tokens'][0]:,} tokens ({r['characters'][0]:,} characters) streamed in "
             f"{seconds:.1f} s, one text delta a token; each page converted when its stream ended, then written "
             f"in slices ({renders}; {r['tables_rendered']} QTextTables in the end); {b['n']} heartbeats while "
             f"streaming, {i['n']} idle. Longest busy gaps, with the GUI thread's CPU time in them (the rest: the "
             f"thread was not running, i.e. the machine's other work): {worst}; the longest gap the GUI thread "
             f"spent mostly running (its own work): {own:.0f} ms.",
        plots=[plot.name], raw=[raw.name],
        values={"stats_ms": stats, "renders": r["renders"], "own_max_ms": own},
    )


def _own(r: dict, start: float, end: float) -> float:
    """The longest gap in which the GUI thread ran for at least half of the time (a stall of ours)."""
    t, c = r["ticks"], r["cpu"]
    return max(((t[k + 1] - t[k]) * 1000 for k in range(len(t) - 1)
                if start <= t[k + 1] < end and (c[k + 1] - c[k]) >= 0.5 * (t[k + 1] - t[k])), default=0.0)


def _worst(r: dict, start: float, end: float, n: int = 4) -> str:
    t, c = r["ticks"], r["cpu"]
    gaps_ = sorted((((t[k + 1] - t[k]) * 1000, (c[k + 1] - c[k]) * 1000, t[k + 1]) for k in range(len(t) - 1)
                    if start <= t[k + 1] < end), reverse=True)[:n]
    return ", ".join(f"{g:.0f} ms ({cpu:.0f} ms CPU) at {at:.1f} s" for g, cpu, at in gaps_)


def _plot(path, r: dict, stats: dict) -> None:
    plt = common.pyplot()
    ph, ticks = r["phases"], r["ticks"]
    fig, ax = plt.subplots(figsize=(7.4, 3.4))
    ax.axvspan(ph["busy_start"], ph["busy_end"], color="#a8d5a2", alpha=0.5, linewidth=0,
               label=f"streaming at {r['rate']:.0f} tokens/s")
    ax.plot(ticks[1:], [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])], linewidth=0.7, color="#1f3b5a",
            label="gap between 5 ms heartbeats")
    ax.axhline(P99_MS, color="#e0a030", linestyle="--", linewidth=0.9, label=f"{P99_MS:.0f} ms (p99 target)")
    ax.axhline(MAX_MS, color="#c0504d", linestyle="--", linewidth=0.9, label=f"{MAX_MS:.0f} ms (max target)")
    ax.set_ylim(0, max(MAX_MS * 1.2, stats["busy"]["max"] * 1.1))
    ax.set_xlabel("seconds (each page is rendered when its stream ends)")
    ax.set_ylabel("ms")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"Fig. 20 — heartbeat while streaming and rendering: p99 {stats['busy']['p99']:.1f} ms, "
                 f"max {stats['busy']['max']:.1f} ms (idle: p99 {stats['idle']['p99']:.1f}, "
                 f"max {stats['idle']['max']:.1f})", fontsize=9)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) measure and print JSON")
    p.add_argument("--pages", type=int, default=1)
    p.add_argument("--idle-s", type=float, default=3.0)
    p.add_argument("--rate", type=float, default=TOKENS_PER_S)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.pages, args.idle_s, args.rate)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
