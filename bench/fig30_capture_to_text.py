"""Figure 30: shortcut to text — from the capture shortcut to the first character in the popover, ÷ the bare
model's first token on the same crop.

One process, the model resident in both: the full app (``OcrTrayApp``, offscreen, keep-resident) and bare
mlx-vlm loaded beside it in the main thread. A window shows text at the screen's top-left. Each round,
alternating which side goes first:

- ours: the shortcut is synthesized (the global shortcut's ``activated`` signal, what the X11 or Carbon
  binding emits), the overlay grabs and opens, a 600×200 drag is synthesized on it at once (no person is
  timed), and the clock stops when the first characters reach the popover. In between: the grab, the overlay,
  the crop, the PNG written on a pool thread, the priority submit, the engine opening the PNG, the model's
  preprocessing, prefill and first token, and the text's way back to the GUI thread.
- bare: ``mlx_vlm.stream_generate`` on the same PNG (the crop the engine read) to its first yield.

Quick: the tiny model and 2 rounds, checked against an absolute target for the app's own part (the
fixed cost: ours − bare, median): its first token takes tens of milliseconds, so a ratio would mostly
measure the machinery. At a fast real model's first token of about 0.5 s, the full run's 1.10 leaves
50 ms for that machinery, so the quick target is 50 ms. Full: the bench model and 6 rounds, the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

from bench import common
from bench.common import Result

NUMBER = 30
TITLE = "Shortcut to text: capture shortcut → first character ÷ bare first token (600×200 crop)"
TARGET = "≤ 1.10"
BASELINE_LABEL = "bare mlx-vlm first token, same crop, model resident"
LIMIT = 1.10
MARGIN = 0.05  # --check: scheduling noise of a loaded 2-core machine on seconds-long prefills
QUICK_FIXED_MS = 50.0  # quick run: the app's own part, ms (what 1.10 leaves of a 0.5 s first token)
QUICK_MARGIN_MS = 25.0  # --check: two rounds on a shared machine
FINDINGS = """The full run of 4515f12 (2026-12-02 morning) met: ×1.030, the app's fixed cost 610 ms against a bare
first token of 20.3 s (MLX's float32 products then ran on the reference BLAS its Linux wheel bundles). On
OpenBLAS (ADR 0023) the same crop's first token takes 2.3–3.4 s, so the same machinery weighs six times as
much: the full run of 54b7c36 measured ×1.169 (fixed cost 429 ms; misses). Per round, ours − bare: +0.40,
+0.83, +0.27, +0.28, −0.01, +0.01 s: the first four rounds pay it and the last two do not, which may point
at costs that fade with use on the app's path (the overlay, the crop's PNG, the popover, the engine's
pictures of that size) more than at one every capture pays; six rounds cannot tell that from noise. Not
yet found; the quick gate (the tiny model, the app's own part ≤ 50 ms) passes (18 ms).

The full run of d899e3e met: ×0.959 (ours 2.15–2.62 s, bare 2.18–2.45 s; per round ours − bare +0.15,
−0.17, −0.03, −0.05, −0.03, +0.17 s). The fixed cost that the run of 54b7c36 saw in four of six rounds
did not come back; nothing on the capture path changed between the two runs (the chat template's guard
did, ADR 0024, which this path pays only inside a load), so the earlier miss reads as that run's noise."""
REGION = (600, 200)


def worker(model: str, rounds: int, max_tokens: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    import mlx.core as mx
    from mlx_vlm import load, stream_generate
    from mlx_vlm.prompt_utils import apply_chat_template
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLabel

    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.jobs import Client
    from engine.lifecycle import State
    from engine.models.presets import ModelSpec
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    _qapp = Application([sys.argv[0]])  # kept: the app lives as long as this worker
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    for key, value in (("model/preset", "custom"), ("model/custom_source", model), ("ocr/max_tokens", max_tokens),
                       ("memory/mode", "keep-resident"), ("ui/notify", False), ("history/enabled", False)):
        settings.set(key, value)
    app = OcrTrayApp(settings, tray=False)
    app.window.hide()
    text = QImage(REGION[0] + 100, REGION[1] + 100, QImage.Format.Format_RGB32)
    text.fill(QColor("white"))
    p = QPainter(text)
    p.setFont(QFont("DejaVu Sans", 22))
    p.setPen(QColor("black"))
    p.drawText(text.rect().adjusted(20, 20, -20, -20), 0, "Invoice 2025-0412\nTotal due £ 54.50\nThank you!")
    p.end()
    label = QLabel()
    label.setWindowFlags(Qt.WindowType.FramelessWindowHint)
    label.setPixmap(QPixmap.fromImage(text))
    label.move(0, 0)
    label.show()

    from PySide6.QtCore import QEventLoop, QTimer

    def pump(until, seconds=900.0):
        """Wait in Qt's event loop (as the app does), not in a polling loop that would take the GIL from the
        engine thread thousands of times a second."""
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(10)  # the times come from the signals themselves, not from this check
        check.timeout.connect(lambda: until() and loop.quit())
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        check.start()
        if not until():
            loop.exec()
        check.stop()
        if not until():
            raise RuntimeError("timed out")

    app.controller.load_now()
    pump(lambda: app.controller.status.state is State.READY)
    flow = app.capture
    crop_png = str(tmp / "crop.png")
    marks: dict = {}
    flow.firstText.connect(lambda _job: marks.setdefault("first", time.perf_counter()))
    flow.finished.connect(lambda r: marks.setdefault("done", r))

    def keep_input(info):
        if info.client is Client.CAPTURE and not os.path.exists(crop_png):
            shutil.copyfile(info.path, crop_png)

    app.controller.jobQueued.connect(keep_input)

    def ours() -> float:
        marks.clear()
        t0 = time.perf_counter()
        flow.shortcut.activated.emit()  # what the platform's hot-key binding emits
        window = flow.picker.windows[0]
        QTest.mousePress(window, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(40, 40))
        QTest.mouseMove(window, QPoint(40 + REGION[0], 40 + REGION[1]))
        QTest.mouseRelease(window, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           QPoint(40 + REGION[0], 40 + REGION[1]))
        pump(lambda: "first" in marks)
        elapsed = marks["first"] - t0
        pump(lambda: "done" in marks)
        flow.popover.hide()
        return elapsed

    spec = ModelSpec.resolve(model)
    bare_model, processor = load(model, trust_remote_code=False)
    mx.eval(bare_model.parameters())
    prompt = apply_chat_template(processor, bare_model.config, spec.prompt, num_images=1)

    def bare() -> float:
        t0 = time.perf_counter()
        common.first_text(stream_generate(bare_model, processor, prompt, image=[crop_png], max_tokens=max_tokens,
                                          temperature=0.0))
        elapsed = time.perf_counter() - t0
        mx.clear_cache()
        return elapsed

    ours()  # warm both paths once (first-use costs: the overlay's first window, the processor's first image)
    bare()
    rows = []
    for r in range(rounds):
        for side in (("ours", "bare") if r % 2 == 0 else ("bare", "ours")):
            rows.append((r, side, ours() if side == "ours" else bare()))
    size = QImage(crop_png).size()
    app.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"rows": rows, "crop": [size.width(), size.height()]}


def run(ctx: common.Context) -> Result:
    rounds = 2 if ctx.quick else 6
    size = "tiny" if ctx.quick else "bench"
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model(size), "--rounds", rounds,
                       "--max-tokens", 4, timeout=3600)
    rows = r["rows"]
    ours = [t for _, side, t in rows if side == "ours"]
    bare = [t for _, side, t in rows if side == "bare"]
    pairs = [o / b for (o, b) in zip(ours, bare)]
    ratio = common.median(ours) / common.median(bare)
    raw = common.write_csv(ctx.path("fig30_capture_to_text.csv"), ["round", "side", "seconds"], rows)
    plot = ctx.path("fig30_capture_to_text.png")
    _plot(plot, rows, ratio)
    fixed_ms = 1000 * (common.median(ours) - common.median(bare))
    if ctx.quick:  # the tiny model's first token takes tens of ms: the app's own part is checked instead
        target = f"fixed cost ≤ {QUICK_FIXED_MS:.0f} ms (quick)"
        meets, passes = fixed_ms <= QUICK_FIXED_MS, fixed_ms <= QUICK_FIXED_MS + QUICK_MARGIN_MS
        margin = f"+{QUICK_MARGIN_MS:.0f} ms"
    else:
        target, meets, passes, margin = TARGET, ratio <= LIMIT, ratio <= LIMIT + MARGIN, f"+{MARGIN}"
    return Result(
        NUMBER, TITLE, target, BASELINE_LABEL,
        baseline=f"median {common.median(bare) * 1000:.0f} ms",
        ours=f"median {common.median(ours) * 1000:.0f} ms → ratio {ratio:.3f}, fixed cost {fixed_ms:.0f} ms",
        meets=meets, passes_check=passes,
        margin=margin,
        note=f"{size} model, {rounds} interleaved rounds, crop {r['crop'][0]}×{r['crop'][1]} px (offscreen, DPR 1); "
             f"per-round ratios {', '.join(f'{x:.3f}' for x in pairs)}"
             + (" (quick: the fixed cost is checked; the tiny model's first token is too short for the ratio)."
                if ctx.quick else "."),
        plots=[plot.name], raw=[raw.name],
        values={"ratio": ratio, "fixed_ms": fixed_ms, "ours_s": ours, "bare_s": bare},
    )


def _plot(path, rows, ratio) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for side, colour in (("ours", "#2f6ea8"), ("bare", "#999999")):
        xs = [r for r, s, _ in rows if s == side]
        ys = [t * 1000 for _, s, t in rows if s == side]
        ax.plot(xs, ys, "o-", color=colour, label="shortcut → first character" if side == "ours"
                else "bare mlx-vlm first token")
    ax.set_xlabel("round")
    ax.set_ylabel("ms")
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    ax.set_title(f"Fig. 30 — shortcut to text ÷ bare first token: {ratio:.3f} (target ≤ {LIMIT})", fontsize=9)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true")
    p.add_argument("--worker-model")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--max-tokens", type=int, default=4)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker_model, args.rounds, args.max_tokens)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
