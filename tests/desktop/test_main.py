"""The entry point: headless commands run without a GUI; the GUI form starts the app with the parsed arguments."""

from __future__ import annotations

from desktop import launch, main


def test_headless_commands_never_start_the_app(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(launch, "run_app", lambda args: started.append(args) or 0)
    assert main.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("ocr-tray ")
    assert started == []


def test_the_gui_form_hands_its_parsed_arguments_to_the_app(monkeypatch):
    started = []
    monkeypatch.setattr(launch, "run_app", lambda args: started.append(args) or 7)
    assert main.main(["a.png", "--background"]) == 7
    [args] = started
    assert (args.paths, args.background) == (["a.png"], True)
