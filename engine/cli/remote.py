"""``ocr-tray ocr`` as a client of the running app: its files go over the local API to the model the app holds.

``run(args)`` returns None when there is no app to ask (no discovery file, or its process is gone, or it
does not answer before anything was printed, or it reads with another model than ``--model`` names):
then ``ocr-tray ocr`` runs its own engine as before. Otherwise the files are sent one at a time, in
order, as ``{"path": ...}`` requests with ``stream=true``, and the events are printed exactly as the
in-process engine prints them (the same ``--- path · page i of n ---`` lines and streamed text, or
the same JSON object per page from ``PageResult.as_json``), with the same exit code rule.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any

from engine.jobs import PageResult

# the ``ocr`` flags that travel as API options (setting key -> option name); the rest stay local
OPTION_FOR = {"model/preset": "model", "model/custom_prompt": "prompt", "ocr/task": "task",
              "ocr/max_tokens": "max_tokens", "ocr/pdf_dpi": "dpi", "ocr/max_image_side": "max_side",
              "ocr/use_text_layer": "text_layer"}


def request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (only those: the app applies the same saved settings)."""
    from .ocr import overrides

    options = {OPTION_FOR[key]: value for key, value in overrides(args).items() if key in OPTION_FOR}
    if getattr(args, "text_layer", None):  # --text-layer auto|always|never (over --no-text-layer's false)
        options["text_layer"] = args.text_layer
    if getattr(args, "password", None):
        options["password"] = args.password
    if getattr(args, "pages", None):
        options["pages"] = sorted(args.pages)
    return options


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None,
        client: Any = None) -> int | None:
    """OCR ``args.paths`` through the running app; None when there is none to ask (run standalone then)."""
    from engine.api.client import ApiClient, ApiError, Unreachable
    from engine.documents import expand

    from .output import Console, Output

    client = client or ApiClient.find()
    if client is None:
        return None
    options = request_options(args)
    try:
        client.status()
    except Unreachable:
        client.close()
        return None  # a stale or dying app: nothing printed yet, so the standalone path takes over
    except ApiError:
        pass
    target = getattr(args, "output", None)
    try:
        sink = open(target, "w", encoding="utf-8") if target else None  # noqa: SIM115 (closed below)
    except OSError as e:
        print(f"error: {target}: cannot be written ({e.strerror or e})", file=err or sys.stderr)
        client.close()
        return 2
    output = Output(sink or out or sys.stdout, bool(getattr(args, "json", False)), fmt=getattr(args, "format", None))
    console = Console(err or sys.stderr, bool(getattr(args, "quiet", False)))
    failures = 0
    try:
        with client:
            files, problems = expand(args.paths)
            for problem in problems:
                if getattr(problem, "skipped", False):  # a file in a folder that is no document: said, not failed
                    console.note(str(problem))
                else:
                    failures += 1
                    console.error(str(problem))
            for path in files:
                if output.closed:
                    break
                try:
                    if not _one(client, path, options, output, console):
                        failures += 1
                except ApiError as e:
                    if e.status == 404 and e.kind == "not-found" and "model" in options and path == files[0]:
                        console.note(f"{e.message}; reading without the app")
                        return None
                    if e.kind == "request":  # the options themselves are wrong (e.g. a task the app's model lacks)
                        console.error(e.message)
                        return 2
                    failures += 1
                    console.error(e.message)
    except Unreachable as e:
        console.error(str(e))
        return 1
    except KeyboardInterrupt:  # the connection closes with it: the app cancels the job
        output.cut("interrupted")
        console.say("interrupted")
        return 130
    finally:
        if sink is not None:
            sink.close()
    return 1 if failures else 0


def _one(client: Any, path: str, options: dict[str, Any], output: Any, console: Any) -> bool:
    """One file, its events printed as the in-process engine prints them; whether it was read to the end."""
    for event in client.ocr_events(os.path.abspath(path), options):
        kind = event.get("event")
        if kind == "job.started":
            output.output = event.get("format") or ""  # a page cut short is written in the job's format
        elif kind == "page.started":
            output.page_started(path, int(event["page"]), int(event["pages"]))
        elif kind == "text.delta":
            output.text(event["text"])
        elif kind == "page.done":
            output.page_done(_page(event, path))
            if output.closed:  # the reader went away (`| head`): stop; closing the stream cancels the job
                return True
        elif kind == "job.done":
            if event["status"] != "done":
                message = (event.get("error") or {}).get("message") or f"{os.path.basename(path)}: cancelled"
                if (event.get("error") or {}).get("kind") == "password" and "--password" not in message:
                    message += " (give it with --password)"
                console.error(message)
                return False
            return True
        elif kind == "error":
            console.error(event["error"]["message"])
            return False
    console.error(f"{os.path.basename(path)}: the app ended the answer early")
    return False


def _page(event: dict[str, Any], path: str) -> PageResult:
    return PageResult(
        int(event["job_id"]), path, int(event["page"]), int(event["pages"]), event["text"], event["source"],
        prompt_tokens=int(event.get("prompt_tokens", 0)), generation_tokens=int(event.get("generation_tokens", 0)),
        seconds=float(event.get("seconds", 0.0)), error=event.get("error"), model=event.get("model", ""),
        first_token_seconds=float(event.get("first_token_seconds", 0.0)),
        tokens_per_second=float(event.get("tokens_per_second", 0.0)),
        text_layer_rejected=event.get("text_layer_rejected"), output=event.get("format") or "",
    )
