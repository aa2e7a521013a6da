"""The README stays true: every setting is in its settings table, every command in its command-line
block, and every engine module and package in its layout."""

from __future__ import annotations

import re

from engine.cli import build_parser
from engine.settings import SETTINGS
from tests.processes import ROOT

README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_every_setting_is_in_the_settings_table():
    table = _section("Settings").lower()
    missing = [s.key for s in SETTINGS if s.label.lower() not in table]
    assert not missing, f"settings missing from the README's table: {missing}"


def test_every_command_is_in_the_command_line_block():
    block = _section("Command line")
    commands = re.findall(r"^ocr-tray (\w[\w-]*)", block, re.M)
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.dest == "command"]
    visible = {c.dest for c in sub._choices_actions}  # the commands --help lists
    assert visible <= set(commands), f"commands missing from the README: {visible - set(commands)}"


def test_every_engine_module_and_package_is_in_the_layout():
    layout = _section("Layout")
    names = [p.name for p in (ROOT / "engine").iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())]
    missing = [n for n in names if (n if n.endswith(".py") else n + "/") not in layout]
    assert not missing, f"engine modules missing from the README's layout: {missing}"
