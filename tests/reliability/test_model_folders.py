"""Hostile or broken model folders, end to end: each finding's attack, rebuilt from the tiny model.

1. The memory check counted only the weights files' sizes: huge config dimensions, pixel limits
   in preprocessor_config.json, a chat template that allocates gigabytes, weights named outside
   the folder, and sparse shards all got past it.
2. Some folders hung the engine for good: a FIFO named like a model file, nested template loops.
3. A folder in the current directory replaced a preset.

Every case is refused in one line naming the folder (or clamped, for the pixel limits), quickly,
without the allocation the attack was after. MLX runs only on engine threads or in subprocesses.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine.jobs import OcrOptions
from engine.lifecycle import State
from engine.models import store
from engine.models.store import ModelNotFound, ModelRejected
from engine.testing import tiny_model
from tests.processes import child_env

from . import bad_files
from .conftest import TOKENS, one_line, settle

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
OPTS = OcrOptions(max_tokens=TOKENS)
PRESET_REPO = "mlx-community/PaddleOCR-VL-1.5-bf16"
MB = 1024 * 1024


# ------------------------------------------------------------------ helpers
def model_copy(src: Path, tmp_path: Path, name: str = "model") -> Path:
    dest = tmp_path / name
    shutil.copytree(src, dest)
    return dest


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(json.dumps(data))


def refused(make_engine, model, tmp_path, words: str, kind: str = "model"):
    """The job on ``model`` fails at the load, in one line naming the folder; nothing stays loaded."""
    engine, rec = make_engine(model=model)
    png = bad_files.png(tmp_path / "page.png")
    t0 = time.monotonic()
    result = rec.run([png], OPTS)[str(png)]
    seconds = time.monotonic() - t0
    assert (result.status, result.error_kind) == ("failed", kind), result
    one_line(result.error, "page.png")
    assert words in result.error, result.error
    settle(engine)
    assert engine.status.state is State.UNLOADED and not engine._worker.backend.loaded
    return result, seconds


def ocr_tray(*args, cwd=None, timeout=120, limit_as: int | None = None):
    """The real CLI in a subprocess (a hang fails the test instead of the suite)."""
    env = child_env(QT_QPA_PLATFORM="offscreen")

    def cap():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "desktop.main", *map(str, args)], cwd=cwd or ROOT,
                         capture_output=True, text=True, timeout=timeout, env=env, preexec_fn=cap)
    return run, time.monotonic() - t0


def python(code: str, *args, timeout=180):
    run = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, capture_output=True,
                         text=True, timeout=timeout, env=child_env())
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture
def load_spy(monkeypatch):
    """Every call of mlx_vlm.load (the engine's only way to build a model)."""
    import mlx_vlm

    calls = []
    real = mlx_vlm.load

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(mlx_vlm, "load", spy)
    return calls


@pytest.fixture(scope="module")
def families(tmp_path_factory, tiny_model_dir):
    base = tmp_path_factory.mktemp("families")
    built = {"qwen2_vl": tiny_model_dir}
    for family in ("paddleocr_vl", "glm_ocr"):
        built[family] = tiny_model.build(base / family, family, "tiny")
    return built


# ====================================== finding 1: the memory check saw only file sizes
@pytest.mark.parametrize("key, value", [
    ("hidden_size", 1_000_000_000),
    ("num_hidden_layers", 1_000_000),
    ("vision_config__depth", 1_000_000),
])
def test_huge_config_dimensions_are_refused_before_any_model_object(make_engine, tiny_model_dir, tmp_path,
                                                                    load_spy, key, value):
    model = model_copy(tiny_model_dir, tmp_path)
    edit_json(model / "config.json", **{key: value})
    rss = psutil.Process().memory_info().rss
    result, seconds = refused(make_engine, model, tmp_path, "no real model has more than")
    grown = psutil.Process().memory_info().rss - rss
    print(f"{key}={value}: refused in {seconds:.2f} s, RSS {grown / MB:+.1f} MB: {result.error}")
    assert key.replace("__", ".") in result.error and str(model) in result.error
    assert load_spy == [], "a model object was built from the hostile config"
    assert grown < 50 * MB


def test_a_config_that_disagrees_with_its_weights_is_refused_before_any_model_object(
        make_engine, families, tmp_path, load_spy):
    model = model_copy(families["glm_ocr"], tmp_path)
    edit_json(model / "config.json", text_config__num_hidden_layers=9000, vision_config__depth=9000)
    result, _ = refused(make_engine, model, tmp_path, "but the weights hold 2 layers")
    assert load_spy == []


CLAMP = r"""
import json, resource, sys
from pathlib import Path
from PIL import Image
from mlx_vlm.utils import prepare_inputs
from engine.backend import Backend
from engine.models.presets import ModelSpec

folders, limit = json.loads(sys.argv[1]), int(sys.argv[2])
out = {}
for family, folder in folders.items():
    spec = ModelSpec(folder, family, "OCR:", max_side=int(limit ** 0.5), max_pixels=limit)
    backend = Backend()
    backend.load(spec, Path(folder))
    ip = backend._processor.image_processor
    image = Image.new("RGB", (64, 64), "white")
    inputs = prepare_inputs(backend._processor, images=[image], prompts=[backend._chat_prompt("OCR:")])
    grid = [int(x) for x in inputs["image_grid_thw"].tolist()[0]]
    text, stats = backend.ocr(image, 1, lambda delta: None)
    out[family] = {"grid": grid, "pixels": grid[1] * grid[2] * int(ip.patch_size) ** 2,
                   "prompt_tokens": stats.prompt_tokens, "max_pixels": ip.max_pixels, "min_pixels": ip.min_pixels}
    backend.unload()
unit = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
print(json.dumps(out))
"""


def test_pixel_limits_in_preprocessor_config_are_clamped_to_the_apps(families, tmp_path):
    """min_pixels = max_pixels = 4e8 upscaled a 64×64 PNG to 20020×20020 (6 GB); now the processor
    never makes more than spec.max_pixels, and the page is read."""
    huge = 400_000_000
    folders = {}
    for family, src in families.items():
        model = model_copy(src, tmp_path, family)
        if family == "glm_ocr":
            edit_json(model / "preprocessor_config.json", size={"shortest_edge": huge, "longest_edge": huge})
        else:
            edit_json(model / "preprocessor_config.json", min_pixels=huge, max_pixels=huge)
        folders[family] = str(model)
    limit = 224 * 224
    out = python(CLAMP, json.dumps(folders), limit)
    print(json.dumps(out))
    for family in families:
        got = out[family]
        assert got["pixels"] <= limit, (family, got)
        assert got["max_pixels"] <= limit * (2 if family == "glm_ocr" else 1), (family, got)
        assert got["prompt_tokens"] < limit // (28 * 28) + 64, (family, got)  # image tokens + the prompt text
    assert out["maxrss_mb"] < 2500


TEMPLATES = r"""
import json, resource, sys, time
from pathlib import Path
from engine.backend import Backend
from engine.models.presets import ModelSpec
from engine.models.store import ModelRejected

def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)

good, hostile = sys.argv[1], json.loads(sys.argv[2])
backend = Backend()
backend.load(ModelSpec(good, "good", "OCR:"), Path(good))  # everything imported and warm
backend.unload()
out = {"baseline_mb": maxrss_mb()}
for name, folder in hostile.items():
    t0 = time.monotonic()
    try:
        backend.load(ModelSpec(folder, name, "OCR:"), Path(folder))
        error = None
    except ModelRejected as e:
        error = str(e)
    out[name] = {"error": error, "seconds": time.monotonic() - t0, "maxrss_mb": maxrss_mb(), "loaded": backend.loaded}
print(json.dumps(out))
"""


def _with_template(src: Path, tmp_path: Path, name: str, template: str) -> Path:
    model = model_copy(src, tmp_path, name)
    (model / "chat_template.jinja").write_text(template)
    return model


def test_runaway_chat_templates_are_refused_without_allocating(tiny_model_dir, tmp_path):
    """'x' * 1e9 took 4 GB and nested range(100000) loops spun for good; both are refused at load."""
    hostile = {
        "bomb": _with_template(tiny_model_dir, tmp_path, "bomb", "{% set s = 'x' * 1000000000 %}{{ s }}"),
        "loops": _with_template(tiny_model_dir, tmp_path, "loops",
                                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
    }
    out = python(TEMPLATES, tiny_model_dir, json.dumps({k: str(v) for k, v in hostile.items()}))
    print(json.dumps(out))
    for name, folder in hostile.items():
        got = out[name]
        assert got["error"] and "\n" not in got["error"] and str(folder) in got["error"], got
        assert "chat template" in got["error"] and not got["loaded"], got
        assert got["maxrss_mb"] - out["baseline_mb"] < 150, got  # no gigabytes, not even for a moment
    assert "makes a repeated value" in out["bomb"]["error"]  # refused by its size, before it was made
    assert "ran for more than 2 s" in out["loops"]["error"]  # stopped by the render's deadline


def test_a_runaway_template_fails_the_job_in_one_line(make_engine, tiny_model_dir, tmp_path):
    model = _with_template(tiny_model_dir, tmp_path, "bomb", "{{ 'x' * 1000000000 }}")
    result, seconds = refused(make_engine, model, tmp_path, "its chat template makes a repeated value")
    assert str(model) in result.error


@pytest.mark.parametrize("shard, words", [
    ("ABSOLUTE", "names a weights file outside the folder"),
    ("../../outside/x.safetensors", "names a weights file outside the folder"),
    ("pytorch_model.bin", "only .safetensors weights are loaded"),
])
def test_index_naming_weights_outside_the_folder_or_not_safetensors_is_refused(make_engine, tiny_model_dir,
                                                                               tmp_path, load_spy, shard, words):
    model = model_copy(tiny_model_dir, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(model / "model.safetensors", outside / "x.safetensors")
    if shard == "ABSOLUTE":
        shard = str(outside / "x.safetensors")
    elif shard == "pytorch_model.bin":
        os.rename(model / "model.safetensors", model / shard)  # safetensors bytes under a pickle's name
    header = tiny_model.read_safetensors_header(outside / "x.safetensors")
    (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": dict.fromkeys(header, shard)}))
    result, _ = refused(make_engine, model, tmp_path, words)
    assert str(model) in result.error  # (the shard's name follows; long paths are cut at 200 characters)
    assert load_spy == []


def _sparse_shards(src: Path, tmp_path: Path, count: int = 4, size: int = 1_500_000_000) -> Path:
    """Four 1.5 GB shards whose headers are valid and whose data is one big hole (``truncate``)."""
    model = model_copy(src, tmp_path, "sparse")
    (model / "model.safetensors").unlink()
    weight_map = {}
    for i in range(count):
        name = f"model-{i + 1:05d}-of-{count:05d}.safetensors"
        tensor = f"language_model.model.layers.{i}.blob"
        raw = json.dumps({tensor: {"dtype": "BF16", "shape": [size // 2], "data_offsets": [0, size]}}).encode()
        with open(model / name, "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            f.truncate(8 + len(raw) + size)
        weight_map[tensor] = name
    (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return model


def test_sparse_shards_are_refused_as_damaged_never_a_crash(tiny_model_dir, tmp_path):
    """4 × 1.5 GB sparse shards crashed the process (SIGSEGV) under a 5 GiB cap."""
    model = _sparse_shards(tiny_model_dir, tmp_path)
    with pytest.raises(ModelRejected) as caught:
        store.vet(model, 1600 * 1600)
    message = str(caught.value)
    assert "model-00001-of-00004.safetensors is damaged" in message and "never written" in message, message
    png = bad_files.png(tmp_path / "page.png")
    for flags in ((), ("--no-memory-check",)):
        run, seconds = ocr_tray("ocr", png, "--model", model, "--max-tokens", "2", *flags, limit_as=5 * 1024 ** 3)
        print(flags, f"{seconds:.1f} s", run.returncode, run.stderr.strip()[-400:])
        assert run.returncode == 1, (run.returncode, run.stderr[-2000:])  # an error, not a signal
        assert "page.png: not processed" in run.stderr
        assert ("is damaged" in run.stderr) or ("needs about" in run.stderr), run.stderr[-2000:]
    assert "is damaged" in run.stderr  # with the memory check off, the shards themselves are refused


# ====================================== finding 2: folders that hung the engine for good
@pytest.mark.parametrize("name", ["model.safetensors", "preprocessor_config.json"])
def test_a_fifo_named_like_a_model_file_is_refused_at_once(tiny_model_dir, tmp_path, name):
    model = model_copy(tiny_model_dir, tmp_path)
    (model / name).unlink()
    os.mkfifo(model / name)
    png = bad_files.png(tmp_path / "page.png")
    run, seconds = ocr_tray("ocr", png, "--model", model, "--max-tokens", "2", timeout=120)
    print(f"{name}: {seconds:.1f} s (whole CLI run): {run.stderr.strip()[-300:]}")
    assert run.returncode == 1, run.stderr[-2000:]
    assert f"{name} is a pipe (FIFO), not a regular file" in run.stderr and str(model) in run.stderr
    with pytest.raises(ModelRejected):  # (opening the FIFO to read it would block for good)
        store.vet(model, 1600 * 1600)


def test_nested_template_loops_fail_the_job_at_the_render_deadline(make_engine, tiny_model_dir, tmp_path):
    model = _with_template(tiny_model_dir, tmp_path, "loops",
                           "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}")
    result, seconds = refused(make_engine, model, tmp_path, "its chat template ran for more than 2 s")
    print(f"nested loops: the job failed after {seconds:.1f} s")


# ====================================== finding 3: a folder in the current directory replaced a preset
def test_a_folder_named_like_a_preset_in_the_current_directory_is_not_loaded(make_engine, tiny_model_dir, tmp_path,
                                                                           monkeypatch, load_spy):
    shutil.copytree(tiny_model_dir, tmp_path / PRESET_REPO)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFound, match="not downloaded yet"):
        store.locate(PRESET_REPO)
    result, _ = refused(make_engine, PRESET_REPO, tmp_path, "not downloaded yet", kind="model-missing")
    assert load_spy == []
    engine, rec = make_engine(model=f"./{PRESET_REPO}")  # given as a path, it is that folder
    png = bad_files.png(tmp_path / "again.png")
    assert rec.run([png], OPTS)[str(png)].status == "done"


def test_the_cli_in_such_a_directory_does_not_load_it(tiny_model_dir, tmp_path):
    """The reported attack: ``ocr-tray ocr a.png`` (default preset) in a directory holding the preset's repo id."""
    shutil.copytree(tiny_model_dir, tmp_path / PRESET_REPO)
    png = bad_files.png(tmp_path / "a.png")
    run, _ = ocr_tray("ocr", "a.png", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"model {PRESET_REPO} is not downloaded yet" in run.stderr, run.stderr[-2000:]
    assert f"a folder of that name here loads only as ./{PRESET_REPO}" in run.stderr
    run, _ = ocr_tray("ocr", png, "--model", f"./{PRESET_REPO}", "--max-tokens", "2", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
