"""``ocr-tray models``: list from the cache, pull with a progress line, rm."""

import io
import json
import os
import subprocess
import sys

import pytest

from engine.cli import models as models_cli
from engine.human import size_text
from engine.models.downloads import (
    DownloadProgress,
    Phase,
)
from engine.models.presets import PRESETS
from engine.models.store import cached_snapshot, locate
from tests.engine.hub_server import (  # noqa: F401  (hub is a fixture)
    hub,
    offline,
)
from tests.engine.models.test_downloads import model_files

REPO = "test-org/tiny-qwen2-vl"


def test_progress_line_format():
    p = DownloadProgress("r", 2_000_000_000, 500_000_000, 10_000_000, 150.0)
    text = models_cli.format_progress(p)
    assert "25.0%" in text and "500 MB / 2.0 GB" in text and "10.0 MB/s" in text and "ETA 2:30" in text

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    line = models_cli.ProgressLine(stream, interval_s=0.0)
    line.update(p)
    line.update(DownloadProgress("r", 2_000_000_000, 2_000_000_000, 0, 0.0, phase=Phase.DONE))
    line.end()
    assert stream.getvalue().count("\r") == 2 and stream.getvalue().endswith("\n")
    assert "100.0%" in stream.getvalue()


def parse(*argv):
    from engine.cli import build_parser

    return build_parser({}).parse_args(list(argv))


def test_models_pull_list_rm(hub, tiny_model_dir):
    default = PRESETS[0]
    hub.add_repo(default.repo_id, tiny_model_dir)  # the loopback hub serves the tiny model under a preset's id
    total = sum(model_files(tiny_model_dir).values())

    out, err = io.StringIO(), io.StringIO()
    assert models_cli.run(parse("models", "pull", default.id), out, err) == 0, err.getvalue()
    assert default.repo_id in out.getvalue() and "ready" in out.getvalue()
    assert "100.0%" in err.getvalue()
    assert locate(default.repo_id)

    out = io.StringIO()
    assert models_cli.run(parse("models", "--json"), out, io.StringIO()) == 0
    rows = {r["id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert set(rows) == {p.id for p in PRESETS}
    assert rows[default.id]["downloaded"] and rows[default.id]["size"] == total and rows[default.id]["size_exact"]
    other = PRESETS[1]  # not served: its size is the preset's fallback
    assert not rows[other.id]["downloaded"] and rows[other.id]["size"] == other.approx_bytes
    assert not rows[other.id]["size_exact"]

    out = io.StringIO()
    assert models_cli.run(parse("models"), out, io.StringIO()) == 0
    table = out.getvalue().splitlines()
    assert table[0].split()[:3] == ["ID", "MODEL", "REPO"]
    line = next(line for line in table if line.startswith(default.id))
    assert line.rstrip().endswith("yes") and default.licence in line
    assert "~" + size_text(other.approx_bytes) in next(line for line in table if line.startswith(other.id))

    out = io.StringIO()
    assert models_cli.run(parse("models", "rm", default.id), out, io.StringIO()) == 0
    assert "removed" in out.getvalue() and cached_snapshot(default.repo_id) is None
    err = io.StringIO()
    assert models_cli.run(parse("models", "rm", default.id), io.StringIO(), err) == 1
    assert err.getvalue().startswith("error: ") and len(err.getvalue().splitlines()) == 1


def test_models_pull_errors_are_one_line_and_non_zero(hub):
    hub.add_repo("test-org/unsafe", {"config.json": b"{}", "pytorch_model.bin": b"x"})
    for target in ("test-org/no-such-model", "test-org/unsafe", "not a repo"):
        err = io.StringIO()
        assert models_cli.run(parse("models", "pull", target), io.StringIO(), err) == 1
        lines = [line for line in err.getvalue().splitlines() if line.startswith("error: ")]
        assert len(lines) == 1, err.getvalue()


@pytest.mark.slow
def test_ocr_tray_models_runs_from_the_entry_point(hub, tiny_model_dir):
    hub.add_repo(PRESETS[0].repo_id, tiny_model_dir)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")  # hub_environment set HF_ENDPOINT and the cache
    pull = subprocess.run([sys.executable, "-m", "desktop.main", "models", "pull", PRESETS[0].id],
                          capture_output=True, text=True, timeout=120, env=env)
    assert pull.returncode == 0, pull.stderr
    listing = subprocess.run([sys.executable, "-m", "desktop.main", "models", "--local"],
                             capture_output=True, text=True, timeout=120, env=env)
    assert listing.returncode == 0, listing.stderr
    assert next(line for line in listing.stdout.splitlines() if line.startswith(PRESETS[0].id)).endswith("yes")
