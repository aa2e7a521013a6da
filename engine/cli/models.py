"""``ocr-tray models``: list, download and remove models in the Hugging Face cache.

``ocr-tray models``             the presets: id, name, repo, licence, languages, size, downloaded or not
                                (from the cache alone; ``--remote`` asks the hub for the exact sizes)
``ocr-tray models pull ID``     download a preset id or repo id, with a progress line on stderr
``ocr-tray models rm ID``       remove it from the cache

Sizes are the real ones when the model is cached (bytes on disk) or, with ``--remote``, when the hub
answers (its file listing); otherwise the preset's approximate size, marked ``~``. Nothing but
``pull`` and ``--remote`` uses the network. Errors are one line on stderr
and a non-zero exit code (1 error, 130 cancelled with Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.human import duration, size_text
from engine.models import downloads
from engine.models.presets import DEFAULT_PRESET_ID, PRESETS

HELP = "list the model presets, download one (pull) or remove one (rm)"
BAR_WIDTH = 24


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "ocr-tray models             list the presets: size, licence, languages, downloaded or not\n"
        "ocr-tray models pull ID     download a preset id or repo id into the Hugging Face cache\n"
        "ocr-tray models rm ID       remove it from the cache"
    )
    p.add_argument("--json", action="store_true", help="list as JSON (one object per preset)")
    p.add_argument("--remote", action="store_true", help="ask the hub for the exact download sizes (network)")
    p.add_argument("--local", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    sub = p.add_subparsers(dest="action", metavar="{pull,rm}")
    pull = sub.add_parser("pull", help="download a model (preset id or repo id) into the Hugging Face cache")
    pull.add_argument("model", metavar="ID", help="a preset id or a Hugging Face repo id (organisation/name)")
    rm = sub.add_parser("rm", help="remove a model from the Hugging Face cache")
    rm.add_argument("model", metavar="ID", help="a preset id or a Hugging Face repo id")


def run(args: argparse.Namespace, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    action = getattr(args, "action", None)
    if action == "pull":
        return pull(args.model, err=err, out=out)
    if action == "rm":
        return remove(args.model, out=out, err=err)
    return list_models(out, as_json=getattr(args, "json", False), remote=getattr(args, "remote", False))


# ------------------------------------------------------------------ list
def list_models(out, as_json: bool = False, remote: bool = False) -> int:
    states = {p.repo_id: downloads.cache_state(p.repo_id) for p in PRESETS}
    sizes: dict[str, int | None] = {}
    wanted = [p.repo_id for p in PRESETS if not states[p.repo_id].downloaded]
    if remote and wanted and not downloads.is_offline():
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            sizes = dict(zip(wanted, pool.map(lambda r: downloads.remote_size(r, timeout=5.0), wanted)))
    rows: list[dict[str, Any]] = []
    for p in PRESETS:
        state = states[p.repo_id]
        remote_bytes = sizes.get(p.repo_id)
        if state.downloaded:
            size, exact = state.size_on_disk, True
        elif remote_bytes is not None:
            size, exact = remote_bytes, True
        else:
            size, exact = p.approx_bytes, False
        rows.append({
            "id": p.id, "label": p.label, "repo_id": p.repo_id, "licence": p.licence, "languages": p.languages,
            "size": size, "size_exact": exact, "downloaded": state.downloaded, "partial": state.partial,
            "default": p.id == DEFAULT_PRESET_ID, "path": str(state.path) if state.path else None,
        })
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), file=out)
        return 0
    header = ("ID", "MODEL", "REPO", "LICENCE", "LANGUAGES", "SIZE", "DOWNLOADED")
    table: list[tuple[str, ...]] = [header] + [
        (
            r["id"] + (" *" if r["default"] else ""),
            r["label"],
            r["repo_id"],
            r["licence"],
            r["languages"],
            ("" if r["size_exact"] else "~") + size_text(r["size"]),
            "yes" if r["downloaded"] else ("partly" if r["partial"] else "no"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip(), file=out)
    print(f"\n* default. Cache: {downloads.hub_cache_dir()}", file=out)
    return 0


# ------------------------------------------------------------------ pull
class ProgressLine:
    """One updating line on a terminal (``\\r``); on a pipe, a line every few seconds."""

    def __init__(self, stream, interval_s: float | None = None) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval_s if interval_s is not None else (0.1 if self.tty else 5.0)
        self._last = float("-inf")
        self._width = 0
        self._lock = threading.Lock()
        self.lines = 0

    def update(self, p: downloads.DownloadProgress) -> None:
        """Called from the download's threads."""
        with self._lock:
            now = time.monotonic()
            if p.phase is not downloads.Phase.DONE and now - self._last < self.interval:
                return
            self._last = now
            text = format_progress(p)
            if self.tty:
                self.stream.write("\r" + text.ljust(self._width))
                self._width = len(text)
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
            self.lines += 1

    def end(self) -> None:
        with self._lock:
            if self.tty and self._width:
                self.stream.write("\n")
                self.stream.flush()
                self._width = 0


def format_progress(p: downloads.DownloadProgress) -> str:
    if p.phase is downloads.Phase.CHECKING:
        return f"{p.repo_id}: checking the hub…"
    fraction = p.fraction
    if fraction is None:
        return f"{p.repo_id}: {size_text(p.done_bytes)}"
    filled = int(BAR_WIDTH * fraction)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    text = (f"[{bar}] {fraction * 100:5.1f}%  {size_text(p.done_bytes)} / "
            f"{size_text(p.total_bytes)}")
    if p.speed_bps > 0:
        text += f"  {size_text(p.speed_bps)}/s"
    if p.eta_s is not None and p.phase is not downloads.Phase.DONE:
        text += f"  ETA {duration(p.eta_s)}"
    return text


def pull(source: str, err=None, out=None) -> int:
    err = err or sys.stderr
    out = out or sys.stdout
    try:
        repo_id = downloads.resolve_repo_id(source)
    except downloads.DownloadError as e:
        print(f"error: {e}", file=err, flush=True)
        return 1
    line = ProgressLine(err)
    cancel = threading.Event()
    result: dict = {}

    def work():
        try:
            result["path"] = downloads.download(repo_id, line.update, cancel)
        except BaseException as e:  # handed to the main thread
            result["error"] = e

    # The download runs in a worker so Ctrl-C in the main thread can set the cancel event
    # (the library's own worker threads would otherwise keep fetching).
    thread = threading.Thread(target=work, name="ocr-tray pull", daemon=True)
    t0 = time.monotonic()
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        cancel.set()
        thread.join(30)
    error = result.get("error")
    line.end()
    if isinstance(error, downloads.DownloadCancelled) or (cancel.is_set() and "path" not in result):
        print(f"cancelled: {repo_id} (finished files are kept; pull again to resume)", file=err, flush=True)
        return 130
    if error is not None:
        message = str(error) if isinstance(error, downloads.DownloadError) else f"{type(error).__name__}: {error}"
        print(f"error: {' '.join(message.split())}", file=err, flush=True)
        return 1
    print(f"{repo_id}: ready in {result['path']} ({time.monotonic() - t0:.1f} s)", file=out, flush=True)
    return 0


# ------------------------------------------------------------------ rm
def remove(source: str, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        repo_id = downloads.resolve_repo_id(source)
        if not downloads.repo_cache_folder(repo_id).exists():
            print(f"error: {repo_id} is not in the cache ({downloads.hub_cache_dir()})", file=err, flush=True)
            return 1
        freed = downloads.delete_from_cache(repo_id)
    except downloads.DownloadError as e:
        print(f"error: {e}", file=err, flush=True)
        return 1
    except OSError as e:
        print(f"error: could not remove {source}: {e}", file=err, flush=True)
        return 1
    print(f"removed {repo_id} from the cache ({size_text(freed)} freed)", file=out, flush=True)
    return 0
