"""The task buttons under the drop zone: the current model's tasks, bound to the setting "ocr/task"."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from desktop.views.main_window import MainWindow
from desktop.views.task_picker import TaskPicker
from engine.settings import DEFAULT_TASK, Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


def _shown(picker: TaskPicker) -> list[tuple[str, str, bool]]:
    return [(b.objectName(), b.text(), b.isChecked()) for b in picker.buttons.values()]


def test_the_buttons_are_the_models_tasks_and_a_click_sets_the_task(qtbot, settings):
    picker = TaskPicker(settings)
    qtbot.addWidget(picker)
    assert settings.get("model/preset") == "paddleocr-vl" and settings.get("ocr/task") == DEFAULT_TASK
    assert _shown(picker) == [("taskText", "Text", True), ("taskTable", "Table", False),
                              ("taskFormula", "Formula", False), ("taskChart", "Chart", False)]
    assert "“Table Recognition:”" in picker.buttons["table"].toolTip()
    picker.buttons["table"].click()
    assert settings.get("ocr/task") == "table" and picker.current() == "table"
    assert [b.isChecked() for b in picker.buttons.values()] == [False, True, False, False]


def test_the_buttons_follow_the_model_and_the_setting(qtbot, settings):
    picker = TaskPicker(settings)
    qtbot.addWidget(picker)
    settings.set("ocr/task", "formula")  # a change made elsewhere (the settings panel)
    assert picker.buttons["formula"].isChecked()
    settings.set("model/preset", "deepseek-ocr")
    assert _shown(picker) == [("taskMarkdown", "Markdown", True), ("taskText", "Text", False),
                              ("taskChart", "Chart", False)]  # no formula task there: its default
    settings.set("model/preset", "custom")  # a custom model reads with its own prompt
    assert picker.isHidden() and picker.buttons == {}
    settings.set("model/preset", "glm-ocr")
    assert not picker.isHidden() and [b.text() for b in picker.buttons.values()] == ["Text", "Table", "Formula"]


def test_the_window_shows_the_picker_under_the_drop_zone_and_the_view_toggles(qtbot, settings):
    window = MainWindow(settings)
    qtbot.addWidget(window)
    picker = window.findChild(TaskPicker, "taskPicker")
    assert picker is window.task_picker and not picker.isHidden()
    layout = window.drop_zone.parentWidget().layout()
    assert layout.indexOf(picker) == layout.indexOf(window.drop_zone) + 1
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    view_actions = [a.objectName() for a in menus["View"].actions()]
    assert {"showRawText", "showBoxes"} <= set(view_actions)
    raw = window.show_raw_action
    assert raw.isCheckable() and raw.shortcut().toString() == "Ctrl+Shift+R" and raw.text() == "Show Raw Text"
    assert window.show_boxes_action.isCheckable() and window.show_boxes_action.text() == "Show Boxes"
    raw.setChecked(True)
    assert window.result_view.show_raw
    window.show_boxes_action.setChecked(True)
    assert window.result_view.show_boxes
