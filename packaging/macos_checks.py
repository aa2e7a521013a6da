"""Checks the macOS workflow runs around ``pyinstaller build.spec`` (standard library only).

    python packaging/macos_checks.py pin-wheels        install the macOS 14 mlx / mlx-metal wheels (before the project)
    python packaging/macos_checks.py wheels            no installed wheel needs a macOS newer than 14.0
    python packaging/macos_checks.py bundle APP        the .app's binaries, its one libmlx and the metallib beside it
    python packaging/macos_checks.py plist APP         the .app's Info.plist keys
    python packaging/macos_checks.py report ...        the "Verified on a Mac" rows from the run's results

Why each exists is in docs/packaging.md ("Known pitfalls") and docs/adr/0014-mlx-on-macos.md:
mlx publishes one wheel per macOS release (``macosx_14_0``, ``macosx_15_0``, ``macosx_26_0``) and pip
takes the newest the build machine allows, whose Metal library does not load on an older macOS
("language version 4.0 which is not supported on this OS"); two ``libmlx.dylib`` of one name can be
merged by PyInstaller (one process must load exactly one); and MLX finds ``mlx.metallib`` only
beside the ``libmlx.dylib`` it was loaded from.

Every check prints what it saw and exits 1 when something is wrong (``pin-wheels`` and the
checks that need macOS exit 2 elsewhere). The parsing (Mach-O load commands, wheel tags, the
plist) is plain Python, tested on Linux by tests/test_workflows.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import plistlib
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FLOOR = (14, 0)  # the app's LSMinimumSystemVersion and the oldest macOS the release supports
WHEEL_PLATFORM = "macosx_14_0_arm64"
MLX_DISTS = ("mlx", "mlx-metal")
DOCUMENT_TYPES = ("public.image", "com.adobe.pdf")

# ------------------------------------------------------------------------------------------ Mach-O
MH_MAGIC_64 = 0xFEEDFACF
MH_MAGIC = 0xFEEDFACE
FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF
LC_ID_DYLIB = 0x0D
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
PLATFORM_MACOS = 1
CPU_TYPES = {0x0100000C: "arm64", 0x01000007: "x86_64", 0x0000000C: "arm", 0x00000007: "i386"}


@dataclass(frozen=True)
class Slice:
    arch: str
    minos: tuple[int, int, int] | None  # the macOS the slice needs (LC_BUILD_VERSION / LC_VERSION_MIN_MACOSX)
    install_name: str | None  # LC_ID_DYLIB


def _version(v: int) -> tuple[int, int, int]:
    return v >> 16, (v >> 8) & 0xFF, v & 0xFF


def _thin(data: bytes, offset: int = 0) -> Slice | None:
    if len(data) < offset + 32:
        return None
    magic_le = struct.unpack_from("<I", data, offset)[0]
    if magic_le not in (MH_MAGIC_64, MH_MAGIC):
        return None
    header = 32 if magic_le == MH_MAGIC_64 else 28
    _, cputype, _, _, ncmds, _, _ = struct.unpack_from("<7I", data, offset)
    minos, name = None, None
    at = offset + header
    for _ in range(ncmds):
        if at + 8 > len(data):
            break
        cmd, size = struct.unpack_from("<2I", data, at)
        if size < 8:
            break
        if cmd == LC_BUILD_VERSION:
            platform, v = struct.unpack_from("<2I", data, at + 8)
            if platform == PLATFORM_MACOS:
                minos = _version(v)
        elif cmd == LC_VERSION_MIN_MACOSX and minos is None:
            minos = _version(struct.unpack_from("<I", data, at + 8)[0])
        elif cmd == LC_ID_DYLIB:
            (name_off,) = struct.unpack_from("<I", data, at + 8)
            raw = data[at + name_off:at + size]
            name = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        at += size
    return Slice(CPU_TYPES.get(cputype, hex(cputype)), minos, name)


def macho_slices(path: str | os.PathLike) -> list[Slice]:
    """The Mach-O slices of a file (one for a thin binary, several for a fat one); [] for anything else."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return []
        magic_be = struct.unpack(">I", head[:4])[0]
        magic_le = struct.unpack("<I", head[:4])[0]
        if magic_le not in (MH_MAGIC_64, MH_MAGIC) and magic_be not in (FAT_MAGIC, FAT_MAGIC_64):
            return []
        # load commands sit in the first pages of each slice: read those, not the whole library
        f.seek(0)
        if magic_le in (MH_MAGIC_64, MH_MAGIC):
            slice_ = _thin(f.read(1 << 20))
            return [slice_] if slice_ else []
        n = struct.unpack(">I", head[4:8])[0]
        if n > 32:  # Java class files share the 0xCAFEBABE magic; they have a version there, not a count
            return []
        entry = 32 if magic_be == FAT_MAGIC_64 else 20
        table = f.read(8 + n * entry)[8:]
        out = []
        for i in range(n):
            if magic_be == FAT_MAGIC_64:
                _, _, offset, _, _, _ = struct.unpack_from(">2I2Q2I", table, i * entry)
            else:
                _, _, offset, _, _ = struct.unpack_from(">5I", table, i * entry)
            f.seek(offset)
            slice_ = _thin(f.read(1 << 20))
            if slice_:
                out.append(slice_)
        return out


def _newer(v: tuple[int, ...] | None, floor: tuple[int, int] = FLOOR) -> bool:
    return v is not None and tuple(v[:2]) > floor


# ------------------------------------------------------------------------------------------ wheels
_MACOS_TAG = re.compile(r"macosx_(\d+)_(\d+)_(\w+)$")


def macos_floor(tags: Iterable[str]) -> tuple[int, int] | None:
    """The oldest macOS (major, minor) an Apple Silicon Mac needs for a wheel with these tags; None when
    none of them is an arm64-capable macOS tag (pure Python, Linux, …)."""
    floors = []
    for tag in tags:
        m = _MACOS_TAG.search(tag.split("-")[-1])
        if m and m.group(3) in ("arm64", "universal2", "universal"):
            floors.append((int(m.group(1)), int(m.group(2))))
    return min(floors) if floors else None


def wheel_tags(dist) -> list[str]:
    text = dist.read_text("WHEEL") or ""
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]


def check_wheels(floor: tuple[int, int] = FLOOR, require: Iterable[str] = MLX_DISTS) -> int:
    from importlib import metadata

    problems, seen = [], {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        tags = wheel_tags(dist)
        needs = macos_floor(tags)
        if needs is None:
            continue
        seen[name] = (dist.version, needs, tags)
        if needs > floor:
            problems.append(f"{name} {dist.version} needs macOS {needs[0]}.{needs[1]} ({', '.join(tags)})")
    for name in sorted(seen):
        version, needs, tags = seen[name]
        print(f"  {name:<28} {version:<14} macOS {needs[0]}.{needs[1]:<3} {' '.join(tags)}")
    for name in require:
        if name not in seen:
            problems.append(f"{name} is not installed from a macOS wheel")
    if problems:
        print(f"wheels FAILED: the app supports macOS {floor[0]}.{floor[1]}, but:\n  " + "\n  ".join(problems))
        return 1
    print(f"wheels ok: {len(seen)} macOS wheels, none needs more than macOS {floor[0]}.{floor[1]}")
    return 0


def resolved_version(dist: str, project: str = ".", extras: str = "dev") -> str:
    """The version pip would install of ``dist`` for this project (a dry run, nothing installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                        "--report", str(report), f"{project}[{extras}]"], check=True)
        data = json.loads(report.read_text())
    for item in data.get("install", []):
        meta = item.get("metadata", {})
        if meta.get("name", "").lower().replace("_", "-") == dist:
            return meta["version"]
    raise SystemExit(f"pin-wheels: pip would not install {dist} for {project}")


def pin_wheels(platform_tag: str = WHEEL_PLATFORM, version: str | None = None) -> int:
    """Install mlx and mlx-metal from their ``platform_tag`` wheels at the version the project resolves
    to; the project's own install then keeps them (they already satisfy its requirements)."""
    if sys.platform != "darwin":
        print(f"pin-wheels: macOS only (this is {sys.platform})")
        return 2
    version = version or resolved_version("mlx")
    py = f"{sys.version_info.major}{sys.version_info.minor}"
    with tempfile.TemporaryDirectory() as folder:
        for dist, impl, abi in (("mlx", "cp", f"cp{py}"), ("mlx-metal", "py", "none")):
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
                            "--platform", platform_tag, "--python-version", py, "--implementation", impl,
                            "--abi", abi, "--dest", folder, f"{dist}=={version}"], check=True)
        wheels = sorted(str(p) for p in Path(folder).glob("*.whl"))
        print("pin-wheels: installing " + ", ".join(Path(w).name for w in wheels))
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
                        *wheels], check=True)
    return 0


# ------------------------------------------------------------------------------------------ the bundle
def _walk(root: Path) -> Iterator[Path]:
    for base, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            yield Path(base, name)


def check_bundle(app: Path, floor: tuple[int, int] = FLOOR) -> int:
    problems: list[str] = []
    binaries = 0
    for path in _walk(app):
        if path.is_symlink() or not path.is_file():
            continue
        slices = macho_slices(path)
        if not slices:
            continue
        binaries += 1
        rel = path.relative_to(app)
        if not any(s.arch == "arm64" for s in slices):
            problems.append(f"{rel}: no arm64 code ({', '.join(s.arch for s in slices)})")
        for s in slices:
            if _newer(s.minos, floor):
                problems.append(f"{rel}: {s.arch} slice needs macOS {'.'.join(map(str, s.minos or ()))}")
    # one libmlx.dylib: every other entry of that name must be a link to it (a second real copy
    # is the collision stenoai#287 hit: the process loads one and the other's callers get the wrong build)
    named = [p for p in _walk(app) if p.name == "libmlx.dylib"]
    real = [p for p in named if not p.is_symlink()]
    if len(real) != 1:
        problems.append(f"{len(real)} real libmlx.dylib files in the bundle ({', '.join(map(str, real))}); want 1")
    for p in named:
        if p.is_symlink() and real and p.resolve() != real[0].resolve():
            problems.append(f"{p.relative_to(app)} links to {p.resolve()}, not to the bundle's libmlx.dylib")
    # MLX looks for mlx.metallib in the folder of the libmlx.dylib it was loaded from (dladdr): whichever
    # of the paths dyld can load it by (the real file, the links among the libraries) reports, a metallib
    # must be there. In an .app the libraries are under Contents/Frameworks; links under Contents/Resources
    # only mirror them for data lookups.
    frameworks = app / "Contents" / "Frameworks"
    loadable = [p for p in named if not p.is_symlink() or not frameworks.is_dir() or frameworks in p.parents]
    for p in loadable:
        metallib = p.parent / "mlx.metallib"
        if not metallib.is_file():
            problems.append(f"no mlx.metallib beside {p.relative_to(app)}")
    metallibs = {m.resolve() for m in _walk(app) if m.name == "mlx.metallib" and m.is_file()}
    sizes = {m.stat().st_size for m in metallibs}
    print(f"bundle: {binaries} Mach-O files; libmlx.dylib at {', '.join(str(p.relative_to(app)) for p in named)}; "
          f"{len(metallibs)} mlx.metallib file(s) ({', '.join(f'{s / 1e6:.0f} MB' for s in sorted(sizes))})")
    if len(metallibs) > 1:
        problems.append("more than one mlx.metallib file: the bundle should hold one, linked where MLX looks")
    if problems:
        print("bundle FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"bundle ok: every binary has arm64 code for macOS ≤ {floor[0]}.{floor[1]}, one libmlx.dylib, "
          "its metallib beside each path to it")
    return 0


def check_plist(app: Path, version: str | None = None) -> int:
    info = plistlib.loads((app / "Contents" / "Info.plist").read_bytes())
    problems = []
    if info.get("LSUIElement") is not True:
        problems.append(f"LSUIElement is {info.get('LSUIElement')!r}, not true (the app would show a Dock icon)")
    if info.get("LSBackgroundOnly"):
        problems.append("LSBackgroundOnly is set: the app could show no menu-bar icon at all")
    if info.get("LSMinimumSystemVersion") != f"{FLOOR[0]}.{FLOOR[1]}":
        problems.append(f"LSMinimumSystemVersion is {info.get('LSMinimumSystemVersion')!r}")
    types = {t for entry in info.get("CFBundleDocumentTypes", []) for t in entry.get("LSItemContentTypes", [])}
    for wanted in DOCUMENT_TYPES:
        if wanted not in types:
            problems.append(f"CFBundleDocumentTypes lacks {wanted}")
    for entry in info.get("CFBundleDocumentTypes", []):
        if entry.get("LSHandlerRank") not in ("Alternate", "None"):
            problems.append(f"document type {entry.get('CFBundleTypeName')!r} would make the app a default handler")
    if version and info.get("CFBundleShortVersionString") != version:
        problems.append(f"CFBundleShortVersionString is {info.get('CFBundleShortVersionString')!r}, not {version}")
    schemes = [s for entry in info.get("CFBundleURLTypes", []) for s in entry.get("CFBundleURLSchemes", [])]
    for entry in info.get("CFBundleURLTypes", []):
        if not entry.get("CFBundleURLSchemes"):
            problems.append(f"URL type {entry.get('CFBundleURLName')!r} names no scheme")
    print(f"Info.plist: {info.get('CFBundleIdentifier')} {info.get('CFBundleShortVersionString')}, "
          f"LSUIElement={info.get('LSUIElement')}, document types {sorted(types)}, "
          + (f"URL schemes {schemes}" if schemes else "no URL scheme declared"))
    if problems:
        print("Info.plist FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("Info.plist ok")
    return 0


# ------------------------------------------------------------------------------------------ the report
def slope(values: list[float]) -> float:
    """Least-squares slope against 1, 2, 3, … (figure 2's growth per cycle)."""
    n = len(values)
    mean_x, mean_y = (n + 1) / 2, sum(values) / n
    return sum((i + 1 - mean_x) * (v - mean_y) for i, v in enumerate(values)) / sum((i + 1 - mean_x) ** 2
                                                                                   for i in range(n))


def _read(path: str | None) -> str:
    return Path(path).read_text(encoding="utf-8", errors="replace") if path and Path(path).is_file() else ""


def report(runner: str, image: str, macos: str, selftest: str | None, memory: str | None, golden: str | None,
           codesign: str, spctl: str, dmg: str, notarised: str) -> str:
    """Markdown rows for docs/packaging.md's "Verified on a Mac" table, from one leg's results."""
    lines = _read(selftest).splitlines()
    device = next((line.removeprefix("device: ") for line in lines if line.startswith("device: ")), "—")
    summary = next((line for line in lines if line.startswith("self-test ")), "no self-test output")
    mem_line = next((line for line in lines if line.startswith("memory after unload: ")), "")
    worst, growth = "—", "—"
    rows = list(csv.DictReader(_read(memory).splitlines())) if memory else []
    after = [float(r["rss_over_baseline_mb"]) for r in rows if r.get("phase") == "after-unload"]
    if after:
        worst = f"{max(after):+.1f} MB"
        if len(after) > 1:
            growth = f"{slope([float(r['rss_mb']) for r in rows if r.get('phase') == 'after-unload']):+.2f} MB/cycle"
    cer = "—"
    for r in csv.DictReader(_read(golden).splitlines()) if golden else []:
        if r.get("page") == "overall":
            cer = f"{float(r['cer']):.3f} ({r.get('model', '')})"
    memory_note = mem_line.split(";")[0].removeprefix("memory after unload: ") if mem_line else "—"
    return (f"| {runner} | {image} | macOS {macos} | {device} | {summary.split(';')[0]} | {memory_note} | "
            f"{len(after)} cycles, worst {worst}, growth {growth} | {cer} | {codesign} | {spctl} | {notarised} | "
            f"{dmg} |")


REPORT_HEADER = ("| runner | image | OS | MLX device | frozen self-test | memory after unload (self-test) | "
                 "Metal memory cycles (fig. 1/2) | golden CER | codesign --strict | spctl | notarised | DMG |\n"
                 "|---|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="macos_checks.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    pin = sub.add_parser("pin-wheels", help="install the macOS 14 mlx and mlx-metal wheels")
    pin.add_argument("--platform", default=WHEEL_PLATFORM)
    pin.add_argument("--version", help="the mlx version (default: what pip resolves for this project)")
    sub.add_parser("wheels", help="fail when an installed wheel needs a macOS newer than 14.0")
    bundle = sub.add_parser("bundle", help="check the .app's binaries, libmlx and metallib")
    bundle.add_argument("app", type=Path)
    plist = sub.add_parser("plist", help="check the .app's Info.plist")
    plist.add_argument("app", type=Path)
    plist.add_argument("--version", help="the version the app must carry")
    rep = sub.add_parser("report", help="print a 'Verified on a Mac' row (markdown)")
    for name in ("runner", "image", "macos", "codesign", "spctl", "dmg", "notarised"):
        rep.add_argument(f"--{name}", default="—")
    for name in ("selftest", "memory", "golden"):
        rep.add_argument(f"--{name}")
    rep.add_argument("--header", action="store_true", help="print the table's header first")
    args = p.parse_args(argv)
    if args.command == "pin-wheels":
        return pin_wheels(args.platform, args.version)
    if args.command == "wheels":
        if sys.platform != "darwin":
            print(f"wheels: macOS only (this is {sys.platform})")
            return 2
        return check_wheels()
    if args.command == "bundle":
        return check_bundle(args.app)
    if args.command == "plist":
        return check_plist(args.app, args.version)
    if args.header:
        print(REPORT_HEADER)
    print(report(args.runner, args.image, args.macos, args.selftest, args.memory, args.golden, args.codesign,
                 args.spctl, args.dmg, args.notarised))
    return 0


if __name__ == "__main__":
    sys.exit(main())
