"""The dependency direction: desktop → engine, never back; engine is QtCore + MLX only (no widgets, no GUI)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("desktop", "PySide6.QtWidgets", "PySide6.QtGui")


def engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine."))


def test_importing_every_engine_module_loads_no_desktop_and_no_gui():
    """In a fresh interpreter, import each engine module and list what got loaded."""
    code = f"""
import importlib, json, sys
found = {{}}
for name in {engine_modules()!r}:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split(".")[0] == "desktop" or m in {list(FORBIDDEN[1:])!r})
print(json.dumps(bad))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []
    assert len(engine_modules()) > 20  # the walk found the package, sub-packages included


def test_no_engine_source_names_desktop():
    """The cheap, static half: no import of desktop (or a Qt GUI module) appears in engine/ at all."""
    offenders = []
    for path in (ROOT / "engine").rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(f in stripped.split("#")[0] for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {stripped}")
    assert offenders == []
