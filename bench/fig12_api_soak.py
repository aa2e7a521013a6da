"""Figure 12: a soak of the local API — 200 requests over about ten minutes, the app's RSS sampled every second.

The app is a worker process (``bench.fig1x_api_host.Host``) in idle-timeout mode (60 s), on the bench
model; this process is its clients. Requests are started on a fixed schedule (one every 3 s, at most four
at a time) and cycle through the API's ways in: ``{"path": …}`` answered whole, the same streamed as
NDJSON, a multipart upload answered whole and one streamed; nine in ten are a 3-page text-layer PDF
(the model resident but not reading) and every tenth a 64×64 PNG the model reads. The worker samples its
own RSS every second (with the engine's state) into a CSV. After the last answer the model unloads by the
idle timeout, and the worker takes its final sample once the unload is done.

Targets: RSS after the final unload ≤ the RSS before the first load + 50 MB; RSS growth across the run
with the model resident ≤ 10 MB (the median of the last minute of resident samples minus that of the
first minute after the tenth request); every request answered, with its job done (none lost). The quick
run (CI) uses the tiny model: 30 requests, 0.2 s apart, a 3 s idle timeout, 5 s windows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import common
from bench.common import Result

NUMBER = 12
TITLE = "API soak: RSS over 200 requests, then after the final unload"
TARGET = "after unload ≤ baseline + 50 MB; growth while resident ≤ 10 MB; none lost"
BASELINE_LABEL = "RSS before the first load"
UNLOAD_LIMIT_MB = 50.0
GROWTH_LIMIT_MB = 10.0
MARGIN_MB = 5.0
KINDS = ("path", "path-stream", "upload", "upload-stream")


def worker(model: str, idle_s: float, runtime: str, csv_path: str) -> dict:
    import psutil

    from bench.fig1x_api_host import Host
    from engine.lifecycle import State

    host = Host(model, mode="idle-timeout", idle_s=idle_s, runtime=Path(runtime))
    proc = psutil.Process()
    t0 = time.monotonic()
    samples: list[tuple[float, int, str]] = []
    stop = threading.Event()
    _warm_up_code_paths(host, Path(runtime))
    time.sleep(0.5)
    baseline = proc.memory_info().rss  # the app serving, its code imported; no model loaded

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append((time.monotonic() - t0, proc.memory_info().rss, host.engine.status.state.value))

    threading.Thread(target=sample, name="rss-sampler", daemon=True).start()
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    print("ready", flush=True)
    host.wait(closed.is_set, 7200)  # the clients are done
    host.wait(lambda: host.engine.status.state is State.UNLOADED and host.engine.outstanding() == 0,
              idle_s + 600)
    time.sleep(2.0)
    final = proc.memory_info().rss
    samples.append((time.monotonic() - t0, final, "final"))
    stop.set()
    loads = host.engine.status.loads
    ended = len(host.ended)
    host.close()
    common.write_csv(Path(csv_path), ["t_s", "rss_bytes", "state"], samples)
    return {"baseline": baseline, "final": final, "loads": loads, "jobs_ended": ended, "samples": len(samples)}


def _warm_up_code_paths(host, folder: Path) -> None:
    """What the app imports on its first document and first request, without loading a model: the document
    readers (PDF, images) and one refused request through the server. Modules stay; weights must go."""
    from engine.api.client import _httpx
    from engine.controller import expand_and_check
    from engine.testing import samples

    pdf = samples.write_pdf(folder / "warm.pdf", pages=1, text_pages={1})
    png = samples.write_png(folder / "warm.png")
    expand_and_check([str(pdf), str(png)])
    from engine.documents import open_document

    for path in (pdf, png):
        doc = open_document(str(path), max_side=64, max_pixels=64 * 64, dpi=72, text_layer="auto", password=None)
        for _page in doc.pages(None):
            pass
        doc.close()
    import python_multipart  # noqa: F401 - the upload parser

    host.call(lambda: _httpx().get(f"{host.url}/v1/status", timeout=30, trust_env=False))  # a 401: h11, the guard
    pdf.unlink()
    png.unlink()


def _clients(url: str, token: str, requests: int, spacing: float, tmp: Path, model_every: int) -> list[tuple]:
    from engine.api.client import _httpx, transport
    from engine.testing import samples

    httpx = _httpx()
    # one copy per slot and then some: a file that is already waiting in the queue is refused (409, by design)
    pdfs = [samples.write_pdf(tmp / f"three-{k}.pdf", pages=3, text_pages={1, 2, 3}) for k in range(8)]
    pngs = [samples.write_png(tmp / f"page-{k}.png") for k in range(8)]
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "ocr-tray-soak"}
    rows: list[tuple] = []
    lock = threading.Lock()
    slots = threading.Semaphore(4)

    def one(i: int) -> None:
        kind = KINDS[i % len(KINDS)]
        doc = (pngs if i % model_every == model_every - 1 else pdfs)[i % 8]
        stream = kind.endswith("stream")
        t0 = time.perf_counter()
        status, ok = 0, False
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=900, trust_env=False,
                              transport=transport()) as c:
                if kind.startswith("path"):
                    req = c.build_request("POST", "/v1/ocr", json={"path": str(doc), "max_tokens": 8,
                                                                   "stream": stream})
                else:
                    req = c.build_request("POST", "/v1/ocr", files={"file": (doc.name, doc.read_bytes())},
                                          data={"max_tokens": "8", "stream": "true" if stream else "false"})
                r = c.send(req, stream=stream)
                status = r.status_code
                if stream:
                    events = [json.loads(line) for line in r.iter_lines() if line.strip()]
                    ok = status == 200 and events[-1].get("event") == "job.done" and events[-1]["status"] == "done"
                else:
                    ok = status == 200 and r.json()["status"] == "done"
                r.close()
        except Exception as e:  # a lost request: counted, never raised
            common.log(f"fig12 request {i} failed: {type(e).__name__}: {e}")
        finally:
            slots.release()
        with lock:
            rows.append((i, kind, doc.suffix[1:], status, ok, time.perf_counter() - t0))

    threads = []
    start = time.monotonic()
    for i in range(requests):
        delay = start + i * spacing - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        slots.acquire()
        t = threading.Thread(target=one, args=(i,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(900)
    return sorted(rows)


def run(ctx: common.Context) -> Result:
    quick = ctx.quick
    requests, spacing, idle, window = (30, 0.2, 3.0, 5.0) if quick else (200, 3.0, 60.0, 60.0)
    model_every = 10
    size = "tiny" if quick else "bench"
    tmp = Path(tempfile.mkdtemp(prefix="fig12-", dir=ctx.tmp))
    runtime = tmp / "run"
    runtime.mkdir(mode=0o700)
    csv_path = ctx.path("fig12_api_soak_rss.csv")
    env = dict(ctx.env, OCR_TRAY_RUNTIME_DIR=str(runtime))
    worker_cmd = [ctx.python, "-m", __spec__.name, "--worker", "--worker-model", str(ctx.model(size)),
                  "--idle", str(idle), "--runtime", str(runtime), "--csv", str(csv_path)]
    proc = subprocess.Popen(worker_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=common.ROOT)
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the soak worker did not start: {proc.stderr.read()[-2000:]}")
        from engine.api import discovery

        info = discovery.read(runtime / discovery.FILE_NAME)
        if info is None:
            raise RuntimeError("the soak worker wrote no discovery file")
        t0 = time.monotonic()
        rows = _clients(info.url, info.token, requests, spacing, tmp, model_every)
        client_s = time.monotonic() - t0
        out, err = proc.communicate(timeout=idle + 900)  # closes its stdin: the clients are done
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"the soak worker failed ({proc.returncode}): {err[-2000:]}")
    summary = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    samples = _read_samples(csv_path)
    answered = sum(1 for row in rows if row[4])
    lost = requests - answered
    after_mb = (summary["final"] - summary["baseline"]) / common.MB
    first_ok = rows[min(9, len(rows) - 1)][5] if rows else 0
    resident = [(t, rss) for t, rss, state in samples if state in ("ready", "busy")]
    growth_mb, early, late = _growth(resident, window, first_ok)
    raw = common.write_csv(ctx.path("fig12_api_soak_requests.csv"),
                           ["request", "kind", "document", "status", "ok", "seconds"], rows)
    plot = ctx.path("fig12_api_soak.png")
    _plot(plot, samples, summary["baseline"], early, late, requests, size)
    meets = after_mb <= UNLOAD_LIMIT_MB and growth_mb <= GROWTH_LIMIT_MB and lost == 0
    passes = after_mb <= UNLOAD_LIMIT_MB + MARGIN_MB and growth_mb <= GROWTH_LIMIT_MB + MARGIN_MB and lost == 0
    return Result(
        NUMBER, TITLE, TARGET, BASELINE_LABEL,
        baseline=f"{summary['baseline'] / common.MB:.0f} MB",
        ours=f"after the final unload {after_mb:+.1f} MB; growth while resident {growth_mb:+.1f} MB; "
             f"{answered}/{requests} answered, {lost} lost",
        meets=meets, passes_check=passes, margin=f"+{MARGIN_MB:.0f} MB",
        note=f"{size} model, idle-timeout {idle:.0f} s; {requests} requests one every {spacing} s "
             f"(at most 4 at a time; {', '.join(KINDS)}; every {model_every}th a PNG the model reads, the rest a "
             f"3-page text-layer PDF) over {client_s:.0f} s; {summary['samples']} RSS samples (1 s); model loads "
             f"{summary['loads']}; growth = median of the last {window:.0f} s of resident samples minus the "
             f"{window:.0f} s after the tenth answer.",
        plots=[plot.name], raw=[raw.name, csv_path.name],
        values={"after_unload_mb": after_mb, "growth_mb": growth_mb, "lost": lost, "loads": summary["loads"],
                "client_s": client_s},
    )


def _read_samples(path: Path) -> list[tuple[float, int, str]]:
    import csv

    with open(path) as f:
        return [(float(r["t_s"]), int(float(r["rss_bytes"])), r["state"]) for r in csv.DictReader(f)]


def _growth(resident: list[tuple[float, int]], window: float, _first: float) -> tuple[float, float, float]:
    if len(resident) < 4:
        return 0.0, 0.0, 0.0
    start = resident[0][0] + min(window, (resident[-1][0] - resident[0][0]) / 4)  # after the warm-up
    end = resident[-1][0]
    early = [rss for t, rss in resident if start <= t < start + window] or [resident[0][1]]
    late = [rss for t, rss in resident if t > end - window] or [resident[-1][1]]
    e, lt = common.median(early), common.median(late)
    return (lt - e) / common.MB, e, lt


def _plot(path, samples, baseline, early, late, requests, size) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    ts = [s[0] for s in samples]
    ax.plot(ts, [s[1] / common.MB for s in samples], color="#2f6ea8", linewidth=1, label="RSS (1 s samples)")
    resident = [(s[0], s[1] / common.MB) for s in samples if s[2] in ("ready", "busy")]
    if resident:
        ax.plot([r[0] for r in resident], [r[1] for r in resident], ".", color="#2f6ea8", markersize=2)
    ax.axhline(baseline / common.MB, color="#999999", linestyle="--", linewidth=0.8, label="before the first load")
    ax.axhline(baseline / common.MB + UNLOAD_LIMIT_MB, color="#c0392b", linestyle=":", linewidth=0.8,
               label="target after unload (+50 MB)")
    if samples:
        ax.plot([samples[-1][0]], [samples[-1][1] / common.MB], "o", color="#c0392b", label="after the final unload")
    ax.set_xlabel("seconds")
    ax.set_ylabel("MB")
    ax.set_ylim(0, None)
    ax.set_title(f"Fig. 12 — {requests} API requests ({size} model): resident growth "
                 f"{(late - early) / common.MB:+.1f} MB", fontsize=9)
    ax.legend(fontsize=7, loc="center left")
    common.save(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=TITLE)
    p.add_argument("--worker", action="store_true", help="(internal) the app under test")
    p.add_argument("--worker-model")
    p.add_argument("--idle", type=float, default=60.0)
    p.add_argument("--runtime")
    p.add_argument("--csv")
    args, rest = p.parse_known_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker_model, args.idle, args.runtime, args.csv)), flush=True)
        return 0
    return common.figure_main(sys.modules[__name__], rest)


if __name__ == "__main__":
    sys.exit(main())
