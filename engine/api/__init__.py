"""The local API: one HTTP server inside the app, on the engine the app already has.

One module per concern (ADR 0014):

- ``discovery``  the discovery file (port, token, pid, version), 0600 in the private runtime folder
- ``auth``       the bearer token (constant-time compare), the loopback Host allow-list, no CORS ever
- ``errors``     ``ApiError`` and the one error body shape ``{"error": {"kind", "message"}}``
- ``bridge``     ``ApiBridge``: requests cross into the GUI thread (queued signal) and call the
                 ``JobController``; events go back to the server's asyncio loop through bounded
                 per-request streams (``loop.call_soon_threadsafe``): the GUI never waits on a client
- ``uploads``    request bodies read in chunks into the private temp folder, with the size limit
- ``jobrun``     one job from the loop's side: submit, read its events, watch for the client going away
- ``schemas``    the request and response shapes (OpenAPI) and the options → ``OcrOptions`` mapping
- ``routes``     the FastAPI app: ``/v1/ocr``, ``/v1/status``, ``/v1/load``, ``/v1/unload``, ``/v1/models``
- ``openai_compat`` ``/v1/chat/completions`` for images, streamed with server-sent events
- ``server``     ``ApiServer``: uvicorn in its own thread, port choice, discovery file, start and stop
- ``client``     the small HTTP client the command line uses (httpx)
- ``selftest``   the self-test's API part: a free port, one page through it over HTTP

QtCore only on the GUI side, and nothing here imports MLX: the server thread never touches MLX,
the engine or a widget. FastAPI, uvicorn and pydantic are imported in the server thread, so the
app's start does not wait for them.
"""
