"""``QuietServer``: uvicorn's ``Server`` without its tenth-of-a-second tick, so an idle API wakes the app for nothing.

uvicorn's ``main_loop`` sleeps 0.1 s at a time to look at ``should_exit`` (and, once a second, to refresh the
``Date`` header and call ``callback_notify``). For a server in its own process that is harmless; inside a
menu-bar app that sits idle for hours it was the app's only steady activity: ten wake-ups a second on the
server's thread (figure 52 counted 10.1 a second, against none for a bare Qt window), which on a laptop keeps
a core from its deepest sleep. The local API sends no ``Date`` header (``date_header=False``) and has no
notify callback nor request limit, so the tick had nothing left to do but poll for a stop. Here the loop waits
on an event instead, and ``request_exit`` (any thread) sets it through the loop's thread-safe call.
Imported by the server thread with uvicorn, never at the app's start (ADR 0025).
"""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn


class QuietServer(uvicorn.Server):
    """uvicorn's server, waiting for ``request_exit`` instead of polling ``should_exit``."""

    def __init__(self, config: uvicorn.Config) -> None:
        if config.date_header or config.callback_notify is not None or config.limit_max_requests is not None:
            raise ValueError("QuietServer has no tick: no Date header, notify callback or request limit")
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.ticks = 0  # times the loop looked at should_exit (tests: an idle server looks once)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()  # set before the event, which request_exit reads first
        self._wake = asyncio.Event()
        await self.on_tick(0)  # the default headers, once (they never change: no Date header)
        while not self.should_exit:
            self.ticks += 1
            await self._wake.wait()
            self._wake.clear()

    def request_exit(self, force: bool = False) -> None:
        """Stop serving (open requests are given ``timeout_graceful_shutdown``; ``force``: not even that). Any thread.
        Set before the loop waits, ``should_exit`` is seen when it starts to; set after, the event wakes it."""
        self.should_exit = True
        if force:
            self.force_exit = True
        wake, loop = self._wake, self._loop
        if wake is not None and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed: nothing left to wake
                loop.call_soon_threadsafe(wake.set)
