"""``ocr-tray ocr PATH...``: OCR files and folders, streaming the text (or JSON lines) to stdout.

The flags come from the settings table (``engine.settings``): their defaults are the saved settings,
and a flag overrides its setting for this run only (``apply_overrides``, as the app does).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.settings import Setting

HELP = "OCR images, PDFs and folders and print the text"
FORMATS = ("text", "markdown", "html", "json")  # --format


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    """The OCR flags, generated from the settings table; each shows the saved value it overrides."""
    p.add_argument("paths", nargs="+", metavar="PATH", help="images, PDFs or folders")
    add_setting_flags(p, saved)
    p.add_argument("--pages", metavar="LIST", type=_pages, help="only these pages, e.g. 1-3,7 (default: all)")
    p.add_argument("--text-layer", choices=("auto", "always", "never"), default=None,
                   help="a PDF page's own text: auto uses it when it reads as text, always whenever there is some, "
                        "never reads every page with the model (--no-text-layer is never; default: auto, or never "
                        "when the saved setting is off)")
    p.add_argument("--password", metavar="PW", help="the password of protected PDFs (default: none; a protected "
                                                    "PDF without it fails in one line)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per page (path, page, pages, text, source, tokens, seconds)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="print each page converted from the model's answer when it is done: text (tables as "
                        "tab-separated rows), markdown, html (one document) or json (one object per page: --json's "
                        "fields with the converted text, the raw answer, its format, blocks and boxes); without it "
                        "the answer streams as the model writes it")
    p.add_argument("-o", "--output", metavar="FILE", help="write the text (or JSON) to FILE instead of stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no notes on stderr (errors still)")
    p.add_argument("--pull", action="store_true",
                   help="download the model first if it is missing, without asking (on a terminal you are asked)")
    p.add_argument("--standalone", action="store_true",
                   help="load the model in this process even when the app is running (by default the running "
                        "app reads the files with the model it holds)")


def _pages(text: str) -> frozenset[int]:
    from engine.human import parse_ranges

    try:
        return parse_ranges(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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


def task_problem(values: Mapping[str, Any], task_id: str, prompt_given: bool) -> str | None:
    """Why ``--task task_id`` cannot be used with the chosen model (one line), or None."""
    from engine.formats import tasks_for
    from engine.models.presets import CUSTOM_ID, preset
    from engine.settings import DEFAULT_TASK

    chosen = str(values.get("model/preset"))
    tasks = tasks_for(chosen) if chosen != CUSTOM_ID else ()
    if not tasks:
        return "--task: a custom model has no tasks; it reads with its own prompt (--prompt)"
    if prompt_given:
        return "--task and --prompt cannot be used together: the task chooses the model's prompt"
    ids = [t.id for t in tasks]
    if task_id != DEFAULT_TASK and task_id not in ids:
        return f"--task {task_id!r}: {preset(chosen).label} has the tasks {', '.join(ids)} (the first is its default)"
    return None


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engine.history import default_store
    from engine.jobs import TextLayer
    from engine.models.presets import CUSTOM_ID
    from engine.settings import Settings, UnknownModel, apply_overrides, options_from, spec_from

    saved = Settings()
    flags = overrides(args)
    task_id = flags.pop("ocr/task", None)  # checked against the model's own tasks below
    try:
        values = apply_overrides(saved.values(), flags)
    except UnknownModel as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if task_id is not None:
        problem = task_problem(values, task_id, "model/custom_prompt" in flags)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        values["ocr/task"] = task_id
    if not getattr(args, "standalone", False):  # the running app reads them with its warm model (engine.cli.remote)
        from . import remote

        code = remote.run(args)
        if code is not None:
            return code
    prompt = flags.get("model/custom_prompt") if values.get("model/preset") != CUSTOM_ID else None
    spec = spec_from(values, prompt)
    options = options_from(values, password=args.password, pages=args.pages)
    if prompt is not None:  # a prompt of one's own for a preset: no task's prompt replaces it
        options = replace(options, prompt=prompt, task=None)
    if args.text_layer is not None:
        options = replace(options, text_layer=TextLayer(args.text_layer))
    history = default_store(saved)
    try:
        out = open(args.output, "w", encoding="utf-8") if args.output else None  # noqa: SIM115 (closed below)
    except OSError as e:
        print(f"error: {args.output}: cannot be written ({e.strerror or e})", file=sys.stderr)
        return 2
    try:
        from .session import ask_on_terminal

        return ocr_paths(args.paths, spec, options, check_memory=bool(values["memory/check_fit"]),
                         as_json=args.json, history=history, out=out, quiet=args.quiet, pull=args.pull,
                         ask=ask_on_terminal, fmt=getattr(args, "format", None))
    finally:
        history.close()
        if out is not None:
            out.close()


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
    quiet: bool = False,
    pull: bool = False,
    ask=None,
    fmt: str | None = None,
) -> int:
    """OCR every path in order in this process; stream text (or JSON lines) to ``out``, or with ``fmt``
    (``FORMATS``) write each page converted when it is done. The exit code: 0 all read, 1 something failed,
    130 interrupted (``engine.cli.session``)."""
    from engine.page_formats import resolve_task

    from .output import Output
    from .session import OcrSession

    options = resolve_task(options, spec)  # a page cut short is written in the job's format too
    session = OcrSession(spec, options, check_memory=check_memory, history=history, out=out, err=err,
                         as_json=as_json or fmt is not None, quiet=quiet, pull=pull, ask=ask)
    if fmt is not None:
        session.output = Output(out or sys.stdout, fmt=fmt, output=options.output)
    return session.run(paths)
