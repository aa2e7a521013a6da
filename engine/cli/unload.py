"""``ocr-tray unload``: the running app unloads its model now, or after the current job (as the tray's Unload Model)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import IO, Any

HELP = "unload the running app's model now, or after the current job"


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    pass


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    from .status import ask_running_app

    out = out or sys.stdout
    answer = ask_running_app(lambda client: client.unload(), err or sys.stderr)
    if answer is None:
        return 1
    if answer["deferred"]:
        print("the model unloads after the current job", file=out)
    elif answer["loaded"]:
        print("model unloaded", file=out)
    else:
        print("no model was loaded", file=out)
    return 0
