"""engine.models.store / vetting / template_guard: finding a model, vetting its folder (files, weights'
headers, config vs. weights), the memory estimate, the processor clamp and the chat-template budget.

Nothing here imports MLX in the test process: the tiny checkpoints come from the session fixture and
``engine.testing.tiny_model`` (as every test does), the real families' parameter shapes from a
subprocess.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from engine.human import size_text
from engine.models import store, template_guard, vetting
from engine.models.store import ModelNotFound, ModelRejected, ModelTooLarge, check_fit, check_folder, is_repo_id, locate
from engine.testing import tiny_model

ROOT = Path(__file__).resolve().parents[3]
PIXELS = 1600 * 1600


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def families(tmp_path_factory, tiny_model_dir):
    """One tiny checkpoint per family (qwen2_vl is the session's)."""
    base = tmp_path_factory.mktemp("families")
    built = {"qwen2_vl": tiny_model_dir}
    for family in ("paddleocr_vl", "glm_ocr"):
        built[family] = tiny_model.build(base / family, family, "tiny")
    return built


def copy(src: Path, tmp_path: Path, name: str = "model") -> Path:
    dest = tmp_path / name
    shutil.copytree(src, dest, symlinks=True)
    return dest


def edit_config(folder: Path, dotted: str, value) -> None:
    config = json.loads((folder / "config.json").read_text())
    node = config
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    (folder / "config.json").write_text(json.dumps(config))


def write_safetensors(path: Path, tensors: dict, extra: bytes = b"", header_size: int | None = None) -> Path:
    """A safetensors file by hand: {name: (dtype, shape, nbytes)}; data is zeros unless given."""
    header, offset = {}, 0
    for name, (dtype, shape, nbytes) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header).encode()
    n = len(raw) if header_size is None else header_size
    path.write_bytes(struct.pack("<Q", n) + raw + b"\0" * offset + extra)
    return path


def one_line_naming(message: str, folder) -> None:
    assert "\n" not in message, message
    assert str(folder) in message, message


# ============================================================ repo ids and paths
@pytest.mark.parametrize("source, expected", [
    ("mlx-community/PaddleOCR-VL-1.5-bf16", True),
    ("org/name", True),
    ("./org/name", False),
    ("../org/name", False),
    ("~/org/name", False),
    ("/abs/org/name", False),
    ("org/name/more", False),
    ("org\\name", False),
    ("name", False),  # a bare name is a folder in the current directory
    ("org//name", False),
    ("org/na..me", False),  # not a valid repo id: a folder
    (" org/name", False),
    ("org/", False),
])
def test_is_repo_id_by_its_form_alone(source, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_repo_id(source) is expected
    (tmp_path / "org" / "name").mkdir(parents=True)  # a folder of that name changes nothing
    assert is_repo_id(source) is expected


def test_a_folder_in_the_current_directory_never_replaces_a_preset(tiny_model_dir, tmp_path, monkeypatch):
    repo = "mlx-community/PaddleOCR-VL-1.5-bf16"
    shutil.copytree(tiny_model_dir, tmp_path / repo)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFound) as caught:
        locate(repo)
    message = str(caught.value)
    assert "not downloaded yet" in message and "\n" not in message
    assert f"./{repo}" in message  # the hint: how to use that folder on purpose
    assert locate(f"./{repo}") == Path(f"./{repo}")
    assert locate(str(tmp_path / repo)) == tmp_path / repo


def test_a_repo_id_in_the_cache_wins_over_a_folder_of_that_name(tiny_model_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub

    repo, revision = "ocr-tray/tiny-test", "0123456789abcdef0123456789abcdef01234567"
    cache = tmp_path / "hub"
    cached = cache / "models--ocr-tray--tiny-test"
    shutil.copytree(tiny_model_dir, cached / "snapshots" / revision)
    (cached / "refs").mkdir(parents=True)
    (cached / "refs" / "main").write_text(revision)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache))
    work = tmp_path / "work"
    (work / repo).mkdir(parents=True)  # an empty decoy
    monkeypatch.chdir(work)
    assert locate(repo).resolve() == (cached / "snapshots" / revision).resolve()


def test_a_name_that_is_no_repo_id_is_a_folder(tiny_model_dir, tmp_path, monkeypatch):
    shutil.copytree(tiny_model_dir, tmp_path / "mymodel")
    monkeypatch.chdir(tmp_path)
    assert locate("mymodel") == Path("mymodel")
    with pytest.raises(ModelNotFound, match="does not exist"):
        locate("other")


# ================================================================== files
def test_the_tiny_families_pass(families):
    for family, folder in families.items():
        report = store.vet(folder, PIXELS)
        assert report.shards == ("model.safetensors",)
        assert report.model_type == family


def test_fifo_socket_and_directory_named_as_model_files_are_refused_at_once(families, tmp_path):
    cases = {
        "model.safetensors": lambda p: os.mkfifo(p),
        "preprocessor_config.json": lambda p: os.mkfifo(p),
        "tokenizer_config.json": lambda p: os.mkfifo(p),
        "chat_template.jinja": lambda p: os.mkfifo(p),
        "tokenizer.json": lambda p: socket.socket(socket.AF_UNIX).bind(str(p)),
        "config.json": lambda p: os.mkfifo(p),
        "x.safetensors": lambda p: p.mkdir(),
    }
    for i, (name, make) in enumerate(cases.items()):
        model = copy(families["qwen2_vl"], tmp_path, f"m{i}")
        if (model / name).exists():
            (model / name).unlink()
        short = tmp_path / f"s{i}"  # AF_UNIX paths are short: make it here and link it in
        short.mkdir()
        make(short / "f")
        os.rename(short / "f", model / name)
        with pytest.raises(ModelRejected) as caught:  # (a FIFO opened for reading would block: no hang)
            store.vet(model, PIXELS)
        message = str(caught.value)
        one_line_naming(message, model)
        assert name in message and ("not a regular file" in message), message


def test_a_hidden_fifo_no_loader_reads_is_left_alone(families, tmp_path):
    model = copy(families["qwen2_vl"], tmp_path)
    os.mkfifo(model / ".lock")
    store.vet(model, PIXELS)


def test_links_inside_the_folder_are_followed_and_links_out_refused(families, tmp_path):
    model = copy(families["qwen2_vl"], tmp_path)
    (model / "weights").mkdir()
    os.rename(model / "model.safetensors", model / "weights" / "real.safetensors")
    (model / "model.safetensors").symlink_to("weights/real.safetensors")
    store.vet(model, PIXELS)

    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (model / "preprocessor_config.json").unlink()
    (model / "preprocessor_config.json").symlink_to(outside)
    with pytest.raises(ModelRejected, match="outside the model folder"):
        check_folder(model)
    (model / "preprocessor_config.json").unlink()
    (model / "preprocessor_config.json").symlink_to(model / "nothing-here.json")
    with pytest.raises(ModelRejected, match="broken link"):
        check_folder(model)


def test_the_hugging_face_cache_layout_links_to_its_own_blobs_only(families, tmp_path):
    repo = tmp_path / "hub" / "models--org--name"
    snapshot = repo / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for i, f in enumerate(sorted(families["qwen2_vl"].iterdir())):
        blob = repo / "blobs" / f"blob{i}"
        shutil.copy(f, blob)
        (snapshot / f.name).symlink_to(Path("../../blobs") / blob.name)
    store.vet(snapshot, PIXELS)  # snapshots/<sha>/file -> ../../blobs/<hash>: allowed

    other = tmp_path / "hub" / "models--evil--repo" / "blobs"
    other.mkdir(parents=True)
    shutil.copy(families["qwen2_vl"] / "preprocessor_config.json", other / "b")
    (snapshot / "preprocessor_config.json").unlink()
    (snapshot / "preprocessor_config.json").symlink_to(other / "b")
    with pytest.raises(ModelRejected, match="outside the model folder"):
        check_folder(snapshot)


def test_oversized_json_tokenizer_and_template_files_are_refused_unread(families, tmp_path):
    for name, size, limit in (("tokenizer.json", 60, 50), ("chat_template.jinja", 2, 1),
                              ("preprocessor_config.json", 11, 10)):
        model = copy(families["qwen2_vl"], tmp_path, name)
        with open(model / name, "r+b") as f:
            f.truncate(size * 1024 * 1024)  # sparse: nothing is written or read
        with pytest.raises(ModelRejected) as caught:
            check_folder(model)
        message = str(caught.value)
        one_line_naming(message, model)
        assert name in message and f"{limit} MB" in message


def test_a_template_inside_tokenizer_config_is_capped_too(families, tmp_path):
    model = copy(families["qwen2_vl"], tmp_path)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["chat_template"] = "x" * (vetting.MAX_TEMPLATE_BYTES + 1)
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelRejected, match="chat template of 1.0 MB"):
        store.vet(model, PIXELS)


@pytest.mark.parametrize("name, key, value", [
    ("preprocessor_config.json", "temporal_patch_size", 1_000_000),
    ("preprocessor_config.json", "patch_size", 0),
    ("preprocessor_config.json", "merge_size", 1e9),
    ("processor_config.json", "image_processor", {"patch_size": {"height": 100000, "width": 14}}),
])
def test_image_processor_grid_settings_no_real_model_has_are_refused(families, tmp_path, name, key, value):
    """temporal_patch_size 1e6 would make the processor repeat each image a million times."""
    model = copy(families["qwen2_vl"], tmp_path)
    path = model / name
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ModelRejected) as caught:
        store.vet(model, PIXELS)
    message = str(caught.value)
    one_line_naming(message, model)
    assert name in message and "real image processors use" in message, message


# ================================================================== the index
@pytest.mark.parametrize("shard, words", [
    ("ABSOLUTE", "names a weights file outside the folder"),
    ("../outside/x.safetensors", "names a weights file outside the folder"),
    ("sub/x.safetensors", "names a weights file outside the folder"),
    ("..", "names a weights file outside the folder"),
    ("pytorch_model.bin", "only .safetensors weights are loaded"),
    ("model.safetensors.bak", "only .safetensors weights are loaded"),
])
def test_index_shards_must_be_plain_safetensors_names_in_the_folder(families, tmp_path, shard, words):
    model = copy(families["qwen2_vl"], tmp_path)
    elsewhere = tmp_path / "outside"
    elsewhere.mkdir()
    shutil.copy(model / "model.safetensors", elsewhere / "x.safetensors")
    if shard == "ABSOLUTE":
        shard = str(elsewhere / "x.safetensors")
    if shard == "pytorch_model.bin":
        shutil.copy(model / "model.safetensors", model / shard)  # safetensors bytes under a pickle's name
    header = tiny_model.read_safetensors_header(model / "model.safetensors")
    (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": dict.fromkeys(header, shard)}))
    for check in (check_folder, lambda m: store.vet(m, PIXELS)):
        with pytest.raises(ModelRejected) as caught:
            check(model)
        message = str(caught.value)
        one_line_naming(message, model)
        assert words in message and repr(shard) in message


def test_a_sharded_checkpoint_is_read_from_its_index(families, tmp_path):
    model = copy(families["qwen2_vl"], tmp_path)
    header = tiny_model.read_safetensors_header(model / "model.safetensors")
    names = list(header)
    half = len(names) // 2
    blob = (model / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    base = 8 + n

    def shard(path, keys):
        tensors, parts, offset = {}, [], 0
        for k in keys:
            start, end = header[k]["data_offsets"]
            tensors[k] = {"dtype": header[k]["dtype"], "shape": header[k]["shape"],
                          "data_offsets": [offset, offset + end - start]}
            parts.append(blob[base + start: base + end])
            offset += end - start
        raw = json.dumps(tensors).encode()
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(parts))

    shard(model / "model-00001-of-00002.safetensors", names[:half])
    shard(model / "model-00002-of-00002.safetensors", names[half:])
    (model / "model.safetensors").unlink()
    weight_map = dict.fromkeys(names[:half], "model-00001-of-00002.safetensors")
    weight_map.update(dict.fromkeys(names[half:], "model-00002-of-00002.safetensors"))
    (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    report = store.vet(model, PIXELS)
    assert report.shards == ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    assert report.weights_bytes == len(blob) - base


# ================================================================ the headers
def test_weights_bytes_are_the_headers_exact_tensor_bytes(families):
    for folder in families.values():
        header = tiny_model.read_safetensors_header(folder / "model.safetensors")
        exact = sum(e["data_offsets"][1] - e["data_offsets"][0] for e in header.values())
        with open(folder / "model.safetensors", "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        assert store.vet(folder, PIXELS).weights_bytes == exact == (folder / "model.safetensors").stat().st_size - 8 - n


def _damaged_shard(families, tmp_path, make) -> str:
    model = copy(families["qwen2_vl"], tmp_path)
    make(model / "model.safetensors")
    with pytest.raises(ModelRejected) as caught:
        store.vet(model, PIXELS)
    message = str(caught.value)
    one_line_naming(message, model)
    assert "could not be loaded: model.safetensors is damaged" in message, message
    return message


def test_a_header_larger_than_the_file_is_damaged(families, tmp_path):
    def make(p):
        p.write_bytes(struct.pack("<Q", 10_000_000) + b"{}")
    assert "header claims 10000000 bytes but the file has 10" in _damaged_shard(families, tmp_path, make)


def test_a_tensor_past_the_end_of_the_file_is_damaged(families, tmp_path):
    def make(p):
        write_safetensors(p, {"w": ("F32", [4], 16)})
        p.write_bytes(p.read_bytes()[:-4])
    assert "lies past the end of the file" in _damaged_shard(families, tmp_path, make)


def test_a_tensor_whose_bytes_disagree_with_its_shape_is_damaged(families, tmp_path):
    def make(p):
        write_safetensors(p, {"w": ("F32", [1000], 16)})
    assert "tensor w is 16 bytes but its shape and dtype need 4000" in _damaged_shard(families, tmp_path, make)


def test_overlapping_or_trailing_data_is_damaged(families, tmp_path):
    def overlap(p):
        raw = json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                          "b": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
        p.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 16)
    assert "overlaps another" in _damaged_shard(families, tmp_path / "a", overlap)

    def trailing(p):
        write_safetensors(p, {"w": ("F32", [4], 16)}, extra=b"junk")
    assert "4 bytes after the last tensor" in _damaged_shard(families, tmp_path / "b", trailing)


def test_a_sparse_shard_is_damaged_not_read(families, tmp_path):
    def make(p):
        raw = json.dumps({"w": {"dtype": "BF16", "shape": [750_000_000], "data_offsets": [0, 1_500_000_000]}}).encode()
        with open(p, "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            f.truncate(8 + len(raw) + 1_500_000_000)  # a 1.5 GB hole
    message = _damaged_shard(families, tmp_path, make)
    assert "1.5 GB of its 1.5 GB were never written" in message


def test_an_oversized_header_is_refused(families, tmp_path):
    model = copy(families["qwen2_vl"], tmp_path)
    raw = b'{"__metadata__":{}}' + b" " * (17 * 1024 * 1024)
    (model / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)
    with pytest.raises(ModelRejected, match="MB header"):
        store.vet(model, PIXELS)


# ================================================================= the config
@pytest.mark.parametrize("family, key, value", [
    ("qwen2_vl", "hidden_size", 1_000_000_000),
    ("qwen2_vl", "num_hidden_layers", 1_000_000),
    ("qwen2_vl", "vision_config.depth", 1_000_000),
    ("qwen2_vl", "intermediate_size", 1e9),
    ("qwen2_vl", "max_position_embeddings", 10**12),
    ("paddleocr_vl", "vision_config.num_hidden_layers", 1_000_000),
    ("glm_ocr", "text_config.hidden_size", 1_000_000_000),
    ("glm_ocr", "vision_config.mlp_ratio", 1e6),
    ("qwen2_vl", "vision_config.embed_dim", float("inf")),
])
def test_absurd_dimensions_are_refused_before_anything_is_built(families, tmp_path, family, key, value):
    model = copy(families[family], tmp_path)
    edit_config(model, key, value)
    rss = psutil.Process().memory_info().rss
    with pytest.raises(ModelRejected) as caught:
        store.vet(model, PIXELS)
    assert psutil.Process().memory_info().rss - rss < 20 * 1024 * 1024
    message = str(caught.value)
    one_line_naming(message, model)
    assert key in message and "no real model has more than" in message


@pytest.mark.parametrize("family, key, value, words", [
    ("qwen2_vl", "hidden_size", 128,
     "hidden_size = 128 but the embedding language_model.model.embed_tokens.weight is 64 wide"),
    ("qwen2_vl", "num_hidden_layers", 3, "num_hidden_layers = 3 but the weights hold 2 layers"),
    ("qwen2_vl", "vocab_size", 1000, "vocab_size = 1000 but the embedding"),
    ("qwen2_vl", "vision_config.depth", 3, "vision_config.depth = 3 but the weights hold 2 in vision_tower.blocks"),
    ("qwen2_vl", "intermediate_size", 999, "intermediate_size = 999 but no weight has that dimension"),
    ("qwen2_vl", "vision_config.embed_dim", 48, "vision_config.embed_dim = 48"),
    ("paddleocr_vl", "num_hidden_layers", 1, "num_hidden_layers = 1 but the weights hold 2"),
    ("paddleocr_vl", "vision_config.num_hidden_layers", 5, "vision_config.num_hidden_layers = 5"),
    ("paddleocr_vl", "vision_config.hidden_size", 48, "vision_config.hidden_size = 48"),
    ("glm_ocr", "text_config.num_hidden_layers", 40, "text_config.num_hidden_layers = 40"),
    ("glm_ocr", "text_config.vocab_size", 100, "text_config.vocab_size = 100"),
    ("glm_ocr", "vision_config.depth", 9, "vision_config.depth = 9"),
    ("glm_ocr", "vision_config.out_hidden_size", 4096, "vision_config.out_hidden_size = 4096"),
])
def test_a_config_that_disagrees_with_its_weights_is_refused(families, tmp_path, family, key, value, words):
    model = copy(families[family], tmp_path)
    edit_config(model, key, value)
    with pytest.raises(ModelRejected) as caught:
        store.vet(model, PIXELS)
    message = str(caught.value)
    one_line_naming(message, model)
    assert words in message, message


def test_glm_may_carry_its_next_token_prediction_layer(families, tmp_path):
    model = copy(families["glm_ocr"], tmp_path)
    edit_config(model, "text_config.num_hidden_layers", 1)
    edit_config(model, "text_config.num_nextn_predict_layers", 1)  # 1 layer + 1 MTP layer = the 2 stored
    store.vet(model, PIXELS)


BENCH_PLANS = r"""
import json
from engine.testing import tiny_model
print(json.dumps({f: [tiny_model.config(f, "bench"), tiny_model.plan(f, "bench")] for f in tiny_model.FAMILIES}))
"""


def test_the_bench_checkpoints_pass():
    """The benchmark's 0.9 GB families (their plans, from a subprocess: nothing is written)."""
    run = subprocess.run([sys.executable, "-c", BENCH_PLANS], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    for family, (cfg, plan) in json.loads(run.stdout.splitlines()[-1]).items():
        tensors = {name: vetting.Tensor(dtype, tuple(shape), math.prod(shape) * 4) for name, shape, dtype in plan}
        s = vetting.check_config(Path(family), cfg, tensors)
        layers = cfg.get("num_hidden_layers", cfg.get("text_config", {}).get("num_hidden_layers"))
        assert s.stacks[s.text_stack] == layers


REAL_SHAPES = r"""
import json, sys
import mlx.nn as nn
from mlx.utils import tree_flatten
from mlx_vlm.utils import get_class_predicate, get_model_and_args, update_module_configs
out = {}
for name, cfg in json.loads(sys.stdin.read()).items():
    model_class, _ = get_model_and_args(config=dict(cfg))
    c = json.loads(json.dumps(cfg))
    c.setdefault("text_config", c.pop("llm_config", {}))
    c.setdefault("vision_config", {}); c.setdefault("audio_config", {})
    mc = model_class.ModelConfig.from_dict(c)
    mc = update_module_configs(mc, model_class, c, ["text", "vision", "perceiver", "projector", "audio"])
    model = model_class.Model(mc)  # lazy: no parameter is ever evaluated
    if cfg.get("quantization"):
        q = cfg["quantization"]
        nn.quantize(model, group_size=q["group_size"], bits=q["bits"], class_predicate=get_class_predicate())
    out[name] = {k: [str(v.dtype), list(v.shape)] for k, v in tree_flatten(model.parameters())}
print(json.dumps(out))
"""

# The presets' families as their published config.json files lay them out (keys mlx-vlm's classes read).
REAL_CONFIGS = {
    "PaddleOCR-VL": {
        "model_type": "paddleocr_vl", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 18,
        "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 128, "rms_norm_eps": 1e-05,
        "vocab_size": 103424, "max_position_embeddings": 131072, "rope_theta": 500000, "use_bias": False,
        "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
        "tie_word_embeddings": False,
        "vision_config": {"model_type": "paddleocr_vl", "hidden_size": 1152, "intermediate_size": 4304,
                          "num_hidden_layers": 27, "num_attention_heads": 16, "num_channels": 3,
                          "image_size": 384, "patch_size": 14, "spatial_merge_size": 2},
    },
    "GLM-OCR": {
        "model_type": "glm_ocr", "vocab_size": 59392, "hidden_size": 1536, "tie_word_embeddings": False,
        "text_config": {"model_type": "glm_ocr_text", "vocab_size": 59392, "hidden_size": 1536,
                        "intermediate_size": 4608, "num_hidden_layers": 16, "num_attention_heads": 16,
                        "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 131072,
                        "num_nextn_predict_layers": 1,
                        "rope_parameters": {"rope_type": "default", "mrope_section": [16, 24, 24],
                                            "partial_rotary_factor": 1.0, "rope_theta": 10000}},
        "vision_config": {"model_type": "glm_ocr_vision", "depth": 24, "hidden_size": 1024,
                          "intermediate_size": 4096, "num_heads": 16, "patch_size": 14, "image_size": 336,
                          "out_hidden_size": 1536, "spatial_merge_size": 2, "temporal_patch_size": 2},
    },
    "LightOnOCR-2": {
        "model_type": "mistral3", "spatial_merge_size": 2, "multimodal_projector_bias": False,
        "vision_feature_layer": -1, "image_token_id": 151655,
        "text_config": {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072,
                        "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
                        "head_dim": 128, "vocab_size": 151936, "rms_norm_eps": 1e-06, "rope_theta": 1000000,
                        "max_position_embeddings": 40960, "tie_word_embeddings": True, "use_qk_norm": True},
        "vision_config": {"model_type": "pixtral", "hidden_size": 1024, "intermediate_size": 4096,
                          "num_hidden_layers": 24, "num_attention_heads": 16, "patch_size": 14,
                          "image_size": 1540, "head_dim": 64, "rope_theta": 10000.0},
    },
    "DeepSeek-OCR 8-bit": {
        "model_type": "deepseekocr",
        "language_config": {"model_type": "deepseek_v2", "vocab_size": 129280, "hidden_size": 1280,
                            "intermediate_size": 6848, "moe_intermediate_size": 896, "num_hidden_layers": 12,
                            "num_attention_heads": 10, "num_key_value_heads": 10, "n_shared_experts": 2,
                            "n_routed_experts": 64, "num_experts_per_tok": 6, "first_k_dense_replace": 1,
                            "kv_lora_rank": None, "q_lora_rank": None, "qk_rope_head_dim": 0,
                            "qk_nope_head_dim": 0, "topk_method": "greedy", "max_position_embeddings": 8192},
        "projector_config": {"projector_type": "linear", "input_dim": 2048, "n_embed": 1280},
        "vision_config": {"image_size": 1024, "mlp_ratio": 3.7362, "model_name": "deeplip_b_l", "model_type": "vision",
                          "width": {"clip-l-14-224": {"heads": 16, "image_size": 224, "layers": 24,
                                                      "patch_size": 14, "width": 1024},
                                    "sam_vit_b": {"downsample_channels": [512, 1024],
                                                  "global_attn_indexes": [2, 5, 8, 11], "heads": 12,
                                                  "layers": 12, "width": 768}}},
        "candidate_resolutions": [[1024, 1024]], "quantization": {"group_size": 64, "bits": 8},
    },
    "Qwen2-VL-2B": {
        "model_type": "qwen2_vl", "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
        "num_attention_heads": 12, "num_key_value_heads": 2, "max_window_layers": 70, "vocab_size": 151936,
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": True,
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
        "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                          "hidden_size": 1536, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
    },
}
_MX_DTYPES = {"mlx.core.float32": "F32", "mlx.core.bfloat16": "BF16", "mlx.core.float16": "F16",
              "mlx.core.uint32": "U32"}


def test_the_presets_real_config_layouts_pass_against_their_model_classes_shapes():
    """The real families' parameter names and shapes (mlx-vlm's own classes, built lazily in a
    subprocess) against their published config layouts: no genuine checkpoint is refused."""
    run = subprocess.run([sys.executable, "-c", REAL_SHAPES], input=json.dumps(REAL_CONFIGS), cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    shapes = json.loads(run.stdout.splitlines()[-1])
    for name, config in REAL_CONFIGS.items():
        tensors = {}
        for key, (dtype, shape) in shapes[name].items():
            code = _MX_DTYPES[dtype]
            tensors[key] = vetting.Tensor(code, tuple(shape), math.prod(shape) * vetting.DTYPE_BITS[code] // 8)
        s = vetting.check_config(Path(name), json.loads(json.dumps(config)), tensors)
        assert s.text_stack is not None and s.embedding is not None, name
        runtime, tokens = vetting.runtime_bytes(config, s, tensors, PIXELS)
        assert 0 < runtime < 6e9, (name, runtime)


# ============================================================ the memory estimate
def test_the_estimate_grows_with_the_image_and_the_text(families):
    folder = families["paddleocr_vl"]
    small, big = store.vet(folder, 224 * 224), store.vet(folder, 1600 * 1600)
    assert small.weights_bytes == big.weights_bytes
    assert big.estimated_bytes > small.estimated_bytes > small.weights_bytes
    assert big.image_tokens == math.ceil(1600 * 1600 / 14 ** 2)
    long, short = store.vet(folder, PIXELS, max_tokens=8192), store.vet(folder, PIXELS, max_tokens=16)
    assert long.estimated_bytes > short.estimated_bytes
    assert big.estimated_bytes == big.weights_bytes + big.runtime_bytes


def test_check_fit_compares_the_estimate(families):
    report = store.vet(families["qwen2_vl"], PIXELS)
    check_fit("tiny", needed=report.estimated_bytes, available=report.estimated_bytes)
    with pytest.raises(ModelTooLarge) as caught:
        check_fit("tiny", needed=report.estimated_bytes, available=report.estimated_bytes - 1)
    assert size_text(report.estimated_bytes) in str(caught.value)
    # without an estimate: the old rough rule on the weights
    with pytest.raises(ModelTooLarge):
        check_fit("tiny", report.weights_bytes, available=report.weights_bytes)


def test_available_memory_respects_an_address_space_limit():
    code = ("import resource; from engine.models.store import available_memory;"
            "import psutil; free = available_memory();"
            "vms = psutil.Process().memory_info().vms;"
            "resource.setrlimit(resource.RLIMIT_AS, (vms + 300 * 2**20, resource.RLIM_INFINITY));"
            "print(free, available_memory())")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    free, capped = map(int, run.stdout.split())
    assert capped <= 300 * 2**20 < free


# ================================================================ the processor clamp
class _PixelProcessor:  # the attributes Qwen2-VL / PaddleOCR-VL / GLM-OCR image processors carry
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Glm46VImageProcessor(_PixelProcessor):
    pass


class _Holder:
    def __init__(self, ip):
        self.image_processor = ip


def test_clamp_caps_pixel_limits_and_size():
    ip = _PixelProcessor(min_pixels=400_000_000, max_pixels=400_000_000, temporal_patch_size=2,
                         size={"shortest_edge": 400_000_000, "longest_edge": 400_000_000})
    changed = vetting.clamp_image_processor(_Holder(ip), 50176, 224)
    assert (ip.max_pixels, ip.min_pixels) == (50176, 25088)
    assert ip.size == {"shortest_edge": 25088, "longest_edge": 50176}
    assert len(changed) == 3
    # a genuine processor within the limits is left as it is
    ok = _PixelProcessor(min_pixels=3136, max_pixels=50176)
    assert vetting.clamp_image_processor(_Holder(ok), 1600 * 1600, 1600) == []
    # GLM counts both temporal frames in max_pixels: its cap is per image
    glm = Glm46VImageProcessor(min_pixels=12544, max_pixels=10**9, temporal_patch_size=2,
                               _transformers_image_processor=object())
    vetting.clamp_image_processor(_Holder(glm), 50176, 224)
    assert glm.max_pixels == 2 * 50176 and glm._transformers_image_processor is None


def test_clamp_caps_edge_sizes():
    ip = _PixelProcessor.__new__(_PixelProcessor)
    ip.size = {"longest_edge": 20020}
    ip.crop_size = {"height": 20020, "width": 20020}
    vetting.clamp_image_processor(_Holder(ip), 1540 * 1540, 1540)
    assert ip.size == {"longest_edge": 1540} and ip.crop_size == {"height": 1540, "width": 1540}


# ================================================================ the template guard
MESSAGES = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "OCR:"}]}]


def render_plain(template: str) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    return render_jinja_template([MESSAGES], chat_template=template, add_generation_prompt=True)[0][0]


def render(template: str, folder="model-x"):
    return template_guard.guarded(lambda: render_plain(template), folder)


@pytest.mark.parametrize("template", [tiny_model.QWEN2_VL_TEMPLATE, tiny_model.PADDLEOCR_VL_TEMPLATE,
                                      tiny_model.GLM_OCR_TEMPLATE])
def test_genuine_templates_render_exactly_as_without_the_guard(template):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    plain = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(template)
    assert render(template) == plain.render(messages=MESSAGES, add_generation_prompt=True)


@pytest.mark.parametrize("template, words", [
    ("{% set s = 'x' * 1000000000 %}{{ s|length }}", "makes a repeated value"),
    ("{{ 'x'|center(1000000000) }}", "passes 1e+09 to the center filter"),
    ("{{ 'x'.ljust(1000000000) }}", "passes 1e+09 to ljust()"),
    ("{{ '%01000000000d' % 1 }}", "formats a value wider"),
    ("{{ '{:>1000000000}'.format(1) }}", "formats a value wider"),
    ("{{ 10 ** 100000000 }}", "raises a number beyond"),
    ("{% set ns = namespace(s='x' * 400000) %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     "makes a joined string"),
    ("{% set l = ['x' * 400000] * 100000 %}{{ l|tojson|length }}", "an argument to the tojson filter"),
    ("{% set l = ['x' * 400000] * 100000 %}{{ l }}", "an output value"),
    ("{% set l = ['x' * 400000] * 1000 %}{{ l|join|length }}", "the join filter"),
    ("{{ ('\n' * 400000)|indent(400000) }}", "an indented string"),
    ("{{ ('x' * 400000)|replace('x', 'xxxxxxxxxx') }}", "a replaced string"),
    ("{% for i in range(100000) %}{{ 'x' * 400000 }}{% endfor %}", "renders output of more than"),
    ("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + [('x' * 400000) ~ i] %}"
     "{% endfor %}", "took more than 256 MB of memory"),
])
def test_runaway_templates_are_refused_without_allocating(template, words):
    rss = psutil.Process().memory_info().rss
    with pytest.raises(ModelRejected) as caught:
        render(template)
    message = str(caught.value)
    assert message.startswith("model folder model-x: its chat template ") and message.endswith("; refused")
    assert words in message, message
    assert psutil.Process().memory_info().rss - rss < 400 * 1024 * 1024


# 10^8 steps in the template's own code, several seconds here: long enough to see the deadline stop it, finite
# so that a guard that stops nothing fails this test instead of hanging it
NESTED_LOOPS = "{% for i in range(1000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}ok"


def test_nested_range_loops_are_stopped_by_the_deadline():
    """A loop in the template's own code (no calls) is stopped soon after its budget ends."""
    t0 = time.monotonic()
    with pytest.raises(ModelRejected, match=r"ran for more than 0\.3 s"):
        template_guard.guarded(lambda: render_plain(NESTED_LOOPS), "model-x", seconds=0.3)
    assert 0.3 <= time.monotonic() - t0 < 1.5


def test_the_default_deadline_is_two_seconds(monkeypatch):
    """The product's budget, not a test's: the watch's deadline is two seconds on its clock."""
    clock = {"now": 100.0}
    monkeypatch.setattr(template_guard, "_monotonic", lambda: clock["now"])
    seen = []

    def render():
        watch = [t for t in threading.enumerate() if t.name == "template-watch"]
        seen.append(len(watch))
        clock["now"] += 1.9  # within the budget: renders
        return "ok"

    assert template_guard.guarded(render, "model-x") == "ok"

    finished = []

    def slow():
        clock["now"] += 2.1
        for _ in range(100_000_000):  # seconds of Python: the watch stops it at its next look
            pass
        finished.append(True)

    with pytest.raises(ModelRejected, match="ran for more than 2 s"):
        template_guard.guarded(slow, "model-x")
    assert seen == [1] and not finished


LONG_LOOP = "{% for i in range(1000) %}{% for j in range(12000) %}{% endfor %}{% endfor %}ok"  # 0.3-0.75 s


def test_a_long_but_finite_template_is_not_cut_short():
    """A render that takes a while within its budget renders in full: only the budget stops one."""
    t0 = time.monotonic()
    out = template_guard.guarded(lambda: render_plain(LONG_LOOP), "model-x")
    assert out == "ok" and time.monotonic() - t0 > 10 * template_guard.CHECK_EVERY


def test_a_render_that_ends_as_its_budget_does_never_raises_afterwards():
    """The watch may fire just as the render returns: the render is refused or returns, and nothing is
    raised in the caller's code later (a stop not yet delivered is cancelled)."""
    loop = "{% for i in range(N) %}{% for j in range(1000) %}{% endfor %}{% endfor %}ok"
    render_plain(loop.replace("N", "100"))  # compiled (and cached) before the clock
    t0 = time.perf_counter()
    render_plain(loop.replace("N", "100"))
    n = max(1, int(100 * 0.025 / (time.perf_counter() - t0)))  # a render of about 25 ms
    template = loop.replace("N", str(n))
    outcomes = set()
    for i in range(60):
        budget = (i % 6) * 0.01  # the watch looks every 10 ms: stopped at the first look ... done well before
        try:
            template_guard.guarded(lambda: render_plain(template), "m", budget)
            outcomes.add("rendered")
        except ModelRejected:
            outcomes.add("refused")
        total = 0
        for k in range(200_000):  # Python instructions after the guard: a stray stop would land here
            total += k
    assert outcomes == {"rendered", "refused"}, outcomes
    assert not [t for t in threading.enumerate() if t.name == "template-watch"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stop_that_python_swallows_is_raised_again_until_the_render_ends():
    """A stop can land where Python cannot raise it and drops it ("Exception ignored in"): a ``__del__``, a
    weakref or gc callback run in the rendering thread (CI saw one land in a gc callback). The render must not
    run on: the watch raises the stop again, every ``RESTOP_EVERY``, while the render's frame is on the stack;
    and none lands in the caller's code afterwards."""

    class Busy:  # most of the render's time is spent in __del__, where a stop is swallowed
        def __del__(self):
            for _ in range(500):
                pass

    ran_out = []

    def render():
        give_up = time.monotonic() + 8.0  # finite, so that a guard that lets it run fails instead of hanging
        while time.monotonic() < give_up:
            Busy()
        ran_out.append(True)
        return "ok"

    t0 = time.monotonic()
    with pytest.raises(ModelRejected, match=r"ran for more than 0\.2 s"):
        template_guard.guarded(render, "model-x", seconds=0.2)
    assert not ran_out and time.monotonic() - t0 < 3.0  # 0.3-0.9 s here (each stop has a chance to land outside)
    total = 0
    for k in range(200_000):  # Python instructions after the guard: a stray stop would land here
        total += k
    assert not [t for t in threading.enumerate() if t.name == "template-watch"]


def test_a_watch_that_outlives_its_render_never_stops_the_next_one():
    """A watch whose ``disarm`` was cut short (its own stop landed there, before it could stand down) is still
    looking, and its budget is spent. The next render on this thread is another call, with a frame of its own:
    the old watch must not take it for its render and stop it, and it ends instead of watching for ever."""
    old = template_guard._Watch(60.0, 1 << 30)
    template_guard._rendering(lambda: "done", old)  # its render ran and ended; no disarm (cut short)
    ticks = []

    def render():  # plain Python until the old watch has had its look (bounded: a busy machine may be slow)
        # what the old watch saw and did, set once the next render runs, so that its next look comes inside it
        old.reason, old.stopped = "ran for more than 0.2 s", True
        give_up = time.monotonic() + 5.0
        while old._thread.is_alive() and time.monotonic() < give_up:
            ticks.append(1)
        return "ok"

    try:
        assert template_guard.guarded(render, "model-x") == "ok"  # not stopped by the old watch
        assert ticks
        assert not old._thread.is_alive()  # it looked, saw its own render was over, and ended
    finally:
        old.disarm()


def test_the_guard_leaves_the_callers_tracer_alone():
    """A debugger or coverage keeps tracing through a guarded render, the template's own code included."""
    seen = []

    def tracer(frame, event, arg):
        seen.append(frame.f_code.co_filename)
        return None

    sys.settrace(tracer)
    try:
        assert render("{% for i in range(3) %}{% endfor %}ok") == "ok"
        with pytest.raises(ModelRejected):
            render("{{ 'x' * 1000000000 }}")
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)
    assert "<template>" in seen


def test_transformers_compiles_chat_templates_in_the_guarded_sandbox():
    from transformers.utils import chat_template_utils as ctu

    template_guard.install()
    assert ctu.ImmutableSandboxedEnvironment is template_guard.GuardedEnvironment
    assert isinstance(ctu._compile_jinja_template("{{ 1 }}").environment, template_guard.GuardedEnvironment)
