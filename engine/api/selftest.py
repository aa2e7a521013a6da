"""The self-test's API part: start the local API on a free port and OCR one page through it over HTTP.

It proves the installed (or frozen) app carries what the server needs (FastAPI, Starlette, uvicorn,
pydantic, python-multipart, the HTTP client) and that a request crosses the bridge into the engine and
back. Its own temporary folder, its own discovery file there, never the user's.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

TIMEOUT_S = 300.0


def run(out: IO[str]) -> bool:
    """Prints one line (``api self-test ok: …`` or ``api self-test FAILED: …``); True when it passed."""
    import sys

    from PySide6.QtCore import QCoreApplication, QEventLoop

    from engine.controller import JobController
    from engine.engine_thread import Engine
    from engine.jobs import PageSource
    from engine.lifecycle import Mode
    from engine.models.presets import ModelSpec
    from engine.testing import samples, tiny_model

    from . import discovery
    from .client import ApiClient
    from .server import ApiServer

    t0 = time.perf_counter()
    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    box: dict = {}
    with tempfile.TemporaryDirectory(prefix="ocr-tray-selftest-api-") as tmp:
        os.chmod(tmp, 0o700)
        model = tiny_model.build(Path(tmp) / "model", "qwen2_vl", "tiny")
        png = samples.write_png(Path(tmp) / "page.png")
        controller = JobController(Engine(ModelSpec.resolve(str(model)), Mode.AUTO_RELEASE))
        server = ApiServer(controller, port=0, discovery_path=Path(tmp) / discovery.FILE_NAME)
        try:
            server.start()

            def client() -> None:
                try:
                    if not server.wait_listening(60):
                        raise TimeoutError("the server did not listen")
                    info = discovery.read(server.discovery_path)
                    if info is None:
                        raise RuntimeError("no discovery file")
                    with ApiClient(info, user_agent="ocr-tray-self-test") as c:
                        box["status"] = c.status()
                        box["answer"] = c.ocr(str(png), {"max_tokens": 8})
                except Exception as e:  # reported in the line below
                    box["error"] = f"{type(e).__name__}: {e}"

            thread = threading.Thread(target=client, daemon=True)
            thread.start()
            deadline = time.monotonic() + TIMEOUT_S
            while thread.is_alive() and time.monotonic() < deadline:  # this thread serves the bridge meanwhile
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
                thread.join(0.005)
            if thread.is_alive():
                box["error"] = f"no answer in {TIMEOUT_S:.0f} s"
        except OSError as e:
            box["error"] = f"the server could not start ({e})"
        finally:
            server.stop()
            controller.shutdown()
    answer = box.get("answer") or {}
    pages = answer.get("pages") or []
    ok = "error" not in box and answer.get("status") == "done" and [p["source"] for p in pages] == [PageSource.MODEL]
    detail = (f"1 page by the model over http://127.0.0.1:{server.port} in {time.perf_counter() - t0:.1f} s"
              if ok else box.get("error") or f"unexpected answer {str(answer)[:200]}")
    print(f"api self-test {'ok' if ok else 'FAILED'}: {detail}", file=out, flush=True)
    return ok
