"""Security: no remote code, only safetensors, no network, private temp files, private settings and
history, and no document text in the logs."""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import stat
import tempfile
import uuid
from pathlib import Path

import pytest

from engine.history import HistoryStore
from engine.jobs import ErrorKind, JobStatus, OcrOptions
from engine.models.store import ModelRejected, check_folder

from . import bad_files
from .conftest import TOKENS, one_line, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
OPTS = OcrOptions(max_tokens=TOKENS)


def model_copy(tiny_model_dir, tmp_path, name="model") -> Path:
    dest = tmp_path / name
    shutil.copytree(tiny_model_dir, dest)
    return dest


# ------------------------------------------------------------ remote code
def test_trust_remote_code_is_never_true_in_a_real_load(make_engine, tmp_path, monkeypatch):
    import mlx_vlm
    import transformers

    calls: list[tuple[str, dict]] = []
    real_load = mlx_vlm.load

    def spy_load(*args, **kwargs):
        calls.append(("mlx_vlm.load", dict(kwargs)))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(mlx_vlm, "load", spy_load)
    for name in ("AutoProcessor", "AutoTokenizer", "AutoConfig", "AutoImageProcessor"):
        cls = getattr(transformers, name)
        real = cls.from_pretrained.__func__

        def spy(klass, *args, _real=real, _name=name, **kwargs):
            calls.append((f"{_name}.from_pretrained", dict(kwargs)))
            return _real(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    engine, rec = make_engine()
    png = bad_files.png(tmp_path / "page.png")
    assert rec.run([png], OPTS)[str(png)].status == JobStatus.DONE
    names = [n for n, _ in calls]
    assert "mlx_vlm.load" in names and "AutoProcessor.from_pretrained" in names, names
    assert [kw.get("trust_remote_code") for n, kw in calls if n == "mlx_vlm.load"] == [False]  # said explicitly
    assert not [(n, kw) for n, kw in calls if kw.get("trust_remote_code")], calls


def test_source_tree_never_turns_trust_remote_code_on():
    pattern = re.compile(r"trust_remote_code[\"']?\s*(=|:)\s*True")
    offenders = []
    for folder in ("engine", "desktop", "bench", "scripts", "packaging"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".spec", ".sh", ".toml", ".json", ".cfg"):
                for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    if pattern.search(line):
                        offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    for top in ROOT.glob("*.spec"):
        if pattern.search(top.read_text(errors="replace")):
            offenders.append(top.name)
    assert not offenders, offenders
    backend = (ROOT / "engine" / "backend.py").read_text()
    assert "trust_remote_code=False" in backend


def _evil_module(folder: Path, marker: Path, module: str = "evil") -> None:
    (folder / f"{module}.py").write_text(
        f"open({str(marker)!r}, 'w').write('code from the model folder ran')\n"
        "class Anything:\n    pass\n"
        "EvilConfig = EvilModel = EvilProcessor = EvilTokenizer = EvilImageProcessor = Anything\n"
    )


def _load_outcome(make_engine, model, tmp_path):
    engine, rec = make_engine(model=model)
    png = bad_files.png(tmp_path / "page.png")
    result = rec.run([png], OPTS)[str(png)]
    if result.status is JobStatus.FAILED:
        one_line(result.error, "page.png")
    return result


def test_auto_map_code_in_the_model_folder_never_runs(make_engine, tiny_model_dir, tmp_path):
    model = model_copy(tiny_model_dir, tmp_path)
    marker = tmp_path / "auto-map-ran.txt"
    _evil_module(model, marker)
    auto_map = {
        "AutoConfig": "evil.EvilConfig",
        "AutoModel": "evil.EvilModel",
        "AutoModelForCausalLM": "evil.EvilModel",
        "AutoProcessor": "evil.EvilProcessor",
        "AutoImageProcessor": "evil.EvilImageProcessor",
        "AutoTokenizer": ["evil.EvilTokenizer", "evil.EvilTokenizer"],
    }
    for name in ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json"):
        path = model / name
        data = json.loads(path.read_text()) if path.exists() else {}
        data["auto_map"] = auto_map
        path.write_text(json.dumps(data))
    result = _load_outcome(make_engine, model, tmp_path)
    assert not marker.exists(), "code named by auto_map in the model folder was executed"
    print(f"auto_map model: the job {result.status}" + (f" ({result.error})" if result.error else ""))


def test_model_file_code_in_the_model_folder_never_runs(make_engine, tiny_model_dir, tmp_path):
    model = model_copy(tiny_model_dir, tmp_path)
    marker = tmp_path / "model-file-ran.txt"
    _evil_module(model, marker, "modeling_evil")
    config = json.loads((model / "config.json").read_text())
    config["model_file"] = "modeling_evil.py"
    (model / "config.json").write_text(json.dumps(config))
    try:
        result = _load_outcome(make_engine, model, tmp_path)
    finally:
        ran = marker.exists()
    assert not ran, "config.json's model_file was imported: code from the model folder ran"
    assert result.status == JobStatus.FAILED and result.error_kind == ErrorKind.MODEL


def test_pickle_weights_alone_are_refused(make_engine, tiny_model_dir, tmp_path):
    model = tmp_path / "pickled"
    model.mkdir()
    shutil.copy(tiny_model_dir / "config.json", model / "config.json")
    (model / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": [0.0] * 10}))
    with pytest.raises(ModelRejected, match="only .safetensors are loaded"):
        check_folder(model)
    result = _load_outcome(make_engine, model, tmp_path)
    assert (result.status, result.error_kind) == (JobStatus.FAILED, ErrorKind.MODEL)
    assert "only .safetensors are loaded" in result.error


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling this creates the marker file


def test_pickle_beside_safetensors_is_never_unpickled(make_engine, tiny_model_dir, tmp_path):
    model = model_copy(tiny_model_dir, tmp_path)
    marker = tmp_path / "unpickled.txt"
    for name in ("pytorch_model.bin", "model.pt", "training_args.bin"):
        (model / name).write_bytes(pickle.dumps(_Boom(str(marker))))
    result = _load_outcome(make_engine, model, tmp_path)
    assert result.status == JobStatus.DONE
    assert not marker.exists(), "a pickle in the model folder was loaded"


# ------------------------------------------------------------------ network
def test_the_network_guard_is_armed(network_guard):
    import socket

    with pytest.raises(OSError, match="blocked by the test suite"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    assert network_guard.attempts
    network_guard.attempts.clear()


def _hub_cache(tiny_model_dir, cache: Path, repo_id: str) -> None:
    """The tiny model laid out as a downloaded Hugging Face snapshot."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(tiny_model_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)


def test_no_network_during_a_full_ocr_job(make_engine, tiny_model_dir, tmp_path, network_guard, monkeypatch):
    """A model named by repo id (already downloaded) is found, loaded and run on a scan, a text PDF and
    an image without one connection or name lookup, with the hub's offline switch off: the app
    itself must not ask the hub (huggingface_hub falls back to its cache silently when a lookup
    fails, so only the guard's record shows such a call)."""
    import huggingface_hub.constants as hub

    cache = tmp_path / "hub"
    _hub_cache(tiny_model_dir, cache, "ocr-tray/tiny-test")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache))
    engine, rec = make_engine(model="ocr-tray/tiny-test")
    files = [bad_files.scan_pdf(tmp_path / "scan.pdf", pages=2), bad_files.text_pdf(tmp_path / "letter.pdf"),
             bad_files.png(tmp_path / "page.png")]
    results = rec.run(files, OPTS)
    assert [r.status for r in results.values()] == [JobStatus.DONE] * 3, [r.error for r in results.values()]
    assert engine.status.loads >= 1  # the model really came out of the hub cache
    assert network_guard.attempts == []


# ------------------------------------------------------------------ temp files
def test_no_temp_files_left_after_a_hundred_documents(make_engine, tmp_path, monkeypatch):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    docs = tmp_path / "docs"
    docs.mkdir()
    files = [bad_files.png(docs / f"d{i:03d}.png") if i % 10 == 0 else bad_files.text_pdf(docs / f"d{i:03d}.pdf")
             for i in range(100)]
    engine, rec = make_engine()
    import psutil

    me = psutil.Process()
    open_before = {f.path for f in me.open_files()}
    results = rec.run(files, OPTS, timeout_s=180)
    assert len(results) == 100 and all(r.status == JobStatus.DONE for r in results.values())
    assert sorted(os.listdir(private_tmp)) == [], "the engine left temporary files"
    assert sorted(os.listdir(docs)) == sorted(os.path.basename(f) for f in files)  # nothing written beside them
    leaked = {f.path for f in me.open_files()} - open_before
    assert not [p for p in leaked if p.startswith((str(private_tmp), str(docs)))], leaked


def test_clipboard_images_go_to_a_private_folder_and_are_removed(qapp, tmp_path, monkeypatch):
    from PySide6.QtGui import QColor, QImage

    from desktop.clipboard_image import ClipboardImages
    from engine import paths

    monkeypatch.setenv("OCR_TRAY_RUNTIME_DIR", str(tmp_path / "run"))
    folder = paths.new_temp_dir("clipboard")  # what JobController.temp_dir hands the clipboard
    image = QImage(32, 32, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    path = str(folder / "Clipboard image 1.png")
    for level in (folder, folder.parent, folder.parent.parent, tmp_path / "run"):
        assert stat.S_IMODE(level.stat().st_mode) == 0o700, level
    assert folder.is_relative_to(tmp_path / "run")  # never a fixed name in the shared /tmp
    ClipboardImages.write(image, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ------------------------------------------------------- private settings and history
def test_settings_file_is_private(qapp, tmp_path):
    from PySide6.QtCore import QSettings

    from engine.settings import Settings

    ini = tmp_path / "settings" / "OCR Tray.ini"
    settings = Settings(QSettings(str(ini), QSettings.Format.IniFormat))
    settings.set("model/custom_source", "/private/models/mine")
    assert stat.S_IMODE(ini.stat().st_mode) == 0o600


def test_history_written_by_the_engine_is_private(make_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("OCR_TRAY_DATA_DIR", str(tmp_path / "app-data" / "OCR Tray"))
    store = HistoryStore()  # the default place
    engine, rec = make_engine(history=store)
    letter = bad_files.text_pdf(tmp_path / "letter.pdf")
    assert rec.run([letter], OPTS)[str(letter)].status == JobStatus.DONE
    folder = store.path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert {"history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm"} <= set(files), files
    assert set(files.values()) == {0o600}, files
    assert [d.status for d in store.documents()] == [JobStatus.DONE]
    store.close()


# ------------------------------------------------------------------ logs
class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


def test_no_document_text_in_the_logs(make_engine, tmp_path, monkeypatch, qapp, tiny_model_dir):
    marker = f"ZEBRA-{uuid.uuid4().hex}"
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.captureWarnings(True)
    try:
        letter = bad_files.text_pdf(tmp_path / "letter.pdf", pages=2, marker=marker)
        broken = tmp_path / "broken.pdf"
        broken.write_bytes(letter.read_bytes()[:200])
        store = HistoryStore(tmp_path / "history.sqlite3")
        engine, rec = make_engine(history=store)
        results = rec.run([letter, broken, bad_files.png(tmp_path / "scan.png")], OPTS)
        assert marker in results[str(letter)].text  # the marker went all the way through
        assert marker in store.documents(search=marker)[0].snippet
        # the window: the same documents through the whole app
        from PySide6.QtCore import QSettings

        from desktop.app import OcrTrayApp
        from engine.settings import Settings

        settings = Settings(QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat))
        settings.set("model/preset", "custom")
        settings.set("model/custom_source", str(tiny_model_dir))
        settings.set("ocr/max_tokens", TOKENS)
        app = OcrTrayApp(settings, tray=False)
        try:
            done = []
            app.engine.jobFinished.connect(done.append)
            app.engine.jobFailed.connect(done.append)
            app.submit([str(letter), str(broken)])
            wait_until(lambda: len(done) >= 1 and not app.engine.busy, 90, "the app's jobs")
            from tests.desktop.conftest import result_view

            assert marker in result_view(app).toPlainText()
            app.window.copy_text()
        finally:
            app.shutdown()
        store.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.captureWarnings(False)
    assert handler.lines, "nothing was logged at all: the capture is not working"
    leaked = [line for line in handler.lines if marker in line or "ZEBRA" in line]
    assert not leaked, leaked
