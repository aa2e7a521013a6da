"""The native libraries that importing mlx_vlm maps are read into the page cache before the
import, off the GIL (engine/native_prefetch.py)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from engine import native_prefetch


def test_files_lists_native_code_of_the_packages_and_their_bundled_libraries():
    paths = native_prefetch.files()
    names = {p.name for p in paths}
    assert any(n.startswith("core.") and n.endswith(".so") for n in names) or sys.platform != "linux"
    assert all(native_prefetch._is_native(p) and p.is_file() for p in paths)
    assert len(paths) == len(set(paths))
    assert not [p for p in paths if p.suffix == ".py"]
    numpy_libs = [p for p in paths if p.parent.name == "numpy.libs"]  # auditwheel's bundled OpenBLAS
    assert numpy_libs or sys.platform != "linux"


def test_a_missing_package_is_skipped():
    assert native_prefetch.files(packages=("no_such_package_here",), libs_dirs=()) == []


def test_warm_reads_every_byte_and_skips_what_it_cannot_open(tmp_path):
    a = tmp_path / "liba.so"
    b = tmp_path / "libb.so.1"
    a.write_bytes(os.urandom(native_prefetch.STEP_BYTES * 2 + 123))
    b.write_bytes(b"")
    assert native_prefetch.warm([a, b, tmp_path / "gone.so"]) == a.stat().st_size


@pytest.mark.linux_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps (Linux only)")
def test_it_covers_what_import_mlx_vlm_maps():
    """A fresh interpreter imports mlx_vlm and lists the native files it mapped from
    site-packages: every one must be among ``files()`` (an mlx-vlm upgrade that brings new
    native code fails here until PACKAGES / LIBS_DIRS name it)."""
    code = textwrap.dedent("""
        import json, os, sys
        from pathlib import Path
        from engine import native_prefetch
        listed = {str(p) for p in native_prefetch.files()}
        import mlx_vlm, mlx_vlm.utils
        site = str(Path(mlx_vlm.__file__).parent.parent)
        mapped = {line.split()[-1] for line in open('/proc/self/maps') if len(line.split()) >= 6}
        mapped = sorted(m for m in mapped if m.startswith(site) and native_prefetch._is_native(Path(m)))
        print(json.dumps({"mapped": mapped, "missing": [m for m in mapped if m not in listed]}))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.splitlines()[-1])
    assert len(out["mapped"]) >= 5  # mlx, numpy, tokenizers, PIL, ... really were mapped
    assert out["missing"] == []


def test_the_first_load_warms_before_importing_mlx_vlm(tiny_model_dir):
    """In a fresh interpreter (mlx_vlm not yet imported), Backend.load calls warm() first."""
    code = textwrap.dedent(f"""
        import json, sys
        from engine import native_prefetch
        from engine.backend import Backend
        from engine.models.presets import ModelSpec
        calls = []
        real = native_prefetch.warm
        def spy(*a, **k):
            calls.append("mlx_vlm" in sys.modules)
            return real(*a, **k)
        native_prefetch.warm = spy
        b = Backend()
        b.load(ModelSpec.resolve({str(tiny_model_dir)!r}), __import__("pathlib").Path({str(tiny_model_dir)!r}))
        b.unload()
        b.load(ModelSpec.resolve({str(tiny_model_dir)!r}), __import__("pathlib").Path({str(tiny_model_dir)!r}))
        print(json.dumps(calls))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.splitlines()[-1]) == [False]  # once, before the import; not on reload
