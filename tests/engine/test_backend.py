"""engine.backend: what an unload does, step by step, and how the first load keeps the GUI thread free.

The memory tests (tests/engine/test_memory.py) show RSS coming back; on a small model a missing
release step costs only tens of megabytes, inside any honest bound. So each step is checked
here by itself: the model object is gone (a weakref), the collector ran, MLX's cache was
cleared, the heap was trimmed, and the allocator was tuned when the engine thread started.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import weakref

import pytest

from engine import backend as backend_module
from engine import memory, weights_reader
from engine.backend import Backend
from engine.models.presets import ModelSpec
from tests.processes import ROOT, child_env


class _Steps:
    """Records the release steps in order, and whether the model was already gone at each."""

    def __init__(self, monkeypatch, model_ref) -> None:
        import mlx.core as mx

        self.calls: list[tuple[str, bool]] = []
        self._ref = model_ref
        real_collect, real_clear, real_trim = gc.collect, mx.clear_cache, memory.trim_heap

        class _Gc:
            def __getattr__(self, name):
                return getattr(gc, name)

            def collect(inner, *args):  # noqa: N805 - a stand-in for the gc module
                n = real_collect(*args)
                self.calls.append(("gc.collect", self.gone()))
                return n

        def clear_cache():
            real_clear()
            self.calls.append(("mx.clear_cache", self.gone()))

        def trim_heap():
            self.calls.append(("memory.trim_heap", self.gone()))
            return real_trim()

        monkeypatch.setattr(backend_module, "gc", _Gc())
        monkeypatch.setattr(mx, "clear_cache", clear_cache)
        monkeypatch.setattr(memory, "trim_heap", trim_heap)

    def gone(self) -> bool:
        return self._ref() is None

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def loaded(tiny_model_dir):
    """A Backend with the tiny model loaded on this test's thread (and unloaded afterwards)."""
    backend = Backend()
    backend.load(ModelSpec.resolve(str(tiny_model_dir)), tiny_model_dir)
    yield backend
    backend.unload()


def test_unload_drops_the_model_then_collects_clears_and_trims(loaded, monkeypatch):
    ref = weakref.ref(loaded._model)
    processor_ref = weakref.ref(loaded._processor) if _weakrefable(loaded._processor) else None
    steps = _Steps(monkeypatch, ref)
    loaded.unload()
    assert steps.names() == ["gc.collect", "mx.clear_cache", "memory.trim_heap"]
    # every step ran after the last reference was gone, so each could give the memory back
    assert all(gone for _, gone in steps.calls), steps.calls
    assert ref() is None and (processor_ref is None or processor_ref() is None)
    assert not loaded.loaded and loaded.spec is None and loaded.weight_bytes == 0


def _weakrefable(obj) -> bool:
    try:
        weakref.ref(obj)
        return True
    except TypeError:
        return False


def test_a_load_that_fails_after_the_weights_gives_them_back(tiny_model_dir, monkeypatch):
    """The template's first render fails: the half-built model goes, with the same steps."""
    backend = Backend()
    seen: list = []

    def boom(prompt):
        seen.append(weakref.ref(backend._model))
        raise RuntimeError("template failed")

    monkeypatch.setattr(backend, "_chat_prompt", boom)
    with pytest.raises(RuntimeError, match="template failed"):
        backend.load(ModelSpec.resolve(str(tiny_model_dir)), tiny_model_dir)
    gc.collect()
    assert seen and seen[0]() is None
    assert not backend.loaded


def test_end_of_document_clears_the_cache(loaded, monkeypatch):
    import mlx.core as mx

    cleared = []
    real = mx.clear_cache
    monkeypatch.setattr(mx, "clear_cache", lambda: cleared.append(1) or real())
    loaded.end_document()
    assert cleared == [1]
    assert loaded.loaded  # the model stays


def test_the_first_token_is_announced_once_after_the_prefill_and_before_its_text(loaded, monkeypatch):
    """``on_first_token`` comes once, after the model has run on the whole prompt (the prefill) and before the
    first text reaches ``on_text``; the answer is the one stream_generate gives from the picture itself."""
    from mlx_vlm import stream_generate
    from mlx_vlm.generate import ar, dispatch
    from PIL import Image

    order: list[str] = []
    real_step = ar.generate_step

    def step(*args, **kwargs):  # stream_generate's token loop: its first item comes after the prefill
        for item in real_step(*args, **kwargs):
            order.append("step")
            yield item
    monkeypatch.setattr(dispatch, "generate_step", step)
    image = Image.new("RGB", (96, 64), "white")
    text, stats = loaded.ocr(image, 3, lambda delta: order.append("text"),
                             on_first_token=lambda: order.append("first"))
    assert order.count("first") == 1
    assert order.index("first") == order.index("step") + 1  # right after the prefill gave the first token
    assert "text" not in order[:order.index("first")]
    assert stats.generation_tokens >= 1 and stats.prompt_tokens > 0
    monkeypatch.setattr(dispatch, "generate_step", real_step)
    bare = "".join(r.text for r in stream_generate(loaded._model, loaded._processor, loaded._chat_prompt(
        loaded.spec.prompt), image=[image], max_tokens=3, temperature=0.0))
    assert text == bare


class _FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", (param.value, value.value)))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", (pad.value,)))
        return 1


def test_glibc_is_told_to_mmap_big_blocks_and_to_trim(monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(memory, "_libc", lambda: libc)
    assert memory.tune_allocator() and memory.trim_heap()
    assert libc.calls == [("mallopt", (memory.M_MMAP_THRESHOLD, 1 << 20)), ("malloc_trim", (0,))]
    assert memory.M_MMAP_THRESHOLD == -3  # glibc's malloc.h


def test_the_engine_thread_tunes_the_allocator_before_anything_loads(qtbot, engines, monkeypatch):
    import threading

    tuned: list[str] = []
    monkeypatch.setattr(memory, "tune_allocator", lambda: tuned.append(threading.current_thread().name) or True)
    engine = engines()
    qtbot.waitUntil(lambda: bool(tuned), timeout=30_000)
    assert len(tuned) == 1 and tuned[0] != threading.main_thread().name
    assert engine.status.loads == 0


@pytest.mark.linux_only
@pytest.mark.skipif(not weights_reader.wanted(), reason="the preemptible weights reader is Linux-only")
def test_a_load_reads_the_weights_with_the_preemptible_reader(tiny_model_dir, monkeypatch):
    read: list[str] = []
    real = weights_reader.load
    monkeypatch.setattr(weights_reader, "load", lambda path: read.append(path) or real(path))
    backend = Backend()
    try:
        backend.load(ModelSpec.resolve(str(tiny_model_dir)), tiny_model_dir)
    finally:
        backend.unload()
    assert [p for p in read if p.endswith(".safetensors")], read


def test_the_first_load_imports_mlx_vlm_without_a_collection(tiny_model_dir):
    """In a fresh interpreter: no cyclic collection runs while mlx_vlm's modules execute
    (each would hold the GIL for 50–170 ms, ADR 0008), and what the import made is frozen.

    A collection "during the import" is one that starts while the ``mlx_vlm`` package's
    own module is still executing (importlib marks it ``_initializing``)."""
    code = textwrap.dedent(f"""
        import gc, json, sys
        from pathlib import Path
        from engine.backend import Backend
        from engine.models.presets import ModelSpec
        during = []
        def watch(phase, info):
            module = sys.modules.get("mlx_vlm")
            if phase == "start" and getattr(getattr(module, "__spec__", None), "_initializing", False):
                during.append(info["generation"])
        gc.callbacks.append(watch)
        assert "mlx_vlm" not in sys.modules
        Backend().load(ModelSpec.resolve({str(tiny_model_dir)!r}), Path({str(tiny_model_dir)!r}))
        print(json.dumps({{"during": during, "frozen": gc.get_freeze_count()}}))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env=child_env())
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["during"] == [], f"{len(out['during'])} collection(s) while mlx_vlm was being imported"
    assert out["frozen"] > 100_000  # transformers and friends moved to the permanent generation
