"""The command line: one parser for everything a person can type, and a router to one module per command.

    ocr-tray [--background] [FILE ...]        start the menu-bar app (desktop.main); files go to a running app
    ocr-tray ocr PATH ... [flags]             engine.cli.ocr
    ocr-tray models [pull ID | rm ID]         engine.cli.models
    ocr-tray history [show|resume|delete|clear]  engine.cli.history
    ocr-tray status | unload                  engine.cli.status, engine.cli.unload (the running app's API)
    ocr-tray capture [--window | --last]      engine.cli.capture (a GUI command: desktop.launch runs it)
    ocr-tray self-test [--golden | --memory-cycles N]  engine.cli.self_test (also: accuracy, memory cycles)
    ocr-tray --self-test | --version          (--self-test: self-test without a mode)

``parse(argv)`` returns a Namespace whose ``command`` is a command name or ``APP`` (start the
GUI, which lives in ``desktop`` and is started by ``desktop.main``, never from here). ``run``
runs a headless command. Each command module has ``HELP`` (one line), ``add_arguments(parser,
saved)`` and ``run(args) -> int``; nothing but plain values travels in the Namespace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from engine import __version__

from . import capture, history, models, ocr, self_test, status, unload

APP = "app"  # the GUI: ``ocr-tray [--background] [FILE ...]``
COMMANDS: dict[str, ModuleType] = {"ocr": ocr, "models": models, "history": history, "status": status,
                                   "unload": unload, "self-test": self_test, "capture": capture}

USAGE = """ocr-tray [-h] [--version] [--self-test] [--background] [FILE ...]
       ocr-tray COMMAND [ARGS ...]"""
DESCRIPTION = """OCR images and PDFs with a local vision-language model (MLX).

Start the menu-bar app:
  ocr-tray [--background] [FILE ...]
      FILE            images, PDFs or folders to read; with the app already running they are
                      handed to it
      --background    start in the menu bar without opening the window"""


def build_parser(saved: Mapping[str, Any] | None = None) -> argparse.ArgumentParser:
    """The whole command line. ``saved``: the settings values shown as the flags' defaults (read
    from the saved settings when not given)."""
    if saved is None:
        saved = _saved_values()
    parser = argparse.ArgumentParser(
        prog="ocr-tray", usage=USAGE, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="`ocr-tray COMMAND --help` describes a command.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="OCR generated documents with a tiny random model; print the result, the MLX device "
                             "and the memory left after the unload (`ocr-tray self-test --help`: golden pages, "
                             "memory cycles)")
    parser.add_argument("--background", action="store_true", help=argparse.SUPPRESS)  # described above
    parser.add_argument("--idle-seconds", type=float, default=None, help=argparse.SUPPRESS)  # tests
    parser.add_argument("--instance-key", default=None, help=argparse.SUPPRESS)  # tests
    # prog: each command's own usage reads "ocr-tray ocr …", not the app's two-line usage first
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", prog="ocr-tray")
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP[:1].upper() + module.HELP[1:] + ".")
        module.add_arguments(p, saved)
    app = sub.add_parser(APP)  # inserted by parse() before a FILE; not listed (no help)
    app.add_argument("paths", nargs="*", metavar="FILE")
    app.add_argument("--background", action="store_true", default=argparse.SUPPRESS)
    parser.set_defaults(paths=[])
    return parser


def parse(argv: list[str] | None = None, saved: Mapping[str, Any] | None = None) -> argparse.Namespace:
    """argv as a Namespace; ``command`` is APP for the GUI form (``ocr-tray [--background] [FILE ...]``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    first = _first_positional(argv)
    if first is not None and argv[first] == "--":
        argv.insert(first, APP)  # everything after "--" is a FILE, even one named like a command
    elif first is not None and argv[first] not in COMMANDS and argv[first] != APP:
        argv.insert(first, APP)
    args = build_parser(saved).parse_args(argv)
    if args.command is None:
        args.command = APP
    return args


def _first_positional(argv: list[str]) -> int | None:
    takes_value = {"--idle-seconds", "--instance-key"}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            return i
        if token in takes_value:
            i += 2
            continue
        if not token.startswith("-") or token == "-":
            return i
        i += 1
    return None


def run(args: argparse.Namespace) -> int:
    """Run a headless command (``--version``, ``--self-test`` or a subcommand); never the GUI."""
    if args.version:
        print(f"ocr-tray {__version__}")
        return 0
    if args.self_test:
        return self_test.run()
    module = COMMANDS.get(args.command)
    if module is None:
        raise ValueError(f"{args.command!r} is not a headless command")
    try:
        return int(module.run(args))
    except BrokenPipeError:  # `ocr-tray … | head`: the reader has what it wanted
        from .output import quiet_stdout

        quiet_stdout(sys.stdout)
        return 0


def is_headless(args: argparse.Namespace) -> bool:
    """A command run here; False for the app and for commands the app runs (``GUI = True``: capture)."""
    module = COMMANDS.get(args.command)
    return bool(args.version or args.self_test or (module is not None and not getattr(module, "GUI", False)))


def main(argv: list[str] | None = None) -> int:
    """The headless commands alone (``python -m engine.cli``); the GUI form prints the help."""
    args = parse(argv)
    if not is_headless(args):
        build_parser().print_help()
        return 2
    return run(args)


def _saved_values() -> dict[str, Any]:
    """The user's saved settings (the flags' defaults); the table's defaults if they cannot be read."""
    from engine.settings import SETTINGS, Settings

    try:
        return Settings().values()
    except Exception:  # an unreadable settings file must not stop the command line
        return {s.key: s.default for s in SETTINGS}
