"""Model answers as structured documents: ``convert(raw, fmt)`` reads an OCR model's raw answer into a ``Page``.

Pure Python, no Qt and no MLX. The pieces:

- ``document``: the document model (``Page`` of ``Paragraph``, ``Heading``, ``ListItem``,
  ``Table`` of ``Cell``, ``Formula``, ``Code``, plus grounding ``Box``\\ es);
- one converter module per answer format (``plain``, ``markdown``, ``html_table``, ``otsl``,
  ``latex``, ``grounding``, ``pipe_table``), each a ``convert(raw) -> Page`` that never raises,
  whatever the text, including answers cut mid-token by a token limit or a cancel;
- ``render``: a ``Page`` as text, Markdown, HTML, CSV/TSV or JSON;
- ``tasks``: which prompt asks each preset's model for which task, and its answer's format.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.formats import grounding, html_table, latex, markdown, otsl, pipe_table, plain
from engine.formats.document import Block, Box, Cell, Code, Formula, Heading, ListItem, Page, Paragraph, Table
from engine.formats.output_format import OutputFormat
from engine.formats.render import (
    document_to_html,
    document_to_json,
    document_to_markdown,
    document_to_text,
    table_to_csv,
    to_html,
    to_json,
    to_markdown,
    to_text,
)
from engine.formats.tasks import CUSTOM_TASK_OUTPUT, TASKS, Task, task, tasks_for

CONVERTERS: dict[OutputFormat, Callable[[str], Page]] = {
    OutputFormat.PLAIN: plain.convert,
    OutputFormat.MARKDOWN: markdown.convert,
    OutputFormat.OTSL: otsl.convert,
    OutputFormat.HTML: html_table.convert,
    OutputFormat.LATEX: latex.convert,
    OutputFormat.GROUNDED_MARKDOWN: grounding.convert,
    OutputFormat.PIPE_TABLE: pipe_table.convert,
}


def convert(raw: str, fmt: OutputFormat | str) -> Page:
    """``raw`` read as ``fmt`` (an ``OutputFormat`` or its value; ValueError for an unknown one).

    Never raises for any ``raw``: the converters are written and fuzzed not to, and should one
    fail all the same, the answer is shown as plain text rather than lost.
    """
    converter = CONVERTERS[OutputFormat(fmt)]
    try:
        return converter(raw)
    except Exception:
        return plain.convert(raw)


__all__ = [
    "CONVERTERS", "CUSTOM_TASK_OUTPUT", "TASKS", "Block", "Box", "Cell", "Code", "Formula", "Heading", "ListItem",
    "OutputFormat", "Page", "Paragraph", "Table", "Task", "convert", "document_to_html", "document_to_json",
    "document_to_markdown", "document_to_text", "table_to_csv", "task", "tasks_for", "to_html", "to_json",
    "to_markdown", "to_text",
]
