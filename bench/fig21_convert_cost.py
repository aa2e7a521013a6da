"""Figure 21: turning model answers into documents costs next to nothing beside writing them.

The recorded answers of ``bench.convert_cost`` (a 200-page document, ≈1,540 tokens a page, in
every format the presets produce: DeepSeek-OCR grounded Markdown, LightOnOCR-2 Markdown with
HTML tables and math, PaddleOCR-VL text, OTSL tables and chart tables, GLM-OCR Markdown with
HTML tables) are converted (``engine.formats.convert``) and rendered by every renderer and the
whole-document exports, in this process: the median of a few runs after a warm-up.

The baseline is the time the model takes to write those answers. No real OCR model runs here,
so each page's generation time is built from the bench model measured in the same run through
the app's own command line (``ocr-tray ocr --format json`` on a scanned page): its time to the
first token plus the page's tokens at its decoding speed. The random bench model is a small
model on the CPU; a real model on a Mac decodes at a similar order of speed (tens to a couple
of hundred tokens a second), and the note also gives the share at 200 tokens/s, a fast one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from bench import common, convert_cost
from bench.common import Result

NUMBER = 21
TITLE = "Converting a 200-page document's answers ÷ the time the model took to write them"
TARGET = "≤ 2 %"
BASELINE_LABEL = "generation time of the same answers (bench model, measured in this run)"
LIMIT = 0.02
MARGIN = 0.005  # --check: a share this far over the target still passes (timing noise on a shared machine)
CHARS_PER_TOKEN = 4  # the recorded answers' tokens, as convert_cost counts them
FAST_TOKENS_PER_S = 200.0  # the note's "fast model" (a 1B model on an M-series GPU decodes at about this)


def model_speed(ctx: common.Context, max_tokens: int) -> dict:
    """The bench model's time to first token and decoding speed, read through ``ocr-tray ocr --format json``."""
    from engine.testing import samples

    png = samples.write_png(ctx.tmp / "speed.png", 64, 64)
    cmd = [ctx.python, "-m", "desktop.main", "ocr", str(png), "--model", str(ctx.model("bench")), "--max-tokens",
           str(max_tokens), "--format", "json", "--standalone", "--no-memory-check", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=ctx.env, cwd=common.ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"the bench model did not read the page ({proc.returncode}): {proc.stderr[-1500:]}")
    page = json.loads(proc.stdout.strip().splitlines()[-1])
    if not page["generation_tokens"] or not page["tokens_per_second"]:
        raise RuntimeError(f"the bench model wrote no tokens: {page}")
    return {"first_token_s": page["first_token_seconds"], "tokens_per_s": page["tokens_per_second"],
            "generation_tokens": page["generation_tokens"], "page_seconds": page["seconds"]}


def run(ctx: common.Context) -> Result:
    pages = 40 if ctx.quick else 200
    runs = 3 if ctx.quick else 5
    document = convert_cost.answers(pages)
    convert_cost.run_once(document[: len(convert_cost.KINDS)])  # warm-up
    times = [convert_cost.run_once(document) for _ in range(runs)]
    convert_s = statistics.median(times)
    tokens = [len(raw) / CHARS_PER_TOKEN for _, raw in document]
    speed = model_speed(ctx, 16 if ctx.quick else 48)
    generation_s = sum(speed["first_token_s"] + t / speed["tokens_per_s"] for t in tokens)
    fast_s = sum(t / FAST_TOKENS_PER_S for t in tokens)
    share = convert_s / generation_s
    fast_share = convert_s / fast_s
    raw = common.write_json(ctx.path("fig21_convert_cost.json"), {
        "pages": pages, "characters": sum(len(r) for _, r in document), "tokens": sum(tokens),
        "convert_runs_s": times, "convert_s": convert_s, "model": speed, "generation_s": generation_s,
        "share": share, "fast_tokens_per_s": FAST_TOKENS_PER_S, "fast_generation_s": fast_s, "fast_share": fast_share,
    })
    plot = ctx.path("fig21_convert_cost.png")
    _plot(plot, convert_s, generation_s, fast_s, pages)
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"{generation_s:.0f} s for {pages} pages ({speed['tokens_per_s']:.0f} tokens/s, first token "
                 f"{speed['first_token_s'] * 1000:.0f} ms)",
        ours=f"{convert_s * 1000:.0f} ms ({convert_s / pages * 1000:.2f} ms a page) → {share:.3%}",
        meets=share <= LIMIT,
        passes_check=share <= LIMIT + MARGIN,
        margin=f"+{MARGIN:.1%}",
        note=f"{pages} recorded answers in 6 formats, {sum(tokens):,.0f} tokens; convert + every renderer + the "
             f"whole-document exports, median of {runs} runs ({', '.join(f'{t * 1000:.0f}' for t in times)} ms). "
             f"Generation time from the bench model measured in this run; at {FAST_TOKENS_PER_S:.0f} tokens/s "
             f"(a fast real model, no prefill counted) the share would be {fast_share:.3%}.",
        plots=[plot.name], raw=[raw.name],
        values={"share": share, "fast_share": fast_share, "convert_s": convert_s, "generation_s": generation_s,
                "ms_per_page": convert_s / pages * 1000},
    )


def _plot(path, convert_s: float, generation_s: float, fast_s: float, pages: int) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 2.8))
    rows = [("model writes the answers\n(bench model, this run)", generation_s, "#9aa7b8"),
            (f"model writes them at\n{FAST_TOKENS_PER_S:.0f} tokens/s", fast_s, "#c3cbd6"),
            ("convert + render them", convert_s, "#2f6ea8")]
    for i, (label, seconds, colour) in enumerate(rows):
        ax.barh(i, seconds, color=colour)
        ax.text(seconds, i, f"  {seconds:.2f} s" if seconds < 10 else f"  {seconds:.0f} s", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(min(r[1] for r in rows) / 3, max(r[1] for r in rows) * 12)  # room for the labels
    ax.set_xlabel(f"seconds for {pages} pages (log)")
    ax.set_title(f"Fig. 21 — conversion is {convert_s / generation_s:.3%} of generation (target ≤ {LIMIT:.0%})",
                 fontsize=9)
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    _, rest = p.parse_known_args(argv)
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
