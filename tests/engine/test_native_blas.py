"""engine.native_blas: MLX's float32 products on OpenBLAS on Linux (ADR 0023).

The binding is checked where the dynamic linker makes it: ``LD_DEBUG=bindings`` in a fresh process says
which library each of libmlx's ``cblas_sgemm`` references was bound to."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine import native_blas
from tests.processes import ROOT, child_env

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the BLAS choice is Linux-only")


def _openblas() -> Path:
    path = native_blas.find()
    if path is None:
        pytest.skip("no OpenBLAS installed (scripts/test.sh installs Debian's libopenblas0-pthread as root)")
    return path


def _sgemm_binding(tmp_path: Path, code: str, **env: str) -> str:
    """The library libmlx's cblas_sgemm was bound to in a fresh process running ``code``."""
    out = tmp_path / "ld"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120,
                   env=child_env(LD_DEBUG="bindings", LD_DEBUG_OUTPUT=str(out), **env))
    lines = [line for f in tmp_path.glob("ld.*") for line in f.read_text(errors="replace").splitlines()
             if "libmlx.so" in line and "`cblas_sgemm'" in line]
    assert len(lines) == 1, lines
    found = re.search(r" to (\S+) \[", lines[0])
    assert found, lines[0]
    return found.group(1)


@linux_only
def test_the_engine_binds_mlx_to_openblas_before_importing_it(tmp_path):
    path = _openblas()
    bound = _sgemm_binding(tmp_path, "from engine.backend import _mlx; _mlx()")
    assert os.path.realpath(bound) == os.path.realpath(path)


@linux_only
def test_turned_off_mlx_keeps_its_bundled_blas(tmp_path):
    _openblas()
    bound = _sgemm_binding(tmp_path, "from engine.backend import _mlx; _mlx()", OCR_TRAY_BLAS="reference")
    assert "mlx_cpu.libs" in bound and "openblas" not in bound.lower()


@linux_only
def test_too_late_once_mlx_is_imported():
    _openblas()
    code = ("import mlx.core; from engine import native_blas as b; print(b.use()); "
            "print(b.sgemm_provider())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120, capture_output=True,
                         text=True, env=child_env()).stdout.splitlines()
    assert "mlx was imported before" in out[0]
    assert out[1] == "None"  # nothing loaded globally: MLX keeps what it was bound to


@linux_only
def test_products_on_openblas_equal_numpys():
    _openblas()
    code = """
from engine import native_blas as b
print(b.use())
import numpy as np, mlx.core as mx
rng = np.random.default_rng(3)
a = rng.standard_normal((87, 1024), dtype=np.float32)
w = rng.standard_normal((1024, 3584), dtype=np.float32)
got = np.array(mx.array(a) @ mx.array(w))
want = a.astype(np.float64) @ w.astype(np.float64)
print(float(np.abs(got - want).max() / np.abs(want).max()))
print(b.sgemm_provider())
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120, capture_output=True,
                         text=True, env=child_env()).stdout.splitlines()
    assert out[0].startswith("OpenBLAS (")
    assert float(out[1]) < 1e-5
    assert "openblas" in out[2].lower()


@linux_only
def test_only_a_trusted_regular_file_is_loaded(tmp_path, monkeypatch):
    lib = tmp_path / "libopenblas.so.0"
    lib.write_bytes(b"\x7fELF")
    lib.chmod(0o644)
    monkeypatch.setenv(native_blas.ENV, str(lib))
    assert native_blas.find() == lib
    lib.chmod(0o664)  # writable by the group: someone else could put code in it
    assert native_blas.find() is None
    lib.chmod(0o646)
    assert native_blas.find() is None
    monkeypatch.setenv(native_blas.ENV, str(tmp_path))  # a folder
    assert native_blas.find() is None
    monkeypatch.setenv(native_blas.ENV, str(tmp_path / "missing.so"))
    assert native_blas.find() is None
    monkeypatch.setenv(native_blas.ENV, "reference")
    assert native_blas.find() is None


def test_the_bench_machine_record_names_the_blas():
    from bench import common

    assert common.machine()["blas"] == native_blas.status()
    assert native_blas.status() != "not chosen yet (use() not called)"  # bench's import chose it


@linux_only
@pytest.mark.parametrize("preset", [None, "2"])
def test_openblas_leaves_the_window_a_core_unless_told(preset):
    """One thread fewer than the machine has cores (at least one), read by OpenBLAS itself; a count the
    environment already gives is kept."""
    _openblas()
    code = ("import os; from engine import native_blas as b; print(b.use()); "
            "print(b._handle.openblas_get_num_threads()); print(os.environ['OPENBLAS_NUM_THREADS'])")
    env = child_env()
    for name in native_blas.THREAD_VARS:
        env.pop(name, None)
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120, capture_output=True,
                         text=True, env=env).stdout.splitlines()
    want = preset or str(max(1, (os.cpu_count() or 1) - 1))
    assert out[1] == want and out[2] == want
    assert out[0].endswith(f"{want} thread(s)")


def test_the_cold_launch_figures_bare_script_uses_the_apps_blas():
    """Figure 8's bare mlx-vlm script runs as ``python -c`` (it does not import ``bench``): it must choose the
    BLAS itself, before MLX is imported, or its side would run on the reference BLAS and the app on OpenBLAS."""
    from bench import launching

    program = launching.BARE
    assert "native_blas.use()" in program
    assert program.index("native_blas.use()") < program.index("mlx_vlm")
