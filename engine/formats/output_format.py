"""The formats the OCR models answer in; each has a converter to a ``Page`` (see ``engine.formats.convert``).

Which task of which model answers in which format, and the sources for it, are in
``engine.formats.tasks`` and docs/adr/0013-tasks-and-output-formats.md.
"""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    PLAIN = "plain"  # text; blank lines separate paragraphs
    MARKDOWN = "markdown"  # Markdown with pipe or HTML tables and LaTeX math
    OTSL = "otsl"  # a table in OTSL tags: <fcel> <ecel> <lcel> <ucel> <xcel> <nl>
    HTML = "html"  # an HTML <table> (text around it is kept as paragraphs)
    LATEX = "latex"  # one formula, possibly wrapped in $$ … $$ or \[ … \]
    GROUNDED_MARKDOWN = "grounded-markdown"  # DeepSeek-OCR: Markdown with <|ref|>…<|det|>[[…]]<|/det|> tags
    PIPE_TABLE = "pipe-table"  # a chart read as a table: one row a line, cells split by "|", first row the header
