"""build.spec: its macOS branch read on Linux, and a real Linux bundle that runs its self-test.

The macOS branch runs the spec's own code with PyInstaller's build classes replaced by
recorders and ``sys.platform`` set to ``darwin``; the module lists come from the real
``collect_submodules`` over the installed mlx / mlx-vlm. The bundle test runs
``pyinstaller build.spec`` into a temporary folder (minutes; marked ``build``, CI runs it).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import plistlib
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build.spec"
SIZE_BUDGET = 450 * 1000 * 1000  # bytes, for the Linux one-folder bundle
PRESET_FAMILIES = ("paddleocr_vl", "glm_ocr", "mistral3", "deepseekocr", "qwen2_vl")
# What a real analysis also finds: the spec must drop the Qt translation and the CUDA runtime, keep the rest.
ANALYSED_DATAS = [
    ("PySide6/Qt/translations/qtbase_de.qm", "/site/PySide6/Qt/translations/qtbase_de.qm", "DATA"),
    ("transformers/models/qwen2_vl/processing_qwen2_vl.py", "/site/transformers/models/qwen2_vl/p.py", "DATA"),
]
ANALYSED_BINARIES = [
    ("libcudart.so.13", "/usr/local/cuda/lib/libcudart.so.13", "BINARY"),
    ("PySide6/Qt/lib/libQt6Core.so.6", "/site/PySide6/Qt/lib/libQt6Core.so.6", "BINARY"),
]


def version() -> str:
    from engine import __version__

    return __version__


# ----------------------------------------------------------------------------- the spec, recorded
class Recorder:
    """Stands in for one of PyInstaller's build classes: keeps its arguments."""

    calls: list

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.calls.append(self)


def recorders():
    made = {}
    for name in ("PYZ", "EXE", "COLLECT", "BUNDLE"):
        made[name] = type(name, (Recorder,), {"calls": []})

    class Analysis(Recorder):
        calls = []

        def __init__(self, scripts, **kwargs):
            super().__init__(scripts, **kwargs)
            self.scripts = [(Path(s).stem, s, "PYSOURCE") for s in scripts]
            self.pure = [("engine", str(ROOT / "engine" / "__init__.py"), "PYMODULE")]
            datas = [(Path(dest, Path(src).name).as_posix(), src, "DATA") for src, dest in kwargs["datas"]]
            self.datas = datas + list(ANALYSED_DATAS)
            self.binaries = list(ANALYSED_BINARIES)

    made["Analysis"] = Analysis
    return made


@pytest.fixture(scope="module")
def collect_once():
    """The real ``collect_submodules``, run once per package (mlx_vlm's ~1400 modules take seconds)."""
    from PyInstaller.utils import hooks

    real, seen = hooks.collect_submodules, {}

    def collect_submodules(package, filter=None, **kwargs):
        if package not in seen:
            seen[package] = real(package, **kwargs)
        return [name for name in seen[package] if filter is None or filter(name)]

    return collect_submodules


def fake_mlx(folder: Path, metallib: bool) -> Path:
    """An mlx package folder, with or without its Metal library, for ``find_spec('mlx')``."""
    lib = folder / "mlx" / "lib"
    lib.mkdir(parents=True)
    (lib / "libmlx.dylib").write_bytes(b"\xcf\xfa\xed\xfe")
    if metallib:
        (lib / "mlx.metallib").write_bytes(b"MTLB" + bytes(60))
    return folder / "mlx"


def run_spec(monkeypatch, collect_once, platform: str, mlx_dir: Path, env: dict | None = None) -> dict:
    """Execute build.spec as PyInstaller would, on ``platform``; return the recorded build steps."""
    from PyInstaller.utils import hooks

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "mlx":
            return _package_spec("mlx", mlx_dir)
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(hooks, "collect_submodules", collect_once)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(sys, "platform", platform)
    for key in ("OCR_TRAY_CODESIGN_IDENTITY", "OCR_TRAY_ENTITLEMENTS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    made = recorders()
    namespace = {"__name__": "__main__", "__file__": str(SPEC), "SPECPATH": str(ROOT), **made}
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    return {name: cls.calls for name, cls in made.items()}


def _package_spec(name: str, folder: Path):
    spec = importlib.machinery.ModuleSpec(name, None, origin=str(folder / "__init__.py"), is_package=True)
    spec.submodule_search_locations = [str(folder)]
    return spec


@pytest.fixture(scope="module")
def mac(tmp_path_factory, collect_once):
    with pytest.MonkeyPatch.context() as mp:
        mlx_dir = fake_mlx(tmp_path_factory.mktemp("mac-site"), metallib=True)
        return run_spec(mp, collect_once, "darwin", mlx_dir), mlx_dir


@pytest.mark.slow
def test_mac_branch_makes_one_menu_bar_app(mac):
    calls, _ = mac
    assert [len(calls[k]) for k in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")] == [1, 1, 1, 1, 1]
    (exe,), (bundle,) = calls["EXE"], calls["BUNDLE"]
    assert exe.kwargs["exclude_binaries"] is True, "one-folder: the .app wraps a COLLECT, not a onefile EXE"
    assert bundle.args == (calls["COLLECT"][0],)
    assert exe.kwargs["console"] is False  # True would write LSBackgroundOnly
    assert exe.kwargs["target_arch"] == "arm64"
    assert exe.kwargs["strip"] is False and calls["COLLECT"][0].kwargs["strip"] is False
    assert exe.kwargs["argv_emulation"] is False

    kw = bundle.kwargs
    assert kw["name"].endswith(".app")
    assert re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z0-9-]+", kw["bundle_identifier"])
    assert kw["version"] == version()
    assert Path(kw["icon"]).name == "OCRTray.icns" and Path(kw["icon"]).is_file()
    assert exe.kwargs["icon"] == kw["icon"]

    plist = kw["info_plist"]
    assert plist["LSUIElement"] is True
    assert plist["NSHighResolutionCapable"] is True
    assert plist["LSMinimumSystemVersion"] == "14.0"
    assert plist["CFBundleVersion"] == version()
    types = [t for entry in plist["CFBundleDocumentTypes"] for t in entry["LSItemContentTypes"]]
    assert "public.image" in types and "com.adobe.pdf" in types
    assert all(entry["CFBundleTypeRole"] == "Viewer" for entry in plist["CFBundleDocumentTypes"])
    plistlib.dumps(plist)  # only plist-serialisable values


@pytest.mark.slow
def test_mac_bundle_answers_the_capture_url_scheme(mac):
    """ocrtray://capture (Shortcuts, Raycast, Alfred) is the app's: CFBundleURLTypes names the scheme."""
    from desktop.capture.wiring import SCHEME, capture_mode

    calls, _ = mac
    plist = calls["BUNDLE"][0].kwargs["info_plist"]
    (url_type,) = plist["CFBundleURLTypes"]
    assert url_type["CFBundleURLSchemes"] == [SCHEME] == ["ocrtray"]
    assert url_type["CFBundleURLName"].startswith(calls["BUNDLE"][0].kwargs["bundle_identifier"])
    from PySide6.QtCore import QUrl

    assert capture_mode(QUrl(f"{SCHEME}://capture")) == "region"
    assert plist["NSScreenCaptureUsageDescription"]
    assert plistlib.loads(plistlib.dumps(plist))["CFBundleURLTypes"] == plist["CFBundleURLTypes"]


@pytest.mark.slow
def test_mac_branch_collects_the_metal_library_beside_libmlx(mac):
    calls, mlx_dir = mac
    (analysis,) = calls["Analysis"]
    metallib = mlx_dir / "lib" / "mlx.metallib"
    assert (str(metallib), "mlx/lib") in analysis.kwargs["datas"]
    collected = calls["COLLECT"][0].args
    toc = [entry for arg in collected if isinstance(arg, list) for entry in arg]
    assert ("mlx/lib/mlx.metallib", str(metallib), "DATA") in toc
    # and a top-level link, where MLX looks when libmlx was loaded through PyInstaller's top-level symlink
    assert ("mlx.metallib", "mlx/lib/mlx.metallib", "SYMLINK") in toc


@pytest.mark.slow
def test_mac_branch_hidden_imports_and_excludes(mac):
    calls, _ = mac
    kw = calls["Analysis"][0].kwargs
    hidden = set(kw["hiddenimports"])
    # imported from mlx.core's C++ code, invisible to the analysis
    assert {"mlx.core", "mlx._reprlib_fix", "mlx.__array_api_info", "mlx.nn", "mlx.utils"} <= hidden
    assert not any(name == "mlx.extension" or name.startswith("mlx.extension.") for name in hidden)
    # mlx_vlm imports mlx_vlm.models.<model_type> by name
    for family in PRESET_FAMILIES:
        assert f"mlx_vlm.models.{family}" in hidden, family
        assert any(name.startswith(f"mlx_vlm.models.{family}.") for name in hidden), family
    assert {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtNetwork"} <= hidden
    assert {"engine.cli", "desktop.main"} <= hidden
    excludes = set(kw["excludes"])
    for heavy in ("pyarrow", "datasets", "pandas", "cv2", "scipy", "mlx_audio", "miniaudio", "websockets",
                  "llguidance", "mlx_vlm.server", "mlx.extension"):
        assert heavy in excludes, heavy
    for needed in ("fastapi", "starlette", "uvicorn", "pydantic", "pydantic_core", "anyio", "python_multipart"):
        assert needed not in excludes, needed  # the local API (engine.api) needs them in the bundle
    assert {"uvicorn.protocols.http.h11_impl", "uvicorn.lifespan.off", "anyio._backends._asyncio",
            "engine.api.server", "engine.api.routes"} <= hidden
    assert not hidden & excludes


@pytest.mark.slow
def test_spec_drops_translations_and_stray_cuda_but_keeps_the_rest(mac):
    calls, _ = mac
    collected = [entry for arg in calls["COLLECT"][0].args if isinstance(arg, list) for entry in arg]
    names = {dest for dest, _, _ in collected}
    assert "PySide6/Qt/translations/qtbase_de.qm" not in names
    assert "libcudart.so.13" not in names
    assert {"PySide6/Qt/lib/libQt6Core.so.6", "transformers/models/qwen2_vl/processing_qwen2_vl.py"} <= names
    resources = {dest for dest in names if dest.startswith("resources/")}
    assert {"resources/tray-template.png", "resources/tray-template@2x.png", "resources/tray-busy-template.png",
            "resources/OCRTray.icns", "resources/app-icon.png"} <= resources


@pytest.mark.slow
def test_spec_keeps_transformers_sources_beside_its_bytecode(mac):
    """transformers builds its lazy import table from its own .py files at import (transformers#38402): the
    spec asks for them itself, so an older pyinstaller-hooks-contrib cannot drop them."""
    calls, _ = mac
    assert calls["Analysis"][0].kwargs["module_collection_mode"] == {"transformers": "pyz+py"}


@pytest.mark.slow
def test_mac_signing_is_ad_hoc_unless_the_environment_names_an_identity(mac, monkeypatch, collect_once, tmp_path):
    calls, mlx_dir = mac
    exe = calls["EXE"][0].kwargs
    assert exe["codesign_identity"] is None  # PyInstaller signs ad hoc
    entitlements = plistlib.loads(Path(exe["entitlements_file"]).read_bytes())
    assert entitlements == {"com.apple.security.cs.allow-unsigned-executable-memory": True}

    mine = tmp_path / "mine.plist"
    mine.write_bytes(plistlib.dumps({"com.apple.security.cs.allow-unsigned-executable-memory": True}))
    signed = run_spec(monkeypatch, collect_once, "darwin", mlx_dir, {
        "OCR_TRAY_CODESIGN_IDENTITY": "Developer ID Application: Example (TEAM123456)",
        "OCR_TRAY_ENTITLEMENTS": str(mine),
    })
    exe = signed["EXE"][0].kwargs
    assert exe["codesign_identity"] == "Developer ID Application: Example (TEAM123456)"
    assert exe["entitlements_file"] == str(mine)


@pytest.mark.slow
def test_mac_branch_refuses_to_build_without_the_metal_library(monkeypatch, collect_once, tmp_path):
    mlx_dir = fake_mlx(tmp_path, metallib=False)
    with pytest.raises(SystemExit, match="mlx.metallib"):
        run_spec(monkeypatch, collect_once, "darwin", mlx_dir)


@pytest.mark.slow
def test_linux_branch_is_a_plain_folder(monkeypatch, collect_once, tmp_path):
    calls = run_spec(monkeypatch, collect_once, "linux", fake_mlx(tmp_path, metallib=False))
    assert calls["BUNDLE"] == []
    exe = calls["EXE"][0].kwargs
    assert exe["target_arch"] is None and exe["codesign_identity"] is None and exe["entitlements_file"] is None
    assert calls["COLLECT"][0].kwargs["name"] == "ocr-tray"
    toc = [entry for arg in calls["COLLECT"][0].args if isinstance(arg, list) for entry in arg]
    assert not [entry for entry in toc if "metallib" in entry[0]]


# ----------------------------------------------------------------------------- a real Linux build
def bundle_bytes(folder: Path) -> int:
    """Bytes of every file in the bundle, symlinks counted as links (as on disk, not as du's blocks)."""
    total = 0
    for base, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            total += os.lstat(os.path.join(base, name)).st_size
    return total


def frozen_env(home: Path) -> dict:
    """A private HOME, XDG folders, log folder, temp folder and empty Hugging Face cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "OCR_TRAY_"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home), HF_HOME=str(home / "hf"), HF_HUB_OFFLINE="1",
               TMPDIR=str(home / "tmp"), OCR_TRAY_LOG_DIR=str(home / "logs"))
    (home / "tmp").mkdir(exist_ok=True)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(home / var.lower())
    return env


@pytest.fixture(scope="module")
def linux_bundle(tmp_path_factory):
    if not sys.platform.startswith("linux"):
        pytest.skip(f"the bundle test builds the Linux bundle; this is {sys.platform}")
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (it is in the dev extra: pip install -e '.[dev]')")
    tmp = tmp_path_factory.mktemp("pyinstaller")
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level", "WARN",
         "--distpath", str(tmp / "dist"), "--workpath", str(tmp / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=1500,
    )
    seconds = time.monotonic() - started
    assert build.returncode == 0, build.stderr[-4000:]
    folder = tmp / "dist" / "ocr-tray"
    size = bundle_bytes(folder)
    print(f"\nLinux bundle: {size / 1e6:.0f} MB in {folder}, built in {seconds:.0f} s")
    shutil.rmtree(tmp / "work", ignore_errors=True)
    return folder, size


@pytest.mark.linux_only
@pytest.mark.build
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_frozen_app_prints_its_version(linux_bundle, tmp_path):
    folder, _ = linux_bundle
    run = subprocess.run([str(folder / "ocr-tray"), "--version"], capture_output=True, text=True, timeout=120,
                         env=frozen_env(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"ocr-tray {version()}"


@pytest.mark.linux_only
@pytest.mark.build
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_frozen_app_self_test_loads_a_model_and_ocrs_a_pdf(linux_bundle, tmp_path):
    folder, _ = linux_bundle
    started = time.monotonic()
    run = subprocess.run([str(folder / "ocr-tray"), "--self-test"], capture_output=True, text=True, timeout=900,
                         env=frozen_env(tmp_path))
    print(f"\nfrozen self-test ({time.monotonic() - started:.0f} s): {run.stdout.strip()}")
    assert run.returncode == 0, f"stdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-4000:]}"
    assert "self-test ok" in run.stdout
    assert "api self-test ok" in run.stdout  # the local API started on a free port and OCR'd a page through it
    # (MLX's CPU backend keeps compiled kernels in $TMPDIR/mlx; that is not the self-test's)
    assert not list((tmp_path / "tmp").glob("ocr-tray-selftest-*")), "the self-test left its temp folder behind"


@pytest.mark.linux_only
@pytest.mark.build
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_frozen_app_starts_the_menu_bar_app_and_quits_on_sigterm(linux_bundle, tmp_path):
    folder, _ = linux_bundle
    env = frozen_env(tmp_path)
    log = Path(env["OCR_TRAY_LOG_DIR"]) / "ocr-tray.log"
    app = subprocess.Popen([str(folder / "ocr-tray"), "--background", "--instance-key", f"packaging-{os.getpid()}"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while app.poll() is None and time.monotonic() < deadline:
            if log.is_file() and "app ready" in log.read_text():
                break
            time.sleep(0.2)
        assert app.poll() is None, f"the app exited with {app.returncode}: {app.stderr.read()[-4000:]}"
        assert log.is_file() and "app ready" in log.read_text(), "no 'app ready' in the log after 120 s"
        app.send_signal(signal.SIGTERM)
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.returncode == 0, err[-4000:]
    assert "Traceback" not in err + log.read_text()


@pytest.mark.linux_only
@pytest.mark.build
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_bundle_fits_its_size_budget_and_holds_what_the_app_needs(linux_bundle):
    folder, size = linux_bundle
    print(f"\nLinux bundle size: {size / 1e6:.1f} MB (budget {SIZE_BUDGET / 1e6:.0f} MB)")
    assert size <= SIZE_BUDGET, f"bundle is {size / 1e6:.1f} MB, over the {SIZE_BUDGET / 1e6:.0f} MB budget"
    internal = folder / "_internal"
    for module in ("QtCore", "QtGui", "QtWidgets", "QtNetwork"):
        assert list((internal / "PySide6").glob(f"{module}.*so")), module
    assert (internal / "resources" / "tray-template@2x.png").is_file()
    assert (internal / "transformers" / "models").is_dir()  # transformers walks it on disk at import
    for dropped in ("pyarrow", "pandas", "cv2", "scipy", "datasets", "mlx_audio", "PySide6/Qt/translations"):
        assert not (internal / dropped).exists(), dropped
    assert not list(internal.glob("**/libcudart*"))


@pytest.mark.build
@pytest.mark.slow
@pytest.mark.linux_only
@pytest.mark.timeout(1800)
def test_frozen_app_reports_its_device_and_memory_and_runs_the_golden_pages_and_memory_cycles(linux_bundle, tmp_path):
    """What the macOS workflow runs in the frozen .app, run in the frozen Linux bundle: the self-test's device
    and memory lines, the golden pages (PyMuPDF's built-in fonts, Pillow, numpy, inside the bundle) and the
    memory cycles with their CSV."""
    folder, _ = linux_bundle
    env = frozen_env(tmp_path)
    exe = str(folder / "ocr-tray")
    plain = subprocess.run([exe, "--self-test"], capture_output=True, text=True, timeout=900, env=env)
    assert plain.returncode == 0, plain.stdout + plain.stderr[-3000:]
    assert re.search(r"^device: cpu \(.+; no Metal; mlx [\d.]+\)$", plain.stdout, re.M), plain.stdout
    assert re.search(r"^memory after unload: RSS \d+ MB, [+-][\d.]+ MB over the baseline .*: ok\)", plain.stdout, re.M)
    golden = subprocess.run([exe, "self-test", "--golden", "--max-tokens", "4", "--csv", str(tmp_path / "cer.csv")],
                            capture_output=True, text=True, timeout=900, env=env)
    print(f"\nfrozen golden pages:\n{golden.stdout}")
    assert golden.returncode == 0, golden.stdout + golden.stderr[-3000:]
    assert golden.stdout.rstrip().endswith("golden ok (machinery only)")
    assert len((tmp_path / "cer.csv").read_text().splitlines()) == 8  # header, six pages, overall
    memory = subprocess.run([exe, "self-test", "--memory-cycles", "2", "--size", "tiny", "--csv",
                             str(tmp_path / "memory.csv")], capture_output=True, text=True, timeout=900, env=env)
    print(f"frozen memory cycles:\n{memory.stdout}")
    assert memory.returncode == 0, memory.stdout + memory.stderr[-3000:]
    assert memory.stdout.rstrip().endswith("memory cycles ok")
    assert len((tmp_path / "memory.csv").read_text().splitlines()) == 6  # header, baseline, 2 × before/after
