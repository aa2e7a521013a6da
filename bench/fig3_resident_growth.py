"""Figure 3: memory does not grow per request — RSS over 100 small documents with the model resident.

One process, the engine in keep-resident mode with the bench model, 100 small documents
submitted one after another, every file distinct: 64×64 PNGs (every other document),
2-page born-digital PDFs (read from the text layer) and 2-page PDFs with one text page
and one scanned page for the model. 75 documents go through the model (one generated
token each: the growth comes from the pipeline, not the token count). RSS is read after
each document's result arrives. The quick run (CI) uses the tiny model for the same 100
documents: on a CPU without fast matrix kernels the bench model's prefill takes seconds. The figure is the RSS
after the last document
minus the RSS after the first one (the first document loads the model and warms the
image processor, MuPDF and the chat template; those are one-off costs, not growth). The
least-squares slope × 100 is recorded too.
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
TITLE = "RSS growth over 100 small documents, model resident"
TARGET = "≤ 20 MB total"
BASELINE_LABEL = "RSS after the first document"
DOCS = 100
LIMIT_MB = 20.0
MARGIN_MB = 10.0  # --check allows ≤ 30 MB: RSS noise of a few MB per reading, and a shorter quick run
FINDINGS = ""


def worker(model: str, docs: int, max_tokens: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from engine.engine_thread import Engine
    from engine.jobs import JobStatus, OcrOptions
    from engine.lifecycle import Mode
    from engine.models.presets import ModelSpec
    from engine.testing import samples

    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-docs-"))
    os.chmod(tmp, 0o700)
    paths = []
    for i in range(docs):
        if i % 2 == 0:
            paths.append(samples.write_png(tmp / f"doc-{i:03d}.png"))
        elif i % 4 == 1:
            paths.append(samples.write_pdf(tmp / f"doc-{i:03d}.pdf", pages=2, text_pages={1, 2}))
        else:
            paths.append(samples.write_pdf(tmp / f"doc-{i:03d}.pdf", pages=2, text_pages={1}))
    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    engine = Engine(ModelSpec.resolve(model), Mode.KEEP_RESIDENT)
    done = []
    engine.jobFinished.connect(done.append)
    engine.jobFailed.connect(done.append)
    tick = QTimer()
    tick.start(200)
    rss, seconds, pages = [], [], []
    t_start = time.monotonic()
    for i, path in enumerate(paths):
        engine.submit([path], OcrOptions(max_tokens=max_tokens))
        deadline = time.monotonic() + 600
        while len(done) <= i:
            if time.monotonic() > deadline:
                raise TimeoutError("the engine did not answer")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents | QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        if done[i].status is not JobStatus.DONE:
            raise RuntimeError(done[i].error)
        rss.append(common.rss_bytes() / MB)
        seconds.append(round(time.monotonic() - t_start, 3))
        pages.append(len(done[i].pages))
    engine.shutdown()
    for p in paths:
        p.unlink()
    tmp.rmdir()
    return {"rss_mb": rss, "t": seconds, "pages": pages, "max_tokens": max_tokens}


def run(ctx: common.Context) -> Result:
    size = "tiny" if ctx.quick else "bench"
    r = ctx.run_module(__spec__.name, "--worker", "--worker-model", ctx.model(size), "--docs", DOCS,
                       "--max-tokens", 1, timeout=3600)
    rss = r["rss_mb"]
    growth = rss[-1] - rss[0]
    fitted = common.slope(rss[1:]) * (len(rss) - 1)
    raw = common.write_csv(ctx.path("fig3_resident_growth.csv"), ["document", "seconds", "pages", "rss_mb"],
                           [(i + 1, t, p, x) for i, (t, p, x) in enumerate(zip(r["t"], r["pages"], rss))])
    plot = ctx.path("fig3_resident_growth.png")
    _plot(plot, rss, growth)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"{rss[0]:.0f} MB",
        ours=f"{growth:+.1f} MB after {len(rss)} documents (fit {fitted:+.1f} MB)",
        meets=growth <= LIMIT_MB,
        passes_check=growth <= LIMIT_MB + MARGIN_MB,
        margin=f"+{MARGIN_MB:.0f} MB",
        note=f"{size} model; {len(rss)} documents ({sum(r['pages'])} pages, max_tokens {r['max_tokens']})"
        f" in {r['t'][-1]:.0f} s; "
             f"peak RSS {max(rss):.0f} MB.",
        plots=[plot.name], raw=[raw.name],
        values={"growth_mb": growth, "fit_growth_mb": fitted, "first_mb": rss[0], "last_mb": rss[-1]},
    )


def _plot(path, rss, growth) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 3.6))
    xs = range(1, len(rss) + 1)
    ax.plot(xs, rss, ".-", color="#2f6ea8", linewidth=1, markersize=3, label="RSS after each document")
    ax.axhline(rss[0], color="grey", linestyle=":", label="after the first document")
    ax.axhline(rss[0] + LIMIT_MB, color="black", linestyle="--", linewidth=0.8, label=f"+{LIMIT_MB:.0f} MB (target)")
    ax.set_ylim(min(rss) - 20, max(max(rss), rss[0] + LIMIT_MB) + 20)
    ax.set_xlabel("document (PNGs and 2-page PDFs, alternating)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("RSS (MB)")
    ax.set_title(f"Fig. 3 — model resident, {len(rss)} documents: {growth:+.1f} MB", fontsize=10)
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
