"""Figure 6: a PDF's page count must not raise peak memory — 200 pages vs 10 pages.

Each PDF is read through ``engine.documents`` exactly as the engine reads it (default
DPI and image limits, ``text_layer="auto"``), one page at a time, in a fresh process;
the figure is that process's peak RSS (``ru_maxrss``) for a 200-page PDF minus the
same for a 10-page PDF, for born-digital pages (the text-layer path) and for scanned
pages (the render path: rasterised at 144 DPI and fitted for the model). Each page is
held only as long as the engine would hold it. The model is not involved: it sees one
page at a time either way.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench import common
from bench.common import MB, Result

NUMBER = 6
TITLE = "PDF peak RSS: 200-page minus 10-page PDF"
TARGET = "difference ≤ 50 MB, both paths"
BASELINE_LABEL = "10-page PDF"
LIMIT_MB = 50.0
MARGIN_MB = 15.0  # --check allows this much over the target: allocator and page-cache noise
PATHS = {"text-layer": "text", "render": "scan"}


def worker(pdf: str, dpi: int) -> dict:
    """In a fresh process: read every page like the engine does; report peak RSS."""
    import time

    import pymupdf  # noqa: F401 - imported before the baseline, like in the engine
    from PIL import Image  # noqa: F401

    from engine.documents import open_document

    before = common.rss_bytes()
    t0 = time.perf_counter()
    doc = open_document(pdf, dpi=dpi)
    pages = images = 0
    for page in doc.pages():
        pages += 1
        if page.image is not None:
            images += 1
            page.image.tobytes()  # touch every pixel, as the model's processor would
        del page
    doc.close()
    return {
        "pdf": pdf,
        "pages": pages,
        "rendered": images,
        "seconds": time.perf_counter() - t0,
        "rss_before_mb": before / MB,
        "peak_rss_mb": common.peak_rss_bytes() / MB,
        "rss_after_mb": common.rss_bytes() / MB,
    }


def run(ctx: common.Context) -> Result:
    from bench import documents

    repeats = 1 if ctx.quick else 3
    small_n, big_n = 10, (60 if ctx.quick else 200)
    dpi = 72 if ctx.quick else 144  # quick: fewer pages, rendered smaller; the difference is scaled to 200
    scale = (200 - small_n) / (big_n - small_n)
    folder = ctx.tmp / "pdfs"
    rows = []
    for path_name, kind in PATHS.items():
        small = documents.cached(folder, small_n, kind)
        big = documents.cached(folder, big_n, kind)
        for r in range(repeats):
            for n, pdf in ((small_n, small), (big_n, big)):  # interleaved
                out = ctx.run_module(__spec__.name, "--worker", str(pdf), "--dpi", dpi)
                out.update(path=path_name, n=n, repeat=r)
                rows.append(out)
                common.log(f"fig6 {path_name} {n} pages: peak {out['peak_rss_mb']:.1f} MB in {out['seconds']:.1f} s")

    def peak(path_name, n):
        return common.median([x["peak_rss_mb"] for x in rows if x["path"] == path_name and x["n"] == n])

    diffs = {p: (peak(p, big_n) - peak(p, small_n)) * scale for p in PATHS}
    raw = ctx.path("fig6_pdf_peak_rss.csv")
    common.write_csv(
        raw,
        ["path", "pages", "repeat", "peak_rss_mb", "rss_before_mb", "seconds"],
        [(x["path"], x["n"], x["repeat"], x["peak_rss_mb"], x["rss_before_mb"], x["seconds"]) for x in rows],
    )
    plot = ctx.path("fig6_pdf_peak_rss.png")
    _plot(plot, {p: (peak(p, small_n), peak(p, big_n)) for p in PATHS}, small_n, big_n, dpi)
    worst = max(diffs.values())
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=", ".join(f"{p} {peak(p, small_n):.0f} MB" for p in PATHS),
        ours=", ".join(f"{p} {peak(p, big_n):.0f} MB (+{diffs[p]:.1f})" for p in PATHS),
        meets=worst <= LIMIT_MB,
        passes_check=worst <= LIMIT_MB + MARGIN_MB,
        margin=f"+{MARGIN_MB:.0f} MB",
        note=f"A4 pages at {dpi} DPI, median of {repeats} process(es) each"
             + (f"; quick run: {big_n} pages, the difference scaled ×{scale:.2f} to 200 pages" if scale != 1 else "")
             + "; seconds per page: " + ", ".join(
                 f"{p} {common.median([x['seconds'] / x['pages'] for x in rows if x['path'] == p]) * 1000:.0f} ms"
                 for p in PATHS) + ".",
        plots=[plot.name], raw=[raw.name],
        values={"difference_mb": diffs, "peak_small_mb": {p: peak(p, small_n) for p in PATHS},
                "peak_big_mb": {p: peak(p, big_n) for p in PATHS},
                "seconds_per_page": {p: common.median([x["seconds"] / x["pages"] for x in rows if x["path"] == p])
                                     for p in PATHS}},
    )


def _plot(path, peaks: dict, small_n: int, big_n: int, dpi: int) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    names = list(peaks)
    xs = range(len(names))
    w = 0.36
    ax.bar([x - w / 2 for x in xs], [peaks[n][0] for n in names], w, label=f"{small_n} pages", color="#9bb7d4")
    ax.bar([x + w / 2 for x in xs], [peaks[n][1] for n in names], w, label=f"{big_n} pages", color="#2f6ea8")
    for x, n in zip(xs, names):
        d = peaks[n][1] - peaks[n][0]
        ax.annotate(f"{d:+.1f} MB", (x + w / 2, peaks[n][1]), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(list(xs), [f"{n} path" for n in names])
    ax.set_ylabel("peak RSS of the reading process (MB)")
    ax.set_title(f"Fig. 6 — peak RSS, {big_n}-page vs {small_n}-page A4 PDF at {dpi} DPI "
                 f"(target: difference ≤ {LIMIT_MB:.0f} MB)",
                 fontsize=9)
    ax.set_ylim(0, max(v for p in peaks.values() for v in p) * 1.2)
    ax.legend(loc="lower right", fontsize=8)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", metavar="PDF", help="(internal) read this PDF and print peak RSS as JSON")
    p.add_argument("--dpi", type=int, default=144)
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.dpi)))
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
