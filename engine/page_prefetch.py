"""Pages prepared one step ahead, on a helper thread that touches no MLX (ADR 0018).

``PagePrefetch`` opens one document and turns its pages into ``PageInput`` objects (read the
text layer, rasterise, resize) on its own thread, while the engine thread loads the model or
generates the page before. The document lives on that thread from open to close: PyMuPDF
documents are not thread-safe, so one document has one thread. MLX is never called here; the
engine thread alone hands the prepared pictures to the model.

Memory stays bounded: a page is prepared only on a credit, and the reader grants the next credit
once the model has given the first token of the page it took (``prepare_next``), or when it asks
for the next page, so at most two prepared pages exist at a time (the one being read and the next).
Not sooner: while the model's processor turns a page into inputs (Python work on the reader's
thread), or while a page read from its text layer is handed on, a helper preparing the next page
would be a third Python thread beside the window's, and the three took turns at Python's lock until
the window stalled (figure 4); and during the prefill every core is the model's, so the next page
would be paid for in this page's time to its first text (ADR 0021, update). The first credit is
there from the start: the first page is ready when the model is.

Errors keep their meaning: opening problems (``DocumentError``, ``PasswordRequired``) and a bad
single page are raised to the reader from ``open``/``next_page``; a bad page of a longer document
arrives as a page with its one-line ``error`` (one bad page costs one page), as before.

Waits are bounded: the reader waits in short slices, calling ``poll`` between them (the engine
pumps its events there, so a cancel or shutdown breaks in), and gives up on a page that takes
longer than ``PAGE_TIMEOUT_S`` to prepare.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from .documents import DocumentError, PageInput, display_name, open_document

log = logging.getLogger(__name__)

POLL_S = 0.02  # how long the reader waits before it calls ``poll`` again
PAGE_TIMEOUT_S = 300.0  # a page that takes longer than this to prepare fails its document
CLOSE_WAIT_S = 2.0  # how long ``close`` waits for the helper to let go of the document
# MuPDF's context is shared by every document in the process: only one helper prepares at a time
# (a page being prepared for a paused document and one for the priority job in between).
_PREPARE = threading.Lock()

_OPENED, _PAGE, _END, _FAILED = "opened", "page", "end", "failed"


class PagePrefetch:
    """One document's pages, prepared ahead on a helper thread.

    ``open(poll)`` → the page count (or the document's error); then ``next_page(poll)`` for each
    page (None at the end); ``close()`` always, from the reader's thread.
    """

    def __init__(
        self,
        path: str,
        *,
        max_side: int,
        max_pixels: int,
        dpi: int,
        text_layer: Any,
        password: str | None,
        pages: Collection[int] | None = None,
    ) -> None:
        self.path = path
        self._open_args = dict(max_side=max_side, max_pixels=max_pixels, dpi=dpi, text_layer=text_layer,
                               password=password)
        self._only = pages
        self.key = self.key_for(path, max_side=max_side, max_pixels=max_pixels, dpi=dpi, text_layer=text_layer,
                                password=password, pages=pages)
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._credits = threading.Semaphore(1)  # the first page may be prepared at once
        self._stop = threading.Event()
        self._count: int | None = None
        self._ended = False
        self._owed = False  # a credit held back until the reader asks for the next page
        self._thread = threading.Thread(target=self._run, name="ocr-page-prefetch", daemon=True)
        self._thread.start()

    @staticmethod
    def key_for(path: str, *, max_side: int, max_pixels: int, dpi: int, text_layer: Any, password: str | None,
                pages: Collection[int] | None = None) -> tuple:
        """What pages are prepared for: a reader whose model (and so its limits) changed meanwhile asks anew."""
        return (path, max_side, max_pixels, dpi, str(text_layer), password, None if pages is None else frozenset(pages))

    # ------------------------------------------------------------ the reader's side
    def open(self, poll: Callable[[], None] = lambda: None) -> int:
        """The document's page count once it is open; raises what opening it raised."""
        if self._count is None:
            kind, value = self._take(poll)
            if kind != _OPENED:
                raise AssertionError(f"unexpected {kind} before the document opened")
            self._count = int(value)
        return self._count

    def next_page(self, poll: Callable[[], None] = lambda: None) -> PageInput | None:
        """The next page (None after the last one). The page after it is prepared on ``prepare_next``, or
        when the caller asks for it. The caller drops this page before asking for the next."""
        if self._ended:
            return None
        self.open(poll)
        self.prepare_next()  # the credit the last page still owes (text layer, failed, or never reached the model)
        kind, value = self._take(poll)
        if kind == _END:
            self._ended = True
            return None
        self._owed = True  # not prepared at once: on ``prepare_next``, or when asked for (module docstring)
        return value

    def prepare_next(self) -> None:
        """The reader's word that the page it holds is past the model's processor and prefill (its first token is
        out): the next one may be prepared now, while the model writes this one (from the reader's thread, as
        ``next_page``)."""
        if self._owed:
            self._owed = False
            self._credits.release()

    def close(self) -> None:
        """Stop preparing; the helper closes the document on its own thread. Waits at most ``CLOSE_WAIT_S``."""
        self._stop.set()
        self._credits.release()  # a helper waiting for a credit wakes and sees the stop
        self._thread.join(CLOSE_WAIT_S)
        if self._thread.is_alive():  # a page still being rasterised: it ends on its own and is dropped
            log.warning("%s: a page was still being prepared when the document closed", display_name(self.path))
        while True:  # prepared pages nobody will read go now, not with the next collection
            try:
                self._items.get_nowait()
            except queue.Empty:
                break

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _take(self, poll: Callable[[], None]) -> tuple[str, Any]:
        give_up = time.monotonic() + PAGE_TIMEOUT_S
        while True:
            try:
                kind, value = self._items.get(timeout=POLL_S)
            except queue.Empty:
                poll()  # the engine's events (cancel, shutdown) are seen here, and may raise
                if time.monotonic() > give_up:
                    raise DocumentError(self.path, f"a page took longer than {PAGE_TIMEOUT_S:.0f} s to prepare") \
                        from None
                continue
            if kind == _FAILED:
                self._ended = True
                raise value
            return kind, value

    # ------------------------------------------------------------ the helper's side
    def _run(self) -> None:
        doc = pages = None
        try:
            with _PREPARE:
                doc = open_document(self.path, **self._open_args)
            self._items.put((_OPENED, doc.page_count))
            pages = doc.pages(self._only)
            while True:
                self._credits.acquire()
                if self._stop.is_set():
                    return
                with _PREPARE:
                    page = next(pages, None)
                if page is None:
                    self._items.put((_END, None))
                    return
                self._items.put((_PAGE, page))
                del page
        except BaseException as e:  # the reader raises it where it would have been raised before
            self._items.put((_FAILED, e))
        finally:
            with _PREPARE:
                stop = getattr(pages, "close", None)  # the page generator's own clean-up, before the document's
                if stop is not None:
                    stop()
                if doc is not None:
                    doc.close()
