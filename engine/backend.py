"""mlx-vlm behind four calls: load, OCR one image (streaming), end a document, unload.

Every method must run on the engine thread (MLX streams are per thread). ``mlx`` and
``mlx_vlm`` are imported at the first load, so the app starts without paying for them.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import memory, native_blas, native_prefetch, weights_reader
from .models import vetting
from .models.presets import ModelSpec
from .models.store import vet, weight_bytes

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Generation stopped because the job was cancelled."""


@dataclass(frozen=True)
class LoadStats:
    seconds: float
    weight_bytes: int
    active_memory: int  # MLX active memory after load


@dataclass(frozen=True)
class GenStats:
    prompt_tokens: int
    generation_tokens: int
    seconds: float
    first_token_seconds: float
    tokens_per_second: float
    peak_memory: int  # MLX peak memory during this generation, bytes
    finish_reason: str | None


def _mlx():
    native_blas.use()  # before MLX's first import binds its BLAS (ADR 0023)
    import mlx.core as mx

    return mx


def _import_without_gc_pauses(name: str, before: Callable[[], object] | None = None):
    """Import a big package (mlx_vlm pulls in transformers: about a million objects) without
    stalling the GUI thread. ``before`` runs first, only when the import is really needed
    (the engine reads mlx_vlm's native libraries into the page cache there, ADR 0011).

    Python's cyclic collector runs with the GIL held and a full collection walks every
    object, so an import that size triggers a series of ever-longer pauses (50–170 ms each,
    docs/benchmarks.md figure 4) that stop every other thread. The collector is paused for
    the import, and what exists afterwards is moved to the permanent generation
    (``gc.freeze``): module-level objects live for the whole run, and later collections,
    including the one in every unload, no longer walk them.
    """
    import importlib
    import sys

    if name in sys.modules:
        return sys.modules[name]
    native_blas.use()  # before MLX's first import binds its BLAS (ADR 0023)
    if before is not None:
        before()
    enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


RELEASE_STEPS = ("full", "no-trim", "naive")


class Backend:
    """Owns the model and processor. Not thread-safe by design: one owner thread.

    ``release`` picks the unload steps: "full" (the product: drop references, gc,
    clear MLX's cache, trim the heap, with the allocator tuned at start), or the
    benchmark's baselines "no-trim" (no heap trim, allocator untuned) and "naive"
    (del + gc only).
    """

    def __init__(self, release: str = "full") -> None:
        if release not in RELEASE_STEPS:
            raise ValueError(f"release must be one of {RELEASE_STEPS}")
        self.release = release
        self.spec: ModelSpec | None = None
        self.path: Path | None = None
        self._model: Any = None  # mlx_vlm model (nn.Module), or None when unloaded
        self._processor: Any = None
        self._prompt_cache: dict[str, str] = {}
        self.weight_bytes = 0

    @property
    def loaded(self) -> bool:
        return self._model is not None

    # ------------------------------------------------------------------ load
    def load(self, spec: ModelSpec, path: Path, vetted: bool = False) -> LoadStats:
        """Load the model in ``path``. Never trusts remote code; only safetensors weights.

        ``vetted``: the caller has just run ``vet`` on ``path`` itself (the engine does, to size the load
        before it starts); otherwise it runs here."""
        if self.loaded:
            self.unload()
        if not vetted:
            vet(path, spec.max_pixels)  # files, weights' headers, config vs. weights: before anything is built
        t0 = time.perf_counter()
        # first: it imports mlx.core too. The import maps ~120 MB of native code with the GIL
        # held, so that code is read off the disk beforehand.
        load = _import_without_gc_pauses("mlx_vlm", before=native_prefetch.warm).load
        mx = _mlx()
        from .models import template_guard  # (jinja2: imported with mlx_vlm, not at start-up)

        template_guard.install()  # any chat template compiled from here on is in the bounded sandbox

        # trust_remote_code=False explicitly: mlx-vlm's load() and some processors default it to True.
        # On Linux the weights are read in small preemptible steps (engine/weights_reader.py).
        with weights_reader.installed():
            model, processor = load(str(path), trust_remote_code=False)
        try:
            # materialise every weight here, in the owning thread: a lazy array used later
            # from another stream fails ("There is no Stream(cpu, N) in current thread")
            mx.eval(model.parameters())
        except BaseException:
            del model, processor
            self._release()
            raise
        self._model, self._processor = model, processor
        self.spec, self.path = spec, path
        vetting.clamp_image_processor(processor, spec.max_pixels, spec.max_side)
        try:
            self._chat_prompt(spec.prompt)  # the template's first render is the guarded one
        except BaseException:
            del model, processor
            self.unload()
            raise
        self.weight_bytes = weight_bytes(path)
        mx.reset_peak_memory()
        return LoadStats(time.perf_counter() - t0, self.weight_bytes, mx.get_active_memory())

    # -------------------------------------------------------------- generate
    def ocr(
        self,
        image,
        max_tokens: int,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool] = lambda: False,
        prompt: str | None = None,
        on_first_token: Callable[[], None] = lambda: None,
    ) -> tuple[str, GenStats]:
        """OCR one RGB image; ``on_text`` gets each text delta as it is produced.

        ``should_stop`` is polled between tokens; when it returns True, ``Cancelled`` is raised.
        ``on_first_token`` is called once, when the first token is out (before its ``on_text``): the prefill is
        over, so the next page is best prepared from then on (``PagePrefetch.prepare_next``), while the model
        writes this one; beside the processor or the prefill it slows this page's first token (ADR 0021).
        """
        if not self.loaded:
            raise RuntimeError("no model is loaded")
        from mlx_vlm import stream_generate

        mx = _mlx()
        assert self.spec is not None
        prompt_text = self._chat_prompt(self.spec.prompt if prompt is None else prompt)
        parts: list[str] = []
        last = None
        t0 = time.perf_counter()
        first = None
        gen = stream_generate(
            self._model, self._processor, prompt_text, image=[image], max_tokens=max_tokens, temperature=0.0
        )
        try:
            for last in gen:
                if first is None:
                    first = time.perf_counter() - t0
                    on_first_token()
                if last.text:
                    parts.append(last.text)
                    on_text(last.text)
                if should_stop():
                    raise Cancelled()
        finally:
            gen.close()  # runs the generator's own clean-up (wired limit) when we break out early
            del gen
        seconds = time.perf_counter() - t0
        stats = GenStats(
            prompt_tokens=last.prompt_tokens if last else 0,
            generation_tokens=last.generation_tokens if last else 0,
            seconds=seconds,
            first_token_seconds=first or seconds,
            tokens_per_second=last.generation_tps if last else 0.0,
            peak_memory=mx.get_peak_memory(),
            finish_reason=last.finish_reason if last else None,
        )
        return "".join(parts), stats

    def _chat_prompt(self, prompt: str) -> str:
        cached = self._prompt_cache.get(prompt)
        if cached is None:
            from mlx_vlm.prompt_utils import apply_chat_template

            from .models import template_guard

            model, processor = self._model, self._processor
            rendered = template_guard.guarded(
                lambda: apply_chat_template(processor, model.config, prompt, num_images=1), self.path
            )
            cached = rendered if isinstance(rendered, str) else str(rendered)
            self._prompt_cache[prompt] = cached
        return cached

    # ------------------------------------------------------------ clean-ups
    def end_document(self) -> int:
        """After each document: free MLX's buffer cache and restart peak tracking. Returns the peak."""
        memory.release_image_blocks()  # the pictures' memory that Pillow kept for the next page
        if "mlx.core" not in _imported():
            return 0
        mx = _mlx()
        peak = mx.get_peak_memory()
        mx.clear_cache()
        mx.reset_peak_memory()
        return peak

    def unload(self) -> None:
        """Drop every reference, collect, clear MLX's cache and (Linux) trim the heap."""
        self._model = None
        self._processor = None
        self._prompt_cache.clear()
        self.spec = None
        self.path = None
        self.weight_bytes = 0
        self._release()

    def tune_allocator(self) -> None:
        """Called once on the engine thread before any load (glibc: big blocks via mmap)."""
        if self.release == "full":
            memory.tune_allocator()

    def _release(self) -> None:
        gc.collect()
        if self.release == "naive":
            return
        memory.release_image_blocks()
        if "mlx.core" in _imported():
            mx = _mlx()
            mx.clear_cache()
            mx.reset_peak_memory()
        if self.release == "full":
            memory.trim_heap()

    @staticmethod
    def active_memory() -> int:
        if "mlx.core" not in _imported():
            return 0
        return _mlx().get_active_memory()


def _imported():
    import sys

    return sys.modules
