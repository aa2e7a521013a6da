"""The task buttons under the drop zone (object name ``taskPicker``): what the model reads the next documents as.

A segmented control of the current model's tasks (``engine.formats.tasks_for``: "Text · Table ·
Formula · Chart" for PaddleOCR-VL, "Markdown · Text · Chart" for DeepSeek-OCR…), bound to the
setting ``ocr/task``: a click sets it, and a change made elsewhere (the settings panel, a new
model whose tasks differ) shows here. Hidden for a custom model, which reads with its own prompt.
The job controller turns the setting into each job's prompt and answer format.

Buttons: ``task`` + the task id capitalised (``taskText``, ``taskTable``…), in a ``QButtonGroup``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from engine.formats import OutputFormat, Task, tasks_for
from engine.settings import Settings

from .style import secondary

WHAT_COMES_BACK = {
    OutputFormat.PLAIN: "text",
    OutputFormat.MARKDOWN: "text with its headings, lists and tables",
    OutputFormat.OTSL: "a table, with its merged cells",
    OutputFormat.HTML: "a table, with its merged cells",
    OutputFormat.LATEX: "a formula, as LaTeX",
    OutputFormat.GROUNDED_MARKDOWN: "text with its headings and tables, and where each block is on the page",
    OutputFormat.PIPE_TABLE: "a chart's data, as a table",
}
KEYS = ("model/preset", "model/custom_source", "ocr/task")


def button_name(task_id: str) -> str:
    return "task" + task_id[:1].upper() + task_id[1:]


class TaskPicker(QWidget):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taskPicker")
        self.setAccessibleName("Task")
        self._settings = settings
        self._tasks: tuple[Task, ...] = ()
        self.buttons: dict[str, QToolButton] = {}
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.caption = QLabel("Read as")
        secondary(self.caption)
        layout.addWidget(self.caption)
        layout.addSpacing(8)
        self._layout = layout
        self._build()
        settings.changed.connect(self._on_setting)

    def current(self) -> str:
        """The id of the task the next documents are read with ("" for a model without tasks)."""
        chosen = self._settings.get("ocr/task")
        ids = [t.id for t in self._tasks]
        return chosen if chosen in ids else (ids[0] if ids else "")

    def _build(self) -> None:
        tasks = tasks_for(self._settings.get("model/preset"))
        if tasks != self._tasks:
            for button in self.buttons.values():
                self.group.removeButton(button)
                self._layout.removeWidget(button)
                button.hide()  # at once: the deletion waits for the event loop
                button.deleteLater()
            self.buttons.clear()
            self._tasks = tasks
            for i, task in enumerate(tasks):
                self.buttons[task.id] = self._button(task, i == 0)
        self.setHidden(not tasks)
        current = self.current()
        for task_id, button in self.buttons.items():
            button.setChecked(task_id == current)

    def _button(self, task: Task, default: bool) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName(button_name(task.id))
        button.setText(task.label)
        button.setCheckable(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        prompt = f"“{task.prompt}”" if task.prompt else "the page alone, without a prompt"
        default_note = " (the model’s default)" if default else ""
        button.setToolTip(f"Read the next documents as {task.label.lower()}{default_note}: the model is given "
                          f"{prompt} and answers with {WHAT_COMES_BACK[task.output]}")
        button.setAccessibleName(task.label)
        button.clicked.connect(lambda _=False, t=task.id: self._settings.set("ocr/task", t))
        self.group.addButton(button)
        self._layout.addWidget(button, 1)
        return button

    def _on_setting(self, key: str, _value: Any) -> None:
        if key in KEYS:
            self._build()
