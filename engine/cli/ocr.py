"""``ocr-tray ocr PATH...``: OCR files and folders, streaming the text (or JSON lines) to stdout.

The flags come from the settings table (``engine.settings``): their defaults are the saved settings,
and a flag overrides its setting for this run only (``apply_overrides``, as the app does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.settings import Setting

HELP = "OCR images, PDFs and folders and print the text"


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    """The OCR flags, generated from the settings table; each shows the saved value it overrides."""
    p.add_argument("paths", nargs="+", metavar="PATH", help="images, PDFs or folders")
    add_setting_flags(p, saved)
    p.add_argument("--password", metavar="PW", help="the password of protected PDFs")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per page (path, page, pages, text, source, tokens, seconds)")


def add_setting_flags(
    p: argparse.ArgumentParser, saved: Mapping[str, Any], table: Sequence[Setting] | None = None
) -> None:
    """One flag per setting that names one (``Setting.cli_flag``), its help showing the saved value."""
    from engine.settings import SETTINGS

    for s in SETTINGS if table is None else table:
        if not s.cli_flag:
            continue
        now = saved.get(s.key, s.default)
        if s.type is bool:  # a flag turns a default-on setting off (or the reverse)
            p.add_argument(s.cli_flag, dest=s.key, action="store_const", const=not s.default, default=None,
                           help=f"{s.cli_help or s.label} (saved setting: {'on' if now else 'off'})")
        elif s.type is int:
            bounds = f"{s.minimum}–{s.maximum}{s.suffix}" if s.minimum is not None else ""
            shown = s.zero_text if (now == 0 and s.zero_text) else f"{now}{s.suffix}"
            p.add_argument(s.cli_flag, dest=s.key, type=_bounded(s), default=None, metavar=s.cli_metavar or "N",
                           help=f"{s.cli_help or s.label}; {bounds} (saved: {shown})")
        else:
            shown = _shown_str(s.key, now, saved)
            p.add_argument(s.cli_flag, dest=s.key, default=None, metavar=s.cli_metavar or "TEXT",
                           help=f"{s.cli_help or s.label} (saved: {shown})")


def _shown_str(key: str, value: Any, saved: Mapping[str, Any]) -> str:
    from engine.models.presets import CUSTOM_ID

    if key == "model/preset" and value == CUSTOM_ID:
        return str(saved.get("model/custom_source") or value)
    return repr(value) if value == "" else str(value)


def _bounded(setting):
    def parse(text: str) -> int:
        try:
            return setting.coerce(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = setting.type.__name__
    return parse


def overrides(args: argparse.Namespace, table: Sequence[Setting] | None = None) -> dict[str, Any]:
    """The settings the flags override (setting key -> value), for ``apply_overrides``."""
    from engine.settings import SETTINGS

    flags = vars(args)
    rows = SETTINGS if table is None else table
    return {s.key: flags[s.key] for s in rows if s.cli_flag and flags.get(s.key) is not None}


def run(args: argparse.Namespace) -> int:
    from engine.history import default_store
    from engine.models.presets import CUSTOM_ID
    from engine.settings import Settings, UnknownModel, apply_overrides, options_from, spec_from

    saved = Settings()
    flags = overrides(args)
    try:
        values = apply_overrides(saved.values(), flags)
    except UnknownModel as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    prompt = flags.get("model/custom_prompt") if values.get("model/preset") != CUSTOM_ID else None
    spec = spec_from(values, prompt)
    options = options_from(values, password=args.password)
    history = default_store(saved)
    try:
        return ocr_paths(args.paths, spec, options, check_memory=bool(values["memory/check_fit"]),
                         as_json=args.json, history=history)
    finally:
        history.close()


def ocr_paths(
    paths: Sequence[str],
    spec,
    options,
    *,
    check_memory: bool = True,
    as_json: bool = False,
    history=None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """OCR every path in order; stream text (or JSON lines) to ``out``. Non-zero if any input failed."""
    from PySide6.QtCore import QCoreApplication, QTimer

    from engine.controller import JobController
    from engine.documents import expand
    from engine.engine_thread import Engine
    from engine.jobs import Client, ErrorKind, JobStatus
    from engine.lifecycle import Mode

    out = out or sys.stdout
    err = err or sys.stderr
    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    files, problems = expand(paths)
    failures = len(problems)
    for problem in problems:
        print(f"error: {problem}", file=err, flush=True)

    controller = JobController(Engine(spec, Mode.KEEP_RESIDENT, check_memory=check_memory, history=history))
    state = {"failures": failures, "left": 0}

    def on_page_started(p):
        if not as_json:
            print(f"\n--- {p.path} · page {p.page} of {p.pages} ---", file=out, flush=True)

    def on_delta(d):
        if not as_json:
            out.write(d.text)
            out.flush()

    def on_page(r):
        if as_json:
            print(json.dumps(r.as_json(), ensure_ascii=False), file=out, flush=True)
        else:
            out.write("\n")

    def on_done(r):
        if r.status is not JobStatus.DONE:
            state["failures"] += 1
            print(f"error: {r.error or os.path.basename(r.path) + ': cancelled'}", file=err, flush=True)
        if r.error_kind is ErrorKind.QUEUE:
            return  # never queued: not one of the jobs waited for
        state["left"] -= 1
        if state["left"] <= 0:
            QTimer.singleShot(0, app.quit)

    def on_notice(text):
        print(f"note: {text}", file=err, flush=True)

    controller.pageStarted.connect(on_page_started)
    controller.textDelta.connect(on_delta)
    controller.pageFinished.connect(on_page)
    controller.jobEnded.connect(on_done)
    controller.message.connect(on_notice)
    ids = controller.submit_files(files, options, client=Client.CLI)
    state["left"] = len(ids)
    if ids:
        app.exec()
    controller.shutdown()
    return 1 if state["failures"] else 0
