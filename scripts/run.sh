#!/usr/bin/env bash
# Set up a virtualenv in .venv and start OCR Tray (menu-bar app). Arguments go to ocr-tray.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/ocr-tray "$@"
