"""Unload gives the memory back: 5 load/OCR/unload cycles of the ~0.9 GB bench model, in a subprocess."""

import json
import subprocess
import sys

import pytest

from tests.processes import child_env

pytestmark = pytest.mark.slow


@pytest.mark.linux_only
def test_rss_returns_to_baseline_after_each_unload(bench_model_dir):
    env = child_env(QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [sys.executable, "-m", "bench.memory_cycles", "--cycles", "5", "--release", "full", "--model",
         str(bench_model_dir), "--json"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    print("baseline", result["baseline_mb"], "loaded", result["loaded_mb"], "over", result["over_baseline_mb"])
    # the model really was in memory: the weights are ~0.9 GB
    assert min(result["loaded_mb"]) - result["baseline_mb"] > 700
    # and really went away: imported modules may stay, weights must go
    assert max(result["over_baseline_mb"]) <= 100
    assert result["growth_per_cycle_mb"] <= 5



BIG_MODULE = """
import gc
_before = sum(s["collections"] for s in gc.get_stats())
_made = [[] for _ in range(100_000)]  # containers: each 700 of them would start a collection
COLLECTIONS = sum(s["collections"] for s in gc.get_stats()) - _before
"""


def test_big_imports_pause_the_collector_and_freeze_what_they_made(tmp_path, monkeypatch):
    """The engine imports mlx_vlm with the cyclic GC paused, then freezes: no stop-the-world
    collections during the import (they stalled the GUI thread for up to 170 ms), and the
    collector is left as it was."""
    import gc
    import importlib
    import sys

    from engine.backend import _import_without_gc_pauses

    (tmp_path / "ocr_tray_big_module.py").write_text(BIG_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "ocr_tray_big_module"

    control = importlib.import_module(name)  # a plain import collects many times
    assert control.COLLECTIONS > 0
    del sys.modules[name]

    frozen_before = gc.get_freeze_count()
    try:
        module = _import_without_gc_pauses(name)
        assert module is sys.modules[name]
        assert module.COLLECTIONS == 0
        assert gc.get_freeze_count() >= frozen_before + 100_000
        assert gc.isenabled()
        assert _import_without_gc_pauses(name) is module  # already imported: nothing to do

        del sys.modules[name]
        gc.disable()  # a caller that had it off keeps it off
        _import_without_gc_pauses(name)
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
        sys.modules.pop(name, None)


def test_pillow_keeps_freed_picture_blocks_until_a_document_ends(tmp_path):
    """Pages are pictures of one size: Pillow keeps their freed memory for the next page (no fresh page
    faults per page), and gives it back when the document ends."""
    from PIL import Image

    from engine import memory
    from engine.backend import Backend
    from engine.documents import open_document
    from engine.testing import samples

    before = Image.core.get_blocks_max()
    try:
        Image.core.set_blocks_max(0)
        # A4-sized scans: pictures of some megabytes, as a document's pages are
        pdf = samples.write_pdf(tmp_path / "scan.pdf", pages=3, text_pages=set(), size=(595, 842))
        document = open_document(pdf, text_layer="off")
        try:
            assert Image.core.get_blocks_max() >= memory.IMAGE_BLOCKS_KEPT
            for page in document.pages():
                assert page.image is not None
                del page
        finally:
            document.close()
        assert Image.core.get_stats()["blocks_cached"] > 0  # the pictures' memory, kept
        Backend().end_document()
        assert Image.core.get_stats()["blocks_cached"] == 0  # and given back
    finally:
        Image.core.clear_cache()
        Image.core.set_blocks_max(before)
