"""Figure 52: the app at rest costs nothing — its CPU and memory while idle, beside a minimal PySide6 window.

The app is started as ``ocr-tray`` starts it (``bench.launching.APP``: ``desktop.main.main``, its
settings in the run's private folder and otherwise the defaults: the default model, not
downloaded, so nothing loads; the history, the engine thread, the single-instance server; the
window shown, as there is no tray icon offscreen) and left alone. Beside it, over the same
minutes, a minimal PySide6 program (one ``QLabel`` shown; ``bench.launching.MINIMAL``) is left
alone too: whatever the machine itself makes an idle Qt program do (timers of the platform
plugin, the scheduler's noise) shows there. Both start together; once both windows are up
and ten more seconds have passed, this script reads each process's CPU time (user + system),
RSS and context switches every second for 5 minutes (30 s in the quick run). The figure is the
app's CPU as a share of one core over that window, and its RSS at the end minus at the start.
Issue 19 asked for 10 minutes; 5 keep the full report within its time (0.5% of one core over
5 minutes is 1.5 s of CPU, far above what psutil resolves), and ``MINUTES`` sets it.
"""

from __future__ import annotations

import sys
import time

from bench import common
from bench.common import MB, Result

NUMBER = 52
TITLE = "The app idle: CPU share of one core and RSS growth (5 minutes)"
# 0.5% of one core: a menu-bar app is left running all day; at 0.5% it uses about 7 minutes of CPU a
# day and never shows in a process list's top rows. RSS: nothing happens, so nothing may grow; 2 MB
# is the noise of reading RSS (the allocator's and Qt's own bookkeeping).
TARGET = "CPU ≤ 0.5% of one core; RSS growth ≤ 2 MB"
BASELINE_LABEL = "a minimal PySide6 window, idle alongside"
CPU_LIMIT, RSS_LIMIT_MB = 0.5, 2.0
MARGIN_CPU, MARGIN_MB = 0.25, 2.0  # --check: a shared machine's scheduler and page-table noise
SETTLE_S = 10.0
MINUTES = {True: 0.5, False: 5.0}  # quick: minutes watched (see the module text)
FINDINGS = """The full runs up to e6b900b (2026-12-03) met the targets with 0.24% of one core and counted
10.1 wake-ups a second in the app, none in the bare window. Taken apart (per thread, 20 s idle): the GUI
thread 0.55 a second, the engine thread none, and the local API's thread 9.95: uvicorn's main loop looks for
a stop every 0.1 s (`epoll_wait` with a 100 ms timeout, seen in gdb). The API's server now waits for its stop
on an event instead (`engine/api/quiet_server.py`, ADR 0026). The figure alone afterwards: 0.04% of one core.
The same run showed the count itself wrong: it summed every thread's switches at the start and at the end,
and a thread that ended in between (the history's pool threads expire after 30 s idle) took its whole count
with it, so the difference went below zero (−0.3 a second). Each thread's growth is now added up sample by
sample (`woken`), a thread born in between counted whole.
"""


def judge(cpu_percent: float, growth_mb: float) -> tuple[bool, bool]:
    """(meets, passes --check): the app's CPU share of one core and its RSS growth over the idle window."""
    return (cpu_percent <= CPU_LIMIT and growth_mb <= RSS_LIMIT_MB,
            cpu_percent <= CPU_LIMIT + MARGIN_CPU and growth_mb <= RSS_LIMIT_MB + MARGIN_MB)


def switches(handle) -> dict:
    """Context switches so far of each thread of the process, by thread id (Linux: each task's status;
    elsewhere psutil's count for the whole process, under the key 0)."""
    from pathlib import Path

    tasks = Path(f"/proc/{handle.pid}/task")
    if not tasks.is_dir():
        s = handle.num_ctx_switches()
        return {0: s.voluntary + s.involuntary}
    counts = {}
    for task in tasks.iterdir():
        try:
            counts[task.name] = sum(int(line.split()[1]) for line in (task / "status").read_text().splitlines()
                                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
        except OSError:  # a thread that ended between the listing and the read
            continue
    return counts


def woken(before: dict, after: dict) -> int:
    """Wake-ups between two ``switches`` readings: each thread's growth, a thread born in between counted whole.
    A thread that ended in between takes its last second with it (its count is gone): a summed count would go
    backwards there (the idle app's pool threads expire after 30 s)."""
    return sum(n - before.get(tid, 0) for tid, n in after.items())


def watch(procs: dict, seconds: float, every: float = 1.0) -> dict:
    """Every ``every`` s for ``seconds``: each process's (t, CPU seconds, RSS MB, context switches since the
    first sample)."""
    import psutil

    handles = {name: psutil.Process(p.pid) for name, p in procs.items()}
    series: dict[str, list] = {name: [] for name in procs}
    last: dict[str, dict] = {}
    total = dict.fromkeys(procs, 0)
    t0 = time.monotonic()
    while True:
        t = time.monotonic() - t0
        for name, h in handles.items():
            with h.oneshot():
                cpu = h.cpu_times()
                now = switches(h)
                if name in last:
                    total[name] += woken(last[name], now)
                last[name] = now
                series[name].append((t, cpu.user + cpu.system, h.memory_info().rss / MB, total[name]))
        if t >= seconds:
            return series
        time.sleep(max(0.0, every - (time.monotonic() - t0 - t)))


def summary(samples: list) -> dict:
    (t0, c0, r0, s0), (t1, c1, r1, s1) = samples[0], samples[-1]
    span = t1 - t0
    return {"seconds": span, "cpu_percent": 100 * (c1 - c0) / span, "rss_start_mb": r0, "rss_end_mb": r1,
            "rss_growth_mb": r1 - r0, "rss_max_mb": max(r for _, _, r, _ in samples),
            "wakeups_per_s": (s1 - s0) / span}


def run(ctx: common.Context) -> Result:
    from bench import launching

    minutes = MINUTES[ctx.quick]
    launching.write_settings(ctx)
    procs = {"app": launching.spawn(ctx, launching.APP, launching.app_args(), launching.KEEP_RUNNING),
             "minimal": launching.spawn(ctx, launching.MINIMAL, [], launching.KEEP_RUNNING)}
    try:
        t0 = time.perf_counter()
        for name, p in procs.items():
            if launching.wait_for(p, "interactive", t0, 120) is None:
                raise RuntimeError(f"the {name} window never came up: {p.poll()}")
        time.sleep(SETTLE_S)
        series = watch(procs, minutes * 60)
    finally:
        for p in procs.values():
            p.terminate()  # SIGTERM: the app quits through its own handler
        for p in procs.values():
            try:
                p.communicate(timeout=30)
            except Exception:
                p.kill()
                p.communicate()
    app, minimal = summary(series["app"]), summary(series["minimal"])
    meets, passes = judge(app["cpu_percent"], app["rss_growth_mb"])
    raw = common.write_csv(ctx.path("fig52_idle.csv"), ["process", "seconds", "cpu_seconds", "rss_mb", "switches"],
                           [(name, *row) for name, rows in series.items() for row in rows])
    plot = ctx.path("fig52_idle.png")
    _plot(plot, series)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"CPU {minimal['cpu_percent']:.2f}%, RSS {minimal['rss_growth_mb']:+.1f} MB "
                 f"({minimal['wakeups_per_s']:.1f} wake-ups/s)",
        ours=f"CPU {app['cpu_percent']:.2f}%, RSS {app['rss_growth_mb']:+.1f} MB "
             f"(of {app['rss_start_mb']:.0f} MB; {app['wakeups_per_s']:.1f} wake-ups/s)",
        meets=meets, passes_check=passes, margin=f"+{MARGIN_CPU} percentage points, +{MARGIN_MB:.0f} MB",
        note=f"{app['seconds'] / 60:.1f} minutes idle after the window came up and {SETTLE_S:.0f} s more; the app "
             "with the default settings (its model not downloaded), offscreen; CPU = user + system time over the "
             "window, as a share of one core; wake-ups = context switches of all its threads per second.",
        plots=[plot.name], raw=[raw.name], values={"app": app, "minimal": minimal, "minutes": minutes},
    )


def _plot(path, series: dict) -> None:
    plt = common.pyplot()
    fig, (a, b) = plt.subplots(2, 1, figsize=(6.8, 4.8), sharex=True)
    for name, colour, label in (("minimal", "#999999", "minimal PySide6 window"), ("app", "#2f6ea8", "OCR Tray")):
        rows = series[name]
        t0, c0, r0 = rows[0][0], rows[0][1], rows[0][2]
        a.plot([(t - t0) / 60 for t, *_ in rows], [c - c0 for _, c, _, _ in rows], color=colour, label=label)
        b.plot([(t - t0) / 60 for t, *_ in rows], [r - r0 for _, _, r, _ in rows], color=colour, label=label)
    a.set_ylabel("CPU seconds used")
    a.legend(fontsize=8, loc="upper left")
    a.set_title("Fig. 52 — idle: CPU time and RSS since the window came up", fontsize=10)
    b.axhline(RSS_LIMIT_MB, color="#c0392b", linestyle="--", linewidth=0.8, label=f"+{RSS_LIMIT_MB:.0f} MB (target)")
    b.set_ylabel("RSS change (MB)")
    b.set_xlabel("minutes")
    b.legend(fontsize=8, loc="upper left")
    common.save(fig, path)


def main(argv=None) -> int:
    return common.figure_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
