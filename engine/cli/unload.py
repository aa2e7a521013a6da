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
    from engine.api.client import ApiClient, ApiError, Unreachable

    from .status import NOT_RUNNING

    out = out or sys.stdout
    err = err or sys.stderr
    client = ApiClient.find()
    if client is None:
        print(NOT_RUNNING, file=err)
        return 1
    try:
        with client:
            answer = client.unload()
    except (ApiError, Unreachable) as e:
        print(f"error: {e}", file=err)
        return 1
    if answer["deferred"]:
        print("the model unloads after the current job", file=out)
    elif answer["loaded"]:
        print("model unloaded", file=out)
    else:
        print("no model was loaded", file=out)
    return 0
