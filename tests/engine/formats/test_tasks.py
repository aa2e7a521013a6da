"""The tasks of each preset: the default keeps today's prompt, ids and labels are the agreed ones."""

import pytest

from engine.formats import OutputFormat
from engine.formats.tasks import CUSTOM_TASK_OUTPUT, TASKS, task, tasks_for
from engine.models.presets import PRESETS

LABELS = {"text": "Text", "table": "Table", "formula": "Formula", "chart": "Chart", "markdown": "Markdown"}


def test_every_preset_has_tasks_and_its_default_keeps_the_prompt_of_the_preset():
    assert set(TASKS) == {p.id for p in PRESETS}
    for preset in PRESETS:
        assert tasks_for(preset.id)[0].prompt == preset.prompt


def test_task_ids_labels_and_outputs():
    for tasks in TASKS.values():
        assert len({t.id for t in tasks}) == len(tasks)
        for t in tasks:
            assert LABELS[t.id] == t.label
            assert isinstance(t.output, OutputFormat)


def test_the_documented_prompts():
    assert {t.id: t.prompt for t in tasks_for("paddleocr-vl")} == {
        "text": "OCR:", "table": "Table Recognition:", "formula": "Formula Recognition:", "chart": "Chart Recognition:"}
    assert {t.id: t.prompt for t in tasks_for("glm-ocr")} == {
        "text": "Text Recognition:", "table": "Table Recognition:", "formula": "Formula Recognition:"}
    assert task("paddleocr-vl", "table").output is OutputFormat.OTSL
    assert task("glm-ocr", "table").output is OutputFormat.HTML
    assert task("deepseek-ocr", "markdown").output is OutputFormat.GROUNDED_MARKDOWN
    assert task("deepseek-ocr", "text").prompt == "Free OCR."


def test_unknown_tasks_and_presets():
    assert tasks_for("custom") == ()
    with pytest.raises(KeyError, match="its tasks: text, table, formula"):
        task("glm-ocr", "chart")
    with pytest.raises(KeyError, match="presets with tasks: paddleocr-vl"):
        task("nope", "text")


def test_a_custom_model_is_rendered_as_markdown():
    assert CUSTOM_TASK_OUTPUT is OutputFormat.MARKDOWN


def test_tasks_module_does_not_import_the_preset_table():
    import subprocess
    import sys

    code = "import sys, engine.formats.tasks; print('engine.models.presets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
