"""Break each promise on purpose and check that a test notices.

    .venv/bin/python scripts/mutation_check.py            # every break
    .venv/bin/python scripts/mutation_check.py --only 3,7  # some of them
    .venv/bin/python scripts/mutation_check.py --list      # what they are

For each break: the working tree (tracked and untracked files, not ignored ones) is copied to a
temporary folder, one edit is made to the product code there, and the tests named for that
promise run in the copy (the copy's own packages come first on the path). A break is *caught*
when those tests fail. Every edit must apply exactly once, so a break that no longer matches
the code is reported as stale rather than passing silently. Exit status 0 only when every break
is caught. The last result is recorded in docs/reliability.md ("Tests that fail when a promise
breaks").
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Break:
    promise: str
    what: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


BREAKS = (
    Break("memory back after unload", "a model reference kept after unload", "engine/backend.py",
          "        self._model = None\n        self._processor = None\n",
          "        self._kept = self._model\n        self._model = None\n        self._processor = None\n",
          ("tests/engine/test_backend.py",
           "tests/reliability/test_faults.py::test_unload_requested_mid_job_and_memory_comes_back")),
    Break("memory back after unload", "mx.clear_cache() removed from the unload", "engine/backend.py",
          "        if \"mlx.core\" in _imported():\n            mx = _mlx()\n            mx.clear_cache()\n",
          "        if \"mlx.core\" in _imported():\n            mx = _mlx()\n",
          ("tests/engine/test_backend.py",)),
    Break("memory back after unload", "malloc_trim removed from the unload", "engine/backend.py",
          "        if self.release == \"full\":\n            memory.trim_heap()\n",
          "        if self.release == \"full\":\n            pass\n",
          ("tests/engine/test_backend.py",)),
    Break("memory back after unload", "mallopt(M_MMAP_THRESHOLD) never called", "engine/backend.py",
          "        if self.release == \"full\":\n            memory.tune_allocator()\n",
          "        if self.release == \"full\":\n            pass\n",
          ("tests/engine/test_backend.py",)),
    Break("idle unload", "the idle timer never started", "engine/engine_thread.py",
          "        self._timer.start(min(remaining_ms, DEADLINE_RECHECK_MS))\n",
          "        pass\n",
          ("tests/desktop/test_app.py::test_memory_modes_change_when_the_model_unloads_and_survive_a_restart",)),
    Break("deferred unload mid-job", "unload at once, even mid-job", "engine/lifecycle.py",
          "        if self.state is State.READY:\n            return self._unload()\n",
          "        if self.state in (State.READY, State.BUSY):\n            return self._unload()\n",
          ("tests/reliability/test_faults.py::test_unload_requested_mid_job_and_memory_comes_back",)),
    Break("remote code never runs", "remote code allowed in the load call", "engine/backend.py",
          "load(str(path), trust_remote_code=False)", "load(str(path), trust_remote_code=" "True)",
          ("tests/reliability/test_security.py",)),
    Break("no network except a download", "local_files_only=True removed where a model is found",
          "engine/models/store.py",
          "snapshot_download(repo_id, local_files_only=True, allow_patterns=MODEL_FILE_PATTERNS)",
          "snapshot_download(repo_id, allow_patterns=MODEL_FILE_PATTERNS)",
          ("tests/reliability/test_security.py::test_no_network_during_a_full_ocr_job",)),
    Break("crash-safe history", "pages written only at the document's end", "engine/engine_thread.py",
          "                    self._record(partial(history.add_page, record, result))"
          "  # committed the moment it is done\n",
          "                    pass\n",
          ("tests/reliability/test_kill.py",)),
    Break("crash-safe history", "SQLite synchronous = OFF", "engine/history.py",
          'db.execute("PRAGMA synchronous = FULL")', 'db.execute("PRAGMA synchronous = OFF")',
          ("tests/engine/test_history.py",)),
    Break("GUI never waits", "plain `import mlx_vlm` (no GC pause, no prefetch) and mx.load (no weights reader)",
          "engine/backend.py",
          "        load = _import_without_gc_pauses(\"mlx_vlm\", before=native_prefetch.warm).load\n",
          "        import mlx_vlm\n\n        load = mlx_vlm.load\n",
          ("tests/engine/test_backend.py", "tests/engine/test_native_prefetch.py")),
    Break("GUI never waits", "plain `import mlx_vlm` alone (the weights reader kept)", "engine/backend.py",
          "        load = _import_without_gc_pauses(\"mlx_vlm\", before=native_prefetch.warm).load\n",
          "        import mlx_vlm\n\n        load = mlx_vlm.load\n",
          ("tests/engine/test_backend.py::test_the_first_load_imports_mlx_vlm_without_a_collection",)),
    Break("GUI never waits", "the collector left on during the import (the prefetch kept)", "engine/backend.py",
          "    enabled = gc.isenabled()\n    gc.disable()\n", "    enabled = gc.isenabled()\n",
          ("tests/engine/test_backend.py::test_the_first_load_imports_mlx_vlm_without_a_collection",)),
    Break("MLX cache cleared after every document", "no clear_cache at the end of a document", "engine/backend.py",
          "        peak = mx.get_peak_memory()\n        mx.clear_cache()\n", "        peak = mx.get_peak_memory()\n",
          ("tests/engine/test_backend.py",)),
    Break("GUI never waits", "a scan decoded again by every band (no decode before the bands)", "engine/documents.py",
          "    decode_page_images(fitz, page, box.width * box.height)\n", "",
          ("tests/engine/test_documents.py",)),
    Break("GUI never waits", "the next page prepared beside the model's processor", "engine/page_prefetch.py",
          "        self._owed = True  # not prepared at once",
          "        self._credits.release()  # not prepared at once",
          ("tests/engine/test_page_prefetch.py",)),
    Break("Time to text", "the next page prepared during this page's prefill (before its first token)",
          "engine/backend.py", "        gen = stream_generate(\n",
          "        on_first_token()\n        gen = stream_generate(\n",
          ("tests/engine/test_page_prefetch.py", "tests/engine/test_backend.py")),
    Break("Time to text", "MLX left on the reference BLAS its wheel bundles (no OpenBLAS before the import)",
          "engine/backend.py",
          "    native_blas.use()  # before MLX's first import binds its BLAS (ADR 0023)\n    import mlx.core as mx\n",
          "    import mlx.core as mx\n",
          ("tests/engine/test_native_blas.py",)),
    Break("Time to text", "the weights reader takes every page fault inside its reads (no populate)",
          "engine/weights_reader.py", "            _populate(base + done, len(step))\n", "            pass\n",
          ("tests/engine/test_weights_reader.py",)),
    Break("Time to text", "the weights reader's steps in Python even where the C module was built",
          "engine/weights_reader.py", "    native = _native()\n", "    native = None\n",
          ("tests/engine/test_weights_reader.py::test_the_c_steps_need_no_gil_while_another_thread_holds_it",)),
    Break("Time to text", "a dragged file's first page not prepared before its drop",
          "engine/controller.py", "            self.engine.prepare_ahead(", "            (lambda *a: None)(",
          ("tests/desktop/test_prewarm.py::test_a_drag_entering_shows_loading_at_once_and_leaving_does_not_stop_the_load",)),
    Break("Hostile model folders", "the chat-template watch notes a broken budget but never stops the render",
          "engine/models/template_guard.py", "                _raise_in(self.target, _Stopped)\n",
          "                pass\n",
          ("tests/engine/models/test_store.py::test_nested_range_loops_are_stopped_by_the_deadline",)),
    Break("Time to text", "the app's local API imports its code at start-up, beside a launch's model load (ADR 0025)",
          "desktop/app.py", "server.start(defer=True)", "server.start(defer=False)",
          ("tests/engine/api/test_deferred_start.py::test_the_app_loads_the_api_only_after_its_launch_document_is_read",)),
    Break("Time to text", "the API woken while a drop's files are still walked on the pool thread (ADR 0025)",
          "desktop/app.py", "                and not self.controller.submitting and status.state",
          "                and status.state",
          ("tests/engine/api/test_deferred_start.py::test_the_app_does_not_wake_the_api_while_files_are_on_their_way",)),
    Break("Hostile model folders", "the template watch stops a render once: a stop Python drops is not raised again",
          "engine/models/template_guard.py", "            every = RESTOP_EVERY\n", "            return\n",
          ("tests/engine/models/test_store.py::test_a_stop_that_python_swallows_is_raised_again_until_the_render_ends",)),
    Break("Hostile model folders", "a template watch that outlives its render takes the next render for its own",
          "engine/models/template_guard.py", "            if frame is mine:\n",
          "            if frame.f_code is _rendering.__code__:\n",
          ("tests/engine/models/test_store.py::test_a_watch_that_outlives_its_render_never_stops_the_next_one",)),
    Break("The app idle", "the local API's server looks for a stop ten times a second, as uvicorn's own loop does",
          "engine/api/quiet_server.py",
          "        await self.on_tick(0)  # the default headers, once (they never change: no Date header)\n",
          "        await uvicorn.Server.main_loop(self)\n",
          ("tests/engine/api/test_quiet_server.py::test_an_idle_api_thread_sleeps_until_it_is_called_or_stopped",)),
)
# further edits in the same copy, by break number: pages written at the end instead; the weights reader swapped out
EXTRA = {
    9: ("engine/engine_thread.py",
        "            if self._history is not None and record is not None:\n"
        "                self._record(partial(self._history.finish_document,",
        "            if self._history is not None and record is not None:\n"
        "                for done in pages:\n"
        "                    self._record(partial(self._history.add_page, record, done))\n"
        "                self._record(partial(self._history.finish_document,"),
    11: ("engine/backend.py", "        with weights_reader.installed():\n",
         "        with __import__(\"contextlib\").nullcontext():\n"),
}


def copy_tree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if not src.is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    # the native module setup.py built (ignored by git, so not listed above): without it the copy would read
    # weights in Python and every test of the C steps would fail, a break "caught" for the wrong reason
    for built in (ROOT / "engine").glob("_stepread*.so"):
        shutil.copy2(built, dest / "engine" / built.name)


def edit(tree: Path, file: str, old: str, new: str) -> None:
    path = tree / file
    text = path.read_text()
    if text.count(old) != 1:
        raise LookupError(f"{file}: the text to change appears {text.count(old)} times (the break is stale)")
    path.write_text(text.replace(old, new))


def run_one(index: int, brk: Break, timeout: float) -> tuple[str, float, str]:
    """('caught' | 'MISSED' | 'stale', seconds, last lines of pytest)."""
    with tempfile.TemporaryDirectory(prefix="ocr-tray-mutant-") as tmp:
        tree = Path(tmp) / "repo"
        copy_tree(tree)
        try:
            edit(tree, brk.file, brk.old, brk.new)
            if index + 1 in EXTRA:
                edit(tree, *EXTRA[index + 1])
        except LookupError as e:
            return "stale", 0.0, str(e)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                   PYTHONPATH=os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])]))
        t0 = time.monotonic()
        try:
            run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                                  *brk.tests], cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "caught", time.monotonic() - t0, "(the tests did not finish: a hang is a failure too)"
        seconds = time.monotonic() - t0
        tail = "\n".join(run.stdout.strip().splitlines()[-3:])
        if run.returncode == 5:
            return "stale", seconds, "no tests were collected: " + tail
        return ("caught" if run.returncode != 0 else "MISSED"), seconds, tail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated break numbers (see --list)")
    p.add_argument("--list", action="store_true")
    p.add_argument("--timeout", type=float, default=900, help="seconds for one break's tests")
    args = p.parse_args(argv)
    chosen = [int(n) for n in args.only.split(",") if n.strip()] or list(range(1, len(BREAKS) + 1))
    if args.list:
        for n, brk in enumerate(BREAKS, 1):
            print(f"{n:2}. {brk.promise}: {brk.what}  ({brk.file}; {' '.join(brk.tests)})")
        return 0
    rows = []
    for n in chosen:
        brk = BREAKS[n - 1]
        verdict, seconds, tail = run_one(n - 1, brk, args.timeout)
        rows.append((n, brk, verdict, seconds))
        print(f"{n:2}. {verdict:6} {seconds:5.0f} s  {brk.promise}: {brk.what}", flush=True)
        if verdict != "caught":
            print("    " + tail.replace("\n", "\n    "), flush=True)
        else:
            failed = [line for line in tail.splitlines() if line.startswith(("FAILED", "ERROR"))]
            if failed:
                print(f"    {failed[0]}", flush=True)
    missed = [r[0] for r in rows if r[2] == "MISSED"]
    stale = [r[0] for r in rows if r[2] == "stale"]  # the break no longer matches the code: nothing was tested
    print(f"\n{len(rows) - len(missed) - len(stale)} of {len(rows)} breaks caught"
          + (f"; missed (the tests passed with the promise broken): {missed}" if missed else "")
          + (f"; stale (the break no longer applies, so it tested nothing): {stale}" if stale else ""))
    return 1 if missed or stale else 0


if __name__ == "__main__":
    sys.exit(main())
