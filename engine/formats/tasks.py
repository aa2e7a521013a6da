"""The tasks each preset's model was trained for: the prompt that asks for it and the format of the answer.

The first task of a preset is its default and keeps the prompt the app has always sent.
Where each prompt and format comes from is recorded in
docs/adr/0013-tasks-and-output-formats.md. This module must not import
``engine.models.presets`` (the preset table reads from here).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.formats.output_format import OutputFormat


@dataclass(frozen=True)
class Task:
    id: str  # "text", "table", "formula", "chart" or "markdown"
    label: str
    prompt: str
    output: OutputFormat


CUSTOM_TASK_OUTPUT = OutputFormat.MARKDOWN  # a custom model with its own prompt; Markdown is a superset of plain text

_TEXT, _TABLE, _FORMULA, _CHART, _MARKDOWN = "Text", "Table", "Formula", "Chart", "Markdown"

TASKS: dict[str, tuple[Task, ...]] = {
    "paddleocr-vl": (
        Task("text", _TEXT, "OCR:", OutputFormat.PLAIN),
        Task("table", _TABLE, "Table Recognition:", OutputFormat.OTSL),
        Task("formula", _FORMULA, "Formula Recognition:", OutputFormat.LATEX),
        Task("chart", _CHART, "Chart Recognition:", OutputFormat.PIPE_TABLE),
    ),
    "glm-ocr": (
        Task("text", _TEXT, "Text Recognition:", OutputFormat.MARKDOWN),
        Task("table", _TABLE, "Table Recognition:", OutputFormat.HTML),
        Task("formula", _FORMULA, "Formula Recognition:", OutputFormat.LATEX),
    ),
    "lightonocr-2": (
        Task("markdown", _MARKDOWN, "", OutputFormat.MARKDOWN),
    ),
    "deepseek-ocr": (
        Task("markdown", _MARKDOWN, "<|grounding|>Convert the document to markdown.", OutputFormat.GROUNDED_MARKDOWN),
        Task("text", _TEXT, "Free OCR.", OutputFormat.PLAIN),
        Task("chart", _CHART, "Parse the figure.", OutputFormat.MARKDOWN),
    ),
}


def tasks_for(preset_id: str) -> tuple[Task, ...]:
    """The preset's tasks, default first; empty for a model without known tasks (a custom model)."""
    return TASKS.get(preset_id, ())


def task(preset_id: str, task_id: str) -> Task:
    if preset_id not in TASKS:
        raise KeyError(f"no tasks for model preset {preset_id!r}; presets with tasks: {', '.join(TASKS)}")
    for t in TASKS[preset_id]:
        if t.id == task_id:
            return t
    known = ", ".join(t.id for t in TASKS[preset_id])
    raise KeyError(f"model preset {preset_id!r} has no task {task_id!r}; its tasks: {known}")
