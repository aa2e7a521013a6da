"""Vetting a model folder before anything is built from it: the files, the weights' headers and the config.

A model folder is data from somewhere else, and mlx-vlm trusts it: it opens every file it
names, sizes every module from ``config.json`` and reads every shard the index lists. This
module reads the folder the way an attacker would have to get past, before mlx-vlm sees it:

* **Files** (``check_files``): every entry a loader may open is a regular file (``os.lstat``:
  no FIFOs, sockets or devices, which would block ``open()`` for good); a symbolic link is
  followed only when it resolves inside the folder or, for the Hugging Face cache layout
  (``models--org--name/snapshots/<sha>/file -> ../../blobs/<hash>``), inside that repo's cache
  folder; JSON, tokenizer and template files are size-capped. Every read here opens with
  ``O_NONBLOCK`` and checks ``fstat`` again, so a file swapped for a FIFO after the walk does
  not block either.
* **Weights** (``read_weights``): the 8-byte length and the JSON header of every shard mlx-vlm
  will load (``engine.weights_reader.read_header``), checked the way the safetensors format
  itself checks them: a header inside the file, tensors contiguous and inside the file, each
  tensor's byte count matching its dtype and shape, and no holes (a sparse file: bytes that
  were never written). The exact byte count of the weights comes from these headers.
* **Config** (``check_config``): every dimension under a sane ceiling, and the dimensions the
  loader sizes modules from agreeing with the weights' shapes (hidden size and vocabulary vs.
  the embedding, layer counts vs. the ``layers.N.`` / ``blocks.N.`` indices, the remaining
  widths vs. some weight's dimension). Nothing here builds a model object or touches MLX.
* **Memory** (``runtime_bytes``): a rough, documented upper bound on what one page needs
  beside the weights, from the model's own dimensions and the largest image the app shows it.

``clamp_image_processor`` runs after the load: it caps the processor's pixel limits at the
app's own, so no ``preprocessor_config.json`` can make it upscale an image past
``spec.max_pixels``.

Every refusal is one line that names the folder: ``ModelRejected`` (or ``ModelNotFound``).
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .store import ModelNotFound, ModelRejected

# ------------------------------------------------------------------ limits
MAX_DIM = 1_000_000  # widths, head counts, vocabulary: the largest real ones are ~260k
MAX_LAYERS = 10_000  # layer counts: real models have at most a few hundred
MAX_POSITIONS = 1 << 27  # context lengths (134M): the largest real ones are ~10M
MAX_RATIO = 64  # mlp_ratio and the like
MAX_TOP_ENTRIES = 10_000  # entries in a model folder

KB, MB = 1024, 1024 * 1024
MAX_TEMPLATE_BYTES = 1 * MB  # chat_template.jinja / .json, and a template inside tokenizer_config.json
MAX_TOKENIZER_BYTES = 50 * MB  # tokenizer.json, vocab.json, merges.txt, tokenizer.model, *.tiktoken
MAX_JSON_BYTES = 10 * MB  # config.json, tokenizer_config.json, preprocessor_config.json, the index, ...
MAX_SAFETENSORS_HEADER = 16 * MB  # real headers are well under 2 MB (a few thousand tensors)
HOLE_TOLERANCE = 1 / 16  # of a shard's data that may be holes (file systems that store zero blocks as holes)
MAX_EXTENTS = 100_000  # data/hole runs walked per shard

TOKENIZER_NAMES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model")
TEMPLATE_NAMES = ("chat_template.json",)
LOADER_SUBFOLDERS = ("additional_chat_templates",)  # subfolders transformers reads templates from

# Memory bound (see runtime_bytes)
ACTIVATION_BYTES = 4  # activations counted as float32 (the widest MLX computes in)
MAX_NEW_TOKENS = 8192  # the most tokens a page may generate (the Settings' upper bound)
PROMPT_TOKENS = 512  # the prompt's text around the image tokens
PREFILL_CHUNK = 2048  # mlx-vlm prefills the prompt in chunks of this many tokens
RUNTIME_OVERHEAD = 256 * MB  # Python, the tokenizer and processor, MLX's kernels and graph

# safetensors dtype -> bits per element
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "U16": 16, "I16": 16, "F16": 16, "BF16": 16,
    "U32": 32, "I32": 32, "F32": 32,
    "U64": 64, "I64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

TEXT_SECTIONS = ("text_config", "language_config", "llm_config")
VISION_SECTIONS = ("vision_config",)


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass(frozen=True)
class ModelReport:
    """What ``vet`` found: the numbers the memory check compares and the engine reports."""

    folder: Path
    weights_bytes: int  # exact bytes of every tensor mlx-vlm will read, from the safetensors headers
    runtime_bytes: int  # the bound on activations, KV cache and runtime for one page (runtime_bytes())
    estimated_bytes: int  # weights + runtime: what check_fit compares with the free memory
    image_pixels: int  # the most pixels one image reaches the model with
    image_tokens: int  # the vision tokens such an image makes
    shards: tuple[str, ...]  # the weights files mlx-vlm will load
    model_type: str


# =================================================================== files
def _refuse(folder: Path, problem: str) -> ModelRejected:
    return ModelRejected(f"model folder {folder}: {problem}; refused")


def _damaged(folder: Path, name: str, detail: str) -> ModelRejected:
    return ModelRejected(f"model folder {folder} could not be loaded: {name} is damaged ({detail})")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def size_cap(name: str) -> int | None:
    """The most bytes a loader may read from a file of this name (None: not capped here)."""
    lower = name.lower()
    if lower.endswith(".safetensors"):
        return None  # checked through its header
    if lower.endswith(".jinja") or lower in TEMPLATE_NAMES:
        return MAX_TEMPLATE_BYTES
    if lower in TOKENIZER_NAMES or lower.endswith((".tiktoken", ".model")):
        return MAX_TOKENIZER_BYTES
    if lower.endswith((".json", ".txt")):
        return MAX_JSON_BYTES
    return None


def repo_cache_root(folder: Path) -> Path | None:
    """``models--org--name`` when ``folder`` is a snapshot of the Hugging Face cache layout."""
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent
    return None


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def check_files(folder: Path) -> None:
    """Refuse a folder holding an entry a loader could open that is not a plain, contained, bounded file.

    The top level is walked (dot-entries excepted: no loader reads them), plus the subfolders
    transformers reads templates from. Links must resolve inside the folder or the snapshot's
    repo cache folder; the target must then be a regular file (or, for a subfolder, a folder).
    """
    shown_as = Path(folder)  # messages name the folder as the person gave it
    real = shown_as.resolve()
    roots = [real]
    cache_root = repo_cache_root(real)
    if cache_root is not None:
        roots.append(cache_root.resolve())
    _check_entries(shown_as, real, real, roots, top=True)


def _check_entries(folder: Path, real: Path, where: Path, roots: list[Path], top: bool) -> None:
    try:
        with os.scandir(where) as it:
            entries = []
            for entry in it:
                entries.append(entry.name)
                if len(entries) > MAX_TOP_ENTRIES:
                    raise _refuse(folder, f"it holds more than {MAX_TOP_ENTRIES} files: not a model folder")
    except OSError as e:
        raise ModelRejected(f"model folder {folder} cannot be read ({e.strerror or e})") from None
    for name in sorted(entries):
        if name.startswith("."):
            continue
        path = where / name
        shown = os.path.relpath(path, real)
        try:
            st = os.lstat(path)
        except OSError:
            continue  # vanished meanwhile
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):
                raise _refuse(folder, f"{shown} is a broken link or a link loop") from None
            if not _inside(target, roots):
                raise _refuse(folder, f"{shown} links outside the model folder (to {target})")
            st = os.lstat(target)
            mode = st.st_mode
        if stat.S_ISDIR(mode):
            if top and name in LOADER_SUBFOLDERS:
                _check_entries(folder, real, path, roots, top=False)
            elif name.endswith(".safetensors") or size_cap(name) is not None:
                raise _refuse(folder, f"{shown} is a folder, not a regular file")
            continue
        if not stat.S_ISREG(mode):
            raise _refuse(folder, f"{shown} is {_kind(mode)}, not a regular file")
        cap = size_cap(name)
        if cap is not None and st.st_size > cap:
            raise _refuse(folder, f"{shown} is {st.st_size / MB:.0f} MB, "
                                  f"more than the {cap // MB} MB such a file may be")


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A read-only descriptor of a regular file; never blocks on a FIFO (O_NONBLOCK, then fstat)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelRejected(f"model folder {path.parent}: {path.name} is {_kind(st.st_mode)}, "
                                "not a regular file; refused")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_small(path: Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a small regular file, at most ``limit`` (ModelRejected beyond)."""
    fd, st = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        if st.st_size > limit:
            raise ModelRejected(
                f"model folder {path.parent}: {path.name} is {st.st_size / MB:.0f} MB, more than the "
                f"{limit // MB} MB such a file may be; refused"
            )
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ModelRejected(f"model folder {path.parent}: {path.name} grew past {limit // MB} MB while read; refused")
    return data


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> Any:
    """A small JSON file, read within ``limit``. ValueError for text that is not JSON."""
    data = read_small(path, limit)
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


# ----------------------------------------------------------------- index
def index_shards(folder: Path) -> list[str] | None:
    """The shard names ``model.safetensors.index.json`` lists (checked), or None without an index.

    Each must be a plain file name in the folder ending in ``.safetensors``: no absolute path, no
    ``..``, no subfolder, no ``pytorch_model.bin`` however it is formatted inside.
    """
    index = folder / "model.safetensors.index.json"
    try:
        os.lstat(index)
    except OSError:
        return None
    try:
        data = read_json(index)
        weight_map = data["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError("weight_map is not an object")
        shards = sorted(set(weight_map.values()))
    except ModelRejected:
        raise
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise ModelRejected(f"model folder {folder} has a damaged weight index ({e})") from None
    for shard in shards:
        if not isinstance(shard, str) or not _plain_name(shard):
            raise _refuse(folder, f"model.safetensors.index.json names a weights file outside the folder ({shard!r})")
        if not shard.endswith(".safetensors"):
            raise _refuse(folder, "only .safetensors weights are loaded, and model.safetensors.index.json "
                                  f"names {shard!r}")
    return shards


def _plain_name(name: str) -> bool:
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
        and not os.path.isabs(name)
        and not re.match(r"^[A-Za-z]:", name)
    )


def weight_files(folder: Path) -> list[str]:
    """The weights files mlx-vlm 0.7.10 will load (``mlx_vlm.utils.load_model``): the index's
    shards that exist, else every ``*.safetensors`` except ``consolidated.safetensors``."""
    shards = index_shards(folder)
    if shards:
        present = [s for s in shards if os.path.lexists(folder / s)]
        if present:
            return present
    return sorted(
        name for name in os.listdir(folder)
        if name.endswith(".safetensors") and not name.startswith(".") and not name.endswith("consolidated.safetensors")
    )


# ================================================================= weights
def read_weights(folder: Path, files: list[str]) -> dict[str, Tensor]:
    """Every tensor's dtype, shape and byte count from the shards' headers; damaged shards refused."""
    tensors: dict[str, Tensor] = {}
    for name in files:
        tensors.update(_read_shard(folder, name))
    return tensors


def _read_shard(folder: Path, name: str) -> dict[str, Tensor]:
    from engine.weights_reader import NotPlain, read_header

    path = folder / name
    fd, st = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        size = st.st_size
        raw = f.read(8)
        if len(raw) != 8:
            raise _damaged(folder, name, "shorter than a safetensors header")
        n = int.from_bytes(raw, "little")
        if n > size - 8:
            raise _damaged(folder, name, f"its header claims {n} bytes but the file has {size}")
        if n > MAX_SAFETENSORS_HEADER:
            raise _refuse(folder, f"{name} has a {n / MB:.0f} MB header (at most {MAX_SAFETENSORS_HEADER // MB} MB)")
        f.seek(0)
        try:
            header, base = read_header(f)
        except NotPlain as e:
            raise _damaged(folder, name, str(e)) from None
        except RecursionError:
            raise _damaged(folder, name, "header nested too deeply") from None
        out = _check_header(folder, name, header, size - base)
        _check_holes(folder, name, f.fileno(), base, size)
    return out


def _check_header(folder: Path, name: str, header: dict, data_size: int) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    spans = []
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype = info["dtype"]
            shape = tuple(info["shape"])
            start, end = info["data_offsets"]
            if not isinstance(dtype, str) or not all(type(d) is int and d >= 0 for d in shape):
                raise TypeError
            if type(start) is not int or type(end) is not int or not 0 <= start <= end:
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise _damaged(folder, name, f"tensor {key!r} has a malformed entry") from None
        if end > data_size:
            raise _damaged(folder, name, f"tensor {key} lies past the end of the file")
        bits = DTYPE_BITS.get(dtype)
        if bits is not None and (math.prod(shape) * bits + 7) // 8 != end - start:
            raise _damaged(folder, name, f"tensor {key} is {end - start} bytes but its shape and dtype need "
                                         f"{(math.prod(shape) * bits + 7) // 8}")
        out[key] = Tensor(dtype, shape, end - start)
        spans.append((start, end, key))
    spans.sort()
    position = 0
    for start, end, key in spans:  # the format's own rule: tensors back to back, covering the data
        if start != position:
            what = "overlaps another" if start < position else "leaves a gap before it"
            raise _damaged(folder, name, f"tensor {key} {what}")
        position = end
    if position != data_size:
        raise _damaged(folder, name, f"{data_size - position} bytes after the last tensor")
    return out


def _check_holes(folder: Path, name: str, fd: int, base: int, size: int) -> None:
    """Refuse a shard whose data is mostly holes (a sparse file: bytes that were never written)."""
    seek_data, seek_hole = getattr(os, "SEEK_DATA", None), getattr(os, "SEEK_HOLE", None)
    if seek_data is None or seek_hole is None or size <= base:
        return
    holes, pos, steps = 0, base, 0
    try:
        while pos < size:
            steps += 1
            if steps > MAX_EXTENTS:
                raise _damaged(folder, name, "it is fragmented into more than 100,000 written and unwritten runs")
            try:
                data = os.lseek(fd, pos, seek_data)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    holes += size - pos  # nothing but a hole to the end
                    break
                raise
            holes += data - pos
            pos = os.lseek(fd, data, seek_hole)
    except OSError:
        return  # the file system cannot tell: nothing to conclude
    data_size = size - base
    if holes > max(MB, data_size * HOLE_TOLERANCE):
        raise _damaged(
            folder, name,
            f"{holes / 1e9:.1f} GB of its {data_size / 1e9:.1f} GB were never written: "
            "an interrupted download or a sparse file",
        )


# ------------------------------------------------------------ weight shapes
_STACK = re.compile(r"^(?P<prefix>.*?)\.(?P<kind>layers|blocks|h|layer|resblocks)\.(?P<index>\d+)\.")
_EMBEDDING = re.compile(r"(^|\.)(embed_tokens|tok_embeddings|wte|word_embeddings)\.weight$")


@dataclass
class Shapes:
    """What the weights say about the model's dimensions."""

    dims: set[int]  # every dimension of every tensor (and the unpacked widths of quantized ones)
    stacks: dict[str, int]  # "language_model.model.layers" -> number of distinct layer indices
    embedding: str | None  # the text embedding's tensor name
    vocab: int | None  # its rows
    hidden: set[int]  # its width (candidates, for a quantized embedding)
    text_stack: str | None  # the layer stack beside the embedding


def _quantization(config: dict) -> tuple[set[int], set[int]]:
    groups, bits = set(), set()
    for key in ("quantization", "quantization_config"):
        q = config.get(key)
        if isinstance(q, dict):
            for value in [q, *[v for v in q.values() if isinstance(v, dict)]]:
                if isinstance(value.get("group_size"), int):
                    groups.add(value["group_size"])
                if isinstance(value.get("bits"), int):
                    bits.add(value["bits"])
    return groups or {32, 64, 128}, bits or {2, 3, 4, 5, 6, 8}


def shapes(tensors: dict[str, Tensor], config: dict) -> Shapes:
    groups, bits = _quantization(config)
    dims: set[int] = set()
    logical: dict[str, set[int]] = {}  # name -> candidate widths of the last axis
    for name, t in tensors.items():
        dims.update(t.shape)
        if t.shape and name.endswith(".weight"):
            scales = tensors.get(name[: -len("weight")] + "scales")
            if scales is not None and scales.shape and t.dtype in ("U32", "U8", "I32"):
                packed = t.shape[-1]
                widths = {scales.shape[-1] * g for g in groups}
                widths |= {packed * (8 * DTYPE_BITS.get(t.dtype, 32) // 8) // b for b in bits if b}
                logical[name] = widths
                dims.update(widths)
    stacks: dict[str, set[int]] = {}
    for name in tensors:
        m = _STACK.match(name)
        if m:
            stacks.setdefault(f"{m['prefix']}.{m['kind']}", set()).add(int(m["index"]))
    counts = {k: len(v) for k, v in stacks.items()}

    candidates = [n for n in tensors if _EMBEDDING.search(n) and not re.search(r"vision|visual", n)]
    candidates.sort(key=lambda n: (0 if "language_model" in n else 1, n))
    embedding = candidates[0] if candidates else None
    vocab, hidden, text_stack = None, set(), None
    if embedding is not None and len(tensors[embedding].shape) == 2:
        vocab = tensors[embedding].shape[0]
        hidden = logical.get(embedding) or {tensors[embedding].shape[1]}
        parent = embedding.rsplit(".", 2)[0] if embedding.count(".") >= 2 else ""
        for kind in ("layers", "h", "blocks", "layer"):
            if f"{parent}.{kind}" in counts:
                text_stack = f"{parent}.{kind}"
                break
    return Shapes(dims, counts, embedding, vocab, hidden, text_stack)


# ================================================================== config
_LAYER_KEY = re.compile(r"^(depth|layers|n_layers?|num_layers|num_hidden_layers|.*_layers)$")
_DIM_KEY = re.compile(
    r"^(width|heads|dim|n_embd|n_embed|n_head|n_heads|vocab_size|num_heads|num_experts|experts)$"
    r"|.*_(size|dim|dims|width|heads|channels|experts|rank|embed|embd)$"
)
_POSITION_KEY = re.compile(r"^(max_position_embeddings|original_max_position_embeddings|max_seq_len|seq_length|"
                           r"max_sequence_length|n_positions|n_ctx|sliding_window)$")
_RATIO_KEY = re.compile(r"^(mlp_ratio|.*_ratio)$")
# layer counts that size a stack of modules (max_window_layers and the like only select among them)
_STACK_KEYS = ("num_hidden_layers", "num_layers", "n_layers", "n_layer", "depth", "layers", "encoder_layers",
               "decoder_layers")
_SHAPE_KEYS = ("hidden_size", "intermediate_size", "embed_dim", "out_hidden_size", "moe_intermediate_size", "n_embed")
_MOE_KEYS = ("n_routed_experts", "num_experts", "num_local_experts", "moe_intermediate_size")


def _numbers(value) -> list:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list) and len(value) <= 4096:
        return [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return []


def check_ceilings(folder: Path, config: dict) -> None:
    """Refuse any dimension no real model has (before any number is used to size anything)."""
    stack: list[tuple[str, Any]] = [("", config)]
    seen = 0
    while stack:
        path, node = stack.pop()
        seen += 1
        if seen > 100_000:
            raise _refuse(folder, "config.json is too large to be a model's configuration")
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, (dict, list)):
                stack.append((where, value))
            if not isinstance(key, str):
                continue
            for number in _numbers(value):
                limit = None
                if _LAYER_KEY.match(key):
                    limit = MAX_LAYERS
                elif _POSITION_KEY.match(key):
                    limit = MAX_POSITIONS
                elif _DIM_KEY.match(key):
                    limit = MAX_DIM
                elif _RATIO_KEY.match(key):
                    limit = MAX_RATIO
                if limit is None:
                    continue
                if not math.isfinite(number) or number > limit:
                    raise _refuse(folder, f"config.json says {where} = {number:g}; "
                                          f"no real model has more than {limit:g}")


def _section(config: dict, names: tuple[str, ...]) -> dict | None:
    for name in names:
        if isinstance(config.get(name), dict):
            return config[name]
    return None


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def check_config(folder: Path, config: dict, tensors: dict[str, Tensor]) -> Shapes:
    """Refuse a config whose dimensions disagree with the weights' shapes (no model object is built)."""
    check_ceilings(folder, config)
    s = shapes(tensors, config)
    text = _section(config, TEXT_SECTIONS)
    text_where = next((n for n in TEXT_SECTIONS if config.get(n) is text), "") if text is not None else ""
    text_cfg = text if text is not None and "hidden_size" in text else config
    prefix = f"{text_where}." if text_cfg is text and text_where else ""

    # the text model: width and vocabulary from the embedding, depth from its layer stack
    if s.embedding is not None:
        hidden = _int(text_cfg.get("hidden_size"))
        if hidden is not None and hidden not in s.hidden:
            raise _refuse(folder, f"config.json says {prefix}hidden_size = {hidden} but the embedding "
                                  f"{s.embedding} is {min(s.hidden)} wide")
        vocab_cfg = text if text is not None and "vocab_size" in text else config
        vocab = _int(vocab_cfg.get("vocab_size"))
        vocab_where = f"{text_where}.vocab_size" if vocab_cfg is text and text_where else "vocab_size"
        if vocab is not None and s.vocab is not None and vocab != s.vocab:
            raise _refuse(folder, f"config.json says {vocab_where} = {vocab} but the embedding {s.embedding} "
                                  f"has {s.vocab} rows")
    layers_cfg = text if text is not None and "num_hidden_layers" in text else config
    layers = _int(layers_cfg.get("num_hidden_layers"))
    layers_where = f"{text_where}.num_hidden_layers" if layers_cfg is text and text_where else "num_hidden_layers"
    extra = _int(layers_cfg.get("num_nextn_predict_layers")) or _int(config.get("num_nextn_predict_layers")) or 0
    if layers is not None and s.text_stack is not None:
        found = s.stacks[s.text_stack]
        if found not in (layers, layers + extra):
            raise _refuse(folder, f"config.json says {layers_where} = {layers} but the weights hold {found} "
                                  f"layers ({s.text_stack}.N)")

    # the vision tower's depth against its block stack
    vision = _section(config, VISION_SECTIONS)
    vision_stacks = {k: v for k, v in s.stacks.items() if re.search(r"vision|visual|vit\b", k) and "language" not in k}
    if vision is not None and vision_stacks:
        for key in ("depth", "num_hidden_layers", "num_layers", "layers"):
            depth = _int(vision.get(key))
            if depth is not None and depth not in vision_stacks.values():
                held = ", ".join(f"{v} in {k}" for k, v in sorted(vision_stacks.items()))
                raise _refuse(folder, f"config.json says vision_config.{key} = {depth} but the weights hold {held}")

    # any layer count, anywhere: never more than the deepest stack the weights have
    deepest = max(s.stacks.values(), default=0) + max(extra, 0)
    if s.stacks:
        for where, key, value in _walk_numbers(config):
            n = _int(value)
            if n is not None and key in _STACK_KEYS and n > deepest:
                raise _refuse(folder, f"config.json says {where} = {n} but no layer stack in the weights is that deep")

    # the widths that size modules: each must be some weight's dimension
    moe = any(k in (text_cfg or {}) or k in config for k in _MOE_KEYS)
    for name, section in (("", config), (text_where, text), ("vision_config", vision)):
        if not isinstance(section, dict):
            continue
        for key in _SHAPE_KEYS:
            if key == "intermediate_size" and moe and section is not vision:
                continue  # MoE models may carry an unused dense width
            n = _int(section.get(key))
            if n is not None and n > 0 and n not in s.dims:
                where = f"{name}.{key}" if name else key
                raise _refuse(folder, f"config.json says {where} = {n} but no weight has that dimension")
    return s


def _walk_numbers(config: dict):
    stack: list[tuple[str, Any]] = [("", config)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(value, dict):
                    stack.append((where, value))
                elif isinstance(key, str) and not isinstance(value, (list, str)):
                    yield where, key, value


# ================================================================== memory
def _first(section: dict | None, *keys, default=None):
    if not isinstance(section, dict):
        return default
    for key in keys:
        n = _int(section.get(key))
        if n is not None and n > 0:
            return n
    return default


def runtime_bytes(config: dict, s: Shapes, tensors: dict[str, Tensor], max_pixels: int,
                  max_tokens: int = MAX_NEW_TOKENS) -> tuple[int, int]:
    """(bytes, vision tokens): a rough upper bound on what one page needs beside the weights.

    For an image of ``max_pixels`` (the app never shows a model more; the processor is clamped
    to it after loading) cut into ``patch_size``² patches (``tokens_v``), and a text sequence
    ``tokens_t`` of ``tokens_v / merge²`` image tokens, ``PROMPT_TOKENS`` and ``max_tokens``:

    * vision tower: one block's live buffers, ``tokens_v × (6·D + 2·I)`` float32 values
      (residual, norm, q, k, v, attention output; the MLP's two wide buffers);
    * text prefill: one ``PREFILL_CHUNK`` of ``6·H + 2·I`` float32 values per token (mlx-vlm
      prefills in chunks and evaluates the logits of the last token only), plus two rows of logits;
    * KV cache: ``2 × layers × tokens_t × kv_heads × head_dim`` at the weights' width;
    * ``RUNTIME_OVERHEAD`` for Python, the processor and MLX's kernels.

    The two stages do not overlap, so the larger counts. Attention is assumed fused (MLX's
    ``scaled_dot_product_attention`` does not keep the N × N score matrix on Apple GPUs), so
    the bound is linear in the number of tokens.
    """
    text = _section(config, TEXT_SECTIONS)
    text_cfg = text if text is not None and "hidden_size" in text else config
    vision = _section(config, VISION_SECTIONS) or {}

    hidden = min(s.hidden) if s.hidden else _first(text_cfg, "hidden_size", default=1024)
    inter = _first(text_cfg, "intermediate_size", "moe_intermediate_size", default=4 * hidden)
    layers = s.stacks.get(s.text_stack or "", 0) or _first(text_cfg, "num_hidden_layers", default=32)
    heads = _first(text_cfg, "num_attention_heads", default=16)
    kv_heads = _first(text_cfg, "num_key_value_heads", default=heads)
    head_dim = _first(text_cfg, "head_dim", default=max(1, hidden // heads))
    vocab = s.vocab or _first(text_cfg, "vocab_size", default=32000)

    v_dim = _first(vision, "hidden_size", "embed_dim", "width", default=1024)
    v_dim = max(v_dim, _first(vision, "embed_dim", default=0))
    ratio = vision.get("mlp_ratio") if isinstance(vision.get("mlp_ratio"), (int, float)) else 4
    v_inter = _first(vision, "intermediate_size", default=int(v_dim * ratio))
    patch = _first(vision, "patch_size", "spatial_patch_size", default=14)
    merge = _first(vision, "spatial_merge_size", default=_first(config, "spatial_merge_size", default=2))

    pixels = max(1, int(max_pixels))
    tokens_v = math.ceil(pixels / (patch * patch))
    tokens_t = math.ceil(tokens_v / (merge * merge)) + PROMPT_TOKENS + max(1, int(max_tokens))
    chunk = min(tokens_t, PREFILL_CHUNK)
    kv_width = 4 if _mostly_f32(tensors) else 2

    vision_bytes = tokens_v * (6 * v_dim + 2 * v_inter) * ACTIVATION_BYTES
    text_bytes = chunk * (6 * hidden + 2 * inter) * ACTIVATION_BYTES + 2 * vocab * ACTIVATION_BYTES
    kv_bytes = 2 * layers * tokens_t * kv_heads * head_dim * kv_width
    features = tokens_v * v_dim * ACTIVATION_BYTES
    return max(vision_bytes, text_bytes) + kv_bytes + features + RUNTIME_OVERHEAD, tokens_v


def _mostly_f32(tensors: dict[str, Tensor]) -> bool:
    f32 = sum(t.nbytes for t in tensors.values() if t.dtype in ("F32", "F64"))
    return f32 * 2 > sum(t.nbytes for t in tensors.values())


# ==================================================================== vet
def vet(folder: Path | str, max_pixels: int, max_tokens: int = MAX_NEW_TOKENS) -> ModelReport:
    """Check ``folder`` (files, weights' headers, config) and size what loading it will need for
    pages of up to ``max_pixels`` and ``max_tokens`` generated tokens.

    Raises ModelNotFound (something missing) or ModelRejected (one line naming the folder).
    Reads only headers and small files; builds no model object and never imports MLX.
    """
    from .store import check_folder

    folder = Path(folder)
    check_folder(folder)  # files (lstat), config.json, the index's shards, a tokenizer
    try:
        config = read_json(folder / "config.json")
    except ValueError as e:
        raise ModelRejected(f"model folder {folder} has a damaged config.json ({e})") from None
    if not isinstance(config, dict):
        raise ModelRejected(f"model folder {folder} has a damaged config.json (not a JSON object)")
    _check_templates(folder)
    _check_processor_configs(folder)
    files = weight_files(folder)
    if not files:
        raise ModelNotFound(f"model folder {folder} has no .safetensors weights")
    tensors = read_weights(folder, files)
    if not tensors:
        raise ModelRejected(f"model folder {folder} could not be loaded: its weights files hold no tensors")
    s = check_config(folder, config, tensors)
    weights = sum(t.nbytes for t in tensors.values())
    runtime, tokens = runtime_bytes(config, s, tensors, max_pixels, max_tokens)
    return ModelReport(
        folder=folder,
        weights_bytes=weights,
        runtime_bytes=runtime,
        estimated_bytes=weights + runtime,
        image_pixels=int(max_pixels),
        image_tokens=tokens,
        shards=tuple(files),
        model_type=str(config.get("model_type", "")),
    )


def _read_optional(folder: Path, name: str) -> dict | None:
    path = folder / name
    if not os.path.lexists(path):
        return None
    try:
        data = read_json(path)
    except ValueError:
        return None  # its own loader reports it
    return data if isinstance(data, dict) else None


def _check_templates(folder: Path) -> None:
    """A chat template kept inside tokenizer_config.json or processor_config.json is held to the
    template size cap too (chat_template.jinja / .json are capped as files)."""
    for name in ("tokenizer_config.json", "processor_config.json"):
        data = _read_optional(folder, name)
        template = data.get("chat_template") if data else None
        texts = [template] if isinstance(template, str) else [
            t.get("template") for t in template if isinstance(t, dict)] if isinstance(template, list) else []
        for text in texts:
            if isinstance(text, str) and len(text.encode("utf-8", "replace")) > MAX_TEMPLATE_BYTES:
                raise _refuse(folder, f"{name} holds a chat template of {len(text) / MB:.1f} MB "
                                      f"(at most {MAX_TEMPLATE_BYTES // MB} MB)")


# The image processors' grid settings: each multiplies what one image becomes (Qwen2-VL's processor
# repeats the image temporal_patch_size times, cuts it into patch_size² patches, merges merge_size²).
PROCESSOR_LIMITS = {
    "patch_size": (1, 64),
    "temporal_patch_size": (1, 16),
    "merge_size": (1, 16),
    "spatial_merge_size": (1, 16),
}


def _check_processor_configs(folder: Path) -> None:
    """Refuse image-processor grid settings no real model has (the pixel limits are clamped after loading)."""
    for name in ("preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json"):
        data = _read_optional(folder, name)
        if not data:
            continue
        sections = [("", data)] + [(f"{k}.", v) for k, v in data.items() if isinstance(v, dict)]
        for prefix, section in sections:
            for key, (low, high) in PROCESSOR_LIMITS.items():
                value = section.get(key)
                values = list(value.values()) if isinstance(value, dict) else [value]
                for v in values:
                    if v is None or isinstance(v, bool):
                        continue
                    if not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
                        raise _refuse(folder, f"{name} says {prefix}{key} = {v!r}; real image processors use "
                                              f"{low} to {high}")


# ===================================================== processor pixel limits
# Image processors whose max_pixels counts every temporal frame of an image (GLM-4.xV / GLM-OCR:
# smart_resize(num_frames=temporal_patch_size, ...)): their budget per image is max_pixels / frames.
TEMPORAL_PIXEL_BUDGET = ("Glm46VImageProcessor", "Glm4vImageProcessor", "Glm4vImageProcessorFast")
_EDGE_KEYS = ("longest_edge", "shortest_edge", "height", "width", "max_height", "max_width")


def clamp_image_processor(processor, max_pixels: int, max_side: int) -> list[str]:
    """Cap every pixel limit of ``processor``'s image processor at the app's own (after loading).

    Pixel-count processors (``min_pixels``/``max_pixels``, ``size={"shortest_edge",
    "longest_edge"}`` in pixels: Qwen2-VL, PaddleOCR-VL, GLM-OCR): ``max_pixels`` at most
    ``max_pixels`` (times the frames, where frames count), ``min_pixels`` at most half of that
    (so rounding an upscaled image up to the patch grid never passes the maximum). Edge-length
    processors (Pixtral, CLIP-style ``size``/``crop_size``): every edge at most ``max_side`` and
    √``max_pixels``. Returns what was changed ("Name.attr: old -> new").
    """
    changed: list[str] = []
    edge_cap = max(1, min(int(max_side), math.isqrt(int(max_pixels))))
    for ip in _image_processors(processor):
        label = type(ip).__name__
        if hasattr(ip, "max_pixels") or hasattr(ip, "min_pixels"):
            frames = int(getattr(ip, "temporal_patch_size", 1) or 1) if label in TEMPORAL_PIXEL_BUDGET else 1
            cap = int(max_pixels) * max(1, frames)
            old_max = _int(getattr(ip, "max_pixels", None))
            new_max = cap if old_max is None or old_max <= 0 else min(old_max, cap)
            old_min = _int(getattr(ip, "min_pixels", None))
            new_min = None if old_min is None else max(0, min(old_min, new_max // 2))
            _set(ip, "max_pixels", new_max, changed, label)
            if new_min is not None:
                _set(ip, "min_pixels", new_min, changed, label)
            size = getattr(ip, "size", None)
            if isinstance(size, dict):
                new = dict(size)
                caps = {"longest_edge": new_max, "shortest_edge": new_max // 2,
                        "max_pixels": new_max, "min_pixels": new_max // 2}
                for key, limit in caps.items():
                    number = _int(size.get(key))
                    if number is not None:
                        new[key] = min(number, limit)
                if new != size:
                    _set(ip, "size", new, changed, label)
            if getattr(ip, "_transformers_image_processor", None) is not None:
                ip._transformers_image_processor = None  # rebuilt from the clamped limits on first use
        else:
            for attr in ("size", "crop_size", "max_image_size"):
                value = getattr(ip, attr, None)
                number = _int(value)
                if isinstance(value, dict):
                    new = {k: _capped(v, edge_cap) if k in _EDGE_KEYS else v for k, v in value.items()}
                    if new != value:
                        _set(ip, attr, new, changed, label)
                elif attr == "size" and number is not None and number > edge_cap:
                    _set(ip, attr, edge_cap, changed, label)
    return changed


def _capped(value: Any, cap: int) -> Any:
    number = _int(value)
    return value if number is None else min(number, cap)


def _image_processors(processor) -> list:
    found: list[Any] = []
    for candidate in (getattr(processor, "image_processor", None), processor):
        if candidate is None or any(candidate is f for f in found):
            continue
        if candidate is processor and not (hasattr(candidate, "max_pixels") or hasattr(candidate, "min_pixels")):
            continue
        found.append(candidate)
        inner = getattr(candidate, "_transformers_image_processor", None)
        if inner is not None and not any(inner is f for f in found):
            found.append(inner)
    return found


def _set(obj, attr: str, value, changed: list[str], label: str) -> None:
    old = getattr(obj, attr, None)
    if old == value:
        return
    try:
        setattr(obj, attr, value)
    except (AttributeError, TypeError):
        return
    changed.append(f"{label}.{attr}: {old} -> {value}")
