"""Model downloads against a loopback hub: cache, progress, resume, cancel, refusals, offline; memory fit.

The hub (tests/engine/hub_server.py) serves the tiny random-weight model in the layout
``huggingface_hub`` expects and records every request, so "no second fetch" and "resumed with
Range" are checked on the wire.
"""

import socket
import threading
from pathlib import Path

import psutil
import pytest

from engine.human import size_text
from engine.jobs import ErrorKind, JobStatus
from engine.models import downloads
from engine.models.downloads import (
    DownloadCancelled,
    DownloadProgress,
    HubUnreachable,
    NotEnoughDiskSpace,
    Phase,
    RepoNotFound,
    RepoRefused,
)
from engine.models.presets import PRESETS, ModelSpec, preset
from engine.models.store import ModelNotFound, ModelTooLarge, cached_snapshot, check_fit, locate, memory_needed
from engine.testing import samples
from tests.engine.hub_server import hub, offline  # noqa: F401  (hub is a fixture)

REPO = "test-org/tiny-qwen2-vl"


def weights_name(folder: Path) -> str:
    """The biggest .safetensors file of a model folder."""
    return max(folder.glob("*.safetensors"), key=lambda p: p.stat().st_size).name


def model_files(folder: Path) -> dict[str, int]:
    """Name -> size of the files a download should fetch from ``folder``."""
    return {p.name: p.stat().st_size for p in folder.iterdir()
            if p.is_file() and downloads._matches(p.name, downloads.ALLOW_PATTERNS)}


def fetch(repo=REPO, **kw):
    events = []
    path = downloads.download(repo, events.append, **kw)
    return path, events


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------ first download, then the engine runs it
@pytest.mark.slow
def test_first_download_fills_the_cache_then_the_engine_loads_and_runs_it(qtbot, hub, tiny_model_dir, tmp_path):
    from engine.engine_thread import Engine
    from engine.jobs import OcrOptions
    from engine.lifecycle import Mode

    hub.add_repo(REPO, tiny_model_dir)
    with pytest.raises(ModelNotFound):
        locate(REPO)

    path, events = fetch()

    expected = model_files(tiny_model_dir)
    assert path.is_relative_to(hub.cache_dir)
    assert locate(REPO) == path == cached_snapshot(REPO)
    assert {p.name for p in path.iterdir()} == set(expected)
    for name in expected:
        assert (path / name).read_bytes() == (tiny_model_dir / name).read_bytes()
    # only the allowed files went over the wire, each once
    fetched = [r.path.rsplit("/", 1)[-1] for r in hub.file_requests()]
    assert sorted(fetched) == sorted(expected)
    # progress: checking first, done last, bytes never go back, totals are the real sizes
    assert events[0].phase == Phase.CHECKING and events[-1].phase == Phase.DONE
    moving = [e for e in events if e.phase != Phase.CHECKING]
    assert all(e.total_bytes == sum(expected.values()) for e in moving)
    assert [e.done_bytes for e in moving] == sorted(e.done_bytes for e in moving)
    assert events[-1].done_bytes == events[-1].total_bytes
    assert events[-1].files_done == events[-1].files_total == len(expected)

    engine = Engine(ModelSpec.resolve(REPO), Mode.KEEP_RESIDENT)
    try:
        results = []
        engine.jobFinished.connect(results.append)
        engine.jobFailed.connect(results.append)
        engine.submit([samples.write_png(tmp_path / "page.png")], OcrOptions(max_tokens=4))
        qtbot.waitUntil(lambda: len(results) == 1, timeout=120_000)
        assert results[0].status == JobStatus.DONE, results[0].error
        assert results[0].page_count == 1
    finally:
        assert engine.shutdown(10)


def test_second_run_fetches_no_finished_file(hub, tiny_model_dir):
    hub.add_repo(REPO, tiny_model_dir)
    first, _ = fetch()
    hub.clear_log()

    second, events = fetch()

    assert second == first
    assert hub.file_requests(method=None) == []  # no HEAD, no GET for any file
    assert all(r.path.startswith("/api/") for r in hub.requests)
    assert events[-1].phase == Phase.DONE and events[-1].done_bytes == events[-1].total_bytes


def test_a_file_cut_mid_way_resumes_with_a_range_request(hub, tiny_model_dir):
    weights = weights_name(tiny_model_dir)
    hub.add_repo(REPO, tiny_model_dir)
    hub.drop_once[weights] = 0.5

    path, events = fetch()

    gets = hub.file_requests(weights)
    assert len(gets) == 2, gets
    assert gets[0].range is None
    assert gets[1].range is not None and gets[1].range.startswith("bytes=") and gets[1].status == 206
    resumed_at = int(gets[1].range[len("bytes="):-1])
    assert 0 < resumed_at <= (tiny_model_dir / weights).stat().st_size // 2
    assert (path / weights).read_bytes() == (tiny_model_dir / weights).read_bytes()
    assert events[-1].done_bytes == events[-1].total_bytes  # the cut bytes are not counted twice


def cancel_mid_weights(hub, tiny_model_dir):
    """Start a download, cancel it while the weights file is half sent; return what ``download`` raised."""
    weights = weights_name(tiny_model_dir)
    gate = hub.gates[weights] = threading.Event()
    cancel = threading.Event()
    outcome = {}

    def run():
        try:
            outcome["path"] = downloads.download(REPO, None, cancel)
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    assert hub.stalled.wait(30), "the weights file was never requested"
    snapshot_dir = hub.cache_dir / f"models--{REPO.replace('/', '--')}" / "snapshots"
    others = set(model_files(tiny_model_dir)) - {weights}
    deadline = threading.Event()
    for _ in range(300):  # the small files finish while the weights wait
        present = {p.name for p in snapshot_dir.glob("*/*")}
        if others <= present:
            break
        deadline.wait(0.05)
    cancel.set()
    gate.set()
    thread.join(30)
    assert not thread.is_alive()
    del hub.gates[weights]
    return weights, outcome.get("error"), others


def test_cancel_leaves_no_model_marked_ready_and_the_next_run_fetches_only_what_is_missing(hub, tiny_model_dir):
    hub.add_repo(REPO, tiny_model_dir)

    weights, error, others = cancel_mid_weights(hub, tiny_model_dir)

    assert isinstance(error, DownloadCancelled)
    assert cached_snapshot(REPO) is None
    with pytest.raises(ModelNotFound):
        locate(REPO)
    state = downloads.cache_state(REPO)
    assert not state.downloaded and state.partial and state.path is None
    assert not list(hub.cache_dir.rglob("*.incomplete")), "a partial file was left behind"

    hub.clear_log()
    path, _ = fetch()
    assert {r.path.rsplit("/", 1)[-1] for r in hub.file_requests()} == {weights}
    assert locate(REPO) == path
    assert others  # the model has small files besides the weights, so the check above means something


def test_offline_after_a_cancel_names_what_is_missing(hub, tiny_model_dir):
    hub.add_repo(REPO, tiny_model_dir)
    weights, error, _ = cancel_mid_weights(hub, tiny_model_dir)
    assert isinstance(error, DownloadCancelled)
    hub.clear_log()

    with offline(), pytest.raises(HubUnreachable) as caught:
        downloads.download(REPO)

    message = str(caught.value)
    assert "offline" in message and weights in message and "\n" not in message
    assert hub.requests == []


def test_unknown_repo_is_a_clear_error(hub):
    with pytest.raises(RepoNotFound) as caught:
        downloads.download("test-org/no-such-model")
    message = str(caught.value)
    assert "test-org/no-such-model" in message and "not found" in message and "\n" not in message
    assert hub.file_requests(method=None) == []


@pytest.mark.parametrize("files", [
    {"config.json": b"{}", "pytorch_model.bin": b"\x80\x04pickle", "tokenizer.json": b"{}"},
    {"config.json": b"{}", "modeling_evil.py": b"import os\n", "tokenizer.json": b"{}"},
], ids=["pickle-only", "code-only"])
def test_a_repo_without_safetensors_is_refused_before_any_file_is_fetched(hub, files):
    hub.add_repo("test-org/unsafe", files)

    with pytest.raises(RepoRefused) as caught:
        downloads.download("test-org/unsafe")

    message = str(caught.value)
    assert ".safetensors" in message and "test-org/unsafe" in message
    assert next(n for n in files if n.endswith((".bin", ".py"))) in message
    assert hub.file_requests(method=None) == []
    assert cached_snapshot("test-org/unsafe") is None


def test_pickles_and_code_next_to_safetensors_are_never_fetched(hub, tiny_model_dir):
    files = {p.name: p.read_bytes() for p in tiny_model_dir.iterdir() if p.is_file()}
    files.update({"pytorch_model.bin": b"\x80\x04pickle", "modeling_x.py": b"import os\n", "model.onnx": b"x"})
    hub.add_repo(REPO, files)

    path, _ = fetch()

    fetched = {r.path.rsplit("/", 1)[-1] for r in hub.file_requests(method=None)}
    assert not fetched & {"pytorch_model.bin", "modeling_x.py", "model.onnx"}
    assert not any(path.glob("*.bin")) and not any(path.glob("*.py"))
    assert locate(REPO) == path


def test_offline_mode_uses_the_cache_silently(hub, tiny_model_dir):
    hub.add_repo(REPO, tiny_model_dir)
    online, _ = fetch()
    hub.clear_log()

    with offline():
        path, events = fetch()
        assert locate(REPO) == path

    assert path == online
    assert hub.requests == []
    assert events[-1].phase == Phase.DONE


def test_offline_with_nothing_cached_says_so(hub):
    with offline(), pytest.raises(HubUnreachable) as caught:
        downloads.download(REPO)
    message = str(caught.value)
    assert "offline" in message and "none of it is in the cache" in message
    assert hub.requests == []


def test_no_network_uses_the_cache_or_says_the_hub_cannot_be_reached(hub, tiny_model_dir):
    hub.add_repo(REPO, tiny_model_dir)
    online, _ = fetch()
    dead = closed_port_url()

    assert downloads.download(REPO, endpoint=dead) == online
    with pytest.raises(HubUnreachable) as caught:
        downloads.download("test-org/never-fetched", endpoint=dead)
    assert "cannot be reached" in str(caught.value)
    assert downloads.remote_size(REPO, endpoint=dead) is None


def test_short_disk_space_is_refused_before_fetching(hub, tiny_model_dir, monkeypatch):
    hub.add_repo(REPO, tiny_model_dir)
    monkeypatch.setattr(downloads, "free_bytes", lambda path: 1000)

    with pytest.raises(NotEnoughDiskSpace) as caught:
        downloads.download(REPO)

    message = str(caught.value)
    needed = sum(model_files(tiny_model_dir).values())
    assert f"needs {size_text(needed)}" in message
    assert f"only {size_text(1000)} is free" in message and str(hub.cache_dir) in message
    assert hub.file_requests(method=None) == []


def test_cache_state_remote_size_and_delete(hub, tiny_model_dir):
    hub.add_repo(REPO, tiny_model_dir)
    total = sum(model_files(tiny_model_dir).values())
    assert downloads.cache_state(REPO) == downloads.CacheState(REPO, False, 0, None, False)
    assert downloads.remote_size(REPO) == total
    assert downloads.remote_size("test-org/no-such-model") is None

    path, _ = fetch()
    state = downloads.cache_state(REPO)
    assert state.downloaded and state.path == path and state.size_on_disk == total

    assert downloads.delete_from_cache(REPO) == total
    assert not downloads.repo_cache_folder(REPO).exists()
    assert cached_snapshot(REPO) is None
    assert downloads.delete_from_cache(REPO) == 0


def test_preset_ids_resolve_to_their_repo():
    p = preset("paddleocr-vl")
    assert downloads.resolve_repo_id("paddleocr-vl") == p.repo_id
    assert downloads.resolve_repo_id(p.repo_id) == p.repo_id
    with pytest.raises(downloads.DownloadError):
        downloads.resolve_repo_id("not a repo")


def test_speed_and_eta_come_from_recent_bytes():
    now = [100.0]
    seen = []
    tracker = downloads._Tracker("r", total=10_000, initial=2_000, files_total=2, files_done=1,
                                 on_progress=seen.append, cancel_event=None, interval_s=0.0,
                                 clock=lambda: now[0])
    for _ in range(4):
        now[0] += 0.5
        tracker.add_bytes(500)  # 1000 B/s
    p = tracker.snapshot()
    assert p.done_bytes == 4_000 and p.speed_bps == pytest.approx(1000)
    assert p.eta_s == pytest.approx(6.0)
    assert p.fraction == pytest.approx(0.4)
    assert len(seen) == 4
    cancel = threading.Event()
    tracker._cancel = cancel
    cancel.set()
    with pytest.raises(DownloadCancelled):
        tracker.add_bytes(1)


# ------------------------------------------------------------------ the Qt face
def test_downloader_reports_through_queued_signals(qtbot, hub, tiny_model_dir):
    from PySide6.QtCore import QThread

    hub.add_repo(REPO, tiny_model_dir)
    downloader = downloads.Downloader()
    main_thread = QThread.currentThread()
    progress, threads = [], set()
    downloader.progress.connect(lambda p: (progress.append(p), threads.add(QThread.currentThread() is main_thread)))

    with qtbot.waitSignal(downloader.finished, timeout=30_000) as done:
        assert downloader.start(REPO)
        assert downloader.active == REPO
        assert not downloader.start("test-org/other")  # one download at a time
    repo_id, path = done.args
    assert repo_id == REPO and path == locate(REPO)
    assert downloader.active is None
    assert progress and threads == {True}
    assert isinstance(progress[-1], DownloadProgress) and progress[-1].phase == Phase.DONE

    assert downloads.cache_state(REPO).downloaded
    assert downloads.remote_size(REPO) == sum(model_files(tiny_model_dir).values())
    assert downloads.delete_from_cache(REPO) > 0
    assert cached_snapshot(REPO) is None

    with qtbot.waitSignal(downloader.failed, timeout=10_000) as failed:
        downloader.start("test-org/no-such-model")
    assert failed.args[0] == "test-org/no-such-model" and "not found" in failed.args[1]


def test_downloader_cancel(qtbot, hub, tiny_model_dir):
    weights = weights_name(tiny_model_dir)
    hub.add_repo(REPO, tiny_model_dir)
    hub.gates[weights] = gate = threading.Event()
    downloader = downloads.Downloader()

    with qtbot.waitSignal(downloader.cancelled, timeout=30_000) as cancelled:
        downloader.start(REPO)
        qtbot.waitUntil(hub.stalled.is_set, timeout=30_000)
        downloader.cancel()
        gate.set()
    assert cancelled.args == [REPO]
    assert downloader.active is None
    assert cached_snapshot(REPO) is None
    assert downloader.shutdown(5)


# ------------------------------------------------------------------ ocr-tray models
# ------------------------------------------------------------------ memory fit before every load
def test_check_fit_names_both_numbers_and_the_presets_that_would_fit():
    big = max(PRESETS, key=lambda p: p.approx_bytes)
    available = memory_needed(big.approx_bytes) - 1
    with pytest.raises(ModelTooLarge) as caught:
        check_fit(big.label, big.approx_bytes, available=available)
    message = str(caught.value)
    assert f"{memory_needed(big.approx_bytes) / 1e9:.1f} GB" in message
    assert f"{available / 1e9:.1f} GB" in message
    fitting = [p.label for p in PRESETS if p is not big and memory_needed(p.approx_bytes) <= available]
    assert fitting and all(label in message for label in fitting)
    check_fit(big.label, big.approx_bytes, available=memory_needed(big.approx_bytes))  # exactly enough: allowed


@pytest.mark.slow
def test_engine_refuses_a_load_that_does_not_fit_and_the_override_allows_it(
        qtbot, tiny_model_dir, tmp_path, monkeypatch):
    from engine.engine_thread import Engine
    from engine.jobs import OcrOptions
    from engine.lifecycle import Mode, State
    from engine.models.store import vet

    spec = ModelSpec.resolve(str(tiny_model_dir))
    need = vet(tiny_model_dir, spec.max_pixels, 3).estimated_bytes  # what the engine compares before a load
    real = psutil.virtual_memory

    class Short:
        def __init__(self):
            self._real = real()
            self.available = need // 2

        def __getattr__(self, name):
            return getattr(self._real, name)

    monkeypatch.setattr(psutil, "virtual_memory", Short)
    engine = Engine(spec, Mode.KEEP_RESIDENT)
    try:
        results = []
        engine.jobFinished.connect(results.append)
        engine.jobFailed.connect(results.append)
        png = samples.write_png(tmp_path / "page.png")

        engine.submit([png], OcrOptions(max_tokens=3))
        qtbot.waitUntil(lambda: len(results) == 1, timeout=60_000)
        refused = results[0]
        assert refused.status == JobStatus.FAILED and refused.error_kind == ErrorKind.MEMORY
        assert size_text(need) in refused.error and size_text(need // 2) in refused.error
        qtbot.waitUntil(lambda: engine.status.state is State.UNLOADED, timeout=10_000)

        engine.set_memory_check(False)
        engine.submit([samples.write_png(tmp_path / "again.png")], OcrOptions(max_tokens=3))
        qtbot.waitUntil(lambda: len(results) == 2, timeout=120_000)
        assert results[1].status == JobStatus.DONE, results[1].error
    finally:
        assert engine.shutdown(10)
