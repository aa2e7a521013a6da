"""What every figure script shares: the run context, the bench model cache, subprocesses,
statistics, the machine description and the result record.

Each figure is measured against a baseline in the same run (these machines are shared
and noisy), so results are ratios and differences, and timings are interleaved medians.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine import native_blas

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results"  # ignored by git; `--report` writes docs/bench instead
REPORT_OUT = ROOT / "docs" / "bench"
MB = 1e6


# ------------------------------------------------------------------ environment
def private_env(home: Path) -> dict[str, str]:
    """A child environment that never touches the user's settings, caches or the network."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(home / var.lower())
    env["HF_HOME"] = str(home / "hf")
    env["HF_HUB_OFFLINE"] = "1"
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("OCR_TRAY_EXIT_WHEN_READY", None)
    return env


@dataclass
class Context:
    """One benchmark run: quick or full, where results go, and a private temp folder."""

    quick: bool = False
    out: Path = DEFAULT_OUT
    model_dir: Path | None = None  # a model folder to use instead of building the random bench model
    tmp: Path = field(default_factory=lambda: _private_tmp())
    python: str = sys.executable
    _models: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # measurements shared between figures of one run

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.env = private_env(self.tmp / "home")
        self.run_info = run_provenance(self)

    @property
    def model_label(self) -> str:
        if self.model_dir is not None:
            return str(self.model_dir)
        return "random bench model (engine.testing.tiny_model, qwen2_vl, bench size)"

    def model(self, size: str = "bench", family: str = "qwen2_vl") -> Path:
        """The random-weight model of this size, built once per run and reused by every figure."""
        key = (family, size)
        if self.model_dir is not None and size == "bench":
            return Path(self.model_dir)
        if key not in self._models:
            t0 = time.perf_counter()
            out = self.tmp / f"model-{family}-{size}"
            # in a child process: the runner stays small (its children inherit nothing from it)
            cmd = [self.python, "-m", "engine.testing.tiny_model", str(out), "--family", family, "--size", size]
            for attempt in (1, 2):  # a builder that dies on a busy machine gets one more go, and says why
                proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=600)
                if proc.returncode == 0:
                    break
                log(f"building the {size} {family} model failed (attempt {attempt}, exit {proc.returncode}): "
                    f"{proc.stderr.strip()[-1500:]}")
            else:
                raise RuntimeError(f"could not build the {size} {family} model: {proc.stderr.strip()[-500:]}")
            # Write the model's ~0.9 GB to disk now: otherwise the kernel flushes it while the
            # figures run, and that writeback (not the app) shows up in their timings. A real
            # model arrives at network speed, long before it is used.
            flush_to_disk(out)
            self._models[key] = out
            log(f"built the {size} {family} model in {time.perf_counter() - t0:.1f} s")
        return self._models[key]

    def path(self, name: str) -> Path:
        return self.out / name

    def run_module(self, module: str, *args: str, timeout: float = 900, env: dict | None = None) -> dict:
        """Run ``python -m module args`` in a fresh process; return the JSON object on its last stdout line."""
        cmd = [self.python, "-m", module, *map(str, args)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env or self.env, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:])} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"{' '.join(cmd[2:])} printed no JSON: {proc.stdout[-500:]} {proc.stderr[-1500:]}")
        return json.loads(lines[-1])

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _private_tmp() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="ocr-tray-bench-"))
    os.chmod(tmp, 0o700)
    return tmp


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ratio_gate(quick: bool, ratio: float, limit: float, margin: float, target: str, added_ms: float,
               quick_ms: float, quick_margin_ms: float, quick_label: str) -> tuple[str, bool, bool, str]:
    """(target, meets, passes --check, margin) of a figure whose full run holds a ratio to ``limit`` (lower is
    better) and whose quick run holds what ours adds, in ms, to ``quick_ms`` instead (a quick run's ratio
    measures process noise)."""
    if quick:
        return (f"{quick_label} ≤ {quick_ms:.0f} ms (quick)", added_ms <= quick_ms,
                added_ms <= quick_ms + quick_margin_ms, f"+{quick_margin_ms:.0f} ms")
    return target, ratio <= limit, ratio <= limit + margin, f"+{margin}"


def first_text(generation) -> None:
    """Run an mlx-vlm ``stream_generate`` generator to its first piece of text, then close it.

    What the app's clock stops at is its first text delta, and the engine sends none for a token whose text is
    still held back by the streaming detokenizer (a partial character or word: the bench model's first token
    often is one). A bare side that stopped at the first yield would be a decode step ahead of the app; both
    sides stop at the first text instead (and at the end of a generation that printed nothing)."""
    try:
        for response in generation:
            if response.text:
                break
    finally:
        generation.close()


# ------------------------------------------------------------------ the result
@dataclass
class Result:
    """One figure's outcome, as the report table shows it.

    ``meets``: the target is met (None for report-only figures or a skip).
    ``passes_check``: within the target plus the script's noise margin (what ``--check`` enforces).
    """

    number: int
    title: str
    target: str
    baseline_label: str
    baseline: str
    ours: str
    meets: bool | None
    passes_check: bool | None
    margin: str = ""
    note: str = ""
    skipped: str = ""  # the reason, when the figure could not be measured here
    plots: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    seconds: float = 0.0
    quick: bool = False
    values: dict = field(default_factory=dict)  # the key numbers, machine-readable
    provenance: dict = field(default_factory=dict)  # which code, when, on what: set by run_figure

    @classmethod
    def skip(cls, number: int, title: str, target: str, baseline_label: str, reason: str) -> Result:
        return cls(number, title, target, baseline_label, "—", "—", None, None, skipped=reason)

    def as_dict(self) -> dict:
        return asdict(self)

    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        if self.meets is None:
            return "report"
        if self.meets:
            return "meets"
        return "misses (within noise margin)" if self.passes_check else "MISSES"


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, indent=1, default=_jsonable) + "\n")
    return path


def _jsonable(x):
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(type(x).__name__)


def write_csv(path: Path, header: list[str], rows) -> Path:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(row)  # full precision (repr of each float): the report can be reproduced from it
    return path


# ------------------------------------------------------------------ statistics
def median(xs) -> float:
    return statistics.median(xs)


def median_interval(xs, level: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval for the median (order statistics, binomial): at least
    ``level`` of such intervals hold the true median. (nan, nan) when too few samples."""
    from math import comb

    s = sorted(xs)
    n = len(s)
    below = 0.0  # P(Binomial(n, ½) ≤ k - 1)
    k = 0
    while k < n // 2:
        p = below + comb(n, k) / 2**n
        if 2 * p > 1 - level:
            break
        below, k = p, k + 1
    if k == 0:
        return float("nan"), float("nan")
    return s[k - 1], s[n - k]


def percentile(xs, q: float) -> float:
    """The q-th percentile (0–100), linear between closest ranks."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def slope(ys) -> float:
    """Least-squares slope of ys against 0, 1, 2, … (per step)."""
    n = len(ys)
    if n < 2:
        return 0.0
    mx = (n - 1) / 2
    my = sum(ys) / n
    num = sum((i - mx) * (y - my) for i, y in enumerate(ys))
    den = sum((i - mx) ** 2 for i in range(n))
    return num / den


# ------------------------------------------------------------------ the machine
def machine() -> dict:
    """What the numbers were measured on (for the report, and so Mac users can send theirs)."""
    import psutil

    info = {
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "load_avg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "device": "Metal GPU" if sys.platform == "darwin" else "CPU (mlx[cpu])",
        "blas": native_blas.status(),  # every bench process chose it on import of bench (ADR 0023)
    }
    for mod in ("mlx", "mlx_vlm", "pymupdf", "PySide6"):
        try:
            from importlib.metadata import version

            info[mod] = version({"mlx_vlm": "mlx-vlm", "PySide6": "PySide6-Essentials"}.get(mod, mod))
        except Exception:
            info[mod] = None
    return info


def machine_short(m: dict) -> str:
    return f"{m['os'].split()[0]} {m['arch']}, {m['cores']} cores, {m['device']}"


def _cpu_name() -> str:
    try:
        if sys.platform == "darwin":
            cmd = ["sysctl", "-n", "machdep.cpu.brand_string"]
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except Exception:
        pass
    return platform.processor() or "unknown"


# ------------------------------------------------------------------ process memory
def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def peak_rss_bytes() -> int:
    """This process's peak RSS so far.

    Linux: ``VmHWM`` from /proc (per address space, so it starts afresh at exec; ``ru_maxrss``
    would carry the parent's peak over a fork + exec). Elsewhere ``ru_maxrss`` (bytes on macOS).
    """
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class _RusageInfoV2(ctypes.Structure):
    _fields_ = [
        ("ri_uuid", ctypes.c_uint8 * 16),
        ("ri_user_time", ctypes.c_uint64),
        ("ri_system_time", ctypes.c_uint64),
        ("ri_pkg_idle_wkups", ctypes.c_uint64),
        ("ri_interrupt_wkups", ctypes.c_uint64),
        ("ri_pageins", ctypes.c_uint64),
        ("ri_wired_size", ctypes.c_uint64),
        ("ri_resident_size", ctypes.c_uint64),
        ("ri_phys_footprint", ctypes.c_uint64),
        ("ri_proc_start_abstime", ctypes.c_uint64),
        ("ri_proc_exit_abstime", ctypes.c_uint64),
        ("ri_child_user_time", ctypes.c_uint64),
        ("ri_child_system_time", ctypes.c_uint64),
        ("ri_child_pkg_idle_wkups", ctypes.c_uint64),
        ("ri_child_interrupt_wkups", ctypes.c_uint64),
        ("ri_child_pageins", ctypes.c_uint64),
        ("ri_child_elapsed_abstime", ctypes.c_uint64),
        ("ri_diskio_bytesread", ctypes.c_uint64),
        ("ri_diskio_byteswritten", ctypes.c_uint64),
    ]


_libproc = None


def footprint_bytes() -> int | None:
    """macOS's physical footprint (what Activity Monitor shows as Memory; Metal buffers included).

    None off macOS: the footprint is a Mac measure.
    """
    global _libproc
    if sys.platform != "darwin":
        return None
    try:
        if _libproc is None:
            _libproc = ctypes.CDLL("/usr/lib/libproc.dylib")
        info = _RusageInfoV2()
        if _libproc.proc_pid_rusage(os.getpid(), 2, ctypes.byref(info)) != 0:  # RUSAGE_INFO_V2
            return None
        return int(info.ri_phys_footprint)
    except OSError:
        return None


def load_ok() -> tuple[bool, str]:
    """Whether the machine is quiet enough for a committed full run (1-minute load below the core count)."""
    if not hasattr(os, "getloadavg"):
        return True, "load unknown"
    one = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    return one < cores * 0.75, f"1-min load {one:.2f} on {cores} cores"


def has_metal() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


# ------------------------------------------------------------------ plots
def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


# ------------------------------------------------------------------ one figure alone
def figure_main(module, argv=None) -> int:
    """``python -m bench.figN_... [--quick] [--out DIR] [--check]``: run one figure and print its result."""
    import argparse

    p = argparse.ArgumentParser(prog=f"python -m {module.__name__}", description=module.TITLE)
    p.add_argument("--quick", action="store_true", help="a short run")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"where raw samples and plots go (default {DEFAULT_OUT})")
    p.add_argument("--check", action="store_true", help="exit non-zero when the figure misses by more than its margin")
    p.add_argument("--model", type=Path, help="a model folder to use instead of the random bench model")
    args = p.parse_args(argv)
    ctx = Context(quick=args.quick, out=args.out, model_dir=args.model)
    try:
        result = run_figure(module, ctx)
    finally:
        ctx.cleanup()
    print(json.dumps(result.as_dict(), indent=1, default=_jsonable))
    return 1 if args.check and result.passes_check is False else 0


def run_figure(module, ctx: Context) -> Result:
    """Run one figure; an exception becomes a failed result (the check must see it)."""
    import traceback

    t0 = time.perf_counter()
    started, load_start = _now_iso(), _load_avg()
    try:
        result = module.run(ctx)
    except Exception as e:  # the machinery broke: report it, and fail --check
        traceback.print_exc()
        result = Result(module.NUMBER, module.TITLE, module.TARGET, module.BASELINE_LABEL, "—", "—", False, False,
                        note=f"the benchmark failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
    result.seconds = time.perf_counter() - t0
    result.quick = ctx.quick
    result.provenance = dict(ctx.run_info, figure_started=started, load_start=load_start, load_end=_load_avg())
    judge(module, result)
    return result


REPORT_ONLY = "report"  # a figure's TARGET when it reports a number without a target


def judge(module, result: Result) -> None:
    """What ``--check`` must see: a skip fails unless the figure says why it may be skipped
    (``OPTIONAL = "reason"`` in its script), and a figure with a target must give a verdict."""

    def add(text: str) -> None:
        result.note = f"{result.note} {text}" if result.note else text

    if result.skipped:
        optional = getattr(module, "OPTIONAL", "")
        if optional:
            add(f"(optional: {optional})")
        else:
            result.passes_check = False
            add("A skip fails the check (not an optional figure).")
        return
    if module.TARGET != REPORT_ONLY and (result.meets is None or result.passes_check is None):
        result.passes_check = False
        add("The figure has a target but gave no verdict.")


# ------------------------------------------------------------------ provenance
def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _load_avg() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def git_state(root: Path = ROOT) -> tuple[str, bool]:
    """(commit, dirty): HEAD's hash ("unknown" outside a checkout) and whether any tracked file is
    changed or an untracked, unignored file exists."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=30).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
                                timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", True
    return commit or "unknown", bool(status.strip())


def run_provenance(ctx: Context) -> dict:
    """Stamped on every result of a run: the code (commit, dirty), the run's start, the machine, the model."""
    commit, dirty = git_state()
    m = machine()
    return {"commit": commit, "dirty": dirty, "run_started": _now_iso(), "quick": ctx.quick,
            "machine": machine_short(m), "cpu": m["cpu"], "model": ctx.model_label}


def read_through(folder: Path) -> None:
    """Read every file in ``folder`` once, so the page cache holds the model for every side of a figure alike.

    Without it the first process of a figure's first round read the model from disk: the run's earlier figures
    drop it (figure 8's cold launches), and this machine's memory monitor (kdamond) reclaims cold page cache
    over minutes. Figure 9's first engine process loaded in 1.2-1.8 s against 0.3-0.4 s for the rest, standing
    alone as well as after figure 8 (2026-12-03), always on the side that goes first in round 0."""
    from engine import native_prefetch

    native_prefetch.warm(sorted(f for f in folder.iterdir() if f.is_file()))


def flush_to_disk(folder: Path) -> None:
    """fsync every file in ``folder`` (and the folder), so no dirty pages of it are left."""
    for f in folder.iterdir():
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
