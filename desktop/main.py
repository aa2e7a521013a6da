"""The ``ocr-tray`` entry point: subcommands go to the headless CLI, anything else starts the app."""

from __future__ import annotations

import sys

from engine import cli


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and (argv[0] in cli.COMMANDS or argv[0] in ("--self-test", "--version", "-h", "--help")):
        return cli.main(argv)
    from desktop.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
