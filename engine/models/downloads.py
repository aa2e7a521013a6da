"""Fetching a model into the standard Hugging Face cache, with progress, cancel and resume.

The engine only ever reads local files (``engine.models.store.locate``); this module is the
one explicit way a model gets onto the disk. It uses ``huggingface_hub``'s own
``snapshot_download`` into the standard cache (``HF_HUB_CACHE``, by default
``~/.cache/huggingface/hub``), so a model fetched earlier by ``mlx_vlm`` or ``huggingface-cli``
is reused and nothing is fetched twice. QtCore only, no MLX: downloads run in a plain
worker thread, never the engine thread.

What is fetched: only ``model_store.MODEL_FILE_PATTERNS`` (config, tokenizer, processor and
chat-template ``.json``/``.jinja``/``.txt``/``.model``/``.tiktoken`` files and ``*.safetensors``
with their index). Pickles and code (``.bin .pt .pth .pkl .ckpt .h5 .msgpack .onnx .py``) never
are; a repo whose weights are only pickles or code is refused before any file is fetched.
``trust_remote_code`` is never involved: no code from a model repo is run.

Plain functions (blocking; call them off the GUI thread)
--------------------------------------------------------
``download(source, on_progress=None, cancel_event=None, *, revision=None, endpoint=None,
cache_dir=None, max_workers=8, progress_interval_s=0.1) -> Path``
    ``source`` is a preset id (``"paddleocr-vl"``) or a repo id (``"org/name"``). Lists the repo
    (``HfApi.model_info(files_metadata=True)``), refuses pickle/code-only repos, checks free
    disk space, then ``snapshot_download`` with the allow-list above. ``on_progress`` gets a
    ``DownloadProgress`` at most every ``progress_interval_s`` (from library worker threads),
    plus a first one (``phase="checking"``) and a last one (``phase="done"``). Setting
    ``cancel_event`` stops the download at its next received chunk and raises
    ``DownloadCancelled``. Returns the snapshot folder, the same one ``locate`` finds.
    Offline (``HF_HUB_OFFLINE=1``) or with the hub unreachable, a complete cached copy is
    returned silently; otherwise ``HubUnreachable`` says what is missing.
    Raises ``DownloadCancelled`` or a ``DownloadError`` subclass: ``RepoNotFound``,
    ``RepoRefused``, ``NotEnoughDiskSpace``, ``HubUnreachable``; ``str(error)`` is one line
    for a person.
``cache_state(source, cache_dir=None) -> CacheState``: local only, a few ``stat`` calls.
``remote_size(source, endpoint=None, timeout=10) -> int | None``: bytes of the files a
    download would fetch, from the hub's listing; ``None`` offline or unreachable.
``delete_from_cache(source, cache_dir=None) -> int``: removes the repo from the cache with
    ``huggingface_hub``'s cache manager (bytes freed); ``DownloadError`` while it downloads.
``resolve_repo_id(source) -> str``: preset id or repo id to repo id (``DownloadError`` for a folder).

Resume: files already complete in the cache are never fetched again (the second run makes no
file request at all). A connection that drops mid-file is resumed by ``huggingface_hub`` with an
HTTP ``Range`` request. A file cut off by Cancel is started again next time (the library removes
its partial temporary file); see docs/adr/0004-model-downloads.md.

Qt face: ``Downloader(parent=None, *, endpoint=None, max_workers=8)``
-------------------------------------------------------------------
A ``QObject`` living in the GUI thread. Every method returns at once; the work runs in a
plain daemon thread, and results come back as signals queued to the GUI thread.

Signals:
    ``progress(DownloadProgress)``
    ``finished(str repo_id, object path)``: ``path`` is the ``pathlib.Path`` of the snapshot
    ``failed(str repo_id, str message)``: one line, for a person
    ``cancelled(str repo_id)``
Methods:
    ``start(source) -> bool``: False (and nothing happens) if another download is running;
        True if it started or the same repo is already downloading.
    ``cancel()``: cancels the running download (``cancelled`` follows).
    ``active -> str | None``: the repo id being downloaded.
    ``shutdown(timeout_s=5.0) -> bool``: cancel and join (for app quit).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..human import one_line, size_text
from .presets import find_preset
from .store import MODEL_FILE_PATTERNS, ModelNotFound, ModelRejected, check_folder, is_repo_id

log = logging.getLogger(__name__)

ALLOW_PATTERNS = list(MODEL_FILE_PATTERNS)  # the same list model_store checks completeness against
# never fetched (and named in the refusal message): pickles, other frameworks' weights, code
REFUSED_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.h5", "*.msgpack", "*.onnx", "*.py"]
DISK_MARGIN_BYTES = 64 * 1024 * 1024  # keep this much free beyond the download itself
SPEED_WINDOW_S = 3.0


# ------------------------------------------------------------------ results and errors
class Phase(enum.StrEnum):
    CHECKING = "checking"  # listing the repo
    DOWNLOADING = "downloading"
    DONE = "done"


@dataclass(frozen=True)
class DownloadProgress:
    """How far a download is. Bytes count the whole model: files already cached are done."""

    repo_id: str
    total_bytes: int  # all the files the model needs (0 while not known yet)
    done_bytes: int
    speed_bps: float  # bytes per second over the last few seconds; 0 when unknown
    eta_s: float | None  # seconds left; None when unknown
    files_total: int = 0
    files_done: int = 0
    phase: Phase = Phase.DOWNLOADING

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes > 0 else None


@dataclass(frozen=True)
class CacheState:
    repo_id: str
    downloaded: bool  # a complete snapshot is there (``locate`` will find it)
    size_on_disk: int  # bytes of this repo in the cache (all revisions, complete or not)
    path: Path | None  # the complete snapshot, if any
    partial: bool  # something of it is cached, but not a complete model


class DownloadError(Exception):
    """A download that cannot go on; ``str()`` is one line for a person."""


class RepoNotFound(DownloadError):
    pass


class RepoRefused(DownloadError):
    """The repo offers no .safetensors weights (only pickles or code), or is not a model."""


class NotEnoughDiskSpace(DownloadError):
    pass


class HubUnreachable(DownloadError):
    """Offline or no network, and the cache does not hold a complete copy."""


class DownloadCancelled(Exception):
    """The cancel event was set; finished files stay in the cache, nothing is marked ready."""


# ------------------------------------------------------------------ small helpers
def resolve_repo_id(source: str) -> str:
    """A preset id or repo id to the repo id to fetch."""
    source = source.strip()
    preset = find_preset(source)
    if preset is not None:
        return preset.repo_id
    if is_repo_id(source):
        return source
    if os.path.exists(os.path.expanduser(source)):
        raise DownloadError(f"{source} is a local folder: there is nothing to download")
    raise DownloadError(f"{source!r} is neither a preset nor a Hugging Face repo id (organisation/name)")


def hub_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The Hugging Face hub cache in use (``HF_HUB_CACHE`` / ``HF_HOME``), read at call time."""
    from huggingface_hub import constants

    return Path(cache_dir if cache_dir is not None else constants.HF_HUB_CACHE).expanduser()


def repo_cache_folder(repo_id: str, cache_dir: str | Path | None = None) -> Path:
    """``models--org--name`` in the cache: the documented cache layout."""
    return hub_cache_dir(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now, or as ``huggingface_hub`` read it at import."""
    from huggingface_hub import constants

    return _is_true(os.environ.get("HF_HUB_OFFLINE")) or constants.is_offline_mode()


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _endpoint(endpoint: str | None) -> str | None:
    """``HF_ENDPOINT`` as set now (the library reads it once, at import); None means the default."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None


def free_bytes(path: Path) -> int:
    """Free space on the disk holding ``path`` (or its nearest existing parent)."""
    for candidate in [path, *path.parents]:
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return 0


def _matches(path: str, patterns: Iterable[str]) -> bool:
    from fnmatch import fnmatch

    return any(fnmatch(path, p) for p in patterns)


# ------------------------------------------------------------------ the repo listing
@dataclass(frozen=True)
class _RemoteFile:
    path: str
    size: int


@dataclass(frozen=True)
class _Listing:
    repo_id: str
    sha: str
    files: tuple[_RemoteFile, ...]  # the files a download fetches
    refused: tuple[str, ...]  # files matching REFUSED_PATTERNS (never fetched)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def _list_repo(repo_id: str, revision: str | None, endpoint: str | None, timeout: float | None) -> _Listing:
    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, files_metadata=True, timeout=timeout)
    files, refused = [], []
    for s in info.siblings or []:
        size = s.lfs.size if s.lfs is not None else (s.size or 0)
        if _matches(s.rfilename, ALLOW_PATTERNS):
            files.append(_RemoteFile(s.rfilename, int(size)))
        elif _matches(s.rfilename, REFUSED_PATTERNS):
            refused.append(s.rfilename)
    return _Listing(repo_id, info.sha or "", tuple(files), tuple(refused))


def _check_listing(listing: _Listing) -> None:
    names = {f.path for f in listing.files}
    has_weights = any(n.endswith(".safetensors") for n in names)
    if not has_weights:
        offered = ", ".join(sorted(listing.refused)[:4]) or "no weight files"
        raise RepoRefused(
            f"{listing.repo_id} has no .safetensors weights (it offers {offered}); only .safetensors models"
            " are loaded, and no code from a model repo is ever run"
        )
    if not any(n == "config.json" or n.endswith("/config.json") for n in names):
        raise RepoRefused(f"{listing.repo_id} has no config.json: it does not look like a model")


def _cached_bytes(listing: _Listing, cache_dir: Path) -> tuple[int, int]:
    """Bytes and count of the listed files already complete in the cache for this commit."""
    from huggingface_hub import try_to_load_from_cache

    done = count = 0
    for f in listing.files:
        hit = try_to_load_from_cache(listing.repo_id, f.path, cache_dir=str(cache_dir), revision=listing.sha)
        if isinstance(hit, str) and os.path.isfile(hit):
            done += f.size
            count += 1
    return done, count


# ------------------------------------------------------------------ progress
class _Tracker:
    """Adds up the bytes the library reports from its worker threads; speed, ETA, throttling."""

    def __init__(self, repo_id: str, total: int, initial: int, files_total: int, files_done: int,
                 on_progress: Callable[[DownloadProgress], None] | None, cancel_event: threading.Event | None,
                 interval_s: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self.repo_id = repo_id
        self.total, self.done = total, initial
        self.files_total = files_total
        self._files_cached, self._files_finished = files_done, 0
        self._on_progress = on_progress
        self._cancel = cancel_event
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._emit_lock = threading.Lock()  # listeners see reports in order, one at a time
        self._samples: deque[tuple[float, int]] = deque([(clock(), initial)])
        self._last_emit = float("-inf")

    def check_cancel(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise DownloadCancelled(f"download of {self.repo_id} cancelled")

    def add_bytes(self, n: float) -> None:
        self.check_cancel()
        with self._lock:
            self.done = max(0, self.done + int(n or 0))
            now = self._clock()
            self._samples.append((now, self.done))
            while len(self._samples) > 2 and now - self._samples[1][0] >= SPEED_WINDOW_S:
                self._samples.popleft()
            due = self._due(now)
        if due:
            self.emit()

    def add_file(self) -> None:
        self.check_cancel()
        with self._lock:
            self._files_finished += 1  # every file, cached ones too (those finish at once)
            due = self._due(self._clock())
        if due:
            self.emit()

    def _due(self, now: float) -> bool:
        if now - self._last_emit >= self._interval:
            self._last_emit = now
            return True
        return False

    @property
    def files_done(self) -> int:
        return min(self.files_total, max(self._files_cached, self._files_finished))

    def speed(self) -> float:
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 > 0 and b1 > b0 else 0.0

    def snapshot(self, phase: Phase = Phase.DOWNLOADING) -> DownloadProgress:
        with self._lock:
            speed = self.speed()
            left = max(0, self.total - self.done)
            eta = left / speed if speed > 0 else (0.0 if left == 0 and self.total else None)
            return DownloadProgress(self.repo_id, self.total, min(self.done, self.total) if self.total else self.done,
                                    speed, eta, self.files_total, self.files_done, phase)

    def finish(self) -> None:
        with self._lock:
            self.done = max(self.done, self.total)
            self._files_finished = self.files_total
        self.emit(Phase.DONE)

    def emit(self, phase: Phase = Phase.DOWNLOADING) -> None:
        with self._emit_lock:
            _report(self._on_progress, self.snapshot(phase))


def _report(on_progress, progress: DownloadProgress) -> None:
    if on_progress is None:
        return
    try:
        on_progress(progress)
    except Exception:  # a broken listener must not break the download
        log.exception("download progress listener failed")


def _bar_class(tracker: _Tracker) -> type:
    """A ``tqdm_class`` for ``snapshot_download`` that feeds ``tracker`` and draws nothing.

    ``snapshot_download`` makes three bars from it: "Downloading bytes" (network bytes; ignored,
    the same bytes reach the next one), "Reconstructing…" (bytes written, which every file's
    download adds to through the library's aggregating bar) and "Fetching N files" (one step per
    finished file). Cancel is raised from their ``update``, i.e. inside the library's read loop.
    """

    class _Bar:
        def __init__(self, *args, **kwargs) -> None:
            desc = str(kwargs.get("desc") or "")
            self.kind = (
                "transfer" if desc.startswith("Downloading bytes")
                else "bytes" if kwargs.get("unit") == "B"
                else "files"
            )
            self.total = kwargs.get("total") or 0
            self.n = kwargs.get("initial") or 0
            self.desc = desc
            self.disable = True
            self.format_dict: dict = {}

        def update(self, n: float | None = 1) -> None:
            self.n += n or 0
            if self.kind == "bytes":
                tracker.add_bytes(n or 0)
            elif self.kind == "files":
                tracker.add_file()
            else:
                tracker.check_cancel()

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            return None

        def __iter__(self):
            return iter(())

        def __getattr__(self, name: str):  # refresh, close, set_description, set_postfix_str, …: no-ops
            if name.startswith("__"):
                raise AttributeError(name)
            return lambda *args, **kwargs: None

    return _Bar


@contextlib.contextmanager
def _plain_http():
    """Fetch over plain HTTP(S), not Xet, for the duration of a download (see ADR 0004).

    Plain HTTP is the path that can be cancelled mid-file and resumed with ``Range``: ``hf_xet``
    swallows exceptions raised from its progress callback, so Cancel would only take effect
    after the current (possibly multi-GB) file.
    """
    from huggingface_hub import constants

    with _XET_LOCK:
        global _XET_USERS
        if _XET_USERS == 0:
            _XET_SAVED[0] = constants.HF_HUB_DISABLE_XET
        _XET_USERS += 1
        constants.HF_HUB_DISABLE_XET = True
    try:
        yield
    finally:
        with _XET_LOCK:
            _XET_USERS -= 1
            if _XET_USERS == 0:
                constants.HF_HUB_DISABLE_XET = _XET_SAVED[0]


_XET_LOCK = threading.Lock()
_XET_USERS = 0
_XET_SAVED = [False]

_ACTIVE: set[str] = set()  # repo ids being downloaded in this process
_ACTIVE_LOCK = threading.Lock()


# ------------------------------------------------------------------ download
def download(
    source: str,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    cancel_event: threading.Event | None = None,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
    max_workers: int = 8,
    progress_interval_s: float = 0.1,
    timeout: float | None = 20.0,
) -> Path:
    """Fetch ``source`` (preset id or repo id) into the HF cache; the local snapshot folder. Blocks."""
    repo_id = resolve_repo_id(source)
    cache = hub_cache_dir(cache_dir)
    endpoint = _endpoint(endpoint)
    _report(on_progress, DownloadProgress(repo_id, 0, 0, 0.0, None, phase=Phase.CHECKING))
    with _ACTIVE_LOCK:
        if repo_id in _ACTIVE:
            raise DownloadError(f"{repo_id} is already being downloaded")
        _ACTIVE.add(repo_id)
    try:
        return _download(repo_id, on_progress, cancel_event, revision, endpoint, cache, max_workers,
                         progress_interval_s, timeout)
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(repo_id)


def _download(repo_id, on_progress, cancel_event, revision, endpoint, cache: Path, max_workers,
              progress_interval_s, timeout) -> Path:
    import httpx2
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if is_offline():
        return _from_cache_or_explain(repo_id, cache, "offline mode is on (HF_HUB_OFFLINE=1)", on_progress)
    try:
        listing = _list_repo(repo_id, revision, endpoint, timeout)
    except (RepositoryNotFoundError, GatedRepoError):
        raise RepoNotFound(
            f"{repo_id} was not found on Hugging Face (check the id; private and gated models are not supported)"
        ) from None
    except RevisionNotFoundError:
        raise RepoNotFound(f"{repo_id} has no revision {revision or 'main'!r} on Hugging Face") from None
    except (httpx2.TransportError, OfflineModeIsEnabled) as e:
        return _from_cache_or_explain(repo_id, cache, f"the hub cannot be reached ({one_line(e)})", on_progress)
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else 0
        if status == 404:
            raise RepoNotFound(f"{repo_id} was not found on Hugging Face (check the id)") from None
        if status >= 500 or status == 429:
            return _from_cache_or_explain(repo_id, cache, f"the hub answered {status}", on_progress)
        raise DownloadError(f"{repo_id}: the hub refused the listing ({status})") from None
    _check_listing(listing)

    tracker_done, files_done = _cached_bytes(listing, cache)
    tracker = _Tracker(repo_id, listing.total_bytes, tracker_done, len(listing.files), files_done,
                       on_progress, cancel_event, progress_interval_s)
    tracker.check_cancel()
    needed = listing.total_bytes - tracker_done
    free = free_bytes(cache)
    if needed > 0 and free < needed + DISK_MARGIN_BYTES:
        raise NotEnoughDiskSpace(
            f"not enough disk space for {repo_id}: the download needs {size_text(needed)}"
            f" (and {size_text(DISK_MARGIN_BYTES)} to spare) but only {size_text(free)} is free in {cache}"
            " (free some space, or set HF_HOME to another disk)"
        )

    ref = repo_cache_folder(repo_id, cache) / "refs" / (revision or "main")
    previous = _complete_ref(repo_id, cache, ref)
    tracker.emit()
    try:
        with _plain_http():
            path = Path(
                snapshot_download(
                    repo_id,
                    revision=revision,
                    cache_dir=str(cache),
                    endpoint=endpoint,
                    allow_patterns=ALLOW_PATTERNS,
                    ignore_patterns=REFUSED_PATTERNS,
                    max_workers=max_workers,
                    tqdm_class=_bar_class(tracker),
                )
            )
    except BaseException as e:
        _restore_ref(ref, previous)
        raise _download_failure(repo_id, e) from None
    try:
        check_folder(path)
    except (ModelNotFound, ModelRejected) as e:
        raise DownloadError(f"{repo_id} downloaded, but {one_line(e)}") from None
    tracker.finish()
    return path


def _download_failure(repo_id: str, e: BaseException) -> BaseException:
    """The one-line error to raise for what ``snapshot_download`` raised (cancel and the unknown as they are)."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(e, (httpx2.TransportError, OfflineModeIsEnabled, LocalEntryNotFoundError)):
        return HubUnreachable(
            f"the download of {repo_id} broke off ({one_line(e)}); run it again to resume — finished files are kept"
        )
    if isinstance(e, (RepositoryNotFoundError, GatedRepoError)):
        return RepoNotFound(f"{repo_id} was not found on Hugging Face")
    if isinstance(e, HfHubHTTPError):
        status = e.response.status_code if e.response is not None else 0
        return DownloadError(f"the download of {repo_id} failed: the hub answered {status}")
    if isinstance(e, OSError):  # disk full, permissions, the library's size consistency check
        return DownloadError(f"the download of {repo_id} failed: {one_line(e)}")
    return e


def _complete_ref(repo_id: str, cache: Path, ref: Path) -> str | None:
    """The commit ``ref`` points at, if that snapshot is complete (to put back after a failed update)."""
    try:
        sha = ref.read_text().strip()
    except OSError:
        return None
    return sha if _cached_snapshot_in(repo_id, cache) is not None else None


def _restore_ref(ref: Path, previous: str | None) -> None:
    """After a failed or cancelled update, point the branch back at the complete older snapshot."""
    if previous is None:
        return
    try:
        if ref.read_text().strip() == previous:
            return
        tmp = ref.with_name(f"{ref.name}.ocr-tray.tmp")
        tmp.write_text(previous)
        os.replace(tmp, ref)
    except OSError as e:
        log.warning("could not restore %s: %s", ref, e)


def _cached_snapshot_in(repo_id: str, cache: Path) -> Path | None:
    """``model_store.cached_snapshot`` for an explicit cache folder: complete and loadable, or None."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True, allow_patterns=ALLOW_PATTERNS,
                                      cache_dir=str(cache)))
        check_folder(path)
    except Exception:
        return None
    return path


def _from_cache_or_explain(repo_id: str, cache: Path, reason: str, on_progress) -> Path:
    """Offline: the complete cached copy, silently; or an error naming what is missing."""
    path = _cached_snapshot_in(repo_id, cache)
    if path is not None:
        size = _bytes_under(path)
        _report(on_progress, DownloadProgress(repo_id, size, size, 0.0, 0.0, phase=Phase.DONE))
        return path
    missing = missing_files(repo_id, cache)
    if missing is None:
        what = f"none of it is in the cache ({cache})"
    elif missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        what = f"the cache has part of it; missing: {shown}"
    else:
        what = "the cached copy is incomplete or damaged"
    raise HubUnreachable(f"{repo_id} is not downloaded and {reason}: {what}")


def missing_files(repo_id: str, cache_dir: str | Path | None = None) -> list[str] | None:
    """Model files the cached listing names but the cached snapshot lacks; None if nothing is cached."""
    from huggingface_hub import get_cached_repo_tree

    cache = hub_cache_dir(cache_dir)
    folder = repo_cache_folder(repo_id, cache)
    if not folder.exists():
        return None
    try:
        tree = get_cached_repo_tree(repo_id, cache_dir=str(cache))
        sha = (folder / "refs" / "main").read_text().strip()
    except Exception:
        return ["(the file list is not cached)"]
    snapshot = folder / "snapshots" / sha
    return sorted(
        f.path for f in tree if _matches(f.path, ALLOW_PATTERNS) and not (snapshot / f.path).is_file()
    )


def _bytes_under(folder: Path) -> int:
    """Bytes of the files under ``folder``, following the cache's symlinks to their blobs."""
    total = 0
    for p in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                total += p.stat().st_size
    return total


# ------------------------------------------------------------------ cache and sizes
def cache_state(source: str, cache_dir: str | Path | None = None) -> CacheState:
    """Downloaded or not, bytes on disk, and the snapshot path. Local only (a few stats)."""
    repo_id = resolve_repo_id(source)
    cache = hub_cache_dir(cache_dir)
    folder = repo_cache_folder(repo_id, cache)
    size = _bytes_under(folder / "blobs")
    path = _cached_snapshot_in(repo_id, cache) if folder.exists() else None
    return CacheState(repo_id, path is not None, size, path, path is None and size > 0)


def remote_size(source: str, endpoint: str | None = None, timeout: float = 10.0) -> int | None:
    """Bytes a download of ``source`` fetches, from the hub's listing; None offline or unreachable."""
    if is_offline():
        return None
    try:
        listing = _list_repo(resolve_repo_id(source), None, _endpoint(endpoint), timeout)
    except Exception as e:  # offline, unreachable, not found: the caller shows its fallback
        log.info("no remote size for %s: %s", source, one_line(e))
        return None
    return listing.total_bytes


def delete_from_cache(source: str, cache_dir: str | Path | None = None) -> int:
    """Remove every cached revision of ``source``; the bytes freed (0 if it was not cached)."""
    from huggingface_hub import scan_cache_dir

    repo_id = resolve_repo_id(source)
    with _ACTIVE_LOCK:
        if repo_id in _ACTIVE:
            raise DownloadError(f"{repo_id} is being downloaded; cancel the download first")
    cache = hub_cache_dir(cache_dir)
    folder = repo_cache_folder(repo_id, cache)
    if not folder.exists():
        return 0
    freed = cache_state(repo_id, cache).size_on_disk
    try:  # the library's own deletion also sweeps blobs shared with other repos (Xet store)
        info = scan_cache_dir(cache)
        for repo in info.repos:
            if repo.repo_id == repo_id and repo.repo_type == "model" and repo.revisions:
                strategy = info.delete_revisions(*(r.commit_hash for r in repo.revisions))
                strategy.execute()
                freed = max(freed, strategy.expected_freed_size)
    except Exception as e:
        log.warning("cache scan failed (%s); removing %s directly", one_line(e), folder)
    if folder.exists():  # a partial download has no complete revision for the cache manager to see
        shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():
        raise DownloadError(f"{repo_id} could not be removed completely from {folder}")
    return freed


# ------------------------------------------------------------------ Qt face
class Downloader(QObject):
    """Runs downloads and cache chores in a plain worker thread; reports through queued signals."""

    progress = Signal(object)  # DownloadProgress
    finished = Signal(str, object)  # repo id, Path
    failed = Signal(str, str)  # repo id, one-line message
    cancelled = Signal(str)  # repo id

    _relay = Signal(str, object)  # (signal name, args) from worker threads, queued to this object's thread

    def __init__(self, parent: QObject | None = None, *, endpoint: str | None = None, max_workers: int = 8) -> None:
        super().__init__(parent)
        self._endpoint = endpoint
        self._max_workers = max_workers
        self._active: str | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._relay.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def active(self) -> str | None:
        return self._active

    def start(self, source: str) -> bool:
        try:
            repo_id = resolve_repo_id(source)
        except DownloadError as e:
            self._relay.emit("failed", (source, str(e)))
            return True
        if self._active is not None:
            return self._active == repo_id
        self._active = repo_id
        self._cancel = threading.Event()
        cancel = self._cancel
        self._thread = self._spawn(lambda: self._run_download(repo_id, cancel), f"download {repo_id}")
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel a running download and wait for its thread; True when it stopped."""
        self._cancel.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    # -------------------------------------------------------------- internals
    def _spawn(self, work: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=work, name=f"ocr-tray {name}", daemon=True)
        thread.start()
        return thread

    def _run_download(self, repo_id: str, cancel: threading.Event) -> None:
        try:
            path = download(repo_id, lambda p: self._relay.emit("progress", (p,)), cancel,
                            endpoint=self._endpoint, max_workers=self._max_workers)
        except DownloadCancelled:
            self._relay.emit("cancelled", (repo_id,))
        except DownloadError as e:
            self._relay.emit("failed", (repo_id, str(e)))
        except Exception as e:  # anything unexpected still ends the download with a message
            log.exception("download of %s failed", repo_id)
            self._relay.emit("failed", (repo_id, f"the download of {repo_id} failed: {one_line(e)}"))
        else:
            self._relay.emit("finished", (repo_id, path))

    @Slot(str, object)
    def _deliver(self, name: str, args: tuple) -> None:
        if name in ("finished", "failed", "cancelled") and self._active is not None and args[0] == self._active:
            self._active = None
            self._thread = None
        getattr(self, name).emit(*args)
