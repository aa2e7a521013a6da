"""The settings panel: built from the settings table, writes at once, survives a restart."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from desktop.views import settings_panel as panel_module
from desktop.views.settings_panel import choice_name, object_name, tab_name
from engine.jobs import TextLayer
from engine.models.presets import CUSTOM_ID, PRESETS
from engine.settings import SETTINGS, Setting, Settings
from tests.engine.hub_server import hub  # noqa: F401  (the loopback hub fixture)

from .conftest import control, open_settings, row_of


def test_every_setting_has_a_control_built_from_the_table(make_panel):
    panel = make_panel()
    assert panel.windowTitle() == "Settings"  # the system adds " — OCR Tray"
    tabs = [panel.tabs.tabText(i) for i in range(panel.tabs.count())]
    assert tabs == ["General", "Model", "OCR", "History", "Capture", "Local API"]
    assert panel.minimumSize() == panel.maximumSize(), "the window has one fixed size"
    for setting in SETTINGS:
        widget = control(panel, setting.key)
        page = panel.tabs.widget(tabs.index(tab_name(setting.key)))
        if setting.shortcut:  # a shortcut recorder, holding Qt's portable text
            assert isinstance(widget, QKeySequenceEdit) and panel_module.portable(widget) == setting.default
        elif setting.type is bool:
            assert isinstance(widget, QCheckBox) and widget.text() == setting.label
            assert widget.isChecked() == setting.default
        elif setting.type is int:
            assert isinstance(widget, QSpinBox)
            assert (widget.minimum(), widget.maximum()) == (setting.minimum, setting.maximum), setting.key
            assert widget.value() == setting.default and widget.suffix() == setting.suffix
        elif setting.choices and len(setting.choices) <= panel_module.RADIO_LIMIT:
            buttons = widget.buttons()  # the QButtonGroup
            assert [b.objectName() for b in buttons] == [choice_name(c) for c in setting.choices]
            assert [b.property("choice") for b in buttons if b.isChecked()] == [setting.default]
            widget = buttons[0]
        elif setting.choices:
            assert isinstance(widget, QComboBox)
            assert [widget.itemData(i) for i in range(widget.count()) if widget.itemData(i)] == list(setting.choices)
            assert widget.currentData() == setting.default
        else:
            assert isinstance(widget, QLineEdit) and widget.text() == setting.default
        assert page.isAncestorOf(widget), f"{setting.key} is not on the {tab_name(setting.key)} tab"
        if setting.help and not setting.choices:
            assert setting.help.lower()[:20] in widget.toolTip().lower(), setting.key
        if not (setting.choices and len(setting.choices) <= panel_module.RADIO_LIMIT):
            assert widget.accessibleName() == setting.label
        if setting.type is not bool and not setting.form_label and setting.inline_with is None:
            label = panel.findChild(QLabel, f"{object_name(setting.key)}Label")
            assert label is not None and label.text().rstrip(":") == setting.label


def test_required_object_names_and_the_naming_rule(make_panel):
    panel = make_panel()
    assert object_name("ocr/max_tokens") == "ocr_max_tokens"
    assert object_name("history/keep") == "history_keep"
    for name, kind in [("modeKeepResident", QRadioButton), ("modeAutoRelease", QRadioButton),
                       ("modeIdleTimeout", QRadioButton), ("idleTimeoutMinutes", QSpinBox),
                       ("modelPreset", QComboBox), ("chooseModelFolder", QPushButton),
                       ("downloadModel", QPushButton), ("deleteModel", QPushButton),
                       ("cancelDownload", QPushButton), ("downloadProgress", QWidget), ("modelList", QWidget),
                       ("ocr_max_tokens", QSpinBox), ("ocr_pdf_dpi", QSpinBox), ("ocr_max_image_side", QSpinBox),
                       ("ocr_use_text_layer", QCheckBox), ("ui_auto_copy", QCheckBox), ("ui_notify", QCheckBox),
                       ("memory_check_fit", QCheckBox), ("history_keep", QSpinBox),
                       ("model_custom_source", QLineEdit), ("model_custom_prompt", QLineEdit)]:
        assert isinstance(panel.findChild(kind, name), kind), name
    # the explained zero values
    assert control(panel, "ocr/max_image_side").specialValueText() == "Model's limit"
    assert control(panel, "history/keep").specialValueText() == "All"


def test_a_row_added_to_the_table_appears_in_the_panel(make_panel, ini):
    extra = (Setting("ocr/extra_passes", int, 2, "Extra passes", 0, 9, help="read each page again", suffix=" x"),
             Setting("network/proxy", str, "", "Proxy"))
    panel = make_panel(Settings(QSettings(ini, QSettings.Format.IniFormat), table=SETTINGS + extra))
    spin = control(panel, "ocr/extra_passes")
    assert isinstance(spin, QSpinBox) and (spin.minimum(), spin.maximum(), spin.value()) == (0, 9, 2)
    assert "read each page again" in spin.toolTip().lower()
    ocr_page = panel.tabs.widget(["General", "Model", "OCR", "History"].index("OCR"))
    assert ocr_page.isAncestorOf(spin)
    assert panel.tabs.tabText(panel.tabs.count() - 1) == "Network"  # an unknown prefix gets a tab of its own
    spin.setValue(7)
    assert panel.settings.get("ocr/extra_passes") == 7


# ------------------------------------------------------------------ memory mode
def test_memory_mode_radios_write_at_once_and_emit_changed(make_panel, qtbot):
    panel = make_panel()
    settings = panel.settings
    idle = panel.findChild(QSpinBox, "idleTimeoutMinutes")
    assert settings.get("memory/mode") == "idle-timeout" and idle.isEnabled()

    with qtbot.waitSignal(settings.changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.findChild(QRadioButton, "modeAutoRelease"), Qt.MouseButton.LeftButton)
    assert blocker.args == ["memory/mode", "auto-release"]
    assert settings.store.value("memory/mode") == "auto-release"
    assert not idle.isEnabled()

    with qtbot.waitSignal(settings.changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.findChild(QRadioButton, "modeKeepResident"), Qt.MouseButton.LeftButton)
    assert blocker.args == ["memory/mode", "keep-resident"]
    assert not idle.isEnabled()

    with qtbot.waitSignal(settings.changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.findChild(QRadioButton, "modeIdleTimeout"), Qt.MouseButton.LeftButton)
    assert blocker.args == ["memory/mode", "idle-timeout"]
    assert idle.isEnabled()
    assert settings.mode()[0].value == "idle-timeout"


def test_idle_minutes_bounds_and_enabled_only_for_idle_timeout(make_panel, qtbot):
    panel = make_panel()
    idle = panel.findChild(QSpinBox, "idleTimeoutMinutes")
    assert (idle.minimum(), idle.maximum(), idle.value()) == (1, 240, 5)
    seen = []
    panel.settings.changed.connect(lambda key, value: seen.append((key, value)))
    idle.setValue(500)
    assert idle.value() == 240 and panel.settings.get("memory/idle_minutes") == 240
    idle.setValue(0)
    assert idle.value() == 1 and panel.settings.get("memory/idle_minutes") == 1
    assert seen == [("memory/idle_minutes", 240), ("memory/idle_minutes", 1)]
    assert panel.settings.mode()[1] == 60.0

    panel.settings.set("memory/mode", "keep-resident")  # changed elsewhere (e.g. the CLI or another window)
    assert not idle.isEnabled()
    assert panel.findChild(QRadioButton, "modeKeepResident").isChecked()


def test_typed_numbers_write_when_editing_ends_not_at_every_digit(make_panel, qtbot):
    panel = make_panel()
    tokens = control(panel, "ocr/max_tokens")
    seen = []
    panel.settings.changed.connect(lambda key, value: seen.append((key, value)))
    tokens.setFocus()
    tokens.selectAll()
    qtbot.keyClicks(tokens, "2048")
    assert seen == []  # no writes of 2, 20, 204
    qtbot.keyClick(tokens, Qt.Key.Key_Return)
    assert seen == [("ocr/max_tokens", 2048)]


# ------------------------------------------------------------------ model choice
def test_model_preset_combo_shows_labels_and_custom_enables_its_fields(make_panel, qtbot):
    panel = make_panel()
    combo = panel.findChild(QComboBox, "modelPreset")
    labels = [combo.itemText(i) for i in range(combo.count()) if combo.itemData(i)]
    assert labels == [p.label for p in PRESETS] + ["Custom model"]
    source, prompt = control(panel, "model/custom_source"), control(panel, "model/custom_prompt")
    choose = panel.findChild(QPushButton, "chooseModelFolder")
    assert not source.isEnabled() and not prompt.isEnabled() and not choose.isEnabled()

    combo.setFocus()
    with qtbot.waitSignal(panel.settings.changed, timeout=1000) as blocker:
        qtbot.keyClick(combo, Qt.Key.Key_End)  # keyboard choice of the last item, as a person would
    assert blocker.args == ["model/preset", CUSTOM_ID]
    assert source.isEnabled() and prompt.isEnabled() and choose.isEnabled()

    source.setFocus()
    qtbot.keyClicks(source, "my-org/my-ocr")
    qtbot.keyClick(source, Qt.Key.Key_Return)
    assert panel.settings.get("model/custom_source") == "my-org/my-ocr"
    assert panel.settings.model_spec().source == "my-org/my-ocr"

    with qtbot.waitSignal(panel.settings.changed, timeout=1000) as blocker:
        qtbot.keyClick(combo, Qt.Key.Key_Home)
    assert blocker.args == ["model/preset", PRESETS[0].id]
    assert not source.isEnabled()
    assert row_of(panel, PRESETS[0].id).font(0).bold()  # the model list marks the chosen preset


def test_choose_folder_dialog_does_not_block_and_writes_the_folder(make_panel, qtbot, tmp_path):
    settings_ini = tmp_path / "s.ini"
    settings = open_settings(str(settings_ini))
    settings.set("model/preset", CUSTOM_ID)
    panel = make_panel(settings)
    panel.show()
    folder = tmp_path / "My Model"
    folder.mkdir()
    qtbot.mouseClick(panel.findChild(QPushButton, "chooseModelFolder"), Qt.MouseButton.LeftButton)
    dialog = panel.findChild(QFileDialog, "modelFolderDialog")  # we got here: the click did not block
    assert dialog is not None and dialog.isVisible()
    assert dialog.fileMode() == QFileDialog.FileMode.Directory
    with qtbot.waitSignal(settings.changed, timeout=2000) as blocker:
        dialog.fileSelected.emit(str(folder))
        dialog.reject()
    assert blocker.args == ["model/custom_source", str(folder)]
    assert control(panel, "model/custom_source").text() == str(folder)
    qtbot.waitUntil(lambda: panel.findChild(QFileDialog, "modelFolderDialog") is None, timeout=2000)


def test_text_typed_but_not_confirmed_is_kept_when_the_window_closes(make_panel, qtbot, ini):
    settings = open_settings(ini)
    settings.set("model/preset", CUSTOM_ID)
    panel = make_panel(settings)
    panel.show()
    prompt = control(panel, "model/custom_prompt")
    prompt.setFocus()
    prompt.selectAll()
    qtbot.keyClicks(prompt, "Read the page:")
    assert settings.get("model/custom_prompt") != "Read the page:"
    with qtbot.waitSignal(panel.closed, timeout=1000):
        panel.close()
    assert open_settings(ini).get("model/custom_prompt") == "Read the page:"


# ------------------------------------------------------------------ persistence and bad values
def test_choices_survive_re_creating_the_panel_with_the_same_file(make_panel, qtbot, ini):
    panel = make_panel(open_settings(ini))
    qtbot.mouseClick(panel.findChild(QRadioButton, "modeAutoRelease"), Qt.MouseButton.LeftButton)
    control(panel, "ocr/max_tokens").setValue(333)
    control(panel, "ocr/pdf_dpi").setValue(200)
    control(panel, "ocr/max_image_side").setValue(1200)
    control(panel, "history/keep").setValue(50)
    control(panel, "ui/auto_copy").click()
    control(panel, "ocr/use_text_layer").click()
    control(panel, "memory/check_fit").click()
    combo = panel.findChild(QComboBox, "modelPreset")
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    chosen = combo.currentData()
    assert chosen == PRESETS[1].id
    panel.close()

    again = make_panel(open_settings(ini))
    assert again.findChild(QRadioButton, "modeAutoRelease").isChecked()
    assert not again.findChild(QSpinBox, "idleTimeoutMinutes").isEnabled()
    assert control(again, "ocr/max_tokens").value() == 333
    assert control(again, "ocr/pdf_dpi").value() == 200
    assert control(again, "ocr/max_image_side").value() == 1200
    assert control(again, "history/keep").value() == 50
    assert control(again, "ui/auto_copy").isChecked()
    assert not control(again, "ocr/use_text_layer").isChecked()
    assert not control(again, "memory/check_fit").isChecked()
    assert again.findChild(QComboBox, "modelPreset").currentData() == chosen
    assert again.settings.ocr_options().text_layer is TextLayer.NEVER


def test_invalid_stored_values_show_the_defaults(make_panel, ini, caplog):
    store = QSettings(ini, QSettings.Format.IniFormat)
    garbage = {"memory/mode": "sometimes", "memory/idle_minutes": "999", "ocr/max_tokens": "lots",
               "ocr/pdf_dpi": "-3", "ocr/use_text_layer": "maybe", "model/preset": "no-such-model",
               "history/keep": "[1, 2]"}
    for key, value in garbage.items():
        store.setValue(key, value)
    store.sync()
    with caplog.at_level(logging.WARNING, logger="engine.settings"):
        panel = make_panel(open_settings(ini))
    defaults = {s.key: s.default for s in SETTINGS}
    assert panel.findChild(QRadioButton, "modeIdleTimeout").isChecked()
    assert panel.findChild(QSpinBox, "idleTimeoutMinutes").value() == defaults["memory/idle_minutes"]
    assert control(panel, "ocr/max_tokens").value() == defaults["ocr/max_tokens"]
    assert control(panel, "ocr/pdf_dpi").value() == defaults["ocr/pdf_dpi"]
    assert control(panel, "ocr/use_text_layer").isChecked() == defaults["ocr/use_text_layer"]
    assert control(panel, "history/keep").value() == defaults["history/keep"]
    assert panel.findChild(QComboBox, "modelPreset").currentData() == defaults["model/preset"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    for key in garbage:
        assert f"setting {key} has an invalid stored value" in logged, key
    # showing a default is not a change: nothing was written over the stored value
    assert QSettings(ini, QSettings.Format.IniFormat).value("ocr/max_tokens") == "lots"


def test_opening_and_closing_the_panel_changes_nothing(make_panel, ini):
    settings = open_settings(ini)
    seen = []
    settings.changed.connect(lambda key, value: seen.append(key))
    panel = make_panel(settings)
    panel.show_tab("OCR")
    panel.close()
    assert seen == []
    assert QSettings(ini, QSettings.Format.IniFormat).allKeys() == []  # defaults are not written out


def test_a_change_made_elsewhere_shows_in_the_panel_without_echo(make_panel):
    panel = make_panel()
    seen = []
    panel.settings.changed.connect(lambda key, value: seen.append(key))
    panel.settings.set("ui/auto_copy", True)  # e.g. the main window's "Copy when done"
    assert control(panel, "ui/auto_copy").isChecked()
    panel.settings.set("ocr/pdf_dpi", 300)
    assert control(panel, "ocr/pdf_dpi").value() == 300
    assert seen == ["ui/auto_copy", "ocr/pdf_dpi"]  # the panel did not write them back


# ------------------------------------------------------------------ model list
def test_layout_nothing_truncated_or_outside_the_window(make_panel, qtbot):
    panel = make_panel()
    panel.show()
    qtbot.waitExposed(panel)
    for i in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(i)
        page = panel.tabs.widget(i)
        page.layout().activate()
        for widget in page.findChildren(QWidget):
            if not widget.isVisibleTo(page) or widget.parent() is None or isinstance(widget, QFileDialog):
                continue
            rect = widget.rect().translated(widget.mapTo(page, widget.rect().topLeft()))
            if widget.width() > 0 and widget.height() > 0 and widget.window() is panel:
                name = widget.objectName() or widget
                assert page.rect().contains(rect), f"{name} sticks out of {panel.tabs.tabText(i)}"
            if isinstance(widget, (QLabel, QCheckBox, QRadioButton, QPushButton)) and widget.text():
                if isinstance(widget, QLabel) and widget.wordWrap():
                    continue
                assert widget.width() >= widget.minimumSizeHint().width(), f"{widget.text()!r} is cut off"


def test_a_custom_model_folder_is_checked_as_it_is_typed(make_panel, qtbot, ini, tmp_path, tiny_model_dir):
    settings = open_settings(ini)
    settings.set("model/preset", CUSTOM_ID)
    panel = make_panel(settings)
    field = control(panel, "model/custom_source")
    verdict = panel.findChild(QLabel, "model_custom_sourceCheck")
    assert verdict is not None and not verdict.isHidden()

    def typed(text: str) -> str:
        with qtbot.waitSignal(panel.checked, timeout=10_000):
            field.setText(text)
        return verdict.text()

    assert typed(str(tmp_path / "nothing-here")) == "✗ no such folder"
    assert typed(str(tiny_model_dir)).startswith("✓ qwen2_vl model, ")
    (tmp_path / "empty").mkdir()
    assert typed(str(tmp_path / "empty")).startswith("✗ this folder has no config.json")
    assert typed("someone/their-model").startswith("✗ someone/their-model is not downloaded yet")
    assert typed("not a model at all").startswith("✗ no such folder")
    settings.set("model/preset", PRESETS[0].id)
    assert verdict.isHidden()  # the field is off: so is its check
