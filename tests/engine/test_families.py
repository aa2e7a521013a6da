"""Compatibility: the paddleocr_vl and glm_ocr tiny families load and run through the engine thread."""

import pytest

from engine.jobs import JobStatus, OcrOptions, PageSource
from engine.lifecycle import State
from engine.testing import samples, tiny_model

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("family", ["paddleocr_vl", "glm_ocr"])
def test_family_runs_through_engine(qtbot, engines, tmp_path, family):
    model = tiny_model.build(tmp_path / family, family, "tiny")
    engine = engines(model)
    done, deltas = [], []
    engine.jobFinished.connect(done.append)
    engine.jobFailed.connect(done.append)
    engine.textDelta.connect(deltas.append)
    pdf = samples.write_pdf(tmp_path / "two.pdf", pages=2, text_pages=set())
    engine.submit([pdf], OcrOptions(max_tokens=4))
    qtbot.waitUntil(lambda: bool(done), timeout=120_000)
    [result] = done
    assert result.status == JobStatus.DONE, result.error
    assert [p.source for p in result.pages] == [PageSource.MODEL, PageSource.MODEL]
    assert all(1 <= p.generation_tokens <= 4 and p.prompt_tokens > 0 for p in result.pages)
    engine.unload_now()
    qtbot.waitUntil(lambda: engine.status.state is State.UNLOADED, timeout=60_000)
