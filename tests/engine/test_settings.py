"""The settings table without any widget: validation, overrides (CLI flags, API requests), options, persistence."""

from __future__ import annotations

import argparse
import logging

import pytest
from PySide6.QtCore import QSettings

from engine.cli import ocr as ocr_cli
from engine.jobs import OcrOptions, TextLayer
from engine.models.presets import CUSTOM_ID, DEFAULT_PRESET_ID, PRESETS
from engine.settings import (
    SETTINGS,
    Setting,
    Settings,
    UnknownModel,
    apply_overrides,
    by_key,
    options_from,
    spec_from,
)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


def defaults(table=SETTINGS) -> dict:
    return {s.key: s.default for s in table}


def test_every_row_is_consistent():
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))
    for s in SETTINGS:
        assert s.coerce(s.default) == s.default, s.key
        if s.choices:
            assert s.default in s.choices
            assert all(s.choice_label(c) for c in s.choices)
        if s.enabled_when or s.inline_with:
            other = (s.enabled_when or s.inline_with)[0]
            assert other in keys, s.key
        if s.option:
            assert s.option in OcrOptions.__dataclass_fields__, s.key
    flags = [s.cli_flag for s in SETTINGS if s.cli_flag]
    assert len(flags) == len(set(flags))


def test_coerce_checks_types_and_bounds():
    tokens = by_key()["ocr/max_tokens"]
    assert tokens.coerce("2048") == 2048
    for bad in ("0", "9000", "lots", True):
        with pytest.raises(ValueError):
            tokens.coerce(bad)
    flag = by_key()["ocr/use_text_layer"]
    assert flag.coerce("off") is False and flag.coerce(1) is True
    with pytest.raises(ValueError):
        flag.coerce("maybe")
    mode = by_key()["memory/mode"]
    with pytest.raises(ValueError):
        mode.coerce("sometimes")


def test_options_and_model_from_the_defaults():
    options = options_from(defaults())
    assert options == OcrOptions()  # the table's defaults are the engine's defaults
    spec = spec_from(defaults())
    assert spec.preset_id == DEFAULT_PRESET_ID and spec.prompt == PRESETS[0].prompt


def test_options_follow_the_values():
    values = defaults() | {"ocr/max_tokens": 77, "ocr/pdf_dpi": 200, "ocr/max_image_side": 900,
                           "ocr/use_text_layer": False}
    assert options_from(values, password="pw") == OcrOptions(
        max_tokens=77, dpi=200, max_side=900, text_layer=TextLayer.NEVER, password="pw")
    assert options_from(values | {"ocr/max_image_side": 0}).max_side is None  # 0: the model's own limit


def test_overrides_name_models_by_preset_repo_folder_or_fail_once(tmp_path):
    base = defaults()
    glm = next(p for p in PRESETS if p.id == "glm-ocr")
    assert apply_overrides(base, {"model/preset": "glm-ocr"})["model/preset"] == "glm-ocr"
    assert apply_overrides(base, {"model/preset": glm.repo_id})["model/preset"] == "glm-ocr"
    as_repo = apply_overrides(base, {"model/preset": "someone/their-ocr"})
    assert (as_repo["model/preset"], as_repo["model/custom_source"]) == (CUSTOM_ID, "someone/their-ocr")
    folder = tmp_path / "my-model"
    folder.mkdir()
    as_folder = apply_overrides(base, {"model/preset": str(folder)})
    assert (as_folder["model/preset"], as_folder["model/custom_source"]) == (CUSTOM_ID, str(folder))
    with pytest.raises(UnknownModel) as e:
        apply_overrides(base, {"model/preset": "paddle"})
    assert "presets: " + ", ".join(p.id for p in PRESETS) in str(e.value)
    with pytest.raises(ValueError, match="--max-tokens"):
        apply_overrides(base, {"ocr/max_tokens": 0})
    assert apply_overrides(base, {"ocr/max_tokens": None}) == base  # None: not given


def test_a_custom_model_uses_its_own_prompt_and_a_preset_can_be_given_one():
    custom = defaults() | {"model/preset": CUSTOM_ID, "model/custom_source": "/m", "model/custom_prompt": "Read:"}
    assert (spec_from(custom).source, spec_from(custom).prompt) == ("/m", "Read:")
    assert spec_from(defaults(), prompt="Table Recognition:").prompt == "Table Recognition:"
    empty = defaults() | {"model/preset": CUSTOM_ID, "model/custom_source": "  "}
    assert spec_from(empty).preset_id == DEFAULT_PRESET_ID  # nothing chosen: the default preset


def test_persistence_and_invalid_stored_values(settings, caplog):
    seen = []
    settings.changed.connect(lambda key, value: seen.append((key, value)))
    settings.set("ocr/max_tokens", "300")
    settings.set("ocr/max_tokens", 300)  # no change: no signal
    assert settings.get("ocr/max_tokens") == 300 and seen == [("ocr/max_tokens", 300)]
    with pytest.raises(ValueError):
        settings.set("ocr/pdf_dpi", 5)
    settings.store.setValue("ocr/pdf_dpi", "many")
    with caplog.at_level(logging.WARNING, logger="engine.settings"):
        assert settings.get("ocr/pdf_dpi") == by_key()["ocr/pdf_dpi"].default
    assert "setting ocr/pdf_dpi has an invalid stored value" in caplog.text
    assert settings.ocr_options().max_tokens == 300


def test_a_row_added_to_a_copy_of_the_table_reaches_flags_options_and_persistence(tmp_path):
    """Adding a setting touches the table and nothing else (the panel's half is in the panel's tests)."""
    extra = Setting("ocr/max_side_test", int, 0, "Test cap", 0, 4000, suffix=" px", cli_flag="--test-cap",
                    option="max_side", to_option=lambda v: v or None, help="a cap for the test")
    table = (*SETTINGS, extra)
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), table=table)
    settings.set("ocr/max_side_test", 1234)
    assert Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), table=table).get(
        "ocr/max_side_test") == 1234  # persisted
    assert settings.ocr_options().max_side == 1234  # reaches the options

    parser = argparse.ArgumentParser()
    ocr_cli.add_setting_flags(parser, settings.values(), table)
    assert "--test-cap" in parser.format_help() and "(saved: 1234 px)" in parser.format_help()
    args = parser.parse_args(["--test-cap", "800"])
    given = ocr_cli.overrides(args, table)
    assert given == {"ocr/max_side_test": 800}
    assert options_from(apply_overrides(settings.values(), given, table), table).max_side == 800
    with pytest.raises(SystemExit):
        parser.parse_args(["--test-cap", "9999"])  # the row's bounds apply to the flag
