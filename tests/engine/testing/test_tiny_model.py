"""engine.testing.tiny_model: random-weight checkpoints that mlx_vlm loads offline, for every family.

Structure tests build each tiny family once per module; generation tests (slow) load
and run them with ``trust_remote_code=False`` on a 64 x 64 image. Generated text is
random: never asserted on.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from engine.testing import tiny_model

ROOT = Path(__file__).resolve().parents[3]
EXPECTED_PROCESSORS = {
    "qwen2_vl": "Qwen2VLProcessor",
    "paddleocr_vl": "PaddleOCRVLProcessor",
    "glm_ocr": "GlmOcrProcessor",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """family -> folder of its tiny checkpoint (built once for the module)."""
    root = tmp_path_factory.mktemp("tiny-models")
    return {family: tiny_model.build(root / family, family, "tiny") for family in tiny_model.FAMILIES}


def test_module_imports_cheaply():
    code = (
        "import sys, engine.testing.tiny_model as t; "
        "heavy = [m for m in ('mlx', 'mlx_vlm', 'numpy', 'transformers', 'tokenizers', 'PySide6', 'desktop') "
        "if m in sys.modules]; print(heavy)"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("family", tiny_model.FAMILIES)
def test_folder_has_the_files_mlx_vlm_and_the_processor_read(built, family):
    folder = built[family]
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                 "preprocessor_config.json", "model.safetensors"):
        assert (folder / name).is_file(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == family
    assert "model_file" not in config  # nothing asks to run code from the folder


@pytest.mark.parametrize("family", tiny_model.FAMILIES)
def test_vocab_size_is_exactly_the_tokenizer_length(built, family):
    from transformers import AutoTokenizer

    folder = built[family]
    config = json.loads((folder / "config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    vocab = config.get("text_config", {}).get("vocab_size", config["vocab_size"])
    assert config["vocab_size"] == vocab == len(tokenizer)
    assert tokenizer.chat_template  # read from chat_template.jinja
    # the image token the config names is one token of the tokenizer
    image_token = tokenizer.convert_ids_to_tokens(config["image_token_id"])
    assert tokenizer(image_token, add_special_tokens=False)["input_ids"] == [config["image_token_id"]]


@pytest.mark.parametrize("family", tiny_model.FAMILIES)
def test_safetensors_match_the_model_class_parameters(built, family):
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_vlm.utils import load_model

    folder = built[family]
    header = tiny_model.read_safetensors_header(folder / "model.safetensors")
    # the model class as mlx_vlm's own loader builds it (strict: a missing or extra name raises)
    model = load_model(folder, lazy=True, trust_remote_code=False)
    expected = {name: list(array.shape) for name, array in tree_flatten(model.parameters())}
    assert {name: entry["shape"] for name, entry in header.items()} == expected
    assert {entry["dtype"] for entry in header.values()} == {"F32"}
    # and the file is complete, its offsets contiguous
    ends = sorted(entry["data_offsets"] for entry in header.values())
    assert ends[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ends, ends[1:]))
    weights = mx.load(str(folder / "model.safetensors"))
    assert set(weights) == set(expected)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = tiny_model.build(tmp_path / "a", "qwen2_vl", "tiny", seed=1)
    b = tiny_model.build(tmp_path / "b", "qwen2_vl", "tiny", seed=1)
    c = tiny_model.build(tmp_path / "c", "qwen2_vl", "tiny", seed=2)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()
    assert (a / "config.json").read_bytes() == (c / "config.json").read_bytes()


def test_rebuilding_over_another_family_leaves_a_clean_folder(tmp_path):
    tiny_model.build(tmp_path / "m", "glm_ocr", "tiny")
    (tmp_path / "m" / "model.safetensors.index.json").write_text("{}")  # would redirect the loader
    folder = tiny_model.build(tmp_path / "m", "qwen2_vl", "tiny")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "qwen2_vl"
    assert not (folder / "model.safetensors.index.json").exists()
    assert sorted(p.name for p in folder.glob("*.safetensors*")) == ["model.safetensors"]


@pytest.mark.parametrize("family", tiny_model.FAMILIES)
def test_bench_size_is_about_0_9_gb_with_every_tensor_under_32_mb(family):
    """Computed from the plan: the 0.9 GB file is not written."""
    entries = tiny_model.plan(family, "bench")
    sizes = [math.prod(shape) * 4 for _, shape, dtype in entries if dtype == "F32"]
    assert len(sizes) == len(entries)
    total = sum(sizes)
    assert 0.85e9 <= total <= 0.95e9, total
    assert max(sizes) < 32 * 1024 * 1024
    assert total == tiny_model.plan_bytes(family, "bench")
    # same tokenizer (and so vocabulary) as the tiny model
    assert tiny_model.config(family, "bench")["vocab_size"] == tiny_model.config(family, "tiny")["vocab_size"]


def test_unknown_family_or_size_is_refused(tmp_path):
    with pytest.raises(ValueError):
        tiny_model.build(tmp_path, "deepseekocr")
    with pytest.raises(ValueError):
        tiny_model.plan("qwen2_vl", "huge")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_cli_prints_the_path_and_the_weight_bytes(tmp_path):
    out = tmp_path / "x"
    run = subprocess.run(
        [sys.executable, "-m", "engine.testing.tiny_model", str(out), "--family", "paddleocr_vl"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert str(out) in run.stdout
    assert str((out / "model.safetensors").stat().st_size) in run.stdout


@pytest.mark.slow
@pytest.mark.parametrize("family", tiny_model.FAMILIES)
def test_loads_without_remote_code_and_generates_at_most_max_tokens(built, family):
    import mlx.core as mx
    from mlx_vlm import load, stream_generate
    from mlx_vlm.prompt_utils import apply_chat_template
    from PIL import Image

    model, processor = load(str(built[family]), trust_remote_code=False)
    mx.eval(model.parameters())
    # mlx_vlm's own processor, not a silent fallback to a transformers one
    assert type(processor).__name__ == EXPECTED_PROCESSORS[family]
    assert type(processor).__module__.startswith("mlx_vlm.")
    prompt = apply_chat_template(processor, model.config, "OCR:", num_images=1)
    image = Image.new("RGB", (64, 64), "white")
    results = list(stream_generate(model, processor, prompt, image=[image], max_tokens=4))
    assert results
    assert 1 <= results[-1].generation_tokens <= 4
    assert results[-1].prompt_tokens > 0


def test_plan_refuses_a_config_the_loader_would_rename(monkeypatch):
    """glm_ocr's sanitize drops every "layers.16" key (the real model's MTP layer): 17 layers cannot load."""
    text = dict(tiny_model._TEXT["glm_ocr"]["tiny"], num_hidden_layers=17)
    monkeypatch.setitem(tiny_model._TEXT["glm_ocr"], "tiny", text)
    tiny_model._plan.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="layers.16"):
            tiny_model.plan("glm_ocr", "tiny")
    finally:
        monkeypatch.undo()
        tiny_model._plan.cache_clear()
