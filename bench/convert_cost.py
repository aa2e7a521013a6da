"""What turning model answers into structured documents costs: ``python -m bench.convert_cost [--pages N]``.

Builds a synthetic document of model answers in every format the presets produce (DeepSeek-OCR
grounded Markdown, LightOnOCR-2 Markdown with HTML tables and math, PaddleOCR-VL text, OTSL
tables and chart tables, GLM-OCR Markdown and HTML tables), about 1,500 tokens a page (taken
as ~4 characters a token), then times ``engine.formats.convert`` and every renderer (text,
Markdown, HTML, JSON, CSV of each table, and the whole-document Markdown/HTML/JSON export).
Prints the total and the per-page cost; the median of a few runs after a warm-up.

The target is a conversion cost of at most 2 % of the time the model took to write the
answers. That time is not known here, so the ratio is shown for an assumed 30 s a page.
Figure 21 (``bench/fig21_convert_cost.py``, ``python -m bench --only 21``) measures the same
answers against the bench model's own generation time, in the same run; this script is its
recorded document and the quick look without a model.
"""

from __future__ import annotations

import argparse
import statistics
import time

from engine.formats import OutputFormat, Table, convert, render

CHARS_PER_PAGE = 6000  # ≈ 1,500 tokens
ASSUMED_GENERATION_S = 30.0
TARGET_SHARE = 0.02
WORDS = [
    "invoice", "receipt", "letter", "total", "amount", "date", "account", "reference", "customer", "address",
    "payment", "order", "quantity", "price", "delivery", "tax", "number", "page", "section", "summary", "report",
    "results", "method", "table", "figure", "value",
]


class _Words:
    def __init__(self, seed: int) -> None:
        self.x = seed * 7919 + 1

    def take(self, count: int) -> str:
        out = []
        for _ in range(count):
            self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
            out.append(WORDS[self.x % len(WORDS)])
        return " ".join(out)


def _fill(parts: list[str], make, sep: str = "\n\n") -> str:
    while len(sep.join(parts)) < CHARS_PER_PAGE:
        parts.append(make(len(parts)))
    return sep.join(parts)


def deepseek_page(w: _Words) -> str:
    def block(i: int) -> str:
        y = (i * 37) % 900
        kind = ("sub_title", "text", "text", "equation", "table")[i % 5]
        body = {"sub_title": f"## {w.take(4)}", "text": w.take(60),
                "equation": "\\[ S_n = \\sum_{k=0}^{n} \\frac{x^k}{k!} \\]",
                "table": "<table>" + "".join(f"<tr><td>{w.take(2)}</td><td>{i}</td><td>{w.take(1)}</td></tr>"
                                            for i in range(6)) + "</table>"}[kind]
        return f"<|ref|>{kind}<|/ref|><|det|>[[100, {y}, 880, {y + 40}]]<|/det|>\n{body}"
    return _fill([], block)


def lighton_page(w: _Words) -> str:
    def block(i: int) -> str:
        if i % 6 == 0:
            return f"# {w.take(5)}"
        if i % 6 == 3:
            return "$$\n\\mathrm{MAE} = \\frac{1}{n} \\sum_{i} |y_i - \\hat{y}_i|\n$$"
        if i % 6 == 5:
            rows = "".join(f"<tr><td>{w.take(2)}</td><td>{i}.{i}</td></tr>" for i in range(8))
            return f"<table><thead><tr><th>Name</th><th>Value</th></tr></thead><tbody>{rows}</tbody></table>"
        if i % 6 == 4:
            return "\n".join(f"- {w.take(8)}" for _ in range(4))
        return f"{w.take(50)} with $x_{i}$ inline."
    return _fill([], block)


def paddle_text_page(w: _Words) -> str:
    return _fill([], lambda i: "\n".join(w.take(12) for _ in range(4)))


def otsl_page(w: _Words) -> str:
    header = "<fcel>Region<fcel>2023<lcel><fcel>2024<lcel><nl><ucel><fcel>H1<fcel>H2<fcel>H1<fcel>H2<nl>"
    row = lambda i: f"<fcel>{w.take(2)}<fcel>{i}<fcel>{i + 1}<fcel>{i + 2}<fcel>{i + 3}<nl>"  # noqa: E731
    return _fill([header], row, sep="")


def chart_page(w: _Words) -> str:
    return _fill(["Month | Sales | Cost | Margin"], lambda i: f"{w.take(1)} {i} | {i * 3} | {i * 2} | {i}", sep="\n")


def glm_page(w: _Words) -> str:
    def block(i: int) -> str:
        if i % 4 == 3:
            rows = "".join(f'<tr><td rowspan="2">{w.take(1)}</td><td>{w.take(3)}</td></tr><tr><td>{i}</td></tr>'
                           for _ in range(4))
            return f'<table border="1">{rows}</table>'
        if i % 4 == 1:
            return f"```python\nprint({i})\n```"
        return f"## {w.take(3)}\n\n{w.take(40)}"
    return _fill([], block)


KINDS = (
    (OutputFormat.GROUNDED_MARKDOWN, deepseek_page),
    (OutputFormat.MARKDOWN, lighton_page),
    (OutputFormat.PLAIN, paddle_text_page),
    (OutputFormat.OTSL, otsl_page),
    (OutputFormat.PIPE_TABLE, chart_page),
    (OutputFormat.MARKDOWN, glm_page),
)


def answers(pages: int) -> list[tuple[OutputFormat, str]]:
    out = []
    for n in range(pages):
        fmt, make = KINDS[n % len(KINDS)]
        out.append((fmt, make(_Words(n))))
    return out


def run_once(document: list[tuple[OutputFormat, str]]) -> float:
    start = time.perf_counter()
    sections = []
    for n, (fmt, raw) in enumerate(document):
        page = convert(raw, fmt)
        render.to_text(page)
        render.to_markdown(page)
        render.to_html(page)
        render.to_json(page)
        for block in page.blocks:
            if isinstance(block, Table):
                render.table_to_csv(block)
        sections.append((f"Page {n + 1}", page))
    render.document_to_markdown(sections)
    render.document_to_html(sections)
    render.document_to_json(sections)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.convert_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    document = answers(args.pages)
    chars = sum(len(raw) for _, raw in document)
    run_once(document[: len(KINDS)])
    times = [run_once(document) for _ in range(args.runs)]
    total = statistics.median(times)
    per_page = total / args.pages
    share = per_page / ASSUMED_GENERATION_S
    print(f"document: {args.pages} pages, {chars:,} characters (≈{chars // 4:,} tokens), {len(KINDS)} answer kinds")
    runs = ", ".join(f"{t * 1000:.0f}" for t in times)
    print(f"convert + render, median of {args.runs} runs: {total * 1000:.1f} ms in all, "
          f"{per_page * 1000:.2f} ms a page (runs: {runs} ms)")
    print(f"at an assumed {ASSUMED_GENERATION_S:.0f} s of generation a page: {share:.4%} of the model's time "
          f"(target ≤ {TARGET_SHARE:.0%}: {'met' if share <= TARGET_SHARE else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
