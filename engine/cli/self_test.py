"""``ocr-tray --self-test`` and ``ocr-tray self-test``: prove that this installation (or frozen app) works here.

Three checks; each prints a few lines and exits non-zero when it fails:

* the plain self-test (``ocr-tray --self-test``, or ``ocr-tray self-test`` without a mode): builds a
  tiny random-weight model, OCRs a generated 2-page PDF and a PNG through the engine thread, and
  prints one summary line, the MLX device it ran on and the memory left after the unload against
  the baseline taken before the load (after ``mlx`` and ``mlx_vlm`` are imported, as figure 1 of
  docs/benchmarks.md measures it). It fails when a page went wrong or RSS stays more than 50 MB
  over the baseline (figure 1's target).
* ``--golden``: the golden pages (``engine.testing.golden``: body text at three sizes, two columns,
  a table, a photographed receipt; ground truth beside each) through a model, with the character
  error rate per page and overall; it fails above the preset's threshold (or ``--max-cer``). On the
  tiny random model (no ``--model``) the CER means nothing: that run proves the machinery only.
* ``--memory-cycles N``: N load/OCR/unload cycles of a model (the 0.9 GB bench model by default) in
  keep-resident mode, with RSS, MLX active and cache memory and the wired limit before and after each
  unload (a CSV with ``--csv``), checked against figures 1 and 2: RSS after every unload at most
  50 MB over the baseline, growth at most 2 MB per cycle; and MLX's own memory back where it was.

``--require-device gpu`` (or ``cpu``) also fails the check when MLX ran on another device.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gc
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

HELP = "check this installation: a tiny model end to end, the golden pages' accuracy, or memory over load/unload cycles"

MB = 1e6
RSS_LIMIT_MB = 50.0  # figure 1: RSS after each unload minus the baseline
GROWTH_LIMIT_MB = 2.0  # figure 2: RSS growth per load/OCR/unload cycle (least-squares slope)
MLX_ACTIVE_SLACK_MB = 8.0  # MLX active memory after an unload, over the baseline (the weights must be gone)
MLX_CACHE_LIMIT_MB = 1.0  # MLX's buffer cache after an unload (cleared)
TINY_GOLDEN_TOKENS = 24  # the random model prints noise: a few tokens prove the pipeline
REAL_GOLDEN_TOKENS = 2048  # enough for the longest golden page
CYCLE_TOKENS = 4


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Check this installation. Without a mode: OCR generated documents with a tiny random model and print\n"
        "the result, the MLX device and the memory left after the unload (the same as ocr-tray --self-test)."
    )
    p.epilog = (
        "examples:\n"
        "  ocr-tray self-test --require-device gpu\n"
        "  ocr-tray self-test --golden                 (tiny random model: proves the machinery only)\n"
        "  ocr-tray self-test --golden --model paddleocr-vl --csv cer.csv --out golden/\n"
        "  ocr-tray self-test --memory-cycles 5 --csv memory.csv\n"
        "Exit status 0 when every check passed, 1 otherwise."
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--golden", action="store_true",
                      help="OCR the golden pages (known text at three sizes, two columns, a table, a photographed "
                           "receipt) and print the character error rate per page and overall")
    mode.add_argument("--memory-cycles", type=_positive, metavar="N",
                      help="run N load/OCR/unload cycles and check the memory given back (figures 1 and 2)")
    p.add_argument("--model", metavar="ID_OR_DIR",
                   help="the model for --golden or --memory-cycles: a preset id, a repo id in the Hugging Face "
                        "cache or a folder (default: a random-weight model built here)")
    p.add_argument("--size", choices=("tiny", "bench"), default="bench",
                   help="the random model --memory-cycles builds when no --model is given (default: bench, ~0.9 GB)")
    p.add_argument("--max-cer", type=float, metavar="X",
                   help="--golden fails when the overall CER is above X (default: the preset's threshold)")
    p.add_argument("--max-tokens", type=_positive, metavar="N",
                   help=f"tokens per page (default: {REAL_GOLDEN_TOKENS} for a real model's golden pages, "
                        f"{TINY_GOLDEN_TOKENS} for the random model's, {CYCLE_TOKENS} per memory cycle)")
    p.add_argument("--csv", metavar="PATH", help="write the per-page CER (--golden) or the memory samples "
                                                 "(--memory-cycles) to this CSV file")
    p.add_argument("--out", metavar="DIR", help="--golden: keep the pages, their ground truth and the model's "
                                                "text (NAME.ocr.txt) in this folder")
    p.add_argument("--require-device", choices=("cpu", "gpu"),
                   help="fail unless MLX ran on this device (the GPU on a Mac)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(args: argparse.Namespace | None = None, out: IO[str] | None = None) -> int:
    """``args`` None: the plain self-test (``ocr-tray --self-test``)."""
    out = out or sys.stdout
    opts = vars(args) if args is not None else {}
    require = opts.get("require_device")
    if opts.get("golden"):
        code = run_golden(opts.get("model"), opts.get("max_tokens"), opts.get("max_cer"), opts.get("csv"),
                          opts.get("out"), out)
    elif opts.get("memory_cycles"):
        code = run_memory_cycles(opts["memory_cycles"], opts.get("model"), opts.get("size") or "bench",
                                 opts.get("max_tokens") or CYCLE_TOKENS, opts.get("csv"), out)
    else:
        code = run_plain(out)
    kind, _ = device_report()
    if require and kind != require:
        print(f"device check FAILED: MLX ran on the {kind}, the {require} was required", file=out, flush=True)
        return 1
    return code


# ------------------------------------------------------------------------------ device and memory
def device_report() -> tuple[str, str]:
    """("gpu" or "cpu", a line naming it): MLX's default device, the one the engine thread computes on."""
    import mlx.core as mx

    kind = "gpu" if mx.default_device().type == mx.gpu else "cpu"
    info: dict[str, Any] = {}
    try:
        reader = getattr(mx, "device_info", None) or mx.metal.device_info
        info = dict(reader())
    except Exception:  # an old mlx, or no device to describe
        pass
    name = info.get("device_name") or info.get("architecture") or "unknown"
    metal = "Metal available" if mx.metal.is_available() else "no Metal"
    return kind, f"device: {kind} ({name}; {metal}; mlx {getattr(mx, '__version__', '?')})"


@dataclass(frozen=True)
class Sample:
    """One reading of the process's memory and MLX's own accounts, bytes."""

    rss: int
    footprint: int | None  # macOS's physical footprint (Activity Monitor's "Memory"); None elsewhere
    mlx_active: int
    mlx_cache: int
    wired_limit: int


def sample() -> Sample:
    import mlx.core as mx

    from engine.memory import rss_bytes

    # MLX has no getter for the wired limit: setting it returns the previous value, put back at once
    # (nothing is computing here: the engine is idle whenever a sample is taken)
    wired = mx.set_wired_limit(0)
    mx.set_wired_limit(wired)
    return Sample(rss_bytes(), footprint_bytes(), mx.get_active_memory(), mx.get_cache_memory(), int(wired))


class _RusageInfoV2(ctypes.Structure):  # <libproc.h> rusage_info_v2
    _fields_ = [("ri_uuid", ctypes.c_uint8 * 16)] + [(name, ctypes.c_uint64) for name in (
        "ri_user_time", "ri_system_time", "ri_pkg_idle_wkups", "ri_interrupt_wkups", "ri_pageins",
        "ri_wired_size", "ri_resident_size", "ri_phys_footprint", "ri_proc_start_abstime", "ri_proc_exit_abstime",
        "ri_child_user_time", "ri_child_system_time", "ri_child_pkg_idle_wkups", "ri_child_interrupt_wkups",
        "ri_child_pageins", "ri_child_elapsed_abstime", "ri_diskio_bytesread", "ri_diskio_byteswritten")]


def footprint_bytes() -> int | None:
    """macOS's physical footprint of this process (Metal buffers included); None off macOS."""
    if sys.platform != "darwin":
        return None
    try:
        libproc = ctypes.CDLL("/usr/lib/libproc.dylib")
        info = _RusageInfoV2()
        if libproc.proc_pid_rusage(os.getpid(), 2, ctypes.byref(info)) != 0:  # RUSAGE_INFO_V2
            return None
        return int(info.ri_phys_footprint)
    except OSError:
        return None


def _import_mlx() -> None:
    """mlx and mlx_vlm imported the way the engine imports them, so the baseline holds the imports."""
    from engine import native_prefetch
    from engine.backend import _import_without_gc_pauses

    _import_without_gc_pauses("mlx_vlm", before=native_prefetch.warm)


def _app():
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.instance() or QCoreApplication([sys.argv[0]])


def _mb(n: float | None) -> str:
    return "—" if n is None else f"{n / MB:.1f} MB"


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against 1, 2, 3, … (0 for fewer than two)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n + 1) / 2, sum(values) / n
    num = sum((i + 1 - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i + 1 - mean_x) ** 2 for i in range(n))
    return num / den


# ------------------------------------------------------------------------------ the plain self-test
def run_plain(out: IO[str]) -> int:
    from engine.history import HistoryStore
    from engine.jobs import OcrOptions, PageSource
    from engine.models.presets import ModelSpec
    from engine.testing import samples, tiny_model

    from .ocr import ocr_paths

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ocr-tray-selftest-") as tmp:
        os.chmod(tmp, 0o700)
        model = tiny_model.build(Path(tmp) / "model", "qwen2_vl", "tiny")
        pdf = samples.write_pdf(Path(tmp) / "two-pages.pdf", pages=2, text_pages={1})
        png = samples.write_png(Path(tmp) / "image.png")
        history = HistoryStore(Path(tmp) / "history.sqlite3")  # not the user's history
        _app()
        _import_mlx()
        gc.collect()
        baseline = sample()
        buf, errors = io.StringIO(), io.StringIO()
        try:
            code = ocr_paths([str(pdf), str(png)], ModelSpec.resolve(str(model)), OcrOptions(max_tokens=8),
                             as_json=True, history=history, out=buf, err=errors)
        finally:
            history.close()
    gc.collect()
    after = sample()
    pages = [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    by_source = {s: sum(1 for p in pages if p["source"] == s) for s in (PageSource.MODEL, PageSource.TEXT_LAYER)}
    ok = code == 0 and len(pages) == 3 and by_source == {PageSource.MODEL: 2, PageSource.TEXT_LAYER: 1}
    verdict = "ok" if ok else "FAILED"
    print(
        f"self-test {verdict}: {len(pages)} pages ({by_source[PageSource.MODEL]} by the model, "
        f"{by_source[PageSource.TEXT_LAYER]} from the text layer) in {time.perf_counter() - t0:.1f} s; "
        f"RSS {after.rss / MB:.0f} MB" + (f"; errors: {errors.getvalue().strip()}" if errors.getvalue() else ""),
        file=out,
        flush=True,
    )
    print(device_report()[1], file=out, flush=True)
    over = (after.rss - baseline.rss) / MB
    memory_ok = over <= RSS_LIMIT_MB
    print(
        f"memory after unload: RSS {after.rss / MB:.0f} MB, {over:+.1f} MB over the baseline of "
        f"{baseline.rss / MB:.0f} MB (figure 1 target ≤ +{RSS_LIMIT_MB:.0f} MB: {'ok' if memory_ok else 'MISSED'}); "
        f"MLX active {_mb(after.mlx_active)} (baseline {_mb(baseline.mlx_active)}), cache {_mb(after.mlx_cache)}"
        + (f"; footprint {_mb(after.footprint)} (baseline {_mb(baseline.footprint)})"
           if after.footprint is not None else ""),
        file=out,
        flush=True,
    )
    from engine.api import selftest as api_selftest  # the local API: started on a free port, one page through it

    api_ok = api_selftest.run(out)
    return 0 if ok and memory_ok and api_ok else 1


# ------------------------------------------------------------------------------ golden pages
def run_golden(model: str | None, max_tokens: int | None, max_cer: float | None, csv_path: str | None,
               out_dir: str | None, out: IO[str]) -> int:
    from engine.history import HistoryStore
    from engine.jobs import OcrOptions
    from engine.models.presets import ModelSpec
    from engine.testing import golden, tiny_model

    from .ocr import ocr_paths

    with tempfile.TemporaryDirectory(prefix="ocr-tray-golden-") as tmp:
        os.chmod(tmp, 0o700)
        folder = Path(out_dir) if out_dir else Path(tmp) / "pages"
        pages = golden.write_pages(folder)
        random_model = model is None
        if random_model:
            spec = ModelSpec.resolve(str(tiny_model.build(Path(tmp) / "model", "qwen2_vl", "tiny")))
        else:
            spec = ModelSpec.resolve(model)
        tokens = max_tokens or (TINY_GOLDEN_TOKENS if random_model else REAL_GOLDEN_TOKENS)
        limit = max_cer if max_cer is not None else (None if random_model else golden.threshold(spec.preset_id))
        print(f"golden pages: {len(pages)} pages in {folder if out_dir else 'a temporary folder'}; model "
              f"{'a random-weight qwen2_vl (tiny)' if random_model else f'{spec.source} ({spec.label})'}; "
              f"up to {tokens} tokens a page", file=out, flush=True)
        print(device_report()[1], file=out, flush=True)
        history = HistoryStore(Path(tmp) / "history.sqlite3")
        buf, errors = io.StringIO(), io.StringIO()
        try:
            code = ocr_paths([str(folder / p.image) for p in pages], spec, OcrOptions(max_tokens=tokens),
                             as_json=True, history=history, out=buf, err=errors)
        finally:
            history.close()
        rows = {r["path"]: r for r in (json.loads(line) for line in buf.getvalue().splitlines() if line.strip())}
        results = []
        for p in pages:
            row = rows.get(str(folder / p.image))
            text = row["text"] if row else ""
            results.append((p, row, golden.score(p.name, text, p.truth)))
            if out_dir and row is not None:
                (folder / f"{p.name}.ocr.txt").write_text(text, encoding="utf-8")
    missing = [p.name for p, row, _ in results if row is None]
    total = golden.overall(s for _, _, s in results)
    kind, _ = device_report()
    print(f"  {'page':<15}{'chars':>7}{'read':>7}{'edits':>7}{'CER':>8}{'seconds':>9}", file=out)
    for p, row, s in results:
        seconds = f"{row['seconds']:.1f}" if row else "failed"
        print(f"  {p.name:<15}{s.reference_chars:>7}{s.hypothesis_chars:>7}{s.distance:>7}{s.cer:>8.3f}{seconds:>9}",
              file=out)
    chars = sum(s.reference_chars for _, _, s in results)
    edits = sum(s.distance for _, _, s in results)
    print(f"  {'overall':<15}{chars:>7}{'':>7}{edits:>7}{total:>8.3f}", file=out, flush=True)
    if csv_path:
        _write_golden_csv(csv_path, results, total, spec.source if not random_model else "random-tiny", kind)
    if errors.getvalue().strip():
        print("errors: " + " | ".join(errors.getvalue().strip().splitlines()), file=out)
    failed = code != 0 or bool(missing)
    if random_model:
        print("note: a random-weight model prints noise, so its CER means nothing; this run proves the machinery "
              "(pages drawn, OCR'd through the engine, scored)" + ("" if limit is not None else
                                                                     " and applies no threshold"), file=out)
    if limit is None:
        if not random_model:
            print(f"note: no CER threshold for {spec.label} (not a preset); pass --max-cer to set one", file=out)
        verdict = "FAILED" if failed else ("ok (machinery only)" if random_model else "ok (reported, no threshold)")
    else:
        provisional = " (provisional threshold)" if max_cer is None and golden.THRESHOLDS_PROVISIONAL else ""
        within = total <= limit
        failed = failed or not within
        verdict = (f"{'ok' if not failed else 'FAILED'}: overall CER {total:.3f} "
                   f"{'≤' if within else '>'} {limit:.3f}{provisional}")
    if missing:
        verdict += f"; not read: {', '.join(missing)}"
    print(f"golden {verdict}", file=out, flush=True)
    return 1 if failed else 0


def _write_golden_csv(path: str, results: list, total: float, model: str, device: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["page", "kind", "reference_chars", "output_chars", "edit_distance", "cer", "seconds",
                    "generation_tokens", "model", "device"])
        for p, row, s in results:
            w.writerow([p.name, p.kind, s.reference_chars, s.hypothesis_chars, s.distance, f"{s.cer:.4f}",
                        "" if row is None else row["seconds"], "" if row is None else row["generation_tokens"],
                        model, device])
        chars = sum(s.reference_chars for _, _, s in results)
        w.writerow(["overall", "all pages", chars, sum(s.hypothesis_chars for _, _, s in results),
                    sum(s.distance for _, _, s in results), f"{total:.4f}", "", "", model, device])


# ------------------------------------------------------------------------------ memory cycles
def run_memory_cycles(cycles: int, model: str | None, size: str, max_tokens: int, csv_path: str | None,
                      out: IO[str]) -> int:
    from PySide6.QtCore import QEventLoop, QTimer

    from engine.engine_thread import Engine
    from engine.jobs import JobStatus, OcrOptions
    from engine.lifecycle import Mode, State
    from engine.models.presets import ModelSpec
    from engine.models.store import weight_bytes
    from engine.testing import samples, tiny_model

    with tempfile.TemporaryDirectory(prefix="ocr-tray-memory-") as tmp:
        os.chmod(tmp, 0o700)
        if model is None:
            folder = tiny_model.build(Path(tmp) / "model", "qwen2_vl", size)
            spec, what = ModelSpec.resolve(str(folder)), f"random-weight {size} model"
            weights = weight_bytes(folder)
        else:
            spec, what, weights = ModelSpec.resolve(model), model, 0
        png = samples.write_png(Path(tmp) / "page.png")
        app = _app()
        _import_mlx()

        engine = Engine(spec, Mode.KEEP_RESIDENT)
        reports: list = []
        engine.stateChanged.connect(reports.append)
        done: list = []
        engine.jobFinished.connect(done.append)
        engine.jobFailed.connect(done.append)
        tick = QTimer()  # wakes the waiting loop now and then, so a timeout is seen
        tick.start(100)

        def wait(predicate: Callable[[], bool], timeout_s: float = 1800) -> None:
            deadline = time.monotonic() + timeout_s
            while not predicate():
                if time.monotonic() > deadline:
                    raise TimeoutError("the engine did not answer in time")
                flags = QEventLoop.ProcessEventsFlag
                app.processEvents(flags.AllEvents | flags.WaitForMoreEvents)

        def settle() -> None:
            time.sleep(0.1)
            app.processEvents()
            gc.collect()

        rows: list[tuple[int, str, Sample]] = []
        failure = ""
        try:
            wait(lambda: bool(reports))  # the engine thread is up (it tunes the allocator first)
            time.sleep(0.2)
            settle()
            baseline = sample()
            rows.append((0, "baseline", baseline))
            for i in range(cycles):
                engine.submit([png], OcrOptions(max_tokens=max_tokens))
                wait(partial(_more_than, done, i))
                if done[i].status is not JobStatus.DONE:
                    failure = f"cycle {i + 1}: {done[i].error or done[i].status}"
                    break
                settle()
                rows.append((i + 1, "before-unload", sample()))
                engine.unload_now()
                wait(lambda: engine.status.state is State.UNLOADED and engine.status.model_bytes == 0)
                settle()
                rows.append((i + 1, "after-unload", sample()))
        finally:
            tick.stop()
            engine.shutdown()
    kind, _ = device_report()
    if csv_path:
        _write_memory_csv(csv_path, rows, rows[0][2] if rows else None, kind, what)
    return _memory_verdict(rows, cycles, kind, what, weights, failure, out)


def _more_than(items: list, n: int) -> bool:
    return len(items) > n


def _write_memory_csv(path: str, rows: list[tuple[int, str, Sample]], baseline: Sample | None, device: str,
                      model: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["cycle", "phase", "rss_mb", "rss_over_baseline_mb", "footprint_mb", "mlx_active_mb",
                    "mlx_cache_mb", "wired_limit_mb", "device", "model"])
        for cycle, phase, s in rows:
            over = "" if baseline is None else f"{(s.rss - baseline.rss) / MB:.2f}"
            w.writerow([cycle, phase, f"{s.rss / MB:.2f}", over,
                        "" if s.footprint is None else f"{s.footprint / MB:.2f}", f"{s.mlx_active / MB:.2f}",
                        f"{s.mlx_cache / MB:.2f}", f"{s.wired_limit / MB:.2f}", device, model])


def _memory_verdict(rows: list[tuple[int, str, Sample]], cycles: int, device: str, what: str, weights: int,
                    failure: str, out: IO[str]) -> int:
    base = rows[0][2] if rows else None
    before = [s for _, phase, s in rows if phase == "before-unload"]
    after = [s for _, phase, s in rows if phase == "after-unload"]
    size = f" ({weights / MB:.0f} MB of weights)" if weights else ""
    print(f"memory cycles: {len(after)} of {cycles} × {what}{size} on the {device}"
          + (f", baseline RSS {base.rss / MB:.0f} MB" if base else ""), file=out)
    print(device_report()[1], file=out)
    if base is None:
        print(f"memory cycles FAILED: {failure or 'no sample taken'}", file=out, flush=True)
        return 1
    print("  before → after each unload:", file=out)
    print(f"  {'cycle':<6}{'RSS':>20}{'over base':>11}{'MLX active':>20}{'MLX cache':>16}{'wired limit':>16}", file=out)

    def pair(b: float, a: float, digits: int) -> str:
        return f"{b / MB:.{digits}f} → {a / MB:.{digits}f} MB"

    for n, (b, a) in enumerate(zip(before, after), 1):
        print(f"  {n:<6}{pair(b.rss, a.rss, 0):>20}{(a.rss - base.rss) / MB:>+8.1f} MB"
              f"{pair(b.mlx_active, a.mlx_active, 1):>20}{pair(b.mlx_cache, a.mlx_cache, 1):>16}"
              f"{pair(b.wired_limit, a.wired_limit, 0):>16}", file=out)
    over = [(a.rss - base.rss) / MB for a in after]
    growth = slope([a.rss / MB for a in after])
    fig1 = bool(over) and max(over) <= RSS_LIMIT_MB
    fig2 = len(after) < 2 or growth <= GROWTH_LIMIT_MB
    mlx_ok = bool(after) and all(
        a.mlx_active <= base.mlx_active + MLX_ACTIVE_SLACK_MB * MB and a.mlx_cache <= MLX_CACHE_LIMIT_MB * MB
        and a.wired_limit == base.wired_limit for a in after)
    loaded = max((b.mlx_active - base.mlx_active for b in before), default=0)
    print(f"figure 1 (RSS after every unload ≤ baseline + {RSS_LIMIT_MB:.0f} MB): "
          f"{'ok' if fig1 else 'MISSED'}, worst {max(over, default=0):+.1f} MB", file=out)
    print(f"figure 2 (growth ≤ {GROWTH_LIMIT_MB:.0f} MB/cycle): {'ok' if fig2 else 'MISSED'}, {growth:+.2f} MB/cycle"
          + (" (one cycle: no slope)" if len(after) < 2 else ""), file=out)
    print(f"MLX after every unload (active ≤ baseline + {MLX_ACTIVE_SLACK_MB:.0f} MB, cache ≤ "
          f"{MLX_CACHE_LIMIT_MB:.0f} MB, wired limit back to {base.wired_limit / MB:.0f} MB): "
          f"{'ok' if mlx_ok else 'MISSED'}; the loaded model held {loaded / MB:.0f} MB of MLX active memory",
          file=out)
    ok = fig1 and fig2 and mlx_ok and not failure and len(after) == cycles
    print(f"memory cycles {'ok' if ok else 'FAILED'}" + (f": {failure}" if failure else ""), file=out, flush=True)
    return 0 if ok else 1
