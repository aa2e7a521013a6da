"""Issue 16, item 4: does decoding pages of one PDF as a batch raise pages per minute here? (ADR 0022)

Not a figure: a one-off measurement whose numbers the ADR records. For one family, a random-weight model of
the given size is built, N A4 pages (144 dpi, ``bench.documents.page_image``) are OCR'd (a) one at a time with
``stream_generate`` and (b) as one ``batch_generate`` call, greedy both ways, the model's image limits clamped
as the app clamps them; two rounds in alternating order. It prints pages per minute, MLX's peak memory and
whether each page's text is the same both ways, then one JSON line.

    python -m bench.probe_batching FAMILY SIZE N TOKENS     # e.g. qwen2_vl bench 2 64
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    family, size, n, tokens = (argv or sys.argv[1:])[:4]
    n, tokens = int(n), int(tokens)
    model_dir = Path(tempfile.mkdtemp(prefix="ocr-tray-batching-")) / "model"
    subprocess.run([sys.executable, "-m", "engine.testing.tiny_model", str(model_dir), "--family", family,
                    "--size", size, "--seed", "13"], check=True)
    import mlx.core as mx
    from mlx_vlm import batch_generate, load, stream_generate
    from mlx_vlm.prompt_utils import apply_chat_template

    from bench import documents
    from engine.models import vetting
    from engine.models.presets import ModelSpec

    spec = ModelSpec.resolve(str(model_dir))
    model, processor = load(str(model_dir), trust_remote_code=False)
    mx.eval(model.parameters())
    vetting.clamp_image_processor(processor, spec.max_pixels, spec.max_side)  # as the app does
    images = [documents.page_image(i + 1).convert("RGB") for i in range(n)]
    templated = apply_chat_template(processor, model.config, spec.prompt, num_images=1)

    def single() -> list[str]:
        out = []
        for image in images:
            out.append("".join(r.text for r in stream_generate(model, processor, templated, image=[image],
                                                               max_tokens=tokens, temperature=0.0)))
            mx.clear_cache()
        return out

    def batched() -> list[str]:  # batch_generate applies the chat template itself; its sampler is greedy
        texts = list(batch_generate(model, processor, images=list(images), prompts=[spec.prompt] * n,
                                    max_tokens=tokens).texts)
        mx.clear_cache()
        return texts

    rows = []
    for rnd in range(2):
        order = (("single", single), ("batch", batched))
        for name, run in order if rnd % 2 == 0 else order[::-1]:
            mx.reset_peak_memory()
            t0 = time.perf_counter()
            texts = run()
            seconds = time.perf_counter() - t0
            rows.append({"mode": name, "seconds": seconds, "texts": texts, "peak_mb": mx.get_peak_memory() / 1e6})
            print(f"{family}/{size} n={n} {name}: {seconds:.1f} s, {60 * n / seconds:.2f} pages/min, "
                  f"MLX peak {rows[-1]['peak_mb']:.0f} MB", flush=True)
    one = [r for r in rows if r["mode"] == "single"]
    many = [r for r in rows if r["mode"] == "batch"]
    print(json.dumps({
        "family": family, "size": size, "n": n, "tokens": tokens,
        "batch_speedup": min(r["seconds"] for r in one) / min(r["seconds"] for r in many),
        "same_text_per_page": [a == b for a, b in zip(one[0]["texts"], many[0]["texts"])],
        "single_s": [r["seconds"] for r in one], "batch_s": [r["seconds"] for r in many],
        "peak_mb": {"single": max(r["peak_mb"] for r in one), "batch": max(r["peak_mb"] for r in many)},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
