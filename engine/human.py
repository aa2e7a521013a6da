"""Numbers and errors as a person reads them: one helper each, used by every view and command."""

from __future__ import annotations

from collections.abc import Iterable

ONE_LINE_LIMIT = 200


def size_text(n: float) -> str:
    """Bytes in decimal units, as Finder prints them: ``999 bytes``, ``12.3 KB``, ``812 MB``, ``1.9 GB``."""
    n = float(n)
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(n)} bytes"


def duration(seconds: float) -> str:
    """``0:42``, ``4:05``, ``1:02:03``."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def one_line(e: BaseException | str, limit: int = ONE_LINE_LIMIT) -> str:
    """An exception (or any text) as one line of at most ``limit`` characters; the type name when empty."""
    text = " ".join(str(e).split())
    if not text and isinstance(e, BaseException):
        text = type(e).__name__
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


NETWORK_WORDS = (
    "name or service not known", "temporary failure in name resolution", "nodename nor servname",
    "network is unreachable", "no route to host", "connection refused", "connection reset", "timed out",
    "failed to establish a new connection", "the hub cannot be reached", "getaddrinfo failed",
)
DISK_FULL_WORDS = ("no space left on device", "disk quota exceeded", "database or disk is full")
PERMISSION_WORDS = ("permission denied", "operation not permitted", "read-only file system")


def plain_problem(error: BaseException | str) -> str | None:
    """What a technical error means in words a person knows — ``No internet connection``, ``The disk is
    full``, ``Permission denied`` — or None when it is none of these (then its own one line is shown)."""
    errno_value = getattr(error, "errno", None)
    text = str(error).lower()
    if errno_value in (28, 122) or any(w in text for w in DISK_FULL_WORDS):
        return "The disk is full"
    if errno_value in (1, 13, 30) or any(w in text for w in PERMISSION_WORDS):
        return "Permission denied"
    if any(w in text for w in NETWORK_WORDS):
        return "No internet connection"
    return None


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 page``, ``3 pages``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def parse_ranges(text: str, limit: int = 100_000) -> frozenset[int]:
    """``1-3,7`` -> {1, 2, 3, 7}: 1-based page numbers; ValueError (one line) for anything else."""
    pages: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"{part!r} is not a page or a range like 2-5")
        a, b = int(first), int(last) if dash else int(first)
        if a < 1 or b < a or b > limit:
            raise ValueError(f"{part!r} is not a range of pages from 1 up")
        pages.update(range(a, b + 1))
    if not pages:
        raise ValueError("no pages given")
    return frozenset(pages)


def ranges(numbers: Iterable[int]) -> str:
    """1,2,3,5 -> ``1–3, 5``."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}–{b}" if b != a else str(a) for a, b in runs)
