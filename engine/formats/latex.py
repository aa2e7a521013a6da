"""A formula answer → ``Page`` with one display ``Formula`` (the ``Formula Recognition:`` tasks).

PaddleOCR-VL answers in LaTeX, sometimes wrapped in ``\\[ … \\]`` or ``\\( … \\)``; GLM-OCR
in LaTeX that its own SDK unwraps from ``$$``, ``\\[`` or ``\\(`` and shows as display math
(``glmocr/postprocess/result_formatter.py``). So: one outer wrapper (``$$``, ``\\[ \\]``,
``\\( \\)`` or ``$``) is stripped, a cut answer loses only its missing closing wrapper, and the
formula is shown as display math. An answer holding several delimited formulas, or text
around one, is read as Markdown.
"""

from __future__ import annotations

import re

from engine.formats import markdown
from engine.formats.document import Formula, Page

_WRAPPERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_DELIMITER = re.compile(r"(?<!\\)\$\$|(?<!\\)\\[\[\]()]|(?<!\\)\$")


def convert(raw: str) -> Page:
    latex = _unwrap(raw.strip())
    if latex is None:
        return markdown.convert(raw)
    return Page((Formula(latex),)) if latex else Page()


def _unwrap(text: str) -> str | None:
    for left, right in _WRAPPERS:
        if text.startswith(left):
            inner = text[len(left):]
            if inner.endswith(right) and len(inner) >= len(right):
                inner = inner[:len(inner) - len(right)]
            return None if _DELIMITER.search(inner) else inner.strip()
    return None if _DELIMITER.search(text) else text
