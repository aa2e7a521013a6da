"""One parser for everything a person can type: the GUI form, every command, --help that lists them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine import cli
from engine.cli import history, models, ocr


def test_help_lists_everything_a_person_can_type():
    text = cli.build_parser({}).format_help()
    for word in ("ocr", "models", "history", "FILE", "--background", "--self-test", "--version"):
        assert word in text, word


def test_the_gui_form_with_files_and_options():
    args = cli.parse(["a.png", "b.pdf", "--background"], saved={})
    assert (args.command, args.paths, args.background) == (cli.APP, ["a.png", "b.pdf"], True)
    args = cli.parse(["--background", "a.png"], saved={})
    assert (args.command, args.paths, args.background) == (cli.APP, ["a.png"], True)
    args = cli.parse([], saved={})
    assert (args.command, args.paths, args.background) == (cli.APP, [], False)
    assert not cli.is_headless(args)
    args = cli.parse(["--instance-key", "k"], saved={})
    assert (args.command, args.instance_key) == (cli.APP, "k")


def test_a_file_named_like_nothing_special_is_a_file_and_a_command_is_a_command():
    assert cli.parse(["models"], saved={}).command == "models"
    assert cli.parse(["./models"], saved={}).paths == ["./models"]
    assert cli.parse(["--", "ocr"], saved={}).paths == ["ocr"]  # a file literally named "ocr"


def test_each_command_is_its_own_module_with_plain_values_in_the_namespace():
    assert {k: cli.COMMANDS[k] for k in ("ocr", "models", "history")} == {"ocr": ocr, "models": models,
                                                                           "history": history}
    args = cli.parse(["ocr", "x.png", "--max-tokens", "5", "--json"], saved={})
    assert args.command == "ocr" and args.paths == ["x.png"] and args.json and vars(args)["ocr/max_tokens"] == 5
    for value in vars(args).values():
        assert value is None or isinstance(value, (str, int, float, bool, list)), value


def test_ocr_help_shows_every_saved_default():
    saved = {"ocr/max_tokens": 333, "ocr/pdf_dpi": 150, "ocr/max_image_side": 0, "memory/check_fit": True,
             "ocr/use_text_layer": True, "model/preset": "glm-ocr", "model/custom_prompt": "OCR:"}
    text = " ".join(cli.build_parser(saved)._subparsers._group_actions[0].choices["ocr"].format_help().split())
    for shown in ("(saved: 333)", "(saved: 150 dpi)", "(saved: Model's limit)", "(saved: glm-ocr)",
                  "(saved setting: on)", "(saved: OCR:)"):
        assert shown in text, shown


def test_version_and_unknown_commands_from_the_entry_point():
    run = subprocess.run([sys.executable, "-m", "desktop.main", "--version"], capture_output=True, text=True,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("ocr-tray ")


@pytest.mark.parametrize("argv", [["ocr"], ["history", "show"], ["models", "pull"]])
def test_missing_arguments_are_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.parse(argv, saved={})
    assert e.value.code == 2
