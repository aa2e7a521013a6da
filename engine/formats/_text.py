"""Small text helpers shared by the converters: paragraph splitting, display-math unwrapping, entities."""

from __future__ import annotations

import html
import re

_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_DISPLAY_WRAPPERS = (("$$", "$$"), ("\\[", "\\]"))


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def paragraphs(text: str) -> list[str]:
    """Blank-line separated chunks, each with its lines' trailing spaces removed; empty chunks dropped."""
    chunks = _BLANK_LINES.split(normalise_newlines(text))
    out = []
    for chunk in chunks:
        lines = [line.rstrip() for line in chunk.split("\n")]
        joined = "\n".join(lines).strip("\n")
        if joined.strip():
            out.append(joined)
    return out


def unwrap_display_math(text: str) -> str | None:
    """The LaTeX inside ``$$ … $$`` or ``\\[ … \\]`` when the whole text is one such span, else None."""
    s = text.strip()
    for left, right in _DISPLAY_WRAPPERS:
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            inner = s[len(left):len(s) - len(right)]
            if left not in inner and right not in inner:
                return inner.strip()
    return None


def decode_entities(text: str) -> str:
    """``&gt;`` → ``>`` and the like; only complete (``;``-terminated) references, so ``a & b`` stays."""
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
