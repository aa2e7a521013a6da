"""``ocr-tray status``: what the running app's engine is doing (state, model, memory, queue, idle deadline)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

HELP = "show the running app's model, memory and queue (through its local API)"
NOT_RUNNING = "OCR Tray is not running (or its local API is off)"


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    p.add_argument("--json", action="store_true", help="print the status as one JSON object")


def ask_running_app(call: Callable[[Any], dict], err: IO[str]) -> dict | None:
    """``call(client)`` on the running app's local API; None, with one line on ``err``, when no app answers."""
    from engine.api.client import ApiClient, ApiError, Unreachable

    client = ApiClient.find()
    if client is None:
        print(NOT_RUNNING, file=err)
        return None
    try:
        with client:
            return call(client)
    except (ApiError, Unreachable) as e:
        print(f"error: {e}", file=err)
        return None


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    from engine.human import size_text

    out = out or sys.stdout
    s = ask_running_app(lambda client: client.status(), err or sys.stderr)
    if s is None:
        return 1
    if getattr(args, "json", False):
        print(json.dumps(s, ensure_ascii=False), file=out)
        return 0
    lines = [f"state: {s['state']}" + (" (unload after the current job)" if s["unload_pending"] else ""),
             f"model: {s['model']}", f"memory mode: {s['mode']}",
             f"memory: RSS {size_text(s['memory']['rss'])}, MLX active {size_text(s['memory']['mlx_active'])}",
             f"queue: {s['queue']} waiting", f"models loaded since start: {s['loads']}"]
    if s.get("deadline"):
        lines.append(f"unloads at: {time.strftime('%H:%M:%S', time.localtime(s['deadline']))} "
                     f"(in {max(0, int(s['deadline_in_s']))} s)")
    if s.get("error"):
        lines.append(f"last error: {s['error']['message']}")
    print("\n".join(lines), file=out)
    return 0
