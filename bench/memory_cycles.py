"""Figures 1 and 2: RSS after unload minus the baseline, over load/OCR/unload cycles in the engine thread.

Run in its own process (RSS is per process):

    python -m bench.memory_cycles --cycles 5 --release full --json

The baseline is the RSS after ``mlx`` and ``mlx_vlm`` are imported and before the first
load: imported modules may stay, weights must go. Prints one JSON object. With
``--sample-ms 100`` it also records an RSS time series (psutil, on a sampling thread)
with the engine state at each sample, for the plot. On a Mac, MLX's active memory
(from the engine's status reports) and the process's physical footprint are recorded
beside RSS at each cycle; off a Mac the footprint is None.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run(cycles: int, release: str, model_dir: Path | None, size: str, sample_ms: int = 0, max_tokens: int = 8) -> dict:
    import psutil
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from bench.common import footprint_bytes
    from engine.backend import Backend
    from engine.engine_thread import Engine
    from engine.jobs import JobStatus, OcrOptions
    from engine.lifecycle import Mode, State
    from engine.models.presets import ModelSpec
    from engine.testing import samples, tiny_model

    proc = psutil.Process()
    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    if model_dir is None:
        model_dir = tiny_model.build(tmp / "model", "qwen2_vl", size)
    png = samples.write_png(tmp / "page.png")

    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    import mlx.core  # noqa: F401 - the baseline includes the imports
    import mlx_vlm  # noqa: F401

    engine = Engine(ModelSpec.resolve(str(model_dir)), Mode.KEEP_RESIDENT, backend=Backend(release))
    samples_out: list[tuple[float, int, str]] = []
    events: list[tuple[float, str]] = []
    t_start = time.monotonic()
    state = {"s": State.UNLOADED.value, "reports": 0, "status": None}

    def on_state(st):
        if st.state.value != state["s"] or not events:
            events.append((round(time.monotonic() - t_start, 3), st.state.value))
        state["s"] = st.state.value
        state["status"] = st
        state["reports"] += 1

    engine.stateChanged.connect(on_state)
    stop_sampling = threading.Event()
    if sample_ms:
        # a plain thread, so the series keeps its pace whatever the main thread is doing
        def sample():
            while not stop_sampling.wait(sample_ms / 1000):
                samples_out.append((time.monotonic() - t_start, proc.memory_info().rss, state["s"]))

        threading.Thread(target=sample, name="rss-sampler", daemon=True).start()

    tick = QTimer()  # wakes the waiting loop below now and then, so timeouts are seen
    tick.start(100)

    def wait(predicate, timeout_s=600):
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("engine did not answer in time")
            # sleeps until an event arrives (the engine's signals are posted events): no busy loop
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents | QEventLoop.ProcessEventsFlag.WaitForMoreEvents)

    # let the engine thread start (it tunes the allocator first), then take the baseline
    wait(lambda: state["reports"] > 0)
    time.sleep(0.2)
    app.processEvents()
    baseline = proc.memory_info().rss
    baseline_footprint = footprint_bytes()
    after_load, after_unload, active_loaded, active_unloaded, fp_loaded, fp_unloaded = [], [], [], [], [], []
    done = []
    engine.jobFinished.connect(done.append)
    engine.jobFailed.connect(done.append)
    for i in range(cycles):
        engine.submit([png], OcrOptions(max_tokens=max_tokens))
        wait(lambda i=i: len(done) > i)
        if done[i].status is not JobStatus.DONE:
            raise RuntimeError(done[i].error)
        after_load.append(proc.memory_info().rss)
        fp_loaded.append(footprint_bytes())
        engine.request_status()
        n = state["reports"]
        wait(lambda n=n: state["reports"] > n)
        active_loaded.append(state["status"].active_memory)
        engine.unload_now()
        wait(lambda: engine.status.state is State.UNLOADED and engine.status.model_bytes == 0)
        active_unloaded.append(engine.status.active_memory)
        time.sleep(0.1)
        app.processEvents()
        after_unload.append(proc.memory_info().rss)
        fp_unloaded.append(footprint_bytes())
    time.sleep(0.3 if sample_ms else 0)  # a little flat tail on the plot
    stop_sampling.set()
    engine.shutdown()
    mb = 1e6

    def mbs(xs):
        return [None if x is None else x / mb for x in xs]

    return {
        "release": release,
        "size": size,
        "cycles": cycles,
        "threads": threading.active_count(),
        "baseline_mb": baseline / mb,
        "loaded_mb": [x / mb for x in after_load],
        "after_unload_mb": [x / mb for x in after_unload],
        "over_baseline_mb": [(x - baseline) / mb for x in after_unload],
        "growth_per_cycle_mb": ((after_unload[-1] - after_unload[0]) / (cycles - 1) / mb) if cycles > 1 else 0.0,
        "mlx_active_loaded_mb": mbs(active_loaded),
        "mlx_active_unloaded_mb": mbs(active_unloaded),
        "footprint_baseline_mb": None if baseline_footprint is None else baseline_footprint / mb,
        "footprint_loaded_mb": mbs(fp_loaded),
        "footprint_unloaded_mb": mbs(fp_unloaded),
        "events": events,
        "samples": [(round(t, 3), round(r / mb, 2), s) for t, r, s in samples_out],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--release", choices=("full", "no-trim", "naive"), default="full")
    p.add_argument("--size", choices=("tiny", "bench"), default="bench")
    p.add_argument("--model", type=Path, help="use this model folder instead of building one")
    p.add_argument("--sample-ms", type=int, default=0, help="also sample RSS every N ms")
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = run(args.cycles, args.release, args.model, args.size, args.sample_ms, args.max_tokens)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.release}: baseline {result['baseline_mb']:.0f} MB; over baseline after each unload: "
              + ", ".join(f"{x:.0f}" for x in result["over_baseline_mb"]) + " MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
