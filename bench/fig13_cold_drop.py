"""Figure 13: cold drop to first token — a 2-page scanned PDF dropped on the app with the model unloaded, to the
first piece of text, ÷ bare mlx-vlm doing the same work one step after the other.

Every measurement is a fresh process (a cold model load; the model's files are read through once before the
first round, so the page cache holds them for every side alike), and the sides alternate. All import ``mlx``,
``mlx_vlm`` and Qt before the clock starts. The document is ``bench.documents.write_pdf``: two A4 pages
scanned at 144 dpi (JPEG).

- app: the whole app (``OcrTrayApp``, offscreen, idle-timeout, the model unloaded). A drag with the PDF enters
  the window and drops at once (what a person's drop is); the clock runs from the drop to the first text delta
  the app receives. In between: the prewarm the drag starts, locating and checking the model, the load (the
  engine's own reader on Linux, ADR 0010), and, overlapping the load on a helper thread (ADR 0018), opening,
  rasterising and fitting page 1; then the chat template, prefill and the first token.
- prewarm (reported, no target): the same, but the drag enters 1 s before the drop (a person moving the file
  across the window); the clock still starts at the drop.
- bare: opening the PDF and rasterising page 1 exactly as the engine does (``engine.documents``, the model's
  limits), then ``mlx_vlm.load`` + ``mx.eval`` of the weights, the chat template, and ``stream_generate`` on
  that picture to its first yield: the serial sum a script would pay.

Target ≤ 0.95 (app ÷ bare, medians): the overlap must beat the serial sum. Quick (CI): the tiny model and
three rounds a side, checked on the app's own part (app − bare, median) instead: the tiny model loads in tens of
milliseconds, so a ratio would measure process noise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench import common
from bench.common import Result

NUMBER = 13
TITLE = "Cold drop to first token: 2-page scanned PDF dropped, model unloaded ÷ bare load + first token"
TARGET = "≤ 0.95"
BASELINE_LABEL = "bare: rasterise page 1, mlx_vlm.load + eval, stream_generate to its first token"
LIMIT = 0.95
MARGIN = 0.05  # --check: cold loads on a shared 2-core machine wobble by several per cent a process
# quick: the app's own part (app − bare, median) on the tiny model, ms. Not the full target's equivalent (that
# would be ≤ 0: the overlap beats the serial sum); a bound that catches a lost overlap (page 1 prepared after the
# load adds ~0.3 s here) or a slower load path on top of today's (320–375 ms on 2026-12-02: the Linux loader).
QUICK_FIXED_MS = 250.0
QUICK_MARGIN_MS = 150.0  # --check: three fresh processes a side on a shared machine
PREWARM_LEAD_S = 1.0  # the "prewarm" side: how long before the drop the drag enters
SIDES = ("app", "prewarm", "bare")
FINDINGS = """First full run, 2026-12-02 01:34–01:44 UTC, not on a quiet machine (two other full benchmark runs
and a test run shared the 2 cores; load average 4.5–6.8): app 55.95 s median, bare 47.40 s → ×1.180 (misses);
with the drag entering 1 s before the drop 54.94 s → ×1.159. Per-round ratios spread from 0.85 to 1.27: the
first token's prefill on a whole A4 page (40–87 s here under that load, about 20 s quiet) dominates both sides
and swings with the machine. What the app itself adds is the load: 2.5–2.8 s after the drop, where bare
``mlx_vlm.load`` took 0.87–1.17 s (the Linux weights reader, ADR 0010; issue 16's loader work is not done),
while page 1's preparation (0.5–0.6 s for bare) is hidden behind it. Even with a loader as fast as bare, the
overlap can save only the page preparation, about 0.5 s of a ~21 s serial sum on this CPU (×0.98): ≤ 0.95
needs the prefill itself to be shorter than here (a real model on Apple silicon), or more hidden than the page.
The full run of 2026-12-02 (commit 4515f12) lost this figure: its prewarm worker aborted (SIGABRT) after
measuring. It shut the app down at the first token, while the engine was inside page 2's prefill, which
a cancel cannot break; the engine did not stop within 5 s, and Qt, torn down around a running thread,
aborted. The app itself ends with `os._exit` in that case (desktop/launch.py); the worker now does the
same. The one round it measured, with the new weights reader: app 18.88 s, drag 1 s ahead 16.22 s, bare
17.00 s (×1.11 and ×0.95; one round, not a verdict).

2026-12-02 afternoon (issue 16). The first token's prefill had been netlib's reference BLAS (ADR 0023); on
OpenBLAS, with one thread so that the window keeps a core, a whole A4 page takes 2.7–3.8 s to its first
text here, so the load and the page's preparation are no longer lost in it. Both sides now stop at their
first piece of text (the bench model's first token is often held back by the streaming detokenizer, and the
bare side stopped one decode step earlier), and each side runs five times. The app still misses (×1.105;
the drag 1 s ahead ×1.084). What is known: its model is ready 0.57–0.75 s after the drop, where bare
mlx-vlm's page plus load is 0.62–0.75 s in sequence: the overlap gains nothing, because page 1 is prepared
by a Python thread beside the weights reader, and the reader takes Python's lock back after every 1 MiB
step (a busy Python thread beside it: 1.3–1.9 s against 0.36 s; figure 9's findings). The rest is the
first token itself, 2.9–3.3 s in the app against 2.7–3.8 s bare: the same work on a 2-core machine whose
second core the window and the page helper share with it. With the drag 1 s ahead the model is ready before
the drop and page 1 (0.2 s) is prepared after it. Next levers: a reader that never takes Python's lock
between steps; page 1 prepared on the drag's entry (the files are known then).

2026-12-02 evening. Both levers are in: the reader's steps run in C without Python's lock (figure 13's
worker: the read beside page 1 0.34–0.40 s, was 0.48–0.55 s; ADR 0010, third amendment), and a dragged
file's first page is prepared from the drag's entry (ADR 0018 update). The full run of 54b7c36: ×0.947
(app 3.80–4.75 s, median 4.15 s; bare 3.39–4.80 s, median 4.38 s), which meets; the drag 1 s ahead ×0.792
(2.63–3.97 s; the model's first call comes 6–8 ms after the drop, was 0.2 s). Read honestly: the app's model
is ready 0.61–0.74 s after the drop in that run (0.57–0.60 s in quieter probes), where bare mlx-vlm's page,
load and template take 0.62–0.70 s one after the other, so the structural gain is 0.1–0.15 s of a ~4 s first
token; one process's prefill of the same page spreads from 2.1 to 3.1 s, more than that gain, and five
rounds a side decide the median. The next run may land on either side of 0.95. Further levers: mlx-vlm's
processor loaded beside the weights' read (30–50 ms here, more with a real tokenizer) and the template's
compile beside it (figure 9's findings).

The full run of d899e3e (2026-12-02 night): ×1.024 (app 3.12–3.59 s, median 3.47 s; bare 2.94–3.96 s,
median 3.39 s), which misses where the run before met (×0.947); the drag 1 s ahead ×0.752. Taken apart
the next evening on a quiet machine (the bench model, fresh processes, as the worker runs): the app's
model is ready 0.36–0.62 s after the drop, where bare mlx-vlm's page and load take 0.41–0.46 s one after
the other. With page 1 prepared only once the load is over (an experiment), the load alone took 0.29–0.36 s
(bare's 0.29–0.33 s) and the page 0.12–0.15 s after it: the job started 0.42–0.51 s after the drop, as with
the overlap. The overlap hides nothing on this machine because the weights' read already keeps both cores
busy: 466–537 ms of CPU in 259–323 ms, and as long with one reader thread as with two (the copy and the
destination pages' first touch, not the reads' count, set its pace); page 1 beside it takes its time from
the load. After the model is ready the work is the same (the app's first text 1.04–1.20 s after ready;
bare's template, prefill and first text 0.97–1.08 s), and page 2's preparation, which starts at the first
token, was checked: switching it off changed nothing before the first text (0.29–0.32 s from the first
token to the first text with it, 0.29–0.34 s without). So on 2 cores this figure sits near ×1.0 and one
run's five rounds land it on either side of 0.95; ≤ 0.95 needs cores the read leaves free (Apple silicon
has 8–12, where the page is hidden behind the load) or a read that costs less CPU than a copy into fresh
memory, which MLX's loader does not offer here (it allocates and fills every array).

On an AMD EPYC machine, about twice as fast at the model. The full run of ffa46a2 measured ×1.028 (app
median 1.53 s, bare 1.49; the drag 1 s ahead ×0.729). The full run of e6b900b, after the model is read
through once before round 0 (`common.read_through`; before it, the first process of round 0 read the model
from disk), measured ×0.994 (app 1.26–1.59 s, median 1.30; bare 1.27–1.45 s, median 1.30; the drag 1 s ahead
0.91–1.08 s, ×0.728). The app's model is ready 0.36 s after the drop. The reading above stands: on 2 cores
the weights' read keeps both cores busy, so page 1 beside it hides nothing and the figure sits at ×1.0. Only
the prewarm a drag starts (×0.73) shows what overlap is worth.

2026-12-03 morning: a cheaper read was looked for once more. The destination's page faults are most of the
read's CPU (225,000 faults of 4 KiB for the 0.9 GB model); with the weights on 2 MiB pages
(`MADV_HUGEPAGE` on each tensor's aligned interior; 660 of 870 MiB) the faults fell to 57,000, and decoding was
about 3% faster, but the load took 1.05–1.29 s against 0.26–0.44 s: this VM hands free 2 MiB blocks back to
its host, and a huge page touched for the first time since is backed again by the host (0.9 GB of fresh huge
pages 2.2 s in a plain test, the same pages reused within one process 0.07 s). Not kept. The reading above
stands.
The full run of a761db7 (2026-12-03 07:10; this machine about a third slower at the model than in the
earlier runs of the day: figure 5's bench-model page 1.92 s, was 1.43 s): ×1.020 (app median 1.71 s, bare
1.67 s; the drag 1 s ahead 1.16 s, ×0.696).
"""


def worker(side: str, model: str, pdf: str, max_tokens: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    import mlx.core as mx
    import mlx_vlm  # noqa: F401 - every side imports before the clock starts

    from engine.models.presets import ModelSpec

    spec = ModelSpec.resolve(model)
    if side == "bare":
        from mlx_vlm import load, stream_generate
        from mlx_vlm.prompt_utils import apply_chat_template

        from engine.documents import open_document

        limits = spec.with_limits(None)
        t0 = time.perf_counter()
        doc = open_document(pdf, max_side=limits.max_side, max_pixels=limits.max_pixels, dpi=144)
        page = next(iter(doc.pages()))
        doc.close()
        t_page = time.perf_counter()
        m, processor = load(model, trust_remote_code=False)
        mx.eval(m.parameters())
        t_load = time.perf_counter()
        prompt = apply_chat_template(processor, m.config, spec.prompt, num_images=1)
        common.first_text(stream_generate(m, processor, prompt, image=[page.image], max_tokens=max_tokens,
                                          temperature=0.0))
        t_first = time.perf_counter()
        return {"side": side, "seconds": t_first - t0, "page_s": t_page - t0, "load_s": t_load - t_page}

    import warnings

    from PySide6.QtCore import QEventLoop, QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.lifecycle import State
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    _qapp = Application([sys.argv[0]])  # kept: the app lives as long as this worker
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    for key, value in (("model/preset", "custom"), ("model/custom_source", model), ("ocr/max_tokens", max_tokens),
                       ("memory/mode", "idle-timeout"), ("ui/notify", False), ("history/enabled", False)):
        settings.set(key, value)
    app = OcrTrayApp(settings, tray=False)
    app.window.show()
    marks: dict[str, float] = {}
    app.controller.statusChanged.connect(
        lambda s: marks.setdefault("ready", time.perf_counter()) if s.state is State.READY else None)
    app.controller.textDelta.connect(lambda _d: marks.setdefault("first", time.perf_counter()))

    def pump(until, seconds: float) -> None:
        """Qt's event loop (as the app runs), not a polling loop that would take the GIL from the engine."""
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(5)  # the times come from the signals themselves, not from this check
        check.timeout.connect(lambda: until() and loop.quit())
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        check.start()
        if not until():
            loop.exec()
        check.stop()

    pump(lambda: False, 0.5)  # the app settles (its first status, the window shown) before anything is timed
    if app.controller.status.state is not State.UNLOADED:
        raise RuntimeError(f"the model is not unloaded at the start: {app.controller.status.state}")
    window = app.window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(pdf)])
    centre = window.rect().center()
    with warnings.catch_warnings():  # PySide 6.12 marks the QPoint form deprecated; 6.11 has no other
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(centre.x(), centre.y()), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    drop = QDropEvent(QPointF(centre.x(), centre.y()), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    t_enter = time.perf_counter()
    QApplication.sendEvent(window, enter)
    if side == "prewarm":
        pump(lambda: False, PREWARM_LEAD_S)
    t0 = time.perf_counter()
    QApplication.sendEvent(window, drop)
    pump(lambda: "first" in marks, 900.0)
    if "first" not in marks:
        raise RuntimeError(f"no text within 900 s: {app.controller.status}")
    result = {"side": side, "seconds": marks["first"] - t0, "lead_s": t0 - t_enter,
              "ready_after_drop_s": marks.get("ready", float("nan")) - t0}
    app.shutdown()
    if not app.engine_stopped:
        # The engine is inside the next page's prefill, which a cancel cannot break (seconds here). The app
        # ends the same way (desktop/launch.py): tearing Qt down around a running thread aborts (SIGABRT),
        # which made the full run of 2026-12-02 lose this figure.
        print(json.dumps(result), flush=True)
        os._exit(0)
    return result


def run(ctx: common.Context) -> Result:
    from bench import documents

    rounds = 3 if ctx.quick else 5  # each side goes first at least once in every three rounds
    size = "tiny" if ctx.quick else "bench"
    model = ctx.model(size)
    pdf = documents.write_pdf(ctx.tmp / "fig13-scan-2.pdf", pages=2, scanned={1, 2})
    common.read_through(model)  # the page cache holds the model for every side, the first process too
    rows = []
    for r in range(rounds):
        order = SIDES[r % 3:] + SIDES[:r % 3]  # each side goes first once in three rounds
        for side in order:
            out = ctx.run_module(__spec__.name, "--worker", side, "--worker-model", model, "--pdf", pdf,
                                 "--max-tokens", 4, timeout=1800)
            rows.append((r, side, out["seconds"]))
            common.log(f"fig13 {side}: drop to first token {out['seconds']:.2f} s {json.dumps(out)}")
    med = {s: common.median([t for _, side, t in rows if side == s]) for s in SIDES}
    ratio, prewarm_ratio = med["app"] / med["bare"], med["prewarm"] / med["bare"]
    fixed_ms = 1000 * (med["app"] - med["bare"])
    raw = common.write_csv(ctx.path("fig13_cold_drop.csv"), ["round", "side", "seconds"], rows)
    plot = ctx.path("fig13_cold_drop.png")
    _plot(plot, med, ratio, prewarm_ratio, rounds)
    target, meets, passes, margin = common.ratio_gate(ctx.quick, ratio, LIMIT, MARGIN, TARGET, fixed_ms,
                                                      QUICK_FIXED_MS, QUICK_MARGIN_MS, "app − bare")
    return Result(
        NUMBER, TITLE, target, BASELINE_LABEL,
        baseline=f"median {med['bare']:.2f} s",
        ours=f"median {med['app']:.2f} s → ratio {ratio:.3f}; with the drag entering {PREWARM_LEAD_S:.0f} s "
             f"before the drop {med['prewarm']:.2f} s → {prewarm_ratio:.3f}",
        meets=meets, passes_check=passes, margin=margin,
        note=f"{size} model, {rounds} fresh process(es) per side, rotating order; max_tokens 4"
             + (" (quick: the app's own part is checked; the tiny model loads too fast for a ratio)." if ctx.quick
                else "."),
        plots=[plot.name], raw=[raw.name],
        values={"ratio": ratio, "prewarm_ratio": prewarm_ratio, "fixed_ms": fixed_ms, "median_s": med},
    )


def _plot(path, med, ratio, prewarm_ratio, rounds) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    names = ["app (drop)", f"app (drag {PREWARM_LEAD_S:.0f} s before)", "bare (serial)"]
    vals = [med["app"], med["prewarm"], med["bare"]]
    ax.bar(names, vals, color=["#2f6ea8", "#6fa0d0", "#999999"])
    for i, v in enumerate(vals):
        ax.annotate(f"{v:.2f} s", (i, v), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("drop → first token, s")
    ax.set_ylim(0, max(vals) * 1.2)
    ax.set_title(f"Fig. 13 — cold drop to first token: ×{ratio:.3f} (prewarmed ×{prewarm_ratio:.3f}), target ≤ "
                 f"{LIMIT}; median of {rounds}", fontsize=9)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", choices=SIDES, help="(internal) measure one side and print JSON")
    p.add_argument("--worker-model")
    p.add_argument("--pdf")
    p.add_argument("--max-tokens", type=int, default=4)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.worker_model, args.pdf, args.max_tokens)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
