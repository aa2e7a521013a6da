"""Where a model's files are: a local folder, or the standard Hugging Face cache.

This module never touches the network: finding a model is local only. Downloading
is a separate, explicit step (``engine.models.downloads``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# the files a model needs; nothing executable, no pickles
MODEL_FILE_PATTERNS = [
    "*.json",
    "*.safetensors",
    "*.jinja",
    "*.txt",
    "*.model",
    "*.tiktoken",
]


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


class ModelNotFound(Exception):
    """The model is not on disk. The message says what is missing and what to do."""


class ModelRejected(Exception):
    """The folder holds something we will not load (no safetensors weights)."""


def is_repo_id(source: str) -> bool:
    parts = source.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not source.startswith((".", "~", "/"))
        and not os.path.exists(source)
    )


def locate(source: str) -> Path:
    """A local folder for ``source`` (a folder, or a repo id already in the HF cache)."""
    folder = Path(os.path.expanduser(source))
    if folder.exists():
        check_folder(folder)
        return folder
    if not is_repo_id(source):
        raise ModelNotFound(f"model folder {source} does not exist")
    cached = cached_snapshot(source)
    if cached is None:
        raise ModelNotFound(
            f"model {source} is not downloaded yet; download it in Settings or with `ocr-tray models pull {source}`"
        )
    check_folder(cached)
    return cached


def cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of ``repo_id`` if a complete one is there, without any network."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True, allow_patterns=MODEL_FILE_PATTERNS))
    except Exception:
        return None
    try:
        check_folder(path)
    except (ModelNotFound, ModelRejected):
        return None
    return path


def check_folder(folder: Path) -> None:
    """A loadable folder has config.json and safetensors weights (every shard its index names)."""
    if not folder.is_dir():
        raise ModelNotFound(f"model path {folder} is not a folder")
    if not (folder / "config.json").is_file():
        raise ModelNotFound(f"model folder {folder} has no config.json")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (ValueError, OSError) as e:
        raise ModelRejected(f"model folder {folder} has a damaged config.json ({e})") from None
    if config.get("model_file"):
        # mlx-vlm imports the file named here whatever trust_remote_code says: never load such a folder
        raise ModelRejected(f"model folder {folder} asks to run its own code ({config['model_file']}); refused")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError, OSError) as e:
            raise ModelRejected(f"model folder {folder} has a damaged weight index ({e})") from None
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            raise ModelNotFound(f"model folder {folder} is missing weight files: {', '.join(missing)}")
    elif not any(folder.glob("*.safetensors")):
        if any(folder.glob("*.bin")) or any(folder.glob("*.pt")) or any(folder.glob("*.pth")):
            raise ModelRejected(
                f"model folder {folder} has only pickle weights (.bin/.pt); only .safetensors are loaded"
            )
        raise ModelNotFound(f"model folder {folder} has no .safetensors weights")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES) and not any(folder.glob("*.tiktoken")):
        raise ModelNotFound(f"model folder {folder} has no tokenizer (tokenizer.json)")


def weight_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


# ----------------------------------------------------------------- memory fit
HEADROOM_FRACTION = 0.25  # activations, KV cache and the vision tower's buffers
HEADROOM_MIN_BYTES = 512 * 1024 * 1024


class ModelTooLarge(Exception):
    """Loading would not fit in the memory that is available now."""


def memory_needed(weights: int) -> int:
    return weights + max(HEADROOM_MIN_BYTES, int(weights * HEADROOM_FRACTION))


def check_fit(label: str, weights: int, available: int | None = None) -> None:
    """Refuse a load that does not fit in available memory, naming both numbers and what would fit."""
    if available is None:
        import psutil

        available = psutil.virtual_memory().available
    need = memory_needed(weights)
    if need <= available:
        return
    from .presets import PRESETS

    fits = [p.label for p in PRESETS if memory_needed(p.approx_bytes) <= available and p.label != label]
    hint = f"; presets that would fit: {', '.join(fits)}" if fits else "; no preset fits: close other apps"
    raise ModelTooLarge(
        f"{label} needs about {_gb(need)} of memory but only {_gb(available)} is available{hint}"
        " (the memory check can be turned off in Settings)"
    )


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"
