"""A loopback Hugging Face hub for tests: serves model folders the way ``huggingface_hub`` fetches them.

No hub is reachable in CI, so the tests serve one on 127.0.0.1 (a free port) and point
``HF_ENDPOINT`` at it. It answers the requests ``huggingface_hub`` 2.x makes:

- ``GET /api/models/{repo}[/revision/{rev}]`` (``?blobs=true``): id, sha, siblings with sizes and LFS info
- ``GET /api/models/{repo}/tree/{rev}?recursive=…``: the file listing
- ``HEAD /{repo}/resolve/{rev}/{file}``: ``X-Repo-Commit``, ``ETag`` (sha256 for LFS files, else the git
  blob id, like the hub), ``Content-Length``, ``Accept-Ranges``
- ``GET /{repo}/resolve/{rev}/{file}`` with ``Range: bytes=N-`` support (206 + ``Content-Range``)
- unknown repos: 404 with ``X-Error-Code: RepoNotFound``

It never sends Xet headers, so downloads use plain HTTP. Every request is recorded.

Use from any test package (tests/desktop too)::

    from tests.engine.hub_server import hub  # noqa: F401  (the pytest fixture)

    def test_x(hub, tiny_model_dir):
        hub.add_repo("test-org/tiny", tiny_model_dir)
        ...  # engine.models.downloads.download("test-org/tiny") now fetches from the loopback hub

or ``with serve_hub() as server, hub_environment(server.url, cache_dir): ...`` outside pytest.

Knobs on the server: ``drop_once[filename] = fraction`` cuts the first full GET of that file after
that fraction of its bytes (the client must resume with ``Range``); ``gates[filename] = Event()`` makes
GETs of that file send half, set ``server.stalled``, and wait for the event before sending the rest;
``chunk_delay_s`` slows every file body down (so progress visibly moves).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

BODY_CHUNK = 16 * 1024
TEST_DOWNLOAD_CHUNK = 16 * 1024  # the client's read size during tests, so files arrive in several chunks


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # unquoted, without the query
    range: str | None  # the Range header, if any
    status: int


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    sha: str = ""

    def __post_init__(self) -> None:
        if not self.sha:
            digest = hashlib.sha1(self.repo_id.encode())
            for name in sorted(self.files):
                digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
            self.sha = digest.hexdigest()

    @staticmethod
    def is_lfs(name: str) -> bool:
        return name.endswith((".safetensors", ".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".ckpt"))

    def etag(self, name: str) -> str:
        """Like the hub: the sha256 for LFS files, the git blob id for the others."""
        return hashlib.sha256(self.files[name]).hexdigest() if self.is_lfs(name) else self.blob_id(name)

    def blob_id(self, name: str) -> str:
        data = self.files[name]
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's id of the file

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        entry = {"rfilename": name, "size": len(data), "blobId": self.blob_id(name)}
        if self.is_lfs(name):
            entry["lfs"] = {"sha256": self.etag(name), "size": len(data), "pointerSize": 134}
        return entry

    def tree_entry(self, name: str) -> dict:
        data = self.files[name]
        entry = {"type": "file", "path": name, "size": len(data), "oid": self.blob_id(name)}
        if self.is_lfs(name):
            entry["lfs"] = {"oid": self.etag(name), "size": len(data), "pointerSize": 134}
        return entry


@dataclass
class HubServer:
    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    drop_once: dict[str, float] = field(default_factory=dict)
    gates: dict[str, threading.Event] = field(default_factory=dict)
    chunk_delay_s: float = 0.0
    stalled: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    cache_dir: Path | None = None  # set by the ``hub`` fixture
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_repo(self, repo_id: str, source: Path | str | dict[str, bytes]) -> Repo:
        """Serve a folder (every file in it, recursively) or a {name: bytes} dict as ``repo_id``."""
        if isinstance(source, dict):
            files = dict(source)
        else:
            root = Path(source)
            files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        repo = Repo(repo_id, files)
        self.repos[repo_id] = repo
        return repo

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def file_requests(self, name: str | None = None, method: str | None = "GET") -> list[Request]:
        """Requests for files (``/resolve/``), optionally of one file name and one method."""
        with self._lock:
            found = [r for r in self.requests if "/resolve/" in r.path]
        if name is not None:
            found = [r for r in found if r.path.endswith("/" + name)]
        if method is not None:
            found = [r for r in found if r.method == method]
        return found

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()


def _handler(hub: HubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a dropped body is a closed socket

        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            self._route(head=True)

        def do_GET(self) -> None:
            self._route(head=False)

        # ---------------------------------------------------------------- routing
        def _route(self, head: bool) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = parse_qs(parts.query)
            self._status = 0
            try:
                bits = path.strip("/").split("/")
                if bits[:2] == ["api", "models"] and len(bits) >= 4:
                    repo = hub.repos.get(f"{bits[2]}/{bits[3]}")
                    if repo is None:
                        return self._not_found("RepoNotFound", "Repository not found")
                    rest = bits[4:]
                    if not rest or rest[0] == "revision":
                        if rest and not self._revision_ok(repo, rest[1] if len(rest) > 1 else "main"):
                            return self._not_found("RevisionNotFound", "Invalid rev id")
                        return self._json(self._info(repo, blobs="blobs" in query))
                    if rest[0] == "tree" and len(rest) >= 2:
                        if not self._revision_ok(repo, rest[1]):
                            return self._not_found("RevisionNotFound", "Invalid rev id")
                        return self._json([repo.tree_entry(n) for n in sorted(repo.files)])
                elif len(bits) >= 5 and bits[2] == "resolve":
                    repo = hub.repos.get(f"{bits[0]}/{bits[1]}")
                    if repo is None:
                        return self._not_found("RepoNotFound", "Repository not found")
                    if not self._revision_ok(repo, bits[3]):
                        return self._not_found("RevisionNotFound", "Invalid rev id")
                    name = "/".join(bits[4:])
                    if name not in repo.files:
                        return self._not_found("EntryNotFound", "Entry not found", repo)
                    return self._file(repo, name, head)
                return self._not_found(None, "Not found")
            finally:
                hub.record(Request(self.command, path, self.headers.get("Range"), self._status))

        @staticmethod
        def _revision_ok(repo: Repo, rev: str) -> bool:
            return rev in ("main", repo.sha)

        @staticmethod
        def _info(repo: Repo, blobs: bool) -> dict:
            siblings = [repo.sibling(n) if blobs else {"rfilename": n} for n in sorted(repo.files)]
            return {"id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.sha, "private": False,
                    "tags": [], "siblings": siblings}

        # ---------------------------------------------------------------- answers
        def _not_found(self, code: str | None, message: str, repo: Repo | None = None) -> None:
            body = json.dumps({"error": message}).encode()
            self._status = 404
            self.send_response(404)
            if code:
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
            if repo is not None:
                self.send_header("X-Repo-Commit", repo.sha)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, data) -> None:
            body = json.dumps(data).encode()
            self._status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _file(self, repo: Repo, name: str, head: bool) -> None:
            data = repo.files[name]
            start = 0
            wanted = self.headers.get("Range")
            if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
                start = int(wanted[len("bytes="):-1])
            status = 206 if start else 200
            self._status = status
            self.send_response(status)
            self.send_header("X-Repo-Commit", repo.sha)
            self.send_header("ETag", f'"{repo.etag(name)}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if head:
                return
            cut = None
            if not start and name in hub.drop_once:
                cut = max(1, int(len(data) * hub.drop_once.pop(name)))
            gate = hub.gates.get(name)
            half = len(data) // 2
            pos = start
            while pos < len(data):
                if cut is not None and pos >= cut:
                    self._drop()
                    return
                if gate is not None and pos >= half and not gate.is_set():
                    self.wfile.flush()
                    hub.stalled.set()
                    gate.wait(30)
                end = min(len(data), pos + BODY_CHUNK)
                if cut is not None:
                    end = min(end, cut)
                if gate is not None and pos < half:
                    end = min(end, half)
                try:
                    self.wfile.write(data[pos:end])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                pos = end
                if hub.chunk_delay_s:
                    threading.Event().wait(hub.chunk_delay_s)
            if cut is not None and pos >= cut:
                self._drop()

        def _drop(self) -> None:
            """Close the connection in the middle of the body."""
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    return Handler


@contextlib.contextmanager
def serve_hub(hub: HubServer | None = None):
    """Run a ``HubServer`` on 127.0.0.1 with a free port for the duration of the block."""
    hub = hub or HubServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test hub", daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        for gate in hub.gates.values():
            gate.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def hub_environment(url: str, cache_dir: Path | str, offline: bool = False):
    """Point ``huggingface_hub`` at ``url`` with an empty cache in ``cache_dir``; restore everything after.

    ``huggingface_hub`` reads ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and its chunk size once, at import
    (and tests/conftest.py sets ``HF_HUB_OFFLINE=1``), so the library's constants are set here as well
    as the environment.
    """
    from huggingface_hub import constants

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    env = {"HF_ENDPOINT": url, "HF_HUB_OFFLINE": "1" if offline else "0", "HF_HUB_CACHE": str(cache_dir)}
    saved_env = {k: os.environ.get(k) for k in env}
    saved = {k: getattr(constants, k) for k in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "DOWNLOAD_CHUNK_SIZE")}
    os.environ.update(env)
    constants.HF_HUB_OFFLINE = offline
    constants.HF_HUB_CACHE = str(cache_dir)
    constants.DOWNLOAD_CHUNK_SIZE = TEST_DOWNLOAD_CHUNK
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(constants, k, v)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def offline():
    """``HF_HUB_OFFLINE=1`` for the block, in the environment and in ``huggingface_hub``."""
    from huggingface_hub import constants

    saved, saved_env = constants.HF_HUB_OFFLINE, os.environ.get("HF_HUB_OFFLINE")
    constants.HF_HUB_OFFLINE = True
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


@pytest.fixture
def hub(tmp_path):
    """A running loopback hub (``HubServer``) with ``HF_ENDPOINT`` and an empty cache pointed at it."""
    with serve_hub() as server, hub_environment(server.url, tmp_path / "hf-cache"):
        server.cache_dir = tmp_path / "hf-cache"
        yield server
