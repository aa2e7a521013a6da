"""Figure 3: memory does not grow per request — RSS over 100 varied documents through the whole app.

One process runs the whole app offscreen (``desktop.app.OcrTrayApp``: its window shown, the
history on in a private database, private settings, the product's default memory mode, which
keeps the model loaded while documents keep coming) and submits 100 documents one after another,
as a person dropping them on the window would: each is expanded and checked, read, its text
streamed into the window and committed page by page to the history. Every document is distinct
and they cycle through eight kinds (``bench.documents.varied``): an A4 scan as a 144 dpi PNG, a
2-page born-digital PDF, a Letter page photographed at 200 dpi (JPEG), a 3-page PDF with one
scanned page, a till receipt (203 dpi PNG), a 1-page born-digital PDF, a 2-page 144 dpi TIFF
and a 1440×900 screenshot, so image sizes, page counts and paths through the pipeline change
from one document to the next: 151 pages, 87 of them (in 75 documents) read by the model.

The model is the tiny one (a seed whose answers stream, ``bench.models``; it has the bench
model's vision tower and image processor, so every page's pixels and processor arrays are real
size): 256 generated tokens a page in the full run, 64 in the quick run (CI). The bench model
(~0.9 GB) costs about 22 s of CPU prefill per model page here, 87 pages about 35 minutes, more
than a full report affords; what a real-size model's per-page state could leave behind is
measured with the bench model per request by figure 12 (the API soak) and per cycle by figure 2.
A model folder given with ``--model`` replaces the tiny model (on Apple silicon a 1B model
reads the 87 pages in minutes). RSS is read after each document's result arrives. The figure is the RSS after the last
document minus the RSS after the first eight, one of each kind (the first document loads the
model and warms the image processor, the history and the chat template, and the first of each
kind its decoder and its path through MuPDF or Pillow; those are one-off costs, not growth).
The growth since the first document and the least-squares slope over the last 92, × 100, are
recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import common
from bench.common import MB, Result

NUMBER = 3
TITLE = "RSS growth over 100 varied documents through the whole app (history on, window shown)"
# 20 MB over 100 documents: 0.2 MB a document, less than one A4 page's pixels (5.7 MB), so a page, an image
# or a result kept per document shows; what a person's history holds is on disk, not in memory
TARGET = "≤ 20 MB total"
BASELINE_LABEL = "RSS after one document of each kind"
DOCS = 100
WARM = 8  # the baseline is read after this many documents: one of each kind (bench.documents.VARIED_KINDS)
LIMIT_MB = 20.0
MARGIN_MB = 10.0  # --check allows ≤ 30 MB: RSS noise of a few MB per reading
MAX_TOKENS = {True: 64, False: 256}  # quick: generated tokens per model page
FINDINGS = ""


def worker(model: str, docs: int, max_tokens: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from bench import documents
    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.history import HistoryStore
    from engine.jobs import JobStatus
    from engine.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-docs-"))
    os.chmod(tmp, 0o700)
    paths = documents.varied(tmp / "docs", docs)
    qapp = Application([sys.argv[0]])
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", model)
    settings.set("ocr/max_tokens", max_tokens)
    settings.set("ui/notify", False)
    history = HistoryStore(tmp / "history.sqlite")
    app = OcrTrayApp(settings, history=history, tray=False, show_window=True)
    ended: list = []
    loop = QEventLoop()
    app.controller.jobEnded.connect(lambda r: (ended.append(r), loop.quit()))
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    rss, seconds, pages, model_pages, kinds = [], [], [], [], []
    t_start = time.monotonic()
    for i, path in enumerate(paths):
        app.submit([str(path)])
        deadline = time.monotonic() + 900
        while len(ended) <= i:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no result for {path.name}")
            guard.start(1000)
            loop.exec()
        r = ended[i]
        if r.status is not JobStatus.DONE:
            raise RuntimeError(f"{path.name}: {r.status.value}: {r.error}")
        qapp.processEvents()  # what the window does with the result, before the reading
        rss.append(common.rss_bytes() / MB)
        seconds.append(time.monotonic() - t_start)
        pages.append(len(r.pages))
        model_pages.append(sum(1 for p in r.pages if p.generation_tokens))
        kinds.append(documents.varied_kind(i)[0])
    guard.stop()
    app.shutdown()
    history_bytes = (tmp / "history.sqlite").stat().st_size if (tmp / "history.sqlite").exists() else 0
    for f in sorted(tmp.rglob("*"), reverse=True):
        f.rmdir() if f.is_dir() else f.unlink()
    tmp.rmdir()
    return {"rss_mb": rss, "t": seconds, "pages": pages, "model_pages": model_pages, "kinds": kinds,
            "max_tokens": max_tokens, "history_bytes": history_bytes}


def run(ctx: common.Context) -> Result:
    from bench import models

    size = "bench" if ctx.model_dir is not None else "tiny"  # see the module text
    max_tokens = MAX_TOKENS[ctx.quick]
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", models.streaming(ctx, size), "--docs", DOCS,
                       "--max-tokens", max_tokens, timeout=7200)
    rss = r["rss_mb"]
    growth = rss[-1] - rss[WARM - 1]
    fitted = common.slope(rss[WARM:]) * len(rss)
    raw = common.write_csv(ctx.path("fig3_resident_growth.csv"),
                           ["document", "kind", "seconds", "pages", "model_pages", "rss_mb"],
                           [(i + 1, k, t, p, m, x) for i, (k, t, p, m, x)
                            in enumerate(zip(r["kinds"], r["t"], r["pages"], r["model_pages"], rss))])
    plot = ctx.path("fig3_resident_growth.png")
    _plot(plot, rss, growth)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"{rss[WARM - 1]:.0f} MB (after the first document: {rss[0]:.0f} MB)",
        ours=f"{growth:+.1f} MB after {len(rss)} documents (fit {fitted:+.1f} MB; since the first document "
             f"{rss[-1] - rss[0]:+.1f} MB)",
        meets=growth <= LIMIT_MB,
        passes_check=growth <= LIMIT_MB + MARGIN_MB,
        margin=f"+{MARGIN_MB:.0f} MB",
        note=f"{size} model; {len(rss)} varied documents ({sum(r['pages'])} pages, {sum(r['model_pages'])} read by "
             f"the model at max_tokens {r['max_tokens']}) through the whole app in {r['t'][-1]:.0f} s; history "
             f"{r['history_bytes'] / MB:.1f} MB on disk; peak RSS {max(rss):.0f} MB.",
        plots=[plot.name], raw=[raw.name],
        values={"growth_mb": growth, "fit_growth_mb": fitted, "first_mb": rss[0], "baseline_mb": rss[WARM - 1],
                "last_mb": rss[-1], "growth_since_first_mb": rss[-1] - rss[0],
                "model": size, "max_tokens": r["max_tokens"]},
    )


def _plot(path, rss, growth) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 3.6))
    xs = range(1, len(rss) + 1)
    ax.plot(xs, rss, ".-", color="#2f6ea8", linewidth=1, markersize=3, label="RSS after each document")
    base = rss[WARM - 1]
    ax.axvline(WARM, color="grey", linewidth=0.6)
    ax.axhline(base, color="grey", linestyle=":", label=f"after the first {WARM} (one of each kind)")
    ax.axhline(base + LIMIT_MB, color="black", linestyle="--", linewidth=0.8, label=f"+{LIMIT_MB:.0f} MB (target)")
    ax.set_ylim(min(rss) - 20, max(max(rss), base + LIMIT_MB) + 20)
    ax.set_xlabel("document (eight kinds in turn: scans, PDFs, a photo, a receipt, a TIFF, a screenshot)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("RSS (MB)")
    ax.set_title(f"Fig. 3 — the whole app, model resident, {len(rss)} documents: {growth:+.1f} MB", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) run the documents and print JSON")
    p.add_argument("--worker-model")
    p.add_argument("--docs", type=int, default=DOCS)
    p.add_argument("--max-tokens", type=int, default=1)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker_model, args.docs, args.max_tokens)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
