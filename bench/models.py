"""Random-weight models whose answers stream, for the figures that time what happens per token.

A random checkpoint decodes greedily into a loop, and what the loop is decides how often text
reaches the app: mlx-vlm's byte-level BPE detokenizer hands out a piece only when a word ends,
so the default seed's loops ("bbbb…", "cribcribcrib…") give one text delta for a whole page,
and the per-token path (the text callback, its signal, the window appending the text) is never
exercised. The seeds here were chosen on three different 144 dpi A4 pages for loops that end
words: the tiny model's (" Recogn", "rn") gives a text delta every second token (128 of 256 on
each page), the bench model's (" M") one every token (46 of 48); a real OCR model on prose gives
about one per 1.3 tokens. Same sizes, same tokenizer and vision tower as ``Context.model``'s;
only the random values differ.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench import common

# size -> seed of engine.testing.tiny_model whose greedy answer streams (see the module text)
STREAMING_SEEDS = {"tiny": 13, "bench": 1}


def streaming(ctx: common.Context, size: str = "bench") -> Path:
    """The qwen2_vl random model of ``size`` whose answers stream, built once per run (a model folder given with
    ``--model`` stands in for the bench size, as in ``Context.model``)."""
    if ctx.model_dir is not None and size == "bench":
        return Path(ctx.model_dir)
    key = ("streaming-model", size)
    if key not in ctx.cache:
        seed = STREAMING_SEEDS[size]
        out = ctx.tmp / f"model-qwen2_vl-{size}-seed{seed}"
        t0 = time.perf_counter()
        cmd = [ctx.python, "-m", "engine.testing.tiny_model", str(out), "--size", size, "--seed", str(seed)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ctx.env, cwd=common.ROOT, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"could not build the streaming {size} model: {proc.stderr.strip()[-500:]}")
        common.flush_to_disk(out)  # as Context.model does: no writeback of it during the figures
        common.log(f"built the streaming {size} model (seed {seed}) in {time.perf_counter() - t0:.1f} s")
        ctx.cache[key] = out
    return ctx.cache[key]
