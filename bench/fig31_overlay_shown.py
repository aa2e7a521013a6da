"""Figure 31: shortcut to overlay shown — from the key press to every screen's overlay painted, three screens.

A private Xvfb with three X screens (2560×1440, 1920×1080, 1280×1024) and the full app on it
(QT_QPA_PLATFORM=xcb). Each round a second X connection presses Ctrl+Shift+2 through XTEST (what a
keyboard does: the server delivers it to the app's passive grab), the app grabs every screen and opens one
overlay per screen, and the clock stops when the last overlay's first paint has been handed to the X
server (``OverlayWindow.shown_at``: the event-loop turn after that paint, whose flush is part of it).
Then the overlay is cancelled and the next round waits 150 ms. The baseline, in the same run: grabbing
the three screens alone with ``QScreen.grabWindow(0)`` each, as the first version did before it showed
anything.

Needs Xvfb (installed by scripts/test.sh; skipped with the reason otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from bench import common
from bench.common import Result

NUMBER = 31
TITLE = "Shortcut to overlay shown, three screens grabbed"
TARGET = "p95 ≤ 150 ms"
BASELINE_LABEL = "grabbing the three screens alone (QScreen.grabWindow)"
LIMIT_MS = 150.0
MARGIN_MS = 30.0
SCREENS = ("2560x1440x24", "1920x1080x24", "1280x1024x24")

FINDINGS = """The first version grabbed every screen with ``QScreen.grabWindow(0)`` on the GUI thread (Qt allows
no other: it makes a QPixmap), each screen's pixels coming through the X socket (14.7 MB for 2560×1440)
and converted, and showed nothing until the last screen was in: p95 158 and 226 ms in two runs on
2026-12-01, where the three grabs alone took p95 92 and 148 ms. A profile of each round (key → grab
answers → each window's paint → its flush) with the X server's shared-memory grab in place showed where
the rest went: the first paint of the 2560×1440 overlay took 17–31 ms, nearly all of it drawing the
frozen picture — its fresh shared memory faulted in page by page (3,600 faults; touching 14 MB of a
fresh segment took 11 ms here against 1.5 ms once mapped) — and Xvfb, one thread, queues the screens'
copies, the windows' mapping and each paint's flush (6–15 ms between one window's paint and the next).
What changed (ADR 0017): our own X connection asks for the pointer, then one MIT-SHM ``ShmGetImage``
per screen, the pointer's screen first; each overlay shows as soon as its screen is in; a pool thread
maps the segments' pages (``MADV_POPULATE_READ``) while the server writes them (first paint 12–17 ms);
the model starts loading once every overlay is painted, not at the key press (loading holds the GIL in
bursts). Tried and dropped: creating the overlays' native windows while the server copies — each
creation waits on the busy server, so the time only moved from the first show to the key handling.
Two fixes to the measurement: the clock stopped at the end of the last overlay's ``paintEvent``, before
Qt hands that paint to the X server; it now stops one event-loop turn later, after that flush
(``OverlayWindow.shown_at``), which is later, so the target is harder to meet, not easier. And the
baseline called ``grab_screens()``, which is gone; it is now what that function did,
``QScreen.grabWindow(0)`` for each screen. Runs of 2026-12-02 on the shared 2-core machine, other
sessions' tests and benchmarks running (load average at the start; the baseline's p95 in brackets):
130 ms (0.83; 124 ms), 155 ms (0.84; 149 ms), 422 ms (5.6, the machine saturated; 306 ms), 146 ms
(2.15; 93 ms), 149 ms (2.02; 99 ms), 133 ms (1.74; 101 ms): the median was 91–101 ms in every run but the
saturated one. Four of six meet the target; the misses came with the baseline's own p95 at 149 and
306 ms, i.e. the X server itself slowed by other work. Not tried yet: sending the other screens' grab
requests only once the first overlay is mapped, so the server copies them while we paint instead of
before, and keeping the segments between captures (no page faults on the server's side either).
"""


def worker(model: str, rounds: int) -> dict:
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QGuiApplication
    from Xlib import XK, X
    from Xlib.display import Display
    from Xlib.ext import xtest

    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    qapp = Application([sys.argv[0]])
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    for key, value in (("model/preset", "custom"), ("model/custom_source", model), ("ui/notify", False)):
        settings.set(key, value)
    app = OcrTrayApp(settings, tray=False)
    app.window.hide()
    flow = app.capture
    if not flow.shortcut_ok:
        raise RuntimeError(f"the shortcut was not registered: {flow.shortcut_words}")
    keyboard = Display()
    codes = [keyboard.keysym_to_keycode(XK.string_to_keysym(k)) for k in ("Control_L", "Shift_L", "2")]

    def press() -> None:
        for code in codes:
            xtest.fake_input(keyboard, X.KeyPress, code)
        for code in reversed(codes):
            xtest.fake_input(keyboard, X.KeyRelease, code)
        keyboard.sync()

    def pump(until, seconds=10.0) -> bool:
        end = time.monotonic() + seconds
        while not until() and time.monotonic() < end:
            qapp.processEvents()
            time.sleep(0.0002)
        return until()

    def shown() -> bool:
        picker = flow.picker
        return picker is not None and bool(picker.windows) and all(w.shown_at for w in picker.windows)

    screens = len(QGuiApplication.screens())
    pump(lambda: False, 1.0)
    shown_ms, painted_ms, grab_ms, shared = [], [], [], []
    for r in range(rounds + 2):  # two warm-up rounds
        t0 = time.perf_counter()
        for screen in QGuiApplication.screens():
            screen.grabWindow(0)
        grab = (time.perf_counter() - t0) * 1000
        pump(lambda: False, 0.15)
        t0 = time.perf_counter()
        press()
        if not pump(shown):
            raise RuntimeError("the overlay did not show")
        windows = flow.picker.windows
        if r >= 2:
            shown_ms.append((max(w.shown_at for w in windows) - t0) * 1000)
            painted_ms.append((max(w.painted_at for w in windows) - t0) * 1000)
            grab_ms.append(grab)
            shared.append(bool(flow.grabber is not None and flow.grabber.shared_memory))
        flow.picker.cancel()
        pump(lambda: False, 0.15)
    keyboard.close()
    app.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"screens": screens, "shown_ms": shown_ms, "painted_ms": painted_ms, "grab_ms": grab_ms,
            "shared_memory": all(shared)}


def _start_xvfb() -> tuple[subprocess.Popen | None, str | None, str]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None, None, "Xvfb is not installed (scripts/test.sh installs it)"
    read_fd, write_fd = os.pipe()
    args = [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp", "-noreset"]
    for i, geometry in enumerate(SCREENS):
        args += ["-screen", str(i), geometry]
    proc = subprocess.Popen(args, pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as r:
        number = r.readline().strip()
    if not number:
        proc.kill()
        return None, None, "Xvfb did not start"
    return proc, f":{number}", ""


def run(ctx: common.Context) -> Result:
    rounds = 15 if ctx.quick else 60
    proc, display, why = _start_xvfb()
    if proc is None:
        return Result.skip(NUMBER, TITLE, TARGET, BASELINE_LABEL, why)
    try:
        env = dict(ctx.env, QT_QPA_PLATFORM="xcb", DISPLAY=display)
        for var in ("WAYLAND_DISPLAY", "QT_SCALE_FACTOR", "XDG_SESSION_TYPE"):
            env.pop(var, None)
        r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model("tiny"), "--rounds", rounds,
                           env=env, timeout=900)
    finally:
        proc.terminate()
        proc.wait(10)
    shown, painted, grab = r["shown_ms"], r["painted_ms"], r["grab_ms"]
    p95, gp95 = common.percentile(shown, 95), common.percentile(grab, 95)
    raw = common.write_csv(ctx.path("fig31_overlay_shown.csv"), ["round", "shown_ms", "painted_ms", "grab_ms"],
                           [(i, s, p, g) for i, (s, p, g) in enumerate(zip(shown, painted, grab))])
    plot = ctx.path("fig31_overlay_shown.png")
    _plot(plot, shown, grab, p95)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"p95 {gp95:.0f} ms (median {common.median(grab):.0f} ms)",
        ours=f"p95 {p95:.0f} ms (median {common.median(shown):.0f} ms, max {max(shown):.0f} ms)",
        meets=p95 <= LIMIT_MS, passes_check=p95 <= LIMIT_MS + MARGIN_MS, margin=f"+{MARGIN_MS:.0f} ms",
        note=f"{r['screens']} X screens ({', '.join(s.rsplit('x', 1)[0] for s in SCREENS)}) on Xvfb, "
             f"{len(shown)} rounds; the key press goes through XTEST to the app's XGrabKey; the screens were "
             f"{'copied by the X server into shared memory' if r['shared_memory'] else 'grabbed with Qt'}; "
             f"the last paint alone (before its flush): p95 {common.percentile(painted, 95):.0f} ms.",
        plots=[plot.name], raw=[raw.name],
        values={"p95_ms": p95, "shown_ms": shown, "painted_ms": painted, "grab_ms": grab,
                "shared_memory": r["shared_memory"]},
    )


def _plot(path, shown, grab, p95) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.plot(range(len(shown)), shown, "o-", ms=3, color="#2f6ea8", label="key press → every overlay painted")
    ax.plot(range(len(grab)), grab, "o-", ms=3, color="#999999", label="QScreen.grabWindow of the three screens")
    ax.axhline(LIMIT_MS, color="#c0504d", linestyle="--", linewidth=0.9, label=f"{LIMIT_MS:.0f} ms (p95 target)")
    ax.set_xlabel("round")
    ax.set_ylabel("ms")
    ax.set_ylim(0, max(LIMIT_MS * 1.2, max(shown) * 1.1))
    ax.legend(fontsize=7)
    ax.set_title(f"Fig. 31 — shortcut to overlay shown, three screens: p95 {p95:.0f} ms", fontsize=9)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true")
    p.add_argument("--worker-model")
    p.add_argument("--rounds", type=int, default=60)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker_model, args.rounds)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
