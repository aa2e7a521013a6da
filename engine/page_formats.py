"""Finished pages as documents: which task a job asks for, each page's answer format, and the exports every
client shares (the window's Copy and Save As, ``ocr-tray ocr --format``).

- ``resolve_task(options, spec)``: the job's prompt and answer format from its task (``OcrOptions.task``)
  and the model (``engine.formats.tasks``); the job controller applies it to every submission.
- ``page_output(page)``: the format of a page's raw text (a text layer is plain text).
- ``convert_page(page)``: the page as an ``engine.formats.Page`` (never raises).
- ``page_record(page)``: a page as JSON, raw and converted: ``ocr-tray ocr --format json`` and the
  ``.json`` export.
- ``export(pages, kind)``: a document of pages as plain text, Markdown, HTML, JSON or CSV.

Pure Python: no Qt, no MLX. The history keeps the raw text and the format of each page
(``PageResult.text``, ``PageResult.output``); everything shown is converted from those.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from html import escape
from typing import Any

from .documents import display_name
from .formats import (
    CUSTOM_TASK_OUTPUT,
    OutputFormat,
    Page,
    Table,
    convert,
    document_to_html,
    document_to_json,
    document_to_markdown,
    document_to_text,
    table_to_csv,
    tasks_for,
    to_html,
    to_json,
    to_markdown,
    to_text,
)
from .jobs import OcrOptions, PageResult, PageSource
from .models.presets import ModelSpec

TEXT_LAYER_LABEL = "(text layer)"
KINDS = ("plain", "txt", "md", "html", "json", "csv")  # what ``export`` writes
HTML_STYLE = """body { font: 15px/1.45 -apple-system, "Helvetica Neue", Arial, sans-serif; margin: 2em auto;
       max-width: 52em; padding: 0 1em; color: #1d1d1f; }
h2 { font-size: 0.85em; color: #6e6e73; font-weight: 600; margin-top: 2.4em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #b8b8bd; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f2f2f5; }
.formula { font-family: Menlo, Consolas, monospace; color: #1f5a8a; background: #f4f7fb; }
div.formula { padding: 0.5em 1em; margin: 0.6em 0; white-space: pre-wrap; }
pre { background: #f5f5f7; padding: 0.6em 1em; overflow-x: auto; }"""
CLIPBOARD_TABLE = '<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">'


# ------------------------------------------------------------------ tasks
def resolve_task(options: OcrOptions, spec: ModelSpec | None) -> OcrOptions:
    """``options`` with the prompt and the answer format of its task for the model ``spec``.

    Already resolved options (``output`` set: a retry, a resume) are returned as they are. An explicit
    prompt (a custom model's, ``--prompt``) is kept, and its format is that of the model's task with this
    prompt, else ``CUSTOM_TASK_OUTPUT``. Otherwise the task named by ``options.task`` is used, or the
    model's default task when it has no such task; a model without tasks (a custom model) answers
    ``CUSTOM_TASK_OUTPUT`` to its own prompt.
    """
    if options.output or spec is None:
        return options
    tasks = tasks_for(spec.preset_id)
    if options.prompt is None and tasks:
        chosen = next((t for t in tasks if t.id == options.task), tasks[0])
        if chosen is not tasks[0] or spec.prompt == tasks[0].prompt:  # else the spec carries a prompt of its own
            return replace(options, prompt=chosen.prompt, task=chosen.id, output=chosen.output.value)
    prompt = options.prompt if options.prompt is not None else spec.prompt
    match = next((t for t in tasks if t.prompt == prompt), None)
    if match is None:
        return replace(options, task=None, output=CUSTOM_TASK_OUTPUT.value)
    return replace(options, task=match.id, output=match.output.value)


# ------------------------------------------------------------------ one page
def page_output(page: PageResult) -> OutputFormat:
    """The format of ``page.text``: plain text for a text layer (and a failed page), else the job's answer
    format; Markdown when it is not known (a page stored before formats were, or a stand-in)."""
    if page.source is not PageSource.MODEL:
        return OutputFormat.PLAIN
    try:
        return OutputFormat(page.output)
    except ValueError:
        return CUSTOM_TASK_OUTPUT


def with_output(page: PageResult, output: str) -> PageResult:
    """``page`` with its format filled in (a text layer's is plain) when the engine left it unset."""
    if page.output:
        return page
    return replace(page, output=OutputFormat.PLAIN.value if page.source is not PageSource.MODEL else output)


def convert_page(page: PageResult) -> Page:
    return convert(page.text, page_output(page))


def page_heading(page: PageResult) -> str:
    """``name · page i of n``, with ``(text layer)`` for a page read from the PDF's own text."""
    label = f" {TEXT_LAYER_LABEL}" if page.source is PageSource.TEXT_LAYER else ""
    return f"{display_name(page.path)} · page {page.page} of {page.pages}{label}"


def page_record(page: PageResult, converted: Page | None = None) -> dict[str, Any]:
    """The page as JSON: ``PageResult.as_json`` with ``text`` converted to plain text, ``raw`` the model's
    answer as it came, ``format``, and the converted ``blocks`` and grounding ``boxes``."""
    converted = convert_page(page) if converted is None else converted
    structured = to_json(converted)
    return {**page.as_json(), "text": to_text(converted), "raw": page.text, "format": page_output(page).value,
            "model": page.model, "first_token_seconds": round(page.first_token_seconds, 4),
            "tokens_per_second": round(page.tokens_per_second, 2),
            "blocks": structured["blocks"], "boxes": structured["boxes"]}


# ------------------------------------------------------------------ documents
def export(pages: Sequence[PageResult], kind: str, headings: Sequence[str] | None = None,
           converted: Sequence[Page] | None = None) -> str:
    """``pages`` as one document of ``kind`` (``KINDS``):

    - ``plain``: the text alone, pages separated by a blank line (what Copy puts on the clipboard);
    - ``txt``: each page under a ``--- heading ---`` line; ``md``: under ``## heading``; one page alone has
      no heading in either;
    - ``html``: a whole HTML document, a section per page; ``json``: ``{"version", "pages": [...]}`` with
      each page's ``heading`` and ``page_record`` fields;
    - ``csv``: the one table of the pages (ValueError when there is not exactly one: see ``only_table``).

    ``headings`` default to ``page_heading``; ``converted`` to ``convert_page`` of each page.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown export kind {kind!r}; known: {', '.join(KINDS)}")
    docs = [convert_page(p) for p in pages] if converted is None else list(converted)
    titles = [page_heading(p) for p in pages] if headings is None else list(headings)
    if kind == "csv":
        table = only_table(docs)
        if table is None:
            raise ValueError("a CSV export needs exactly one table in the pages")
        return table_to_csv(table)
    if kind == "json":
        body = document_to_json(list(zip(titles, docs)))
        for out, page, doc in zip(body["pages"], pages, docs):
            out.update({k: v for k, v in page_record(page, doc).items() if k not in ("blocks", "boxes")})
        return json.dumps(body, ensure_ascii=False, indent=1) + "\n"
    if kind == "html":
        return html_document(document_to_html(list(zip(titles, docs))), _title(pages))
    if not docs:
        return ""
    if kind == "plain" or len(docs) == 1:
        if kind == "md":
            return to_markdown(docs[0]) + "\n"
        return "\n\n".join(to_text(d) for d in docs) + "\n"
    if kind == "md":
        return document_to_markdown(list(zip(titles, docs))) + "\n"
    return document_to_text([(f"--- {t} ---", d) for t, d in zip(titles, docs)]) + "\n"


def only_table(docs: Sequence[Page]) -> Table | None:
    """The table, when the pages hold exactly one (a CSV export holds one table)."""
    found = [b for d in docs for b in d.blocks if isinstance(b, Table)]
    return found[0] if len(found) == 1 else None


def html_document(body: str, title: str = "OCR Tray") -> str:
    """A whole HTML document around a fragment of ``to_html`` output (opens in a browser, Word, Pages)."""
    return f"{html_head(title)}{body}\n</body>\n</html>\n"


def html_head(title: str = "OCR Tray") -> str:
    """An HTML document up to its ``<body>`` (HTML needs no end tags after it: a stream may stop anywhere)."""
    return (f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>\n{HTML_STYLE}\n</style>\n</head>\n<body>\n")


def clipboard_html(docs: Sequence[Page]) -> str:
    """The pages as HTML for the clipboard: tables with borders spelled out on the table itself, as word
    processors and spreadsheets read pasted HTML without a style sheet."""
    body = "\n".join(to_html(d) for d in docs).replace("<table>", CLIPBOARD_TABLE)
    return f'<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>'


def clipboard_markdown(docs: Sequence[Page]) -> str:
    return "\n\n".join(to_markdown(d) for d in docs) + "\n"


def _title(pages: Sequence[PageResult]) -> str:
    names = list(dict.fromkeys(display_name(p.path) for p in pages))
    return names[0] if len(names) == 1 else "OCR Tray"
