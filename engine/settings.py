"""One table of settings, read by the settings panel, the persistence (QSettings) and the CLI flags.

Each ``Setting`` names its key, type, default and bounds once. ``Settings`` persists them
with ``QSettings`` (QtCore only, so the headless CLI can read the same values), and a
stored value that is invalid falls back to the default with a log line.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from .jobs import OcrOptions
from .lifecycle import Mode
from .models.presets import CUSTOM_ID, DEFAULT_CUSTOM_PROMPT, DEFAULT_PRESET_ID, PRESETS, ModelSpec, preset

log = logging.getLogger(__name__)

ORGANIZATION = "OCR Tray"
APPLICATION = "OCR Tray"


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    label: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""
    cli_flag: str | None = None  # the `ocr-tray ocr` flag that overrides it, if any
    suffix: str = ""  # unit shown beside a number

    def coerce(self, value: Any) -> Any:
        """The value as this setting's type, or ValueError when it does not fit the bounds."""
        if self.type is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes", "on"):
                    return True
                if value.lower() in ("false", "0", "no", "off"):
                    return False
                raise ValueError(f"not a yes/no value: {value!r}")
            if isinstance(value, (bool, int)):
                return bool(value)
            raise ValueError(f"not a yes/no value: {value!r}")
        if self.type is int:
            if isinstance(value, bool):
                raise ValueError("not a number")
            number = int(str(value).strip()) if isinstance(value, str) else int(value)
            if self.minimum is not None and number < self.minimum:
                raise ValueError(f"{number} is below {self.minimum}")
            if self.maximum is not None and number > self.maximum:
                raise ValueError(f"{number} is above {self.maximum}")
            return number
        text = "" if value is None else str(value)
        if self.choices is not None and text not in self.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(self.choices)}")
        return text


MODES = tuple(m.value for m in Mode)

SETTINGS: tuple[Setting, ...] = (
    Setting("memory/mode", str, Mode.IDLE_TIMEOUT.value, "Memory mode", choices=MODES,
            help="keep-resident: never unload by itself; auto-release: unload after each queue; "
                 "idle-timeout: unload after the idle time"),
    Setting("memory/idle_minutes", int, 5, "Unload after idle", 1, 240, suffix=" min",
            help="minutes without work before the model is unloaded (idle-timeout mode)"),
    Setting("memory/check_fit", bool, True, "Refuse models that do not fit in free memory",
            help="check available memory before every load", cli_flag="--no-memory-check"),
    Setting("model/preset", str, DEFAULT_PRESET_ID, "Model", choices=tuple(p.id for p in PRESETS) + (CUSTOM_ID,),
            cli_flag="--model"),
    Setting("model/custom_source", str, "", "Custom model (folder or repo id)"),
    Setting("model/custom_prompt", str, DEFAULT_CUSTOM_PROMPT, "Custom prompt", cli_flag="--prompt"),
    Setting("ocr/max_tokens", int, OcrOptions().max_tokens, "Max new tokens per page", 1, 8192,
            cli_flag="--max-tokens"),
    Setting("ocr/pdf_dpi", int, OcrOptions().dpi, "PDF resolution", 72, 400, suffix=" dpi", cli_flag="--dpi"),
    Setting("ocr/max_image_side", int, 0, "Maximum image side", 0, 8192, suffix=" px",
            help="0 uses the model's own limit", cli_flag="--max-side"),
    Setting("ocr/use_text_layer", bool, True, "Use the PDF text layer when present",
            help="born-digital pages are read directly, without the model", cli_flag="--no-text-layer"),
    Setting("ui/auto_copy", bool, False, "Copy finished text to the clipboard"),
    Setting("ui/notify", bool, True, "Notify when a job finishes while the window is hidden"),
    Setting("history/keep", int, 0, "Keep history of the last N documents", 0, 100_000,
            help="0 keeps everything"),
)

BY_KEY = {s.key: s for s in SETTINGS}


def definition(key: str) -> Setting:
    return BY_KEY[key]


class Settings(QObject):
    """Typed, validated access to the persisted settings. ``changed(key, value)`` on every change."""

    changed = Signal(str, object)

    def __init__(self, store: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)

    @property
    def store(self) -> QSettings:
        return self._store

    def get(self, key: str) -> Any:
        setting = BY_KEY[key]
        raw = self._store.value(key, None)
        if raw is None:
            return setting.default
        try:
            return setting.coerce(raw)
        except (ValueError, TypeError) as e:
            log.warning("setting %s has an invalid stored value (%s); using the default %r", key, e, setting.default)
            return setting.default

    def set(self, key: str, value: Any) -> None:
        value = BY_KEY[key].coerce(value)
        if self.get(key) == value and self._store.contains(key):
            return
        self._store.setValue(key, value)
        self._store.sync()
        _owner_only(self._store.fileName())
        self.changed.emit(key, value)

    def values(self) -> dict[str, Any]:
        return {s.key: self.get(s.key) for s in SETTINGS}

    # ------------------------------------------------------ derived views
    def mode(self) -> tuple[Mode, float]:
        return Mode(self.get("memory/mode")), 60.0 * self.get("memory/idle_minutes")

    def model_spec(self) -> ModelSpec:
        chosen = self.get("model/preset")
        if chosen == CUSTOM_ID:
            source = self.get("model/custom_source").strip()
            if source:
                return ModelSpec.resolve(source, self.get("model/custom_prompt"))
            chosen = DEFAULT_PRESET_ID
        return ModelSpec.from_preset(preset(chosen))

    def ocr_options(self) -> OcrOptions:
        return OcrOptions(
            max_tokens=self.get("ocr/max_tokens"),
            dpi=self.get("ocr/pdf_dpi"),
            max_side=self.get("ocr/max_image_side") or None,
            text_layer="auto" if self.get("ocr/use_text_layer") else "off",
        )


def _owner_only(path: str) -> None:
    """Settings may name private folders: keep the file readable by its owner only."""
    try:
        if path and os.path.exists(path):
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    except OSError:
        pass
