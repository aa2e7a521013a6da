"""Figure 8: what a person waits for at launch — an interactive window, and the first character of a file's text.

Every run is a fresh process started after the kernel's page cache is dropped (``sync``, then
``3`` into ``/proc/sys/vm/drop_caches``; only root may: elsewhere the figure is skipped with
that reason), so the libraries, Python's modules and the model come off the disk as they do
the first time after a reboot, or when this machine's page cache has been reclaimed (it is
within minutes, ADR 0011). Sides alternate within a round.

**Launch → interactive window.** Ours: the app started as ``ocr-tray`` starts it
(``desktop.main.main``: settings, logging, the single-instance lock, the history, the engine
thread, the window; offscreen, so no tray icon), with its settings in the run's private folder.
Baseline: a minimal PySide6 program (a ``QApplication`` and one ``QLabel`` shown). The moment
is the same for both, found the same way: the first turn of the event loop after the window's
first paint event (the window is on screen and would answer a click). The time is from
spawning the process to reading that line.

**Launch with a file → its first character.** Ours: ``ocr-tray FILE`` with a one-page A4 PNG
(144 dpi, real text; ``bench.documents.write_png``) and the model as the custom model: the
time from spawn to the first text delta reaching the app's controller (what the window shows
next). Baseline: a bare mlx-vlm script on the same image and model (``import mlx_vlm``,
``load``, ``apply_chat_template``, ``stream_generate`` up to its first piece of text): what
someone without the app would run. Full run: the bench model (a seed whose answer streams,
``bench.models``), 3 rounds (5 of the window). The quick run (CI): 2 rounds of the window, and 1 of the file with
the tiny model, whose ratio is reported but not judged (its answer is instant, so the ratio would
measure the window's start-up, judged on its own). The programs are ``bench.launching``'s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import common
from bench.common import Result

NUMBER = 8
TITLE = "Cold launch: to an interactive window, and with a file to its first character"
# 2 s: a launch that shows its window within two seconds reads as "it opened", not "it is loading"; the
# minimal window beside it shows what Python and Qt alone cost on the machine. The first character: the
# app's work around the model (its window, history and checks, its own weights reader) may add at most 10%
# to what a bare script waits for the same model and page.
TARGET = "window ≤ 2 s; first character ≤ 1.10× a bare mlx-vlm script"
BASELINE_LABEL = "minimal PySide6 window; bare mlx-vlm script"
WINDOW_S, FIRST_RATIO = 2.0, 1.10
MARGIN_S, MARGIN_FIRST = 0.5, 0.08  # --check: cold starts on a shared disk and 2 cores
OPTIONAL = "dropping the page cache needs root (/proc/sys/vm/drop_caches); without it there is no cold start"
DROP_CACHES = "/proc/sys/vm/drop_caches"
FINDINGS = """Until issue 19 this figure timed the first event-loop turn after a warm-up run (a warm page
cache) against `python -c "import mlx_vlm"`, which the app postpones to the first OCR: the seconds
that import takes moved to a moment nothing measured, and a slower mlx-vlm release would have
improved the ratio. It now times what a person waits for, cold.
The full run of 2026-12-02 (commit 4515f12) missed on the first character: app 28.42 s against the
bare script's 21.67 s (×1.31); per round 28.42/21.67, 31.85/20.39 and 27.25/27.73 s. The window met
(1.08 s; the minimal one 0.38 s). With the model's prefill on a whole A4 page taking 20–28 s here, the
difference is seconds: more than the app's own start (about a second) explains. Whether the app gives
the model a larger picture than the bare script's processor does (more image tokens, a longer
prefill) is the first thing to check. Not yet found.

The full run of 54b7c36, both sides on OpenBLAS (ADR 0023; the bare script chooses it before importing
mlx_vlm, as the app does): window 0.93 s (met); first character ×1.25 (app 8.31–9.88 s, bare 6.75–7.11 s).
Not investigated in issue 16's session that recorded it.

The full run of d899e3e: window 0.78 s (met; the minimal window 0.26 s); first character ×1.30 (app
7.10–7.87 s, bare 5.14–6.65 s). Taken apart the next evening (one probe launch at a time, page cache
dropped, the streaming bench model): the app's window is interactive 0.60–0.78 s after the spawn and its
load starts 0.07–0.15 s later (the file is queued once the window exists); from there mlx-vlm's import
(1.2–2.0 s cold), the load (0.7–1.0 s cold) and the first text (1.0–1.4 s) are the bare script's own steps
(its whole run 2.8–4.2 s). What the app adds is Qt's start and the window before them. Two ways to hide
them were tried and not kept: (1) the prewarm started before the window is built, so that the engine
thread imports and loads while the GUI thread builds the window: the window came at 2.58 s instead of
0.6 s (the import holds Python's lock), and the first character no sooner (3.76–4.09 s both ways);
(2) the kernel asked to read the weights ahead (``posix_fadvise`` WILLNEED in 8 MiB pieces; one call reads
only the device's 8 MiB read-ahead window) while the first load imports mlx-vlm: the load after the
import fell from 0.71–0.88 s to 0.39–0.46 s, but the import rose from 1.22–1.61 s to 1.60–2.00 s (one disk
for both), and the first character stayed where it was (medians 4.30 s with, 4.19 s without, five
pairs). The local API's server, whose import (FastAPI, 0.25 s of Python warm) runs on a thread beside
the model's import when a launch comes with a file, was switched off in four pairs: medians 4.15 s (on)
and 4.20 s (off), inside this figure's noise. Not reached: a GUI app's start-up that takes no time from
the model's import needs a second process or a disk that is not the bottleneck.

Two full runs on an AMD EPYC machine (2026-12-02 23:20 on ffa46a2, and 2026-12-03 03:32 on e6b900b). The
earlier runs were on an Intel Xeon; this CPU is about twice as fast at the model. Window 0.58 and 0.65 s
(met). First character 3.88 s against bare's 3.09 s (×1.25), and 3.93 against 3.05 (×1.29): 0.8–0.9 s
behind, the same structure as above. The window comes at 0.6 s, and the model's import and load start after
it, from a cold page cache. The local API's deferred start (ADR 0025) took its import off the launch: five
probe pairs (warm cache) with the API on measured 2.79 s, against 2.75 s with it off (3.38 against 3.01
before it). The figure's miss is the GUI's
start before the model's, and the target still needs that start off the model's path (a second process), or a
disk and cores that the import does not saturate.

2026-12-03 morning, timed inside the processes (marks on stderr; page cache dropped; the streaming bench
model): the app reaches `main()` 0.44–0.50 s after the spawn (PySide6's import 0.16 s and the app's modules;
the bare script 0.05 s), its engine starts the model's import at 0.76–0.84 s (the window, the settings, the
history and the engine thread in between), imports in 1.05–1.25 s (bare: 1.45–1.67 s with its interpreter's
start), loads in 0.70–0.90 s (bare 0.57–0.68 s), and from the model ready to the first token takes 0.95–1.10 s
(bare, with the template, 0.84–0.91 s). With a warm page cache the app is still 0.65–0.80 s behind (first
token 2.61–3.02 s against 1.96–2.24 s): the deficit is Python's lock, not the disk. Qt's start and mlx-vlm's
import are both Python holding it, so in one process they add up in either order. A read-ahead of the import's
1,608 files and the weights, in C without the lock from the first line of `main()` (a prototype), made the load
0.3 s but delayed the window by 0.15–0.45 s and left the import as slow (1.05–1.85 s): first token ×1.21–1.31,
the same as without it. Not kept. The target needs the model's import out of the GUI's process (a second
process), or an app that builds its window after the import (the window 1 s later for every launch with a
file), which was not chosen.
The full run of a761db7 (the machine slower, as in figure 13): window 0.95 s (met); first character 5.06 s
against 3.80 s (×1.33).
"""


def can_drop_caches() -> bool:
    return sys.platform.startswith("linux") and os.access(DROP_CACHES, os.W_OK)


def drop_caches() -> None:
    """Write dirty pages out, then drop the page cache, dentries and inodes (the next read comes off the disk)."""
    os.sync()
    with open(DROP_CACHES, "w") as f:
        f.write("3\n")


def launch(ctx: common.Context, program: str, args: list[str], until: str, env: dict | None = None,
           timeout: float = 600) -> float:
    """Drop the page cache, spawn ``python -c program args``, and return the seconds until it prints ``until``
    (then let it quit by itself, at most 30 s more)."""
    from bench import launching

    drop_caches()
    t0 = time.perf_counter()
    proc = launching.spawn(ctx, program, args, env)
    seconds = launching.wait_for(proc, until, t0, timeout)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        if seconds is None:
            raise RuntimeError(f"no {until!r} within {timeout:.0f} s") from None
    if seconds is None:
        raise RuntimeError(f"the program never printed {until!r} (exit {proc.returncode}): {err.strip()[-1500:]}")
    return seconds


def judge(window_s: float, first_ratio: float | None) -> tuple[bool, bool]:
    """(meets, passes --check): the window within 2 s, the first character within 1.10× the bare script's
    (when measured)."""
    meets = window_s <= WINDOW_S and (first_ratio is None or first_ratio <= FIRST_RATIO)
    passes = window_s <= WINDOW_S + MARGIN_S and (first_ratio is None or first_ratio <= FIRST_RATIO + MARGIN_FIRST)
    return meets, passes


def run(ctx: common.Context) -> Result:
    from bench import documents, launching, models

    if not can_drop_caches():
        return Result.skip(NUMBER, TITLE, TARGET, BASELINE_LABEL, OPTIONAL)
    window_rounds, file_rounds = (2, 1) if ctx.quick else (5, 3)  # a cold bench-model launch: ~30–60 s a side
    size = "tiny" if ctx.quick else "bench"
    model = models.streaming(ctx, size)
    page = documents.write_png(ctx.tmp / "a4-page.png")
    launching.write_settings(ctx, **{"model/preset": "custom", "model/custom_source": str(model)})
    rows = []  # (round, what, seconds)
    for r in range(window_rounds):
        sides = [("app window", lambda: launch(ctx, launching.APP, launching.app_args(), "interactive")),
                 ("minimal window", lambda: launch(ctx, launching.MINIMAL, [], "interactive"))]
        for what, once in (sides if r % 2 == 0 else sides[::-1]):
            rows.append((r, what, once()))
        common.log(f"fig8 round {r}: " + ", ".join(f"{w} {t:.2f} s" for _, w, t in rows[-2:]))
    for r in range(file_rounds):
        sides = [("app first character", lambda: launch(ctx, launching.APP, launching.app_args(str(page)), "first",
                                                        launching.WAIT_FOR_TEXT)),
                 ("bare first character", lambda: launch(ctx, launching.BARE, [str(model), str(page)], "first"))]
        for what, once in (sides if r % 2 == 0 else sides[::-1]):
            rows.append((r, what, once()))
        common.log(f"fig8 file round {r}: " + ", ".join(f"{w} {t:.2f} s" for _, w, t in rows[-2:]))

    def med(what: str) -> float:
        return common.median([t for _, w, t in rows if w == what])

    window, minimal = med("app window"), med("minimal window")
    first, bare = med("app first character"), med("bare first character")
    first_ratio = first / bare
    # quick: a tiny model answers in a fraction of a second, so the ratio would measure the window's start-up
    # (judged above) rather than the app's work around a model: reported, not judged
    meets, passes = judge(window, None if ctx.quick else first_ratio)
    raw = common.write_csv(ctx.path("fig8_cold_start.csv"), ["round", "what", "seconds"], rows)
    plot = ctx.path("fig8_cold_start.png")
    _plot(plot, rows)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"minimal window {minimal:.2f} s; bare mlx-vlm to its first character {bare:.2f} s",
        ours=f"window {window:.2f} s (×{window / minimal:.2f}); first character {first:.2f} s (×{first_ratio:.2f})",
        meets=meets, passes_check=passes,
        margin=f"+{MARGIN_S} s on the window, +{MARGIN_FIRST} on the first character's ratio",
        note=f"medians; page cache dropped before every launch; {window_rounds} round(s) of the window, {file_rounds} "
             f"of the file ({size} model, one A4 page at 144 dpi); sides alternate; offscreen (no tray icon)"
             + ("; quick run: the first character's ratio is reported, not judged (a tiny model's answer is "
                "instant, so it would measure the window's start-up)" if ctx.quick else "") + ".",
        plots=[plot.name], raw=[raw.name],
        values={"window_s": window, "minimal_window_s": minimal, "window_ratio": window / minimal,
                "first_character_s": first, "bare_first_character_s": bare, "first_ratio": first_ratio,
                "model": size},
    )


def _plot(path, rows) -> None:
    plt = common.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(7.4, 3.4))
    panels = ((a, ("app window", "minimal window"), "launch → interactive window"),
              (b, ("app first character", "bare first character"), "launch with a file → first character"))
    for ax, pair, title in panels:
        for what, colour, label in ((pair[1], "#999999", pair[1].replace(" first character", " mlx-vlm script")),
                                    (pair[0], "#2f6ea8", "OCR Tray")):
            pts = [(r, t) for r, w, t in rows if w == what]
            ax.plot([x for x, _ in pts], [y for _, y in pts], "o-", color=colour, label=label)
        ax.set_ylim(0, None)
        ax.set_xlabel("round (page cache dropped each launch)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("seconds from spawn")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Fig. 8 — cold launch", fontsize=10)
    common.save(fig, path)


def main(argv=None) -> int:
    return common.figure_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
