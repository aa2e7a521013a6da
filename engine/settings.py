"""One table of settings, read by the settings panel, the persistence (QSettings), the CLI flags and ``--help``.

Each ``Setting`` names once its key, type, default and bounds, how it reads in the settings panel
(its tab, labels, the text of a choice or of zero, when it is enabled, where it sits), the
``ocr-tray ocr`` flag that overrides it and the ``OcrOptions`` field it feeds. Adding a setting
means adding a row here: the panel builds a control for it, ``Settings`` persists and validates
it, the CLI grows a flag, and ``apply_overrides`` applies that flag for the CLI and the app alike.

``Settings`` persists the values with ``QSettings`` (QtCore only, so the headless CLI reads the
same values); a stored value that is invalid falls back to the default with a log line.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from .formats.tasks import TASKS
from .jobs import DEFAULT_DPI, DEFAULT_MAX_TOKENS, OcrOptions, TextLayer
from .lifecycle import Mode
from .models.presets import (
    CUSTOM_ID,
    DEFAULT_CUSTOM_PROMPT,
    DEFAULT_PRESET_ID,
    PRESETS,
    ModelSpec,
    find_preset,
    preset,
)
from .models.store import describe_source, is_repo_id, looks_like_path

log = logging.getLogger(__name__)

ORGANIZATION = "OCR Tray"
APPLICATION = "OCR Tray"
TABS = ("General", "Model", "OCR", "History")
TAB_FOR_PREFIX = {"memory": "General", "ui": "General", "model": "Model", "ocr": "OCR", "history": "History",
                  "api": "Local API"}
DEFAULT_TASK = "default"  # the setting "ocr/task" when the model reads with its own default task
DEFAULT_API_PORT = 47820  # no well-known tool's port (not in /etc/services); taken → a free port is used


class UnknownModel(ValueError):
    """A model named on the command line is neither a preset, a Hugging Face repo id nor a folder."""


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
    suffix: str = ""  # unit shown beside a number
    # ----- the command line (``ocr-tray ocr``)
    cli_flag: str | None = None  # the flag that overrides it, if any
    cli_help: str = ""  # what the flag does, when the label does not say it (a bool flag turns the default off)
    cli_metavar: str = ""
    # ----- the OcrOptions field it feeds, and how the stored value becomes that field
    option: str = ""
    to_option: Callable[[Any], Any] | None = None
    # ----- the settings panel
    tab: str = ""  # default: by the key's prefix (TAB_FOR_PREFIX), else the prefix as a title
    name: str = ""  # the control's stable object name; default: the key with "/" as "_"
    form_label: str = ""  # the form row's label when the control carries its own text, or a shorter one
    choice_labels: Mapping[str, str] = field(default_factory=dict)  # choice -> what the person reads
    choice_help: Mapping[str, str] = field(default_factory=dict)  # choice -> one sentence under it
    zero_text: str = ""  # what a number shows for 0 (e.g. "All")
    enabled_when: tuple[str, Any] | None = None  # (other key, value): enabled only then
    inline_with: tuple[str, str] | None = None  # (key, choice): shown on the line of that choice
    placeholder: str = ""
    separated: tuple[str, ...] = ()  # choices set apart from those before them (a separator in a pop-up menu)
    browse_folder: bool = False  # a text field with a "Choose Folder…" button
    shortcut: bool = False  # a key combination (Qt's portable text, "Ctrl+Shift+2"): a shortcut recorder
    check: Callable[[str], tuple[bool, str]] | None = None  # checks a typed value off the GUI thread: (ok, words)

    @property
    def object_name(self) -> str:
        return self.name or self.key.replace("/", "_")

    @property
    def tab_name(self) -> str:
        if self.tab:
            return self.tab
        prefix = self.key.split("/", 1)[0]
        return TAB_FOR_PREFIX.get(prefix, prefix.replace("_", " ").title())

    def choice_label(self, value: str) -> str:
        return self.choice_labels.get(value) or value.replace("-", " ").replace("_", " ").capitalize()

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


def _preset_help() -> dict[str, str]:
    return {p.id: f"{p.repo_id} · {p.licence} · {p.languages}" for p in PRESETS}


def _task_choices() -> dict[str, str]:
    """Each task id (first seen first) -> the label of the first preset that has it."""
    labels: dict[str, str] = {DEFAULT_TASK: "Model's default"}
    for tasks in TASKS.values():
        for t in tasks:
            labels.setdefault(t.id, t.label)
    return labels


def _task_help() -> dict[str, str]:
    names = {p.id: p.label for p in PRESETS}
    having = {tid: [names.get(pid, pid) for pid, ts in TASKS.items() if any(t.id == tid for t in ts)]
              for tid in _task_choices() if tid != DEFAULT_TASK}
    return {DEFAULT_TASK: "what each model reads by default",
            **{tid: "with " + ", ".join(who) for tid, who in having.items()}}


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "memory/mode", str, Mode.IDLE_TIMEOUT.value, "Memory mode", choices=tuple(m.value for m in Mode),
        help="what happens to the model's memory when it is not reading",
        choice_labels={
            Mode.KEEP_RESIDENT.value: "Keep the model loaded",
            Mode.AUTO_RELEASE.value: "Release after each batch",
            Mode.IDLE_TIMEOUT.value: "Release when idle for",
        },
        choice_help={
            Mode.KEEP_RESIDENT.value: "Fastest. Memory stays in use until you choose Unload Model.",
            Mode.AUTO_RELEASE.value: "Memory is given back as soon as the queue is empty.",
            Mode.IDLE_TIMEOUT.value: "Ready between documents, then memory is given back.",
        },
    ),
    Setting(
        "memory/idle_minutes", int, 5, "Unload after idle", 1, 240, suffix=" min",
        help="minutes without work before the model is unloaded (idle-timeout mode)",
        name="idleTimeoutMinutes", enabled_when=("memory/mode", Mode.IDLE_TIMEOUT.value),
        inline_with=("memory/mode", Mode.IDLE_TIMEOUT.value),
    ),
    Setting(
        "memory/check_fit", bool, True, "Refuse models that do not fit in free memory",
        help="check available memory before every load", form_label="Memory check:",
        cli_flag="--no-memory-check", cli_help="load the model even when it does not seem to fit in free memory",
    ),
    Setting(
        "model/preset", str, DEFAULT_PRESET_ID, "Model", choices=tuple(p.id for p in PRESETS) + (CUSTOM_ID,),
        name="modelPreset", cli_flag="--model", cli_metavar="ID_OR_DIR",
        cli_help="a preset id (" + ", ".join(p.id for p in PRESETS) + "), a Hugging Face repo id, or a model folder",
        choice_labels={**{p.id: p.label for p in PRESETS}, CUSTOM_ID: "Custom model"},
        choice_help=_preset_help(), separated=(CUSTOM_ID,),
    ),
    Setting(
        "model/custom_source", str, "", "Custom model (folder or repo id)", form_label="Folder or repo:",
        enabled_when=("model/preset", CUSTOM_ID), placeholder="~/Models/my-model  or  owner/repo-name",
        browse_folder=True, check=describe_source,
    ),
    Setting(
        "model/custom_prompt", str, DEFAULT_CUSTOM_PROMPT, "Custom prompt", form_label="Prompt:",
        help="the instruction given to a custom model with each page",
        enabled_when=("model/preset", CUSTOM_ID), placeholder=DEFAULT_CUSTOM_PROMPT,
        cli_flag="--prompt", cli_metavar="TEXT",
        cli_help="the instruction given to the model with each page, instead of the model's own",
    ),
    Setting(
        "ocr/max_tokens", int, DEFAULT_MAX_TOKENS, "Max new tokens per page", 1, 8192,
        help="a page stops after this many tokens of text", cli_flag="--max-tokens", option="max_tokens",
    ),
    Setting(
        "ocr/pdf_dpi", int, DEFAULT_DPI, "PDF resolution", 72, 400, suffix=" dpi",
        help="how finely scanned PDF pages are rendered for the model", cli_flag="--dpi", option="dpi",
    ),
    Setting(
        "ocr/max_image_side", int, 0, "Maximum image side", 0, 8192, suffix=" px",
        help="0 uses the model's own limit", zero_text="Model's limit", cli_flag="--max-side",
        option="max_side", to_option=lambda v: v or None,
    ),
    Setting(
        "ocr/use_text_layer", bool, True, "Use the PDF text layer when present",
        help="born-digital pages are read directly, without the model", form_label="PDF text:",
        cli_flag="--no-text-layer", cli_help="read every page with the model, even born-digital ones",
        option="text_layer", to_option=lambda v: TextLayer.AUTO if v else TextLayer.NEVER,
    ),
    Setting(
        "ocr/task", str, DEFAULT_TASK, "Task", choices=tuple(_task_choices()),
        help="which of its tasks the model is asked for (the buttons under the drop zone show the model's own)",
        cli_flag="--task", cli_metavar="ID",
        cli_help="the model's task: " + "; ".join(f"{pid}: {', '.join(t.id for t in ts)}" for pid, ts in TASKS.items())
        + " (the first is the model's default)",
        option="task", to_option=lambda v: None if v == DEFAULT_TASK else v,
        choice_labels=_task_choices(), choice_help=_task_help(),
    ),
    Setting("ui/auto_copy", bool, False, "Copy finished text to the clipboard", form_label="When done:"),
    Setting("ui/notify", bool, True, "Notify when a job finishes while the window is hidden"),
    Setting(
        "history/enabled", bool, True, "Keep a history of the documents read",
        help="off: nothing read from now on is stored (what is stored stays until you clear it)",
        form_label="History:", option="record_history",
    ),
    Setting(
        "history/keep", int, 0, "Keep history of the last N documents", 0, 100_000,
        help="0 keeps everything", zero_text="All", enabled_when=("history/enabled", True),
    ),
    Setting(
        "capture/shortcut", str, "Ctrl+Shift+2", "Capture Text shortcut", form_label="Shortcut:",
        help="works while another app is in front (⇧⌘2 on a Mac); clear it for none — the menu, the "
             "`ocr-tray capture` command and (macOS) ocrtray://capture still capture",
        shortcut=True,
    ),
    Setting(
        "capture/show_in", str, "popover", "Show the text", choices=("popover", "window"),
        choice_labels={"popover": "In a small panel by the menu-bar icon", "window": "In the main window"},
    ),
    Setting(
        "capture/copy", bool, True, "Copy the text to the clipboard when it is read", form_label="When done:",
        help="a notification says what was copied; click it to see the text",
    ),
    Setting(
        "capture/keep_image", bool, True, "Keep the captured picture with its history entry", form_label="Picture:",
        help="at most 2 megapixels and 1 MB; it goes when the entry goes",
    ),
    Setting(
        "api/enabled", bool, True, "Serve other programs on this computer through the local API",
        help="127.0.0.1 only; a program needs the token in the app's private discovery file",
        form_label="Local API:",
    ),
    Setting(
        "api/port", int, DEFAULT_API_PORT, "Port", 0, 65535, help="when it is taken, a free port is used",
        zero_text="Any free port", enabled_when=("api/enabled", True),
    ),
    Setting(
        "api/max_upload_mb", int, 200, "Largest upload", 1, 10_000, suffix=" MB",
        help="larger uploads are refused (413) before they are read", enabled_when=("api/enabled", True),
    ),
    Setting(
        "api/keep_history", bool, True, "Keep documents read for other programs in the history",
        form_label="History:", enabled_when=("api/enabled", True),
    ),
)


def by_key(table: Sequence[Setting] = SETTINGS) -> dict[str, Setting]:
    return {s.key: s for s in table}


BY_KEY = by_key()


# ------------------------------------------------------------------ overrides (CLI flags, API requests)
def apply_overrides(
    values: Mapping[str, Any], overrides: Mapping[str, Any], table: Sequence[Setting] = SETTINGS
) -> dict[str, Any]:
    """``values`` with ``overrides`` (setting key -> value) applied and validated; None means "not given".

    ``model/preset`` takes any model name: a preset id or repo id selects that preset; another
    repo id or a folder path becomes the custom model (UnknownModel when it is neither).
    Raises ValueError naming the setting for a value out of its bounds.
    """
    merged = dict(values)
    known = by_key(table)
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "model/preset":
            _apply_model(merged, str(value))
            continue
        setting = known[key]
        try:
            merged[key] = setting.coerce(value)
        except ValueError as e:
            raise ValueError(f"{setting.cli_flag or setting.label}: {e}") from None
    return merged


def _apply_model(values: dict[str, Any], name: str) -> None:
    name = name.strip()
    found = find_preset(name)
    if found is not None:
        values["model/preset"] = found.id
    elif looks_like_path(name) or os.path.isdir(os.path.expanduser(name)) or is_repo_id(name):
        values["model/preset"] = CUSTOM_ID
        values["model/custom_source"] = name
    else:
        raise UnknownModel(
            f"unknown model {name!r}; presets: {', '.join(p.id for p in PRESETS)}"
            " (or a Hugging Face repo id like org/name, or a folder path)"
        )


def options_from(values: Mapping[str, Any], table: Sequence[Setting] = SETTINGS, **fields: Any) -> OcrOptions:
    """The ``OcrOptions`` the values describe (every setting with an ``option``), plus ``fields``."""
    options: dict[str, Any] = {}
    for s in table:
        if s.option and s.key in values:
            options[s.option] = s.to_option(values[s.key]) if s.to_option else values[s.key]
    return OcrOptions(**{**options, **fields})


def spec_from(values: Mapping[str, Any], prompt: str | None = None) -> ModelSpec:
    """The model the values choose; ``prompt`` replaces the model's own prompt (a custom model uses its
    ``model/custom_prompt``)."""
    chosen = values.get("model/preset", DEFAULT_PRESET_ID)
    if chosen == CUSTOM_ID:
        source = str(values.get("model/custom_source") or "").strip()
        if source:
            return ModelSpec.resolve(source, prompt if prompt is not None else values.get("model/custom_prompt"))
        chosen = DEFAULT_PRESET_ID
    spec = ModelSpec.from_preset(preset(chosen))
    return replace(spec, prompt=prompt) if prompt is not None else spec


class Settings(QObject):
    """Typed, validated access to the persisted settings. ``changed(key, value)`` on every change."""

    changed = Signal(str, object)

    def __init__(
        self, store: QSettings | None = None, parent: QObject | None = None, table: Sequence[Setting] = SETTINGS
    ) -> None:
        super().__init__(parent)
        self._store = store or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
        )
        self.table = tuple(table)
        self._by_key = by_key(self.table)

    @property
    def store(self) -> QSettings:
        return self._store

    def setting(self, key: str) -> Setting:
        return self._by_key[key]

    def get(self, key: str) -> Any:
        setting = self._by_key[key]
        raw = self._store.value(key, None)
        if raw is None:
            return setting.default
        try:
            return setting.coerce(raw)
        except (ValueError, TypeError) as e:
            log.warning("setting %s has an invalid stored value (%s); using the default %r", key, e, setting.default)
            return setting.default

    def set(self, key: str, value: Any) -> None:
        value = self._by_key[key].coerce(value)
        if self.get(key) == value and self._store.contains(key):
            return
        self._store.setValue(key, value)
        self._store.sync()
        _owner_only(self._store.fileName())
        self.changed.emit(key, value)

    def values(self) -> dict[str, Any]:
        return {s.key: self.get(s.key) for s in self.table}

    # ------------------------------------------------------ derived views
    def mode(self) -> tuple[Mode, float]:
        return Mode(self.get("memory/mode")), 60.0 * self.get("memory/idle_minutes")

    def model_spec(self) -> ModelSpec:
        return spec_from(self.values())

    def ocr_options(self) -> OcrOptions:
        return options_from(self.values(), self.table)


def _owner_only(path: str) -> None:
    """Settings may name private folders: keep the file readable by its owner only."""
    try:
        if path and os.path.exists(path):
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    except OSError:
        pass
