"""``/v1/chat/completions`` through the ``openai`` client package (raw HTTP when it is not installed)."""

from __future__ import annotations

import base64
import importlib.util
import json

import pytest

from engine.jobs import ErrorKind, JobStatus
from engine.testing import samples

pytestmark = pytest.mark.slow

HAS_OPENAI = importlib.util.find_spec("openai") is not None


def data_uri(png) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()


def messages(url: str, text: str | None = None) -> list:
    parts = [{"type": "image_url", "image_url": {"url": url}}]
    if text:
        parts.insert(0, {"type": "text", "text": text})
    return [{"role": "system", "content": "ignored"}, {"role": "user", "content": parts}]


@pytest.mark.skipif(not HAS_OPENAI, reason="the openai package is not installed (dev extra)")
def test_openai_client_non_streamed_and_streamed(make_api, tmp_path):
    import openai

    api = make_api()
    model = api.server.bridge.spec.source
    png = samples.write_png(tmp_path / "a.png")

    def go():
        client = openai.OpenAI(base_url=f"{api.url}/v1", api_key=api.server.token, max_retries=0, timeout=60)
        whole = client.chat.completions.create(model=model, messages=messages(data_uri(png)), max_tokens=5)
        chunks = list(client.chat.completions.create(model=model, messages=messages(f"file://{png}", "Read it."),
                                                     max_tokens=5, stream=True))
        try:
            client.chat.completions.create(model="gpt-4o", messages=messages(data_uri(png)))
        except openai.NotFoundError as e:
            missing = e
        return whole, chunks, missing

    whole, chunks, missing = api.call(go)
    assert whole.object == "chat.completion" and whole.choices[0].finish_reason == "stop"
    assert whole.choices[0].message.role == "assistant"
    assert whole.usage.completion_tokens <= 5 and whole.usage.prompt_tokens > 0
    ended = [p for n, p in api.events if n == "jobEnded"]
    assert whole.choices[0].message.content == ended[0].text  # the text the engine read
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == ended[1].text and chunks[-1].choices[0].finish_reason == "stop"
    assert ended[1].options.prompt == "Read it."  # the message's text is the prompt
    assert missing.status_code == 404 and missing.body["kind"] == ErrorKind.NOT_FOUND
    assert [p.status for p in ended] == [JobStatus.DONE, JobStatus.DONE]


def test_raw_http_chat_completion_and_sse(make_api, tmp_path):
    api = make_api()
    model = api.server.bridge.spec.source
    png = samples.write_png(tmp_path / "a.png")
    r = api.request("POST", "/v1/chat/completions", json={"model": model, "messages": messages(data_uri(png)),
                                                          "max_tokens": 4})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == \
        [p for n, p in api.events if n == "jobEnded"][0].text

    def sse():
        with api.client() as c, c.stream("POST", "/v1/chat/completions", json={
                "model": model, "messages": messages(data_uri(png)), "stream": True, "max_tokens": 4}) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            return [line for line in resp.iter_lines() if line.startswith("data: ")]

    lines = api.call(sse)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

    bad = [
        (api.request("POST", "/v1/chat/completions", json={"model": "other", "messages": messages(data_uri(png))}),
         404),
        (api.request("POST", "/v1/chat/completions", json={"model": model, "messages": [
            {"role": "user", "content": "no image"}]}), 400),
        (api.request("POST", "/v1/chat/completions", json={"model": model, "messages": messages(
            "data:image/png;base64,AAAA")}), 422),
        (api.request("POST", "/v1/chat/completions", json={"model": model, "messages": messages(
            "https://example.com/a.png")}), 400),
    ]
    for r, status in bad:
        assert r.status_code == status, r.text
        assert set(r.json()["error"]) == {"kind", "message"}
