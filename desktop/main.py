"""The ``ocr-tray`` entry point: one parser (``engine.cli``); headless commands run there, the GUI form starts
the app."""

from __future__ import annotations

import sys

from engine import cli


def main(argv: list[str] | None = None) -> int:
    args = cli.parse(argv)
    if cli.is_headless(args):
        return cli.run(args)
    from desktop.launch import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
