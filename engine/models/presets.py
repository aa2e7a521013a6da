"""The model preset table, and the spec of the model the engine should run.

A preset names a model on the Hugging Face hub with the prompt it expects and the
largest image it should be shown. ``ModelSpec`` is what the engine actually loads:
a preset, or a custom local folder / repo id with its own prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

GB = 1_000_000_000


@dataclass(frozen=True)
class Preset:
    id: str
    label: str
    repo_id: str
    prompt: str
    max_side: int  # longest image side the model is shown, in pixels
    max_pixels: int  # and the most pixels in all
    output: str  # "text" or "markdown"
    licence: str
    languages: str
    approx_bytes: int  # fallback size when the hub's file listing is not at hand


PRESETS: tuple[Preset, ...] = (
    Preset(
        id="paddleocr-vl",
        label="PaddleOCR-VL 1.5",
        repo_id="mlx-community/PaddleOCR-VL-1.5-bf16",
        prompt="OCR:",
        max_side=1600,
        max_pixels=1600 * 1600,
        output="text",
        licence="Apache-2.0",
        languages="111 languages",
        approx_bytes=2 * GB,
    ),
    Preset(
        id="glm-ocr",
        label="GLM-OCR",
        repo_id="mlx-community/GLM-OCR-bf16",
        prompt="Text Recognition:",
        max_side=1600,
        max_pixels=1600 * 1600,
        output="markdown",
        licence="MIT",
        languages="zh, en, fr, es, ru, de, ja, ko",
        approx_bytes=int(2.7 * GB),
    ),
    Preset(
        id="lightonocr-2",
        label="LightOnOCR-2 1B",
        repo_id="mlx-community/LightOnOCR-2-1B-bf16",
        prompt="",  # image only
        max_side=1540,
        max_pixels=1540 * 1540,
        output="markdown",
        licence="Apache-2.0",
        languages="Latin scripts",
        approx_bytes=int(2.2 * GB),
    ),
    Preset(
        id="deepseek-ocr",
        label="DeepSeek-OCR 8-bit",
        repo_id="mlx-community/DeepSeek-OCR-8bit",
        prompt="<|grounding|>Convert the document to markdown.",
        max_side=1024,
        max_pixels=1024 * 1024,
        output="markdown",
        licence="MIT",
        languages="many",
        approx_bytes=int(3.9 * GB),
    ),
)

DEFAULT_PRESET_ID = "paddleocr-vl"
CUSTOM_ID = "custom"
DEFAULT_CUSTOM_PROMPT = "OCR:"


def preset(preset_id: str) -> Preset:
    for p in PRESETS:
        if p.id == preset_id:
            return p
    raise KeyError(f"unknown model preset {preset_id!r}; known: {', '.join(p.id for p in PRESETS)}")


def find_preset(source: str) -> Preset | None:
    """The preset whose id or repo id is ``source``, if any."""
    for p in PRESETS:
        if source in (p.id, p.repo_id):
            return p
    return None


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a local folder or a repo id, with the prompt and image limits to use."""

    source: str  # local folder or Hugging Face repo id
    label: str
    prompt: str
    max_side: int = 1600
    max_pixels: int = 1600 * 1600
    preset_id: str = CUSTOM_ID

    @classmethod
    def from_preset(cls, p: Preset) -> ModelSpec:
        return cls(p.repo_id, p.label, p.prompt, p.max_side, p.max_pixels, p.id)

    @classmethod
    def resolve(cls, source: str | None = None, prompt: str | None = None) -> ModelSpec:
        """A preset id or repo id gives that preset; anything else is a custom folder or repo id."""
        if not source:
            spec = cls.from_preset(preset(DEFAULT_PRESET_ID))
        elif (p := find_preset(source)) is not None:
            spec = cls.from_preset(p)
        else:
            label = source.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1] or source
            spec = cls(source, label, DEFAULT_CUSTOM_PROMPT)
        if prompt is not None:
            spec = replace(spec, prompt=prompt)
        return spec

    def with_limits(self, max_side: int | None) -> ModelSpec:
        """Cap the longest image side further (a user setting), never above the model's limit."""
        if not max_side or max_side >= self.max_side:
            return self
        return replace(self, max_side=max_side, max_pixels=min(self.max_pixels, max_side * max_side))
