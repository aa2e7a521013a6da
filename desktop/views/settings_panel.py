"""The preferences window, "OCR Tray Settings", built from the settings table.

Every row of ``engine.settings.SETTINGS`` becomes one control, so a row added to the table
shows up here with its label, bounds, default, unit and tooltip (the row's ``help``):

- ``bool`` -> a check box; ``int`` -> a spin box (``minimum``..``maximum``, ``suffix``);
- ``str`` with ``choices`` -> radio buttons (up to ``RADIO_LIMIT`` choices) or a pop-up menu;
- ``str`` without choices -> a text field.

The tab comes from the key's prefix (``TAB_FOR_PREFIX``; an unknown prefix gets a tab of its
own). A change is written to ``Settings`` at once (preferences apply immediately, as on the
Mac; there is no OK button) and ``Settings.changed`` tells the app. Text fields write when
editing ends or the window closes. A change made elsewhere (the main window's "Copy when
done") shows here too.

Object names: the key with "/" replaced by "_" (``ocr/max_tokens`` -> ``ocr_max_tokens``),
except two the rest of the app names: ``memory/idle_minutes`` -> ``idleTimeoutMinutes`` and
``model/preset`` -> ``modelPreset``. Radio buttons are "mode" + the choice in CamelCase
(``keep-resident`` -> ``modeKeepResident``); their ``QButtonGroup`` carries the derived name
(``memory_mode``). Others: ``settingsTabs``, ``chooseModelFolder`` and the model manager of
``model_list`` (``modelList``, ``downloadModel``, ``deleteModel``, ``cancelDownload``,
``downloadProgress``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QStyleOptionButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.models.presets import CUSTOM_ID, PRESETS
from engine.settings import BY_KEY, SETTINGS, Setting, Settings

from .model_list import ModelList
from .style import scaled, secondary

log = logging.getLogger(__name__)

TITLE = "OCR Tray Settings"
PANEL_SIZE = QSize(680, 460)
TAB_ORDER = ("General", "Model", "OCR", "History")
TAB_FOR_PREFIX = {"memory": "General", "ui": "General", "model": "Model", "ocr": "OCR", "history": "History"}
RADIO_LIMIT = 3  # a choice among this many or fewer is a set of radio buttons; more is a pop-up menu
NAMES = {"memory/idle_minutes": "idleTimeoutMinutes", "model/preset": "modelPreset"}

# Presentation only; a key or choice missing here falls back to what the table says.
SECTION_LABELS = {  # the form label of a check box's row (a check box carries its own text)
    "memory/check_fit": "Memory check:",
    "ui/auto_copy": "When done:",
    "ocr/use_text_layer": "PDF text:",
}
SHORT_LABELS = {"model/custom_source": "Folder or repo:", "model/custom_prompt": "Prompt:"}
ZERO_TEXT = {"ocr/max_image_side": "Model's limit", "history/keep": "All"}  # what a spin box shows for 0
CHOICE_TEXT = {
    "keep-resident": ("Keep the model loaded", "Fastest. Memory stays in use until you choose Unload Model."),
    "auto-release": ("Release after each batch", "Memory is given back as soon as the queue is empty."),
    "idle-timeout": ("Release when idle for", "Ready between documents, then memory is given back."),
}
INLINE = {"memory/idle_minutes": ("memory/mode", "idle-timeout")}  # shown on the line of that choice
ENABLED_WHEN = {
    "memory/idle_minutes": ("memory/mode", "idle-timeout"),
    "model/custom_source": ("model/preset", CUSTOM_ID),
    "model/custom_prompt": ("model/preset", CUSTOM_ID),
}
CUSTOM_LABEL = "Custom model"


def object_name(key: str) -> str:
    """The stable object name of the control for ``key`` (see the module docstring)."""
    return NAMES.get(key, key.replace("/", "_"))


def choice_name(value: str) -> str:
    """``keep-resident`` -> ``modeKeepResident``."""
    return "mode" + "".join(part[:1].upper() + part[1:] for part in value.replace("_", "-").split("-"))


def tab_name(key: str) -> str:
    prefix = key.split("/", 1)[0]
    return TAB_FOR_PREFIX.get(prefix, prefix.replace("_", " ").title())


def sentence(text: str) -> str:
    """``0 keeps everything`` -> ``0 keeps everything.``; the first letter up."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?", ")")) else ".")


def choice_help(setting: Setting, value: str) -> str:
    """The part of a choice setting's help about ``value`` ("value: explanation; ..."), or all of it."""
    for part in setting.help.split(";"):
        name, _, text = part.partition(":")
        if name.strip() == value and text.strip():
            return text.strip()
    return setting.help


def choice_text(setting: Setting, value: str) -> str:
    if setting.key == "model/preset":
        if value == CUSTOM_ID:
            return CUSTOM_LABEL
        return next((p.label for p in PRESETS if p.id == value), value)
    if value in CHOICE_TEXT:
        return CHOICE_TEXT[value][0]
    return value.replace("-", " ").replace("_", " ").capitalize()


class SettingsPanel(QWidget):
    """A non-modal preferences window. ``Settings.changed`` is how the app learns of a change."""

    closed = Signal()

    def __init__(self, settings: Settings, downloader: QObject | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("settingsPanel")
        self.setWindowTitle(TITLE)
        self._settings = settings
        self.controls: dict[str, QWidget] = {}  # key -> its control (the QButtonGroup's first button for radios)
        self.groups: dict[str, QButtonGroup] = {}
        self._captions: dict[str, list[QWidget]] = {}
        self._labels: dict[str, QLabel] = {}
        self._label_rows: list[tuple[QLabel, QWidget | QHBoxLayout]] = []
        self._folder_dialog: QFileDialog | None = None
        self._rows: dict[tuple[str, str], QHBoxLayout] = {}  # (key, choice or "") -> the row's layout
        self._showing: set[str] = set()  # keys being shown, not written
        self.choose_folder: QPushButton | None = None

        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        self.tabs.setDocumentMode(False)
        self._forms: dict[str, QFormLayout] = {}
        self._pages: dict[str, QVBoxLayout] = {}
        for name in TAB_ORDER:
            self._page(name)
        for setting in SETTINGS:
            if setting.key not in INLINE:
                self._add(setting)
        for setting in SETTINGS:  # inline controls, after the rows they join
            if setting.key in INLINE:
                self._add(setting)

        self.choose_folder = QPushButton("Choose Folder…")
        self.choose_folder.setObjectName("chooseModelFolder")
        self.choose_folder.setToolTip("Pick a local folder with an MLX model (config.json and .safetensors)")
        self.choose_folder.clicked.connect(self.choose_model_folder)
        self._attach_beside("model/custom_source", self.choose_folder)

        self._align_labels()

        self.model_list = ModelList(downloader=downloader, parent=self)
        self._pages["Model"].addSpacing(14)
        self._pages["Model"].addWidget(self.model_list, 1)
        self.model_list.set_current(self._settings.get("model/preset"))

        for name in list(self._pages):
            if name != "Model":
                self._pages[name].addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 14)
        layout.addWidget(self.tabs)
        self.setFixedSize(PANEL_SIZE)

        close = QAction("Close", self)
        close.setObjectName("closeSettings")
        close.setShortcut(QKeySequence(QKeySequence.StandardKey.Close))
        close.triggered.connect(self.close)
        self.addAction(close)

        for setting in SETTINGS:
            self._show_value(setting.key, self._settings.get(setting.key))
        self._update_enabled()
        settings.changed.connect(self._on_changed)

    # ---------------------------------------------------------------- public
    @property
    def settings(self) -> Settings:
        return self._settings

    def control(self, key: str) -> QWidget:
        return self.controls[key]

    def show_tab(self, name: str) -> None:
        """Bring the window up on tab ``name`` ("General", "Model", "OCR", "History")."""
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == name:
                self.tabs.setCurrentIndex(i)
        self.present()

    def present(self) -> None:
        """Show, raise and focus the window (it is re-used, not re-created)."""
        self.show()
        self.raise_()
        self.activateWindow()

    def commit(self) -> None:
        """Write what is typed in text and number fields (also done when editing ends or the window closes)."""
        for setting in SETTINGS:
            widget = self.controls[setting.key]
            if isinstance(widget, QLineEdit):
                self._write(setting.key, widget.text())
            elif isinstance(widget, QSpinBox):
                widget.interpretText()
                self._write(setting.key, widget.value())

    # ---------------------------------------------------------------- building
    def _page(self, name: str) -> QFormLayout:
        if name in self._forms:
            return self._forms[name]
        page = QWidget()
        page.setObjectName(f"settingsPage{name.replace(' ', '')}")
        outer = QVBoxLayout(page)
        outer.setContentsMargins(20, 18, 20, 14)
        outer.setSpacing(0)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setFormAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(8)
        outer.addLayout(form)
        self.tabs.addTab(page, name)
        self._forms[name] = form
        self._pages[name] = outer
        return form

    def _add(self, setting: Setting) -> None:
        form = self._page(tab_name(setting.key))
        self._build(form, setting)
        widget = self.controls[setting.key]
        if setting.key not in self.groups:
            widget.setAccessibleName(setting.label)  # VoiceOver reads the table's label
        if setting.help:
            widget.setAccessibleDescription(sentence(setting.help))

    def _build(self, form: QFormLayout, setting: Setting) -> None:
        if setting.type is bool:
            self._add_check(form, setting)
        elif setting.type is int:
            self._add_spin(form, setting)
        elif setting.choices is not None and len(setting.choices) <= RADIO_LIMIT:
            self._add_radios(form, setting)
        elif setting.choices is not None:
            self._add_combo(form, setting)
        else:
            self._add_text(form, setting)

    def _row(self, form: QFormLayout, key: str, label: str, control: QWidget | QHBoxLayout,
             caption: str = "", indent: int = 0) -> None:
        """One form row: a right-aligned label, the control, and under it (tight) a grey caption."""
        text = label if label.endswith(":") or not label else f"{label}:"
        label_widget = QLabel(text)
        label_widget.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        if text:
            label_widget.setObjectName(f"{object_name(key)}Label")
            self._labels.setdefault(key, label_widget)
        field = QWidget()
        field.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)  # captions use the width
        column = QVBoxLayout(field)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        if isinstance(control, QWidget):
            column.addWidget(control)
        else:
            column.addLayout(control)
        if caption:
            column.addWidget(self._caption(key, caption, indent))
        form.addRow(label_widget, field)
        self._label_rows.append((label_widget, control))

    def _align_labels(self) -> None:
        """Line each label up with the middle of its control's first line (not of the control and its caption)."""
        for label, control in self._label_rows:
            height = control.sizeHint().height()
            label.setContentsMargins(0, max(0, (height - label.sizeHint().height()) // 2), 0, 0)

    def _caption(self, key: str, text: str, indent: int = 0) -> QLabel:
        caption = QLabel(sentence(text))
        caption.setObjectName(f"{object_name(key)}Help")
        caption.setWordWrap(True)
        caption.setFont(scaled(caption.font(), 0.88))
        caption.setContentsMargins(indent, 0, 0, 0)
        secondary(caption)
        self._captions.setdefault(key, []).append(caption)
        return caption

    def _gap(self, form: QFormLayout) -> None:
        """A little more air between groups of rows."""
        if form.rowCount():
            spacer = QWidget()
            spacer.setFixedHeight(6)
            form.addRow(spacer)

    def _add_check(self, form: QFormLayout, setting: Setting) -> None:
        box = QCheckBox(setting.label)
        box.setObjectName(object_name(setting.key))
        box.setToolTip(sentence(setting.help) if setting.help else "")
        box.toggled.connect(lambda on, key=setting.key: self._write(key, on))
        self.controls[setting.key] = box
        label = SECTION_LABELS.get(setting.key)
        if label is not None:
            self._gap(form)
        self._row(form, setting.key, label or "", box, setting.help, indent_of(box))

    def _spin(self, setting: Setting) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(object_name(setting.key))
        spin.setRange(setting.minimum if setting.minimum is not None else -(2**31),
                      setting.maximum if setting.maximum is not None else 2**31 - 1)
        spin.setSuffix(setting.suffix)
        spin.setKeyboardTracking(False)  # write once the number is typed, not at every digit
        spin.setAccelerated(True)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        if setting.minimum == 0 and setting.key in ZERO_TEXT:
            spin.setSpecialValueText(ZERO_TEXT[setting.key])
        tip = sentence(setting.help) if setting.help else setting.label
        spin.setToolTip(f"{tip} ({setting.minimum}–{setting.maximum}{setting.suffix}; default {setting.default})")
        spin.setMinimumWidth(110)
        spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        spin.valueChanged.connect(lambda value, key=setting.key: self._write(key, value))
        self.controls[setting.key] = spin
        return spin

    def _add_spin(self, form: QFormLayout, setting: Setting) -> None:
        spin = self._spin(setting)
        if setting.key in INLINE and self._attach_inline(setting, spin):
            return
        row = QHBoxLayout()
        row.addWidget(spin)
        row.addStretch(1)
        self._row(form, setting.key, setting.label, row, setting.help)

    def _add_radios(self, form: QFormLayout, setting: Setting) -> None:
        group = QButtonGroup(self)
        group.setObjectName(object_name(setting.key))
        self.groups[setting.key] = group
        for i, value in enumerate(setting.choices or ()):
            radio = QRadioButton(choice_text(setting, value))
            radio.setObjectName(choice_name(value))
            radio.setProperty("choice", value)
            radio.setToolTip(sentence(choice_help(setting, value)))
            group.addButton(radio, i)
            row = QHBoxLayout()
            row.setSpacing(6)
            row.addWidget(radio)
            row.addStretch(1)
            self._rows[(setting.key, value)] = row
            detail = CHOICE_TEXT.get(value, (None, choice_help(setting, value)))[1]
            self._row(form, setting.key, setting.label if i == 0 else "", row, detail, indent_of(radio))
        group.buttonToggled.connect(
            lambda button, on, key=setting.key: on and self._write(key, button.property("choice"))
        )
        self.controls[setting.key] = group.buttons()[0]

    def _add_combo(self, form: QFormLayout, setting: Setting) -> None:
        combo = QComboBox()
        combo.setObjectName(object_name(setting.key))
        for value in setting.choices or ():
            combo.addItem(choice_text(setting, value), value)
            if setting.key == "model/preset" and value != CUSTOM_ID:
                p = next(p for p in PRESETS if p.id == value)
                combo.setItemData(combo.count() - 1, f"{p.repo_id} · {p.licence} · {p.languages}",
                                  Qt.ItemDataRole.ToolTipRole)
        if setting.key == "model/preset":
            combo.insertSeparator(len(PRESETS))
        combo.setToolTip(sentence(setting.help) if setting.help else setting.label)
        combo.setMinimumWidth(220)
        combo.activated.connect(lambda index, key=setting.key, c=combo: self._write(key, c.itemData(index)))
        self.controls[setting.key] = combo
        row = QHBoxLayout()
        row.addWidget(combo)
        row.addStretch(1)
        self._row(form, setting.key, setting.label, row, setting.help)

    def _add_text(self, form: QFormLayout, setting: Setting) -> None:
        edit = QLineEdit()
        edit.setObjectName(object_name(setting.key))
        edit.setToolTip(sentence(setting.help) if setting.help else setting.label)
        edit.setClearButtonEnabled(True)
        if setting.key == "model/custom_source":
            edit.setPlaceholderText("~/Models/my-model  or  owner/repo-name")
        elif setting.default:
            edit.setPlaceholderText(str(setting.default))
        edit.editingFinished.connect(lambda key=setting.key, e=edit: self._write(key, e.text()))
        self.controls[setting.key] = edit
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(edit, 1)
        self._rows[(setting.key, "")] = row
        self._row(form, setting.key, SHORT_LABELS.get(setting.key, setting.label), row, setting.help)

    def _attach_inline(self, setting: Setting, widget: QWidget) -> bool:
        row = self._rows.get(INLINE[setting.key])
        if row is None:
            return False
        row.insertWidget(row.count() - 1, widget)
        return True

    def _attach_beside(self, key: str, widget: QWidget) -> None:
        row = self._rows.get((key, ""))
        if row is not None:
            row.addWidget(widget)

    # ---------------------------------------------------------------- values
    def _write(self, key: str, value: Any) -> None:
        if key in self._showing:
            return
        try:
            if BY_KEY[key].coerce(value) == self._settings.get(key):
                return  # nothing changed (a default shown is not written, and emits nothing)
            self._settings.set(key, value)
        except (ValueError, TypeError) as e:  # the controls' bounds make this rare; never lose the old value
            log.warning("setting %s not changed: %s", key, e)
            self._show_value(key, self._settings.get(key))
        self._update_enabled()

    def _show_value(self, key: str, value: Any) -> None:
        """Put ``value`` into the control of ``key`` without writing it back."""
        self._showing.add(key)
        try:
            if key in self.groups:
                for button in self.groups[key].buttons():
                    if button.property("choice") == value:
                        button.setChecked(True)
            else:
                widget = self.controls[key]
                if isinstance(widget, QCheckBox):
                    widget.setChecked(bool(value))
                elif isinstance(widget, QSpinBox):
                    widget.setValue(int(value))
                elif isinstance(widget, QComboBox):
                    index = widget.findData(value)
                    widget.setCurrentIndex(index if index >= 0 else 0)
                elif isinstance(widget, QLineEdit):
                    if widget.text() != str(value):
                        widget.setText(str(value))
        finally:
            self._showing.discard(key)

    def _on_changed(self, key: str, value: Any) -> None:
        if key in self.controls:
            self._show_value(key, value)
        if key == "model/preset":
            self.model_list.set_current(value)
        self._update_enabled()

    def _update_enabled(self) -> None:
        for key, (other, wanted) in ENABLED_WHEN.items():
            if key not in self.controls or other not in self.controls:
                continue
            on = self._settings.get(other) == wanted
            self.controls[key].setEnabled(on)
            if key in self._labels:
                self._labels[key].setEnabled(on)
            for caption in self._captions.get(key, ()):
                caption.setEnabled(on)
            if key == "model/custom_source" and self.choose_folder is not None:
                self.choose_folder.setEnabled(on)

    # ---------------------------------------------------------------- folder
    def choose_model_folder(self) -> None:
        """A non-blocking folder dialog (a sheet on macOS); the choice is written when accepted."""
        if self._folder_dialog is not None:
            self._folder_dialog.raise_()
            return
        dialog = QFileDialog(self, "Choose a Model Folder")
        dialog.setObjectName("modelFolderDialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        current = self.controls["model/custom_source"].text().strip()
        if current and os.path.isdir(os.path.expanduser(current)):
            dialog.setDirectory(os.path.expanduser(current))
        dialog.fileSelected.connect(self.set_custom_folder)
        dialog.finished.connect(lambda *_: self._forget_folder_dialog(dialog))
        self._folder_dialog = dialog
        dialog.open()

    def set_custom_folder(self, path: str) -> None:
        if not path:
            return
        self.controls["model/custom_source"].setText(path)
        self._write("model/custom_source", path)

    def _forget_folder_dialog(self, dialog: QFileDialog) -> None:
        self._folder_dialog = None
        dialog.deleteLater()

    # ---------------------------------------------------------------- window
    def hideEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        self.commit()
        super().hideEvent(event)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.commit()
        super().closeEvent(event)
        self.closed.emit()


def indent_of(button: QAbstractButton) -> int:
    """How far a check box's or radio button's text starts from its left edge (to line captions up)."""
    opt = QStyleOptionButton()
    opt.initFrom(button)
    style = button.style()
    if isinstance(button, QRadioButton):
        width = style.pixelMetric(QStyle.PixelMetric.PM_ExclusiveIndicatorWidth, opt, button)
    else:
        width = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth, opt, button)
    return width + style.pixelMetric(QStyle.PixelMetric.PM_CheckBoxLabelSpacing, opt, button)
