"""Random-weight vision-language checkpoints that mlx_vlm loads and runs fully offline.

For the tests, the benchmarks and the app's ``--self-test``: no hub is needed. A
checkpoint is a folder with a small byte-level BPE tokenizer (trained here on a
built-in corpus), the family's chat template, ``config.json``,
``preprocessor_config.json`` and ``model.safetensors`` holding random float32
values. The weights are streamed tensor by tensor with numpy, so the 0.9 GB
"bench" model is written in seconds with little memory.

Families (all load with ``mlx_vlm.load(path, trust_remote_code=False)``):

* ``qwen2_vl``     - Qwen2-VL layout: ``<|im_start|>`` chat, ``<|image_pad|>`` tokens.
* ``paddleocr_vl`` - PaddleOCR-VL layout: "User: ... Assistant: " chat,
  ``<|IMAGE_PLACEHOLDER|>`` tokens; the text width is fixed at 1024 because
  mlx_vlm's projector hard-codes it.
* ``glm_ocr``      - GLM-OCR layout: ``[gMASK]<sop><|user|>`` chat, ``<|image|>`` tokens.

Sizes: "tiny" loads and generates in well under a second on a CPU; "bench" has the
same vision tower and tokenizer but a text model of about 0.9 GB (float32) in which
no tensor reaches 32 MB.

    python -m engine.testing.tiny_model OUT_DIR [--family qwen2_vl|paddleocr_vl|glm_ocr] [--size tiny|bench] [--seed N]

This module imports only the standard library at import time; numpy, tokenizers,
transformers, mlx and mlx_vlm are imported by the functions that need them.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import struct
import sys
from pathlib import Path

FAMILIES = ("qwen2_vl", "paddleocr_vl", "glm_ocr")
SIZES = ("tiny", "bench")

TENSOR_LIMIT = 32 * 1024 * 1024  # bytes: "bench" keeps every tensor below this
WEIGHTS_FILE = "model.safetensors"
INIT_STD = 0.02

# Files another build (or a real checkpoint) may have left in the folder that would
# change how mlx_vlm / transformers read it; build() removes them (and only them).
_STALE_FILES = (
    "model.safetensors.index.json",
    "processor_config.json",
    "chat_template.json",
    "special_tokens_map.json",
    "video_preprocessor_config.json",
    "generation_config.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
)

# ---------------------------------------------------------------------- tokenizer

_CORPUS = """\
The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
OCR: read all the text in this image and return it as plain text, line by line.
Text Recognition: Table Recognition: Formula Recognition: Chart Recognition:
Invoice number, receipt, total amount, subtotal, tax, date, due date, page 1 of 2.
Dear customer, thank you for your order. Please find the attached document below.
The meeting is scheduled for Monday at 10:30 in the main conference room.
Name: Jane Doe. Address: 42 Main Street, Springfield. Phone: +1 (555) 010-2030.
Chapter 3 - Results and discussion. Figure 2 shows the distribution of the values.
system user assistant You are a helpful assistant. Describe the picture.
Price 12.50 EUR, quantity 3, discount 10%, VAT 20%, paid by card on 2024-05-17.
Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.
The results were significant (p < 0.05) for all groups except the control group.
Section 4.2 describes the method; the appendix lists every parameter and its value.
Please sign here and return one copy. Keep the other copy for your records.
Headline: Local library opens new reading room for children and students.
0123456789 .,;:!?()[]{}<>-_=+*/\\|@#$%^&~`'" \u00e9\u00e8\u00fc\u00f6\u00e4\u00df\u00e7 \u20ac \u00a3
"""
_VOCAB_TARGET = 512

_FAMILY_TOKENS = {
    # specials first, in this order, so their ids are 0..n-1; then eos and pad names
    "qwen2_vl": dict(
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"],
        eos="<|im_end|>", pad="<|endoftext|>", bos=None,
    ),
    "paddleocr_vl": dict(
        specials=["<unk>", "<s>", "</s>", "<|begin_of_sentence|>", "<|end_of_sentence|>", "<|IMAGE_START|>",
                  "<|IMAGE_END|>", "<|IMAGE_PLACEHOLDER|>", "<|VIDEO_PLACEHOLDER|>"],
        eos="</s>", pad="<unk>", bos="<s>",
    ),
    "glm_ocr": dict(
        specials=["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
                  "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>",
                  "<|begin_of_video|>", "<|end_of_video|>", "<|image|>", "<|video|>"],
        eos="<|endoftext|>", pad="<|endoftext|>", bos=None,
    ),
}


@functools.cache
def _tokenizer_json(family: str) -> str:
    """The family's trained byte-level BPE tokenizer as tokenizer.json text (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_TARGET,
        special_tokens=_FAMILY_TOKENS[family]["specials"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS.splitlines() * 4, trainer)
    return tok.to_str()


def _token_ids(family: str) -> tuple[int, dict[str, int]]:
    """(tokenizer length, {special token: id}) without importing transformers."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(_tokenizer_json(family))
    ids = {name: tok.token_to_id(name) for name in _FAMILY_TOKENS[family]["specials"]}
    return tok.get_vocab_size(with_added_tokens=True), ids


def _save_tokenizer(family: str, out: Path, chat_template: str) -> int:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = _FAMILY_TOKENS[family]
    named = {"eos_token": spec["eos"], "pad_token": spec["pad"]}
    if spec["bos"]:
        named["bos_token"] = spec["bos"]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json(family)),
        # the rest are special too (as in the real tokenizers): skip_special_tokens drops them
        additional_special_tokens=[t for t in spec["specials"] if t not in named.values()],
        **named,
    )
    fast.chat_template = chat_template
    fast.save_pretrained(str(out))
    return len(fast)


# ---------------------------------------------------------------------- chat templates

# The Qwen2-VL-Instruct template.
QWEN2_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# PaddleOCR-VL: "<|begin_of_sentence|>User: <image>OCR:\nAssistant: "
PADDLEOCR_VL_TEMPLATE = """\
{%- if not add_generation_prompt is defined -%}{%- set add_generation_prompt = true -%}{%- endif -%}
{%- if not cls_token is defined -%}{%- set cls_token = "<|begin_of_sentence|>" -%}{%- endif -%}
{%- if not sep_token is defined -%}{%- set sep_token = "<|end_of_sentence|>" -%}{%- endif -%}
{{- cls_token -}}
{%- for message in messages -%}
{%- if message["content"] is string -%}
{%- set contents = [{"type": "text", "text": message["content"]}] -%}
{%- else -%}
{%- set contents = message["content"] -%}
{%- endif -%}
{%- if message["role"] == "user" -%}
{{- "User: " -}}
{%- for content in contents -%}
{%- if content["type"] == "image" -%}{{ "<|IMAGE_START|><|IMAGE_PLACEHOLDER|><|IMAGE_END|>" }}{%- endif -%}
{%- endfor -%}
{%- for content in contents -%}
{%- if content["type"] == "text" -%}{{ content["text"] }}{%- endif -%}
{%- endfor -%}
{{ "\\n" -}}
{%- elif message["role"] == "assistant" -%}
{{- "Assistant: " -}}
{%- for content in contents -%}
{%- if content["type"] == "text" -%}{{ content["text"] + "\\n" }}{%- endif -%}
{%- endfor -%}
{{- sep_token -}}
{%- elif message["role"] == "system" -%}
{%- for content in contents -%}
{%- if content["type"] == "text" -%}{{ content["text"] + "\\n" }}{%- endif -%}
{%- endfor -%}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- "Assistant: " -}}{%- endif -%}
"""

# GLM-OCR (GLM-4.1V style): "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|end_of_image|>OCR:<|assistant|>\n"
GLM_OCR_TEMPLATE = """\
[gMASK]<sop>
{%- for msg in messages %}
{%- if msg.role == 'system' %}<|system|>
{{ msg.content }}
{%- elif msg.role == 'user' %}<|user|>
{% if msg.content is string %}{{ msg.content }}{% else %}
{%- for item in msg.content %}
{%- if item.type == 'video' or 'video' in item %}<|begin_of_video|><|video|><|end_of_video|>
{%- elif item.type == 'image' or 'image' in item %}<|begin_of_image|><|image|><|end_of_image|>
{%- elif item.type == 'text' %}{{ item.text }}
{%- endif %}
{%- endfor %}
{%- endif %}
{%- elif msg.role == 'assistant' %}<|assistant|>
{% if msg.content is string %}{{ msg.content }}{% else %}
{%- for item in msg.content %}{% if item.type == 'text' %}{{ item.text }}{% endif %}{% endfor %}
{%- endif %}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|assistant|>
{% endif %}"""

_TEMPLATES = {"qwen2_vl": QWEN2_VL_TEMPLATE, "paddleocr_vl": PADDLEOCR_VL_TEMPLATE, "glm_ocr": GLM_OCR_TEMPLATE}

# ---------------------------------------------------------------------- configs

_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
# Small pixel budgets keep CPU prefill fast: at most 50176 px (224 x 224) per image,
# i.e. at most 64 image tokens after the 2 x 2 merge, whatever the caller sends.
_MIN_PIXELS, _MAX_PIXELS = 3136, 50176

# Text-model sizes. "bench": hidden 1024, 15 layers, MLP 3584 wide -> ~0.9 GB of float32,
# the largest matrix (GLM's fused gate_up, 1024 x 7168) is 29 MB. GLM-OCR must keep
# fewer than 17 layers: its sanitize() drops every "layers.16" key (the MTP layer).
_TEXT = {
    "qwen2_vl": {
        "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, mrope_section=[2, 3, 3]),
        "bench": dict(hidden_size=1024, intermediate_size=3584, num_hidden_layers=15, num_attention_heads=16,
                      num_key_value_heads=16, mrope_section=[8, 12, 12]),
    },
    "paddleocr_vl": {  # hidden_size is fixed at 1024 (mlx_vlm's projector output width)
        "tiny": dict(hidden_size=1024, intermediate_size=256, num_hidden_layers=2, num_attention_heads=8,
                     num_key_value_heads=2, head_dim=128, mrope_section=[16, 24, 24]),
        "bench": dict(hidden_size=1024, intermediate_size=3584, num_hidden_layers=15, num_attention_heads=16,
                      num_key_value_heads=16, head_dim=64, mrope_section=[8, 12, 12]),
    },
    "glm_ocr": {
        "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=16, mrope_section=[2, 3, 3]),
        "bench": dict(hidden_size=1024, intermediate_size=3584, num_hidden_layers=14, num_attention_heads=16,
                      num_key_value_heads=16, head_dim=64, mrope_section=[8, 12, 12]),
    },
}


def _check_args(family: str, size: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; one of {', '.join(SIZES)}")


def _qwen2_vl_config(t: dict, vocab: int, ids: dict) -> dict:
    return {
        "model_type": "qwen2_vl",
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "hidden_size": t["hidden_size"],
        "intermediate_size": t["intermediate_size"],
        "num_hidden_layers": t["num_hidden_layers"],
        "num_attention_heads": t["num_attention_heads"],
        "num_key_value_heads": t["num_key_value_heads"],
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "vocab_size": vocab,  # exactly len(tokenizer): a rounded-up vocab makes the detokenizer raise IndexError
        "rope_theta": 10000.0,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
        "rope_scaling": {"type": "mrope", "mrope_section": t["mrope_section"]},  # sums to head_dim / 2
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "eos_token_id": ids["<|im_end|>"],
        "bos_token_id": ids["<|endoftext|>"],
        "torch_dtype": "float32",
        "vision_config": {
            "depth": 2, "embed_dim": 32, "hidden_size": t["hidden_size"], "num_heads": 2,
            "mlp_ratio": 2,  # an int: a float fails transformers 5's strict config check
            "patch_size": 14, "spatial_patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
            "in_chans": 3, "in_channels": 3,
        },
    }


def _paddleocr_vl_config(t: dict, vocab: int, ids: dict) -> dict:
    return {
        "model_type": "paddleocr_vl",
        "architectures": ["PaddleOCRVLForConditionalGeneration"],
        "hidden_size": t["hidden_size"],
        "intermediate_size": t["intermediate_size"],
        "num_hidden_layers": t["num_hidden_layers"],
        "num_attention_heads": t["num_attention_heads"],
        "num_key_value_heads": t["num_key_value_heads"],
        "head_dim": t["head_dim"],
        "hidden_act": "silu",
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab,
        "rope_theta": 500000.0,
        "max_position_embeddings": 4096,
        "rope_scaling": {"mrope_section": t["mrope_section"], "rope_type": "default", "type": "default"},
        "use_bias": False,
        "tie_word_embeddings": False,
        "use_cache": True,
        "pad_token_id": ids["<unk>"],
        "bos_token_id": ids["<s>"],
        "eos_token_id": ids["</s>"],
        "image_token_id": ids["<|IMAGE_PLACEHOLDER|>"],
        "video_token_id": ids["<|VIDEO_PLACEHOLDER|>"],
        "vision_start_token_id": ids["<|IMAGE_START|>"],
        "vision_end_token_id": ids["<|IMAGE_END|>"],
        "torch_dtype": "float32",
        "vision_config": {
            "model_type": "paddleocr_vl",
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
            "num_channels": 3,
            "image_size": 56,  # a 4 x 4 grid of learned positions, interpolated to the image's grid
            "patch_size": 14, "spatial_merge_size": 2, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
        },
    }


def _glm_ocr_config(t: dict, vocab: int, ids: dict) -> dict:
    eos = [ids["<|endoftext|>"], ids["<|user|>"]]
    pad = ids["<|endoftext|>"]
    return {
        "model_type": "glm_ocr",
        "architectures": ["GlmOcrForConditionalGeneration"],
        "vocab_size": vocab,
        "hidden_size": t["hidden_size"],
        "image_token_id": ids["<|image|>"],
        "video_token_id": ids["<|video|>"],
        "image_start_token_id": ids["<|begin_of_image|>"],
        "image_end_token_id": ids["<|end_of_image|>"],
        "video_start_token_id": ids["<|begin_of_video|>"],
        "video_end_token_id": ids["<|end_of_video|>"],
        "pad_token_id": pad,
        "eos_token_id": eos,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "text_config": {
            "model_type": "glm_ocr_text",
            "vocab_size": vocab,
            "hidden_size": t["hidden_size"],
            "intermediate_size": t["intermediate_size"],
            "num_hidden_layers": t["num_hidden_layers"],
            "num_attention_heads": t["num_attention_heads"],
            "num_key_value_heads": t["num_key_value_heads"],
            "head_dim": t["head_dim"],
            "rms_norm_eps": 1e-5,
            "attention_bias": False,
            "hidden_act": "silu",
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "mrope_section": t["mrope_section"],
                                "partial_rotary_factor": 1.0, "rope_theta": 10000},
            "eos_token_id": eos,
            "pad_token_id": pad,
            "tie_word_embeddings": False,
            "num_nextn_predict_layers": 0,
            "dtype": "float32",
        },
        "vision_config": {
            "model_type": "glm_ocr_vision",
            # hidden_size stays >= patch_size: sanitize() tells MLX from PyTorch conv layouts by it
            "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
            "patch_size": 14, "image_size": 336, "in_channels": 3, "rms_norm_eps": 1e-5,
            "attention_bias": True, "hidden_act": "silu",
            "out_hidden_size": t["hidden_size"],  # the merger writes straight into the text embeddings
            "spatial_merge_size": 2, "temporal_patch_size": 2,
        },
    }


_CONFIGS = {"qwen2_vl": _qwen2_vl_config, "paddleocr_vl": _paddleocr_vl_config, "glm_ocr": _glm_ocr_config}

_PREPROCESSORS = {
    "qwen2_vl": {
        "min_pixels": _MIN_PIXELS,
        "max_pixels": _MAX_PIXELS,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": _CLIP_MEAN,
        "image_std": _CLIP_STD,
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
    },
    "paddleocr_vl": {
        "min_pixels": _MIN_PIXELS,
        "max_pixels": _MAX_PIXELS,
        "patch_size": 14,
        "temporal_patch_size": 1,  # mlx_vlm's PaddleOCR-VL image processor accepts only 1
        "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "rescale_factor": 1 / 255,
        "resample": 3,
        "image_processor_type": "PaddleOCRVLImageProcessor",
        "processor_class": "PaddleOCRVLProcessor",
    },
    "glm_ocr": {
        # GLM counts both temporal frames: longest_edge 2 x 50176 is 50176 px per image
        "size": {"shortest_edge": 112 * 112, "longest_edge": 2 * _MAX_PIXELS},
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": _CLIP_MEAN,
        "image_std": _CLIP_STD,
        "do_rescale": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_processor_type": "Glm46VImageProcessor",
        "processor_class": "Glm46VProcessor",
    },
}


def config(family: str = "qwen2_vl", size: str = "tiny") -> dict:
    """The ``config.json`` contents for a family and size (token ids from the family's tokenizer)."""
    _check_args(family, size)
    vocab, ids = _token_ids(family)
    return _CONFIGS[family](_TEXT[family][size], vocab, ids)


def preprocessor_config(family: str = "qwen2_vl") -> dict:
    """The ``preprocessor_config.json`` contents for a family."""
    _check_args(family, "tiny")
    return json.loads(json.dumps(_PREPROCESSORS[family]))


# ---------------------------------------------------------------------- weights plan

_ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2}


def _build_model(cfg: dict):
    """The mlx_vlm model object for ``cfg``, built the way mlx_vlm.utils.load_model does.

    Parameters stay lazy (never evaluated), so even the bench model costs no memory here.
    """
    from mlx_vlm.utils import get_model_and_args, update_module_configs

    cfg = json.loads(json.dumps(cfg))
    model_class, _ = get_model_and_args(config=cfg)
    cfg.setdefault("text_config", cfg.pop("llm_config", {}))
    cfg.setdefault("vision_config", {})
    cfg.setdefault("audio_config", {})
    model_config = model_class.ModelConfig.from_dict(cfg)
    model_config = update_module_configs(
        model_config, model_class, cfg, ["text", "vision", "perceiver", "projector", "audio"]
    )
    return model_class, model_config, model_class.Model(model_config)


def _sanitized_like_the_loader(model_class, model_config, model, weights: dict) -> dict:
    """Run the sanitize chain of mlx_vlm.utils.load_model (it runs even on "format: mlx" files)."""
    from mlx_vlm.utils import sanitize_weights

    weights = sanitize_weights(model, weights)
    if hasattr(model_class, "VisionModel") and hasattr(model_config, "vision_config"):
        weights = sanitize_weights(model_class.VisionModel, weights, model_config.vision_config)
    if hasattr(model_class, "LanguageModel") and hasattr(model_config, "text_config"):
        weights = sanitize_weights(model_class.LanguageModel, weights, model_config.text_config)
    if hasattr(model_class, "AudioModel") and hasattr(model_config, "audio_config"):
        weights = sanitize_weights(model_class.AudioModel, weights, model_config.audio_config)
    return weights


@functools.cache
def _plan(family: str, size: str) -> tuple[tuple[tuple[str, tuple[int, ...], str], ...], frozenset, frozenset]:
    import mlx.core as mx
    import mlx.nn as nn
    from mlx.utils import tree_flatten

    model_class, model_config, model = _build_model(config(family, size))
    entries = []
    for name, array in tree_flatten(model.parameters()):
        if array.dtype not in (mx.float32, mx.float16, mx.bfloat16):
            raise TypeError(f"{family}: parameter {name} has dtype {array.dtype}; only floats are written")
        entries.append((name, tuple(int(d) for d in array.shape), "F32"))

    ones, zeros = set(), set()
    for module_name, module in model.named_modules():
        leaf = module_name.rsplit(".", 1)[-1].lower()
        if isinstance(module, (nn.RMSNorm, nn.LayerNorm)) or "norm" in leaf:
            ones.add(f"{module_name}.weight")
            zeros.add(f"{module_name}.bias")

    # The names and shapes must survive the loader's sanitize step unchanged (mlx_vlm runs it
    # on every load), else the checkpoint would not load (strict) or load transposed.
    fake = {name: mx.zeros(shape, dtype=mx.float32) for name, shape, _ in entries}  # lazy: never evaluated
    after = _sanitized_like_the_loader(model_class, model_config, model, dict(fake))
    changed = {k for k in set(fake) | set(after) if k not in after or k not in fake or after[k].shape != fake[k].shape}
    if changed:
        raise RuntimeError(f"{family}/{size}: mlx_vlm's sanitize would rename or reshape: {sorted(changed)[:5]}")
    del fake, after, model
    return tuple(entries), frozenset(ones), frozenset(zeros)


def plan(family: str = "qwen2_vl", size: str = "tiny") -> list[tuple[str, tuple[int, ...], str]]:
    """``(name, shape, safetensors dtype)`` of every tensor build() writes, in file order.

    Taken from the parameters of the mlx_vlm model class built from the family's config
    (lazily: nothing is allocated), and checked to pass the loader's sanitize step unchanged.
    """
    _check_args(family, size)
    return list(_plan(family, size)[0])


def plan_bytes(family: str = "qwen2_vl", size: str = "tiny") -> int:
    """Total bytes of the weights build() would write."""
    return sum(math.prod(shape) * _ITEMSIZE[dtype] for _, shape, dtype in plan(family, size))


# ---------------------------------------------------------------------- safetensors

def write_safetensors(
    path: str | os.PathLike,
    entries,
    seed: int = 0,
    ones: frozenset | set = frozenset(),
    zeros: frozenset | set = frozenset(),
    std: float = INIT_STD,
) -> int:
    """Write random float32 tensors, one at a time, into a safetensors file; return the data bytes.

    Values are uniform with mean 0 and standard deviation ``std``, except names in ``ones``
    (norm scales) and ``zeros`` (norm biases).
    The file is written next to ``path`` and renamed into place, so a reader never sees half of it.
    """
    import numpy as np

    path = Path(path)
    header, offset = {"__metadata__": {"format": "mlx"}}, 0
    for name, shape, dtype in entries:
        if dtype != "F32":
            raise ValueError(f"{name}: only F32 is written, not {dtype}")
        n = 4 * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data starts 8-byte aligned

    rng = np.random.default_rng(seed)
    chunk = 4 * 1024 * 1024  # values per write: bounded memory whatever the tensor size
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for name, shape, _ in entries:
                count = math.prod(shape)
                for start in range(0, count, chunk):
                    k = min(chunk, count - start)
                    if name in ones:
                        values = np.ones(k, dtype=np.float32)
                    elif name in zeros:
                        values = np.zeros(k, dtype=np.float32)
                    else:  # uniform with the given std: 3x faster than normal, as good for random weights
                        values = rng.random(k, dtype=np.float32)
                        values -= np.float32(0.5)
                        values *= np.float32(std * math.sqrt(12.0))
                    f.write(values.data)
                    del values
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return offset


def read_safetensors_header(path: str | os.PathLike) -> dict:
    """The JSON header of a safetensors file (without ``__metadata__``): name -> dtype/shape/offsets."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    header.pop("__metadata__", None)
    return header


# ---------------------------------------------------------------------- build / CLI

def build(out_dir: str | os.PathLike, family: str = "qwen2_vl", size: str = "tiny", seed: int = 0) -> Path:
    """Write a random-weight checkpoint of ``family`` and ``size`` into ``out_dir``; return its path.

    Files: config.json, tokenizer.json, tokenizer_config.json, chat_template.jinja,
    preprocessor_config.json, model.safetensors. Existing files of those names are
    overwritten (and a few known stale ones, e.g. a safetensors index, removed), so
    building twice into one folder is fine. The same arguments give the same bytes.
    """
    _check_args(family, size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in _STALE_FILES:
        (out / name).unlink(missing_ok=True)

    cfg = config(family, size)
    length = _save_tokenizer(family, out, _TEMPLATES[family])
    if length != cfg["vocab_size"]:  # would make the detokenizer index out of range
        raise RuntimeError(f"tokenizer has {length} tokens but config says vocab_size {cfg['vocab_size']}")
    (out / "special_tokens_map.json").unlink(missing_ok=True)  # transformers 4 writes one; not needed
    (out / "chat_template.jinja").write_text(_TEMPLATES[family], encoding="utf-8")
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    (out / "preprocessor_config.json").write_text(
        json.dumps(preprocessor_config(family), indent=2) + "\n", encoding="utf-8"
    )
    entries, ones, zeros = _plan(family, size)
    write_safetensors(out / WEIGHTS_FILE, entries, seed=seed, ones=ones, zeros=zeros)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m engine.testing.tiny_model", description="Write a random-weight vision-language checkpoint."
    )
    p.add_argument("out_dir")
    p.add_argument("--family", choices=FAMILIES, default="qwen2_vl")
    p.add_argument("--size", choices=SIZES, default="tiny")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    path = build(args.out_dir, args.family, args.size, args.seed)
    weights = (path / WEIGHTS_FILE).stat().st_size
    print(f"{path} ({weights} bytes of weights, {weights / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
