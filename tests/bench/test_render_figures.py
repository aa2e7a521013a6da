"""Figures 20 and 21 (rendering while streaming; conversion cost): their recorded answers and machinery, run small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import common
from bench import fig20_render_streaming as fig20
from bench import fig21_convert_cost as fig21
from engine.formats import Table, convert

ROOT = Path(__file__).resolve().parents[2]


def test_the_recorded_page_is_4000_tokens_of_markdown_with_three_tables():
    page = fig20.recorded_page(1)
    tokens = fig20.tokens(page)
    assert "".join(tokens) == page  # replayed token by token, the view receives exactly the answer
    assert 4000 <= len(tokens) < 4200
    tables = [b for b in convert(page, "markdown").blocks if isinstance(b, Table)]
    assert len(tables) == 3 and tables[0].has_spans
    assert fig20.recorded_page(1) == page and fig20.recorded_page(2) != page  # recorded: the same every run


def test_the_streaming_worker_renders_every_table(tmp_path):
    """The worker, fast: one page replayed at 4,000 tokens/s (the figure replays at 200)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, "-m", "bench.fig20_render_streaming", "--worker", "--pages", "1",
                          "--idle-s", "0.3", "--rate", "4000"], capture_output=True, text=True, timeout=300, env=env,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    r = json.loads(run.stdout.strip().splitlines()[-1])
    assert r["tables_rendered"] == 3 and r["tokens"][0] >= 4000
    [render] = r["renders"]
    assert len(render["slices_s"]) > 3  # written over several event-loop turns
    assert len(r["ticks"]) == len(r["cpu"]) > 10
    ph = r["phases"]
    assert ph["start"] < ph["busy_start"] < ph["busy_end"] < ph["end"]


def test_the_convert_cost_figure_compares_with_the_models_own_time(monkeypatch, tmp_path):
    monkeypatch.setattr(fig21, "model_speed", lambda ctx, max_tokens: {
        "first_token_s": 0.5, "tokens_per_s": 40.0, "generation_tokens": max_tokens, "page_seconds": 1.0})
    ctx = common.Context(quick=True, out=tmp_path)
    try:
        result = fig21.run(ctx)
    finally:
        ctx.cleanup()
    assert result.number == 21 and result.meets is True and result.passes_check is True
    assert 0 < result.values["share"] < 0.02 and result.values["fast_share"] > result.values["share"]
    assert (tmp_path / "fig21_convert_cost.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "fig21_convert_cost.json").read_text())
    assert saved["pages"] == 40 and saved["generation_s"] > saved["convert_s"]
