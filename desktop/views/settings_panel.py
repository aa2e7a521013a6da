"""The preferences window, "OCR Tray Settings", built from the settings table.

Every row of ``engine.settings.SETTINGS`` becomes one control, so a row added to the table
shows up here with its label, bounds, default, unit and tooltip (the row's ``help``):

- ``bool`` -> a check box; ``int`` -> a spin box (``minimum``..``maximum``, ``suffix``);
- ``str`` with ``choices`` -> radio buttons (up to ``RADIO_LIMIT`` choices) or a pop-up menu;
- ``str`` without choices -> a text field;
- a row with the ``shortcut`` hint -> a shortcut recorder (``QKeySequenceEdit``, one combination, stored as
  Qt's portable text) with a Clear button and a verdict line under it (``set_verdict``: the app says there
  whether the system took the combination).

Everything else a control needs comes from its row too (``engine.settings.Setting``): the tab
(by the key's prefix unless named; an unknown prefix gets a tab of its own), the object name, the
form label, each choice's label and sentence, the text shown for zero, when it is enabled, the
line it shares with a choice, a placeholder, and whether it offers "Choose Folder…".

A change is written to ``Settings`` at once (preferences apply immediately, as on the Mac; there
is no OK button) and ``Settings.changed`` tells the app. Text fields write when
editing ends or the window closes. A change made elsewhere (the main window's "Copy when
done") shows here too.

Object names: the key with "/" replaced by "_" (``ocr/max_tokens`` -> ``ocr_max_tokens``),
unless the row names one (``idleTimeoutMinutes``, ``modelPreset``). Radio buttons are "mode" + the choice in CamelCase
(``keep-resident`` -> ``modeKeepResident``); their ``QButtonGroup`` carries the derived name
(``memory_mode``). Others: ``settingsTabs``, ``chooseModelFolder`` and the model manager of
``model_list`` (``modelList``, ``downloadModel``, ``deleteModel``, ``cancelDownload``,
``downloadProgress``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QKeySequenceEdit,
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
from shiboken6 import isValid

from engine.background import run_in_background
from engine.settings import SETTINGS, TABS, Setting, Settings

from .model_list import ModelList
from .style import scaled, secondary

log = logging.getLogger(__name__)

TITLE = "Settings"  # the system adds " — OCR Tray" (the application's display name)
PANEL_SIZE = QSize(680, 460)
RADIO_LIMIT = 3  # a choice among this many or fewer is a set of radio buttons; more is a pop-up menu
CHECK_DELAY_MS = 300  # a typed value is checked this long after the last key


def object_name(key: str, table: Sequence[Setting] = SETTINGS) -> str:
    """The stable object name of the control for ``key`` (the table's ``name``, else the key with "/" as "_")."""
    found = next((s for s in table if s.key == key), None)
    return found.object_name if found is not None else key.replace("/", "_")


def choice_name(value: str) -> str:
    """``keep-resident`` -> ``modeKeepResident``."""
    return "mode" + "".join(part[:1].upper() + part[1:] for part in value.replace("_", "-").split("-"))


def tab_name(key: str, table: Sequence[Setting] = SETTINGS) -> str:
    found = next((s for s in table if s.key == key), None)
    if found is not None:
        return found.tab_name
    return Setting(key, str, "", "").tab_name


def sentence(text: str) -> str:
    """``0 keeps everything`` -> ``0 keeps everything.``; the first letter up."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?", ")")) else ".")


class SettingsPanel(QWidget):
    """A non-modal preferences window. ``Settings.changed`` is how the app learns of a change."""

    closed = Signal()
    checked = Signal(str)  # a typed value was checked (the key); tests wait on it

    def __init__(self, settings: Settings, downloader: QObject | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("settingsPanel")
        self.setWindowTitle(TITLE)
        self._settings = settings
        self._table = settings.table
        self.controls: dict[str, QWidget] = {}  # key -> its control (the QButtonGroup's first button for radios)
        self.groups: dict[str, QButtonGroup] = {}
        self._captions: dict[str, list[QWidget]] = {}
        self._labels: dict[str, QLabel] = {}
        self._label_rows: list[tuple[QLabel, QWidget | QHBoxLayout]] = []
        self._folder_dialog: QFileDialog | None = None
        self._rows: dict[tuple[str, str], QHBoxLayout] = {}  # (key, choice or "") -> the row's layout
        self._showing: set[str] = set()  # keys being shown, not written
        self.choose_folder: QPushButton | None = None
        self._folder_key = ""
        self._verdicts: dict[str, QLabel] = {}
        self._check_generation = 0

        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        self.tabs.setDocumentMode(False)
        self._forms: dict[str, QFormLayout] = {}
        self._pages: dict[str, QVBoxLayout] = {}
        for name in TABS:
            self._page(name)
        for setting in self._table:
            if setting.inline_with is None:
                self._add(setting)
        for setting in self._table:  # inline controls, after the rows they join
            if setting.inline_with is not None:
                self._add(setting)
        self._add_folder_button()

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
        close.setShortcuts([QKeySequence(QKeySequence.StandardKey.Close), QKeySequence(Qt.Key.Key_Escape)])
        close.triggered.connect(self.close)
        self.addAction(close)

        for setting in self._table:
            self._show_value(setting.key, self._settings.get(setting.key))
        self._update_enabled()
        for setting in self._table:
            if setting.check is not None and self.controls[setting.key].isEnabled():
                self._check(setting, self.controls[setting.key].text())
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
        for setting in self._table:
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
        form = self._page(setting.tab_name)
        self._build(form, setting)
        widget = self.controls[setting.key]
        if setting.key not in self.groups:
            widget.setAccessibleName(setting.label)  # VoiceOver reads the table's label
        if setting.help:
            widget.setAccessibleDescription(sentence(setting.help))

    def _build(self, form: QFormLayout, setting: Setting) -> None:
        if setting.shortcut:
            self._add_shortcut(form, setting)
        elif setting.type is bool:
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
             caption: str = "", indent: int = 0, extra: QWidget | None = None) -> None:
        """One form row: a right-aligned label, the control, and under it (tight) a grey caption."""
        text = label if label.endswith(":") or not label else f"{label}:"
        label_widget = QLabel(text)
        label_widget.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        if text:
            label_widget.setObjectName(f"{self._setting(key).object_name}Label")
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
        if extra is not None:
            column.addWidget(extra)
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
        caption.setObjectName(f"{self._setting(key).object_name}Help")
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
        box.setObjectName(setting.object_name)
        box.setToolTip(sentence(setting.help) if setting.help else "")
        box.toggled.connect(lambda on, key=setting.key: self._write(key, on))
        self.controls[setting.key] = box
        if setting.form_label:  # a new group of rows
            self._gap(form)
        self._row(form, setting.key, setting.form_label, box, setting.help, indent_of(box))

    def _spin(self, setting: Setting) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(setting.object_name)
        spin.setRange(setting.minimum if setting.minimum is not None else -(2**31),
                      setting.maximum if setting.maximum is not None else 2**31 - 1)
        spin.setSuffix(setting.suffix)
        spin.setKeyboardTracking(False)  # write once the number is typed, not at every digit
        spin.setAccelerated(True)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        if setting.minimum == 0 and setting.zero_text:
            spin.setSpecialValueText(setting.zero_text)
        tip = sentence(setting.help) if setting.help else setting.label
        spin.setToolTip(f"{tip} ({setting.minimum}–{setting.maximum}{setting.suffix}; default {setting.default})")
        spin.setMinimumWidth(110)
        spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        spin.valueChanged.connect(lambda value, key=setting.key: self._write(key, value))
        self.controls[setting.key] = spin
        return spin

    def _add_spin(self, form: QFormLayout, setting: Setting) -> None:
        spin = self._spin(setting)
        if setting.inline_with is not None and self._attach_inline(setting, spin):
            return
        row = QHBoxLayout()
        row.addWidget(spin)
        row.addStretch(1)
        self._row(form, setting.key, setting.label, row, setting.help)

    def _add_radios(self, form: QFormLayout, setting: Setting) -> None:
        group = QButtonGroup(self)
        group.setObjectName(setting.object_name)
        self.groups[setting.key] = group
        for i, value in enumerate(setting.choices or ()):
            radio = QRadioButton(setting.choice_label(value))
            radio.setObjectName(choice_name(value))
            radio.setProperty("choice", value)
            radio.setToolTip(sentence(setting.choice_help.get(value, setting.help)))
            group.addButton(radio, i)
            row = QHBoxLayout()
            row.setSpacing(6)
            row.addWidget(radio)
            row.addStretch(1)
            self._rows[(setting.key, value)] = row
            detail = setting.choice_help.get(value, "")
            self._row(form, setting.key, setting.label if i == 0 else "", row, detail, indent_of(radio))
        group.buttonToggled.connect(
            lambda button, on, key=setting.key: on and self._write(key, button.property("choice"))
        )
        self.controls[setting.key] = group.buttons()[0]

    def _add_combo(self, form: QFormLayout, setting: Setting) -> None:
        combo = QComboBox()
        combo.setObjectName(setting.object_name)
        for value in setting.choices or ():
            if value in setting.separated and combo.count():
                combo.insertSeparator(combo.count())
            combo.addItem(setting.choice_label(value), value)
            if value in setting.choice_help:
                combo.setItemData(combo.count() - 1, setting.choice_help[value], Qt.ItemDataRole.ToolTipRole)
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
        edit.setObjectName(setting.object_name)
        edit.setToolTip(sentence(setting.help) if setting.help else setting.label)
        edit.setClearButtonEnabled(True)
        if setting.placeholder or setting.default:
            edit.setPlaceholderText(setting.placeholder or str(setting.default))
        edit.editingFinished.connect(lambda key=setting.key, e=edit: self._write(key, e.text()))
        self.controls[setting.key] = edit
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(edit, 1)
        self._rows[(setting.key, "")] = row
        verdict = self._checker(setting, edit) if setting.check is not None else None
        self._row(form, setting.key, setting.form_label or setting.label, row, setting.help, extra=verdict)

    def _add_shortcut(self, form: QFormLayout, setting: Setting) -> None:
        """A shortcut recorder: click, press the combination; Clear sets none. Written when recording ends."""
        edit = QKeySequenceEdit()
        edit.setObjectName(setting.object_name)
        edit.setToolTip(sentence(setting.help) if setting.help else setting.label)
        if hasattr(edit, "setMaximumSequenceLength"):  # Qt 6.5+: one combination, not a sequence of them
            edit.setMaximumSequenceLength(1)
        edit.setMinimumWidth(160)
        edit.editingFinished.connect(lambda key=setting.key, e=edit: self._write(key, portable(e)))
        clear = QPushButton("Clear")
        clear.setObjectName(f"{setting.object_name}Clear")
        clear.clicked.connect(lambda *_, key=setting.key, e=edit: (e.clear(), self._write(key, "")))
        self.controls[setting.key] = edit
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(edit)
        row.addWidget(clear)
        row.addStretch(1)
        self._rows[(setting.key, "")] = row
        verdict = QLabel()
        verdict.setObjectName(f"{setting.object_name}Check")
        verdict.setWordWrap(True)
        verdict.setTextFormat(Qt.TextFormat.PlainText)
        verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # a command to copy
        verdict.setFont(scaled(verdict.font(), 0.88))
        self._verdicts[setting.key] = verdict
        self._row(form, setting.key, setting.form_label or setting.label, row, setting.help, extra=verdict)

    def set_verdict(self, key: str, ok: bool, words: str) -> None:
        """Show ✓/✗ and ``words`` under the control of ``key`` (a check's answer, or the app's word on it)."""
        verdict = self._verdicts.get(key)
        if verdict is None:
            return
        verdict.setText(f"✓ {words}" if ok else f"✗ {words}" if words else "")
        pal = verdict.palette()
        colour = pal.color(QPalette.ColorRole.PlaceholderText) if ok else QColor("#b3261e")
        pal.setColor(QPalette.ColorRole.WindowText, colour)
        verdict.setPalette(pal)

    def _checker(self, setting: Setting, edit: QLineEdit) -> QLabel:
        """A ✓/✗ line under a field whose row can check what is typed (off the GUI thread, 300 ms after typing)."""
        verdict = QLabel()
        verdict.setObjectName(f"{setting.object_name}Check")
        verdict.setWordWrap(True)
        verdict.setTextFormat(Qt.TextFormat.PlainText)
        verdict.setFont(scaled(verdict.font(), 0.88))
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(CHECK_DELAY_MS)
        timer.timeout.connect(lambda s=setting, e=edit: self._check(s, e.text()))
        edit.textChanged.connect(lambda *_: timer.start())
        self._verdicts[setting.key] = verdict
        return verdict

    def _check(self, setting: Setting, text: str) -> None:
        check = setting.check
        if check is None:
            return
        self._check_generation += 1
        generation = self._check_generation
        run_in_background(lambda: check(text),
                          lambda result, error: self._checked(setting.key, generation, result, error))

    def _checked(self, key: str, generation: int, result, error) -> None:
        if not isValid(self) or generation != self._check_generation:
            return  # the window went, or a newer check is on its way
        ok, words = (False, f"could not be checked ({error})") if error is not None else result
        self.set_verdict(key, ok, words)
        self.checked.emit(key)

    def _attach_inline(self, setting: Setting, widget: QWidget) -> bool:
        row = self._rows.get(setting.inline_with) if setting.inline_with is not None else None
        if row is None:
            return False
        row.insertWidget(row.count() - 1, widget)
        return True

    def _add_folder_button(self) -> None:
        """"Choose Folder…" beside the text field of the row that asks for it (``browse_folder``)."""
        self._folder_key = next((s.key for s in self._table if s.browse_folder), "")
        row = self._rows.get((self._folder_key, ""))
        if row is None:
            return
        self.choose_folder = QPushButton("Choose Folder…")
        self.choose_folder.setObjectName("chooseModelFolder")
        self.choose_folder.setToolTip("Pick a local folder with an MLX model (config.json and .safetensors)")
        self.choose_folder.clicked.connect(self.choose_model_folder)
        row.addWidget(self.choose_folder)

    def _setting(self, key: str) -> Setting:
        return self._settings.setting(key)

    # ---------------------------------------------------------------- values
    def _write(self, key: str, value: Any) -> None:
        if key in self._showing:
            return
        try:
            if self._setting(key).coerce(value) == self._settings.get(key):
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
                elif isinstance(widget, QLineEdit) and widget.text() != str(value):
                    widget.setText(str(value))
                elif isinstance(widget, QKeySequenceEdit) and portable(widget) != str(value):
                    widget.setKeySequence(QKeySequence(str(value)))
        finally:
            self._showing.discard(key)

    def _on_changed(self, key: str, value: Any) -> None:
        if key in self.controls:
            self._show_value(key, value)
        if key == "model/preset":
            self.model_list.set_current(value)
        self._update_enabled()

    def _update_enabled(self) -> None:
        for setting in self._table:
            if setting.enabled_when is None:
                continue
            key, (other, wanted) = setting.key, setting.enabled_when
            if key not in self.controls or other not in self.controls:
                continue
            on = self._settings.get(other) == wanted
            self.controls[key].setEnabled(on)
            if isinstance(self.controls[key], QLineEdit):
                self.controls[key].setClearButtonEnabled(on)  # no ✕ drawn in a field that cannot be edited
            if key in self._verdicts:
                self._verdicts[key].setVisible(on)
                if on and not self._verdicts[key].text():
                    self._check(setting, self.controls[key].text())
            if key in self._labels:
                self._labels[key].setEnabled(on)
            for caption in self._captions.get(key, ()):
                caption.setEnabled(on)
            if key == self._folder_key and self.choose_folder is not None:
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
        current = self.controls[self._folder_key].text().strip()
        if current and os.path.isdir(os.path.expanduser(current)):
            dialog.setDirectory(os.path.expanduser(current))
        dialog.fileSelected.connect(self.set_custom_folder)
        dialog.finished.connect(lambda *_: self._forget_folder_dialog(dialog))
        self._folder_dialog = dialog
        dialog.open()

    def set_custom_folder(self, path: str) -> None:
        if not path:
            return
        self.controls[self._folder_key].setText(path)
        self._write(self._folder_key, path)

    def _forget_folder_dialog(self, dialog: QFileDialog) -> None:
        self._folder_dialog = None
        dialog.deleteLater()

    # ---------------------------------------------------------------- window
    def hideEvent(self, event) -> None:
        self.commit()
        super().hideEvent(event)

    def closeEvent(self, event) -> None:
        self.commit()
        super().closeEvent(event)
        self.closed.emit()


def portable(edit: QKeySequenceEdit) -> str:
    """A recorder's combination as Qt's portable text (``Ctrl+Shift+2``; ⌘ is "Ctrl" there), "" for none."""
    return edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)


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
