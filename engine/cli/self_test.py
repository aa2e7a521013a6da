"""``ocr-tray --self-test``: build a tiny random model, OCR a 2-page PDF and a PNG through the engine thread.

It proves the installed (or frozen) app can load a model, stream text, read a text layer and give
the memory back; it prints one line and exits non-zero when anything failed.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import IO


def run(out: IO[str] | None = None) -> int:
    from engine.history import HistoryStore
    from engine.jobs import OcrOptions, PageSource
    from engine.memory import rss_bytes
    from engine.models.presets import ModelSpec
    from engine.testing import samples, tiny_model

    from .ocr import ocr_paths

    out = out or sys.stdout
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ocr-tray-selftest-") as tmp:
        os.chmod(tmp, 0o700)
        model = tiny_model.build(Path(tmp) / "model", "qwen2_vl", "tiny")
        pdf = samples.write_pdf(Path(tmp) / "two-pages.pdf", pages=2, text_pages={1})
        png = samples.write_png(Path(tmp) / "image.png")
        history = HistoryStore(Path(tmp) / "history.sqlite3")  # not the user's history
        buf, errors = io.StringIO(), io.StringIO()
        try:
            code = ocr_paths([str(pdf), str(png)], ModelSpec.resolve(str(model)), OcrOptions(max_tokens=8),
                             as_json=True, history=history, out=buf, err=errors)
        finally:
            history.close()
    pages = [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    by_source = {s: sum(1 for p in pages if p["source"] == s) for s in (PageSource.MODEL, PageSource.TEXT_LAYER)}
    ok = code == 0 and len(pages) == 3 and by_source == {PageSource.MODEL: 2, PageSource.TEXT_LAYER: 1}
    verdict = "ok" if ok else "FAILED"
    print(
        f"self-test {verdict}: {len(pages)} pages ({by_source[PageSource.MODEL]} by the model, "
        f"{by_source[PageSource.TEXT_LAYER]} from the text layer) in {time.perf_counter() - t0:.1f} s; "
        f"RSS {rss_bytes() / 1e6:.0f} MB" + (f"; errors: {errors.getvalue().strip()}" if errors.getvalue() else ""),
        file=out,
        flush=True,
    )
    return 0 if ok else 1
