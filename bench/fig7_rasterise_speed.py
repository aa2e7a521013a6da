"""Figure 7: page rasterising speed against poppler's ``pdftoppm``, same PDF, same DPI, both as processes.

Three rasterisers, each a fresh process per run that writes every page's pixels to its stdout
(a pipe of ``PIPE_BYTES`` this script drains and discards; no side writes a file):

- **ours**: ``engine.documents`` with ``text_layer="off"`` (every page rendered) and image limits
  high enough that nothing is resized, so the time is MuPDF's drawing (ICC colour management
  off, ADR 0009) plus the hand-over to Pillow, then each page written as a binary PPM by Pillow's
  PPM writer (the page is a Pillow image, as the model's processor receives it). A process without
  a window, as the CLI: the page in one drawing call (the app, beside its window, draws in bands with
  pauses, which figure 4 measures);
- **pdftoppm** (poppler-utils) ``-r DPI`` without an output prefix: binary PPMs to stdout;
- **PyMuPDF's defaults**: ``page.get_pixmap(dpi=DPI)`` with colour management on (the library's
  default), each page written as a binary PPM.

A process's start-up (Python and its imports, or loading poppler) is not rasterising: each
tool runs on pages 1–2 of the PDF and on all of it, and the figure is the marginal time per
page, (all − first two) ÷ (pages − 2), the median over interleaved rounds. The ratio is
pdftoppm's time per page ÷ ours (≥ 1 means we are at least as fast); PyMuPDF's defaults ÷
ours is shown beside it. The PDF alternates born-digital A4 text pages and scanned pages
(``bench.documents.write``: 20 pages; 7 rounds in the full run, 5 in the quick run).

pdftoppm comes with Debian's poppler-utils: ``sudo apt-get install poppler-utils``
(macOS: ``brew install poppler``). Without it the figure is skipped with that reason.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import time

from bench import common
from bench.common import Result

NUMBER = 7
TITLE = "Page rasterising speed ÷ pdftoppm (both as processes, marginal time per page)"
TARGET = "≥ 1.0"
BASELINE_LABEL = "pdftoppm (poppler-utils); PyMuPDF's defaults"
LIMIT = 1.0
MARGIN = 0.15  # --check accepts ≥ 0.85: the runs take turns on a shared machine
# --check in the quick run (CI) accepts ≥ 0.70: eight quick runs of one commit here (2026-12-02, nothing else
# running) gave 0.66, 1.02, 0.80, 1.23, 0.71, 0.87, 0.94, 0.70 — the process start-up jitter of a 20-page run
# is that large. It still fails a rasteriser that became 1.5× slower; the verdict is always against TARGET.
QUICK_MARGIN = 0.30
DPI = 144
FINDINGS = """The first full run missed: 53 ms per page against pdftoppm's 48 (ratio 0.90). A profile
put 60 % of our time in MuPDF's drawing and showed it doing ICC colour management: every
greyscale scan was converted to RGB through a colour transform, and every glyph's colour as
well. OCR needs shapes, not calibrated colour, so `engine.documents` turns MuPDF's ICC
handling off (`pymupdf.TOOLS.set_icc(False)`); it also hands the pixmap to Pillow as a
memoryview (`samples_mv`), so Pillow's copy is the only one (docs/adr/0009-render-without-icc.md). A page now takes
23–30 ms, 1.5–1.9×
faster than pdftoppm at the same DPI (the figure alone, then the full run). Until issue 19 that
comparison was lopsided: pdftoppm started a process and wrote about 120 MB of PNG files each
round while ours ran warm in a process that wrote nothing; now every side is a process that
writes its pixels to a pipe, and start-up is taken out of all of them alike.

Measured that way (2026-12-02), ours is not faster than pdftoppm: quick runs gave ratios from 0.66
to 1.23 (median about 0.85), and PyMuPDF's own defaults draw a page in 55–65 % of our time. In
process, `engine.documents` spends about 25 ms a page in MuPDF's drawing and about 13 ms handing the
pixels to Pillow (Pillow's allocation and fill, the copy in, and `tobytes` for the output), plus
3–6 ms since pages are drawn in bands (figure 4). A miss against the target, open in issue 19:
the hand-over to Pillow is where the time is.

A profile of one 20-page run (same day) placed that hand-over: MuPDF drew a page in 25 ms, and
the rest was Pillow and the page faults of fresh memory. `render_in_bands` made a white 8 MB
picture and pasted the bands into it, and `Image.frombytes` fills every new image before writing
it; each fresh buffer of an A4 page (the picture, three bands, the output) also costs 4–6 ms of
page faults on this machine (2.7 µs per 4 KiB page), since glibc gives big blocks back at once.
Now no picture is filled before it is written, and Pillow keeps up to four freed image blocks for
the next page (`engine.memory.reuse_image_blocks`, given back after every document and at every
unload). And the script wrote its output as `image.tobytes()` — a second copy of each page in
fresh memory that no other side makes; it now writes with Pillow's PPM writer, as the rows are
encoded. Ours went from 44–66 ms a page to 31–36 ms; three quick runs then gave ratios of 1.02,
1.12 and 1.30 (pdftoppm 32–42 ms a page, its own spread). PyMuPDF's defaults still draw a page in
about 85 % of our time: drawing in bands (for the window's heartbeat, figure 4) and emptying
MuPDF's cache after every page (for figure 6's memory bound) are what is left.

The full run of ffa46a2 (2026-12-02 23:20, an AMD EPYC machine this time, the earlier runs on an Intel
Xeon) missed: ours 22 ms a page, pdftoppm 18, PyMuPDF's defaults 21 (ratio 0.82; no rasterising code had
changed, and the figure alone gave 0.87 the next morning). Measured apart (2026-12-03, 5 rounds each), two
causes, neither of them MuPDF's drawing. First the pipe: each side wrote into a pipe of Linux's default
64 KiB, and a writer of big blocks fills it, blocks and is woken about a hundred times a page. pdftoppm
writes 4 KiB at a time and never fills it: 17.0 ms a page into the pipe, 15.0 into /dev/null; ours 22.5
against 15.3, PyMuPDF's defaults 21.5 against 12.8. With a pipe of 1 MiB pdftoppm stays at 17.0 and the
Python sides lose that cost (ours 16.9, PyMuPDF's defaults 15.3): the pipe is now 1 MiB for every side
(`PIPE_BYTES`), which keeps the check that every side wrote the same bytes. Second the bands: in-process,
best of three, a text page took 1.2–3.6 ms in one MuPDF call and 4.3–8.1 ms in bands, a scan 19.5 ms and
24–25 ms — the display list, the scan's separate decode and a copy per band. They are there for a window
that waits for Python's lock (figure 4); a process without one (the CLI, this figure) has nothing waiting,
so `render_in_bands` now draws there in one call, the same picture (tested), and the app's window process
keeps its bands and pauses. Both together, the figure alone three times: ours 15–16 ms a page against
pdftoppm's 17–22, ratios 1.36, 1.16 and 1.15; PyMuPDF's defaults ÷ ours 1.03–1.19.

The full run of e6b900b (2026-12-03 03:32, the same AMD machine): ours 15 ms a page, pdftoppm 17,
PyMuPDF's defaults 15: ratio 1.12, which meets (PyMuPDF's defaults ÷ ours 1.03)."""
INSTALL_HINT = "install poppler-utils (Debian: sudo apt-get install poppler-utils; macOS: brew install poppler)"
SIDES = ("pdftoppm", "ours", "pymupdf-default")
# Each side's stdout is a pipe of 1 MiB (Linux's default ceiling for F_SETPIPE_SZ) rather than the default 64 KiB:
# with 64 KiB, a writer of big blocks (Pillow's 64 KiB PPM chunks, PyMuPDF's 6 MB pixmap) blocks and is woken
# about a hundred times a page, 4-6 ms a page that is not rasterising, while pdftoppm's 4 KiB writes never fill
# it; with 1 MiB pdftoppm's time is unchanged (17.0 ms a page both ways) — see FINDINGS
PIPE_BYTES = 1 << 20

# ours: the engine's reader, every page rendered and not resized, each page's pixels out as a binary PPM
_OURS = """
import sys
from engine.documents import open_document
pdf, dpi, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
doc = open_document(pdf, dpi=dpi, text_layer="off", max_side=100_000, max_pixels=10**10)
for page in doc.pages(range(1, last + 1)):
    page.image.save(out, "PPM")  # Pillow's PPM writer: the header, then the rows as they are encoded
    del page
doc.close()
"""
# PyMuPDF as it comes (colour management on), each page's pixels out as a binary PPM
_PYMUPDF = """
import sys
import pymupdf
pdf, dpi, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
doc = pymupdf.open(pdf)
for number in range(min(last, doc.page_count)):
    pix = doc[number].get_pixmap(dpi=dpi, alpha=False)
    out.write(b"P6\\n%d %d\\n255\\n" % (pix.width, pix.height))
    out.write(pix.samples_mv)
    del pix
doc.close()
"""


def command(ctx: common.Context, side: str, pdftoppm: str, pdf, last: int, pages: int) -> list[str]:
    """The process of one run: ``side`` rasterising pages 1..``last`` of ``pdf`` to its stdout."""
    if side == "pdftoppm":
        return [pdftoppm, "-r", str(DPI), *(["-f", "1", "-l", str(last)] if last < pages else []), str(pdf)]
    return [ctx.python, "-c", _OURS if side == "ours" else _PYMUPDF, str(pdf), str(DPI), str(last)]


def timed(cmd: list[str], ctx: common.Context) -> tuple[float, int]:
    """Seconds from spawn to exit, and the bytes it wrote to stdout (read and thrown away as they come)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctx.env, cwd=common.ROOT,
                            pipesize=_pipe_bytes())
    assert proc.stdout is not None
    size = 0
    while chunk := proc.stdout.read(1 << 20):
        size += len(chunk)
    _, err = proc.communicate(timeout=600)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-800:]}")
    return seconds, size


@functools.cache
def _pipe_bytes() -> int:
    """PIPE_BYTES, or less where the system allows less (-1: the platform's default, as on macOS)."""
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            return min(PIPE_BYTES, int(f.read()))
    except (OSError, ValueError):
        return -1


def per_page(rows, side: str, pages: int, short: int = 2) -> list[float]:
    """Per round: (all pages − the first ``short``) ÷ (pages − ``short``), in seconds. Rows: round, side,
    pages rendered, seconds, bytes."""
    by: dict = {}
    for r, s, n, seconds, _size in rows:
        if s == side:
            by.setdefault(r, {})[n] = seconds
    return [(t[pages] - t[short]) / (pages - short) for r, t in sorted(by.items()) if {pages, short} <= t.keys()]


def run(ctx: common.Context) -> Result:
    from bench import documents

    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        return Result.skip(NUMBER, TITLE, TARGET, BASELINE_LABEL, f"pdftoppm not found: {INSTALL_HINT}")
    pages = 20  # quick too: with 10 pages, one process's start-up jitter moved the quick ratio between 0.66 and 1.23
    rounds = 5 if ctx.quick else 7
    pdf = documents.cached(ctx.tmp / "pdfs", pages, "mixed")
    for side in SIDES:  # warm-up: the page cache holds every program's files and the PDF for all alike
        timed(command(ctx, side, pdftoppm, pdf, 2, pages), ctx)
    rows, sizes = [], {}
    for r in range(rounds):
        order = SIDES[r % 3:] + SIDES[:r % 3]
        for last in ((2, pages) if r % 2 == 0 else (pages, 2)):
            for side in order:
                seconds, size = timed(command(ctx, side, pdftoppm, pdf, last, pages), ctx)
                rows.append((r, side, last, seconds, size))
                sizes[(side, last)] = size
        common.log(f"fig7 round {r}: " + ", ".join(f"{s} {rows[-3 + i][3]:.3f} s" for i, s in enumerate(order)))
    med = {side: common.median(per_page(rows, side, pages)) for side in SIDES}
    whole = {side: common.median([x[3] for x in rows if x[1] == side and x[2] == pages]) for side in SIDES}
    ratio = med["pdftoppm"] / med["ours"]
    default_ratio = med["pymupdf-default"] / med["ours"]
    raw = common.write_csv(ctx.path("fig7_rasterise_speed.csv"), ["round", "side", "pages", "seconds", "bytes"], rows)
    plot = ctx.path("fig7_rasterise_speed.png")
    _plot(plot, {side: per_page(rows, side, pages) for side in SIDES}, ratio, default_ratio)
    version = subprocess.run([pdftoppm, "-v"], capture_output=True, text=True).stderr.splitlines()[:1]
    same_output = len({sizes[(side, pages)] for side in SIDES}) == 1
    pipe = f"{_pipe_bytes() // 1024} KiB" if _pipe_bytes() > 0 else "the system's default size"
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"pdftoppm {med['pdftoppm'] * 1000:.0f} ms/page; PyMuPDF's defaults "
                 f"{med['pymupdf-default'] * 1000:.0f} ms/page",
        ours=f"{med['ours'] * 1000:.0f} ms/page → ratio {ratio:.2f} (PyMuPDF's defaults ÷ ours {default_ratio:.2f})",
        meets=ratio >= LIMIT,
        passes_check=ratio >= LIMIT - (QUICK_MARGIN if ctx.quick else MARGIN),
        margin=f"−{QUICK_MARGIN if ctx.quick else MARGIN}",
        note=f"{pages}-page A4 PDF (half text, half scans) at {DPI} DPI; {rounds} interleaved rounds, each side a "
             f"process writing binary PPMs to a pipe of {pipe}; marginal time per page = (all pages − pages 1–2) ÷ "
             f"{pages - 2}; whole process for all {pages} pages: "
             + ", ".join(f"{s} {whole[s]:.2f} s" for s in SIDES)
             + f"; bytes out for all pages: {sizes[('ours', pages)]}"
             + ("" if same_output else " (NOT THE SAME for every side: " + ", ".join(
                 f"{s} {sizes[(s, pages)]}" for s in SIDES) + ")")
             + "; " + (version[0] if version else "pdftoppm"),
        plots=[plot.name], raw=[raw.name],
        values={"ratio": ratio, "pymupdf_default_ratio": default_ratio, "per_page_s": med, "whole_s": whole,
                "pages": pages, "dpi": DPI, "same_output_size": same_output},
    )


def _plot(path, per_round: dict, ratio: float, default_ratio: float) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    styles = {"pdftoppm": ("#999999", "pdftoppm"), "pymupdf-default": ("#e0a030", "PyMuPDF's defaults (ICC on)"),
              "ours": ("#2f6ea8", "ours (engine.documents → Pillow)")}
    for side, values in per_round.items():
        colour, label = styles[side]
        ax.plot(range(len(values)), [v * 1000 for v in values], "o-", label=label, color=colour)
    ax.set_xlabel("round (interleaved; each run a fresh process)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("ms per page (marginal)")
    ax.set_ylim(0, None)
    ax.set_title(f"Fig. 7 — rasterising at {DPI} DPI: pdftoppm ÷ ours = {ratio:.2f} (target ≥ {LIMIT}); "
                 f"PyMuPDF defaults ÷ ours = {default_ratio:.2f}", fontsize=8)
    ax.legend(fontsize=8)
    common.save(fig, path)


def main(argv=None) -> int:
    return common.figure_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
