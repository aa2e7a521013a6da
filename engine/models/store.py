"""Where a model's files are: a local folder, or the standard Hugging Face cache.

This module never touches the network: finding a model is local only. Downloading
is a separate, explicit step (``engine.models.downloads``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..human import size_text

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
    """The folder holds something we will not load: pickle weights, code, a file that is not a plain
    file, damaged weights, a config that disagrees with its weights, a runaway chat template."""


def looks_like_path(source: str) -> bool:
    """``source`` is written as a path: absolute, or starting with ``.`` or ``~``, or holding a
    backslash (or the OS's own separator where that is not ``/``), or more than one ``/``."""
    s = source.strip()
    seps = {"\\", os.sep} | ({os.altsep} if os.altsep else set())
    return (
        s.startswith((".", "~", "/"))
        or os.path.isabs(s)
        or any(sep in s for sep in seps - {"/"})
        or s.count("/") > 1
    )


def is_repo_id(source: str) -> bool:
    """``source`` is a Hugging Face repo id (``organisation/name``): it then names the cache only.

    Whether a folder of that name happens to exist in the current directory does not matter
    (it used to, and a folder ``mlx-community/PaddleOCR-VL-1.5-bf16/`` in the current directory
    replaced that preset). To use such a folder, write it as a path: ``./org/name``.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    s = source.strip()
    if s != source or looks_like_path(s) or s.count("/") != 1 or not all(s.split("/")):
        return False
    try:
        validate_repo_id(s)
    except HFValidationError:
        return False
    return True


def locate(source: str) -> Path:
    """A local folder for ``source``: a repo id (or preset's) from the HF cache only; anything else
    (a path, or a name that is no repo id) as a folder on disk. Never the network."""
    if is_repo_id(source):
        cached = cached_snapshot(source)
        if cached is None:
            # a folder of that name here is not it (it would replace the model); say how to use it anyway
            hint = f"; a folder of that name here loads only as ./{source}" if os.path.isdir(source) else ""
            raise ModelNotFound(
                f"model {source} is not downloaded yet{hint}; download it in Settings or with "
                f"`ocr-tray models pull {source}`"
            )
        check_folder(cached)
        return cached
    folder = Path(os.path.expanduser(source))
    if not folder.exists():
        raise ModelNotFound(f"model folder {source} does not exist")
    check_folder(folder)
    return folder


def describe_source(source: str) -> tuple[bool, str]:
    """A custom model as typed in Settings, checked the way a load would check it, without loading
    anything or using the network: (usable, one line for a person). Disk reads only (a pool thread)."""
    text = source.strip()
    if not text:
        return False, "type a model folder, or a Hugging Face repo id such as organisation/name"
    if is_repo_id(text):
        cached = cached_snapshot(text)
        if cached is None:
            return False, (f"{text} is not downloaded yet: it is downloaded the first time it is needed "
                           f"(or now with `ocr-tray models pull {text}`)")
        return True, f"downloaded: {size_text(weight_bytes(cached))} of weights"
    folder = Path(os.path.expanduser(text))
    if not folder.exists():
        return False, "no such folder"
    if not folder.is_dir():
        return False, "this is a file: choose the folder that holds config.json and the .safetensors weights"
    try:
        report = vet(folder, 1600 * 1600)
    except (ModelNotFound, ModelRejected) as e:
        return False, " ".join(str(e).split()).replace(f"model folder {folder}", "this folder")
    kind = f"{report.model_type} model" if report.model_type else "a model"
    return True, f"{kind}, {size_text(report.weights_bytes)} of weights"


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
    from . import vetting

    if not folder.is_dir():
        raise ModelNotFound(f"model path {folder} is not a folder")
    vetting.check_files(folder)  # regular files only (lstat), links kept inside, sizes capped
    if not (folder / "config.json").is_file():
        raise ModelNotFound(f"model folder {folder} has no config.json")
    try:
        config = vetting.read_json(folder / "config.json")
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (ValueError, OSError) as e:
        raise ModelRejected(f"model folder {folder} has a damaged config.json ({e})") from None
    if config.get("model_file"):
        # mlx-vlm imports the file named here whatever trust_remote_code says: never load such a folder
        raise ModelRejected(f"model folder {folder} asks to run its own code ({config['model_file']}); refused")
    shards = vetting.index_shards(folder)  # plain .safetensors names inside the folder, or refused
    if shards is not None:
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
    """The rough rule for a model not on disk yet (a preset's approximate size): weights plus headroom."""
    return weights + max(HEADROOM_MIN_BYTES, int(weights * HEADROOM_FRACTION))


def vet(folder: Path | str, max_pixels: int, max_tokens: int | None = None):
    """Check a model folder before loading it and size what the load needs: ``ModelReport``
    (``weights_bytes``, ``estimated_bytes``, ...) for images of up to ``max_pixels`` and pages of up
    to ``max_tokens`` generated tokens (default: the Settings' upper bound, 8192).
    Raises ModelNotFound / ModelRejected (one line naming the folder). Reads the files and the
    weights' headers only: no model object, no MLX (``engine.models.vetting``)."""
    from .vetting import MAX_NEW_TOKENS
    from .vetting import vet as _vet

    return _vet(Path(folder), max_pixels, MAX_NEW_TOKENS if max_tokens is None else max_tokens)


def available_memory() -> int:
    """Bytes that can be allocated now: the system's available memory, lowered by this process's
    cgroup (v2) memory limit and its address-space limit (``RLIMIT_AS``) where those are set."""
    import psutil

    available = psutil.virtual_memory().available
    for limit in (_cgroup_room(), _address_space_room()):
        if limit is not None:
            available = min(available, limit)
    return max(0, available)


def _cgroup_room() -> int | None:
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            lines = f.read(4096).splitlines()
        path = next(line.split(":", 2)[2] for line in lines if line.startswith("0::"))
        base = Path("/sys/fs/cgroup") / path.lstrip("/")
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((base / "memory.current").read_text().strip())
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _address_space_room() -> int | None:
    try:
        import resource

        import psutil

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft <= 0:
            return None
        return soft - psutil.Process().memory_info().vms
    except (ImportError, OSError, ValueError, AttributeError):
        return None


def check_fit(label: str, weights: int | None = None, available: int | None = None, *,
              needed: int | None = None) -> None:
    """Refuse a load that does not fit in available memory, naming both numbers and what would fit.

    ``needed``: the bytes the load needs, ``vet(...).estimated_bytes`` (weights from the
    safetensors headers plus the activation/KV bound for the model's dimensions and image size).
    Without it, ``weights`` plus the rough headroom of ``memory_needed`` (the old rule).
    """
    if available is None:
        available = available_memory()
    if needed is None:
        if weights is None:
            raise TypeError("check_fit needs the estimated bytes (needed=) or the weights' bytes")
        need = memory_needed(weights)
    else:
        need = int(needed)
    if need <= available:
        return
    from .presets import PRESETS

    fits = [p.label for p in PRESETS if memory_needed(p.approx_bytes) <= available and p.label != label]
    hint = f"; presets that would fit: {', '.join(fits)}" if fits else "; no preset fits: close other apps"
    raise ModelTooLarge(
        f"{label} needs about {size_text(need)} of memory but only {size_text(available)} is available{hint}"
        " (the memory check can be turned off in Settings)"
    )

