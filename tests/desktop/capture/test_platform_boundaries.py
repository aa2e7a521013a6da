"""The capture's platform code at its boundary, with the system calls faked: shortcut text, Carbon's hot key,
the Screen Recording preflight, screencapture and the Wayland pickers, the single-instance message, the CLI,
the ocrtray:// URL."""

from __future__ import annotations

import ctypes
import json
import os
import stat
import subprocess
import sys
import uuid

import pytest
from PySide6.QtCore import QUrl

from desktop.capture import external, hotkey_macos, keys, macos
from desktop.capture.hotkeys import GlobalShortcut, WaylandShortcut, capture_command
from desktop.capture.wiring import capture_mode
from desktop.single_instance import SingleInstance, parse_capture, parse_message
from engine import cli
from tests.processes import child_env

# ------------------------------------------------------------------ shortcut text
CTRL_SHIFT = (keys.X_CONTROL | keys.X_SHIFT, keys.CMD_KEY | keys.SHIFT_KEY)


@pytest.mark.parametrize("text, portable, mac, x11, carbon", [
    ("Ctrl+Shift+2", "Ctrl+Shift+2", "⇧⌘2", ("2", CTRL_SHIFT[0]), (0x13, CTRL_SHIFT[1])),
    ("Ctrl+Shift+@", "Ctrl+Shift+2", "⇧⌘2", ("2", CTRL_SHIFT[0]), (0x13, CTRL_SHIFT[1])),
    ("Meta+Alt+t", "Alt+Meta+T", "⌃⌥T", ("t", keys.X_MOD1 | keys.X_MOD4), (0x11, keys.OPTION_KEY | keys.CONTROL_KEY)),
    ("F5", "F5", "F5", ("F5", 0), (0x60, 0)),
    ("Ctrl+Space", "Ctrl+Space", "⌘Space", ("space", keys.X_CONTROL), (0x31, keys.CMD_KEY)),
    ("Ctrl+/", "Ctrl+/", "⌘/", ("slash", keys.X_CONTROL), (0x2C, keys.CMD_KEY)),
])
def test_shortcut_text_in_each_systems_terms(text, portable, mac, x11, carbon):
    combo = keys.parse(text)
    assert combo.portable == portable
    assert keys.native_text(combo, mac=True) == mac
    assert keys.native_text(combo, mac=False) == portable
    assert keys.x11(combo) == x11
    assert keys.carbon(combo) == carbon


@pytest.mark.parametrize("text", ["", "2", "Ctrl+", "Hyper+2", "Ctrl+A, Ctrl+B", "Ctrl+€"])
def test_what_is_no_global_shortcut(text):
    with pytest.raises(keys.BadShortcut):
        keys.parse(text)


def test_platforms_without_a_shortcut_say_what_to_do():
    ok, words = GlobalShortcut().register("Ctrl+Shift+2")
    assert not ok and "menu" in words
    ok, words = WaylandShortcut().register("Ctrl+Shift+2")
    assert not ok and "Wayland" in words and capture_command() in words and "capture" in capture_command()


# ------------------------------------------------------------------ Carbon (macOS), faked at the library
class FakeCarbon:
    """The five Carbon functions the binding calls, recording their arguments."""

    def __init__(self, register_status: int = 0) -> None:
        self.register_status = register_status
        self.installed = []
        self.registered = []
        self.unregistered = []
        self.pressed_id = None

    def GetApplicationEventTarget(self):
        return 0xA11

    def InstallEventHandler(self, target, handler, count, spec, user_data, out):
        self.installed.append((target, handler, count, spec._obj.eventClass, spec._obj.eventKind))
        return 0

    def RegisterEventHotKey(self, code, mask, hotkey_id, target, options, out):
        self.registered.append((code, mask, hotkey_id.signature, hotkey_id.id, target, options))
        if self.register_status == 0:
            out._obj.value = 0xBEEF
        return self.register_status

    def UnregisterEventHotKey(self, ref):
        self.unregistered.append(ref.value)
        return 0

    def GetEventParameter(self, event, name, kind, out_type, size, out_size, out):
        assert (name, kind) == (hotkey_macos.K_EVENT_PARAM_DIRECT_OBJECT, hotkey_macos.TYPE_EVENT_HOT_KEY_ID)
        assert size == ctypes.sizeof(hotkey_macos.EventHotKeyID)
        got = out._obj
        got.signature, got.id = self.pressed_id
        return 0


def test_carbon_registers_an_exclusive_hot_key_and_answers_its_event(qtbot):
    carbon = FakeCarbon()
    shortcut = hotkey_macos.CarbonShortcut(carbon=carbon)
    ok, words = shortcut.register("Ctrl+Shift+2")
    assert ok and words == "⇧⌘2"
    (target, _handler, count, event_class, event_kind), = carbon.installed
    assert (target, count, event_class, event_kind) == (0xA11, 1, hotkey_macos.four_cc("keyb"), 5)
    (code, mask, signature, hot_id, target, options), = carbon.registered
    assert (code, mask) == (0x13, 256 | 512)  # kVK_ANSI_2, cmdKey | shiftKey
    assert signature == hotkey_macos.four_cc("OCRt") and target == 0xA11
    assert options == hotkey_macos.K_EVENT_HOT_KEY_EXCLUSIVE

    pressed = []
    shortcut.activated.connect(lambda: pressed.append(1))
    carbon.pressed_id = (signature, hot_id)
    assert shortcut._on_event(None, 0x1, None) == 0 and pressed == [1]
    carbon.pressed_id = (hotkey_macos.four_cc("othr"), hot_id)  # another app's hot key: not ours
    assert shortcut._on_event(None, 0x1, None) == hotkey_macos.EVENT_NOT_HANDLED_ERR and pressed == [1]

    assert shortcut.register("Ctrl+Shift+3")[0]  # re-registering drops the old one first; one handler only
    assert carbon.unregistered == [0xBEEF] and len(carbon.installed) == 1
    carbon.pressed_id = (signature, hot_id)  # the old id no longer counts
    assert shortcut._on_event(None, 0x1, None) == hotkey_macos.EVENT_NOT_HANDLED_ERR


def test_carbon_says_clearly_when_another_app_holds_the_combination():
    shortcut = hotkey_macos.CarbonShortcut(carbon=FakeCarbon(register_status=hotkey_macos.EVENT_HOT_KEY_EXISTS_ERR))
    ok, words = shortcut.register("Ctrl+Shift+2")
    assert not ok and "⇧⌘2 is already used by another app" in words and "Settings › Capture" in words
    ok, words = hotkey_macos.CarbonShortcut(carbon=FakeCarbon(register_status=-50)).register("Ctrl+Shift+2")
    assert not ok and "-50" in words


def test_the_carbon_signatures_match_the_headers():
    assert ctypes.sizeof(hotkey_macos.EventHotKeyID) == 8 and ctypes.sizeof(hotkey_macos.EventTypeSpec) == 8
    assert hotkey_macos.four_cc("hkid") == 0x686B6964


# ------------------------------------------------------------------ the Screen Recording permission
class FakeQuartz:
    def __init__(self, allowed: bool) -> None:
        self.allowed, self.requests = allowed, 0

    def CGPreflightScreenCaptureAccess(self):
        return self.allowed

    def CGRequestScreenCaptureAccess(self):
        self.requests += 1
        return self.allowed


def test_preflight_and_the_privacy_pane():
    assert macos.screen_capture_allowed(FakeQuartz(True)) is True
    assert macos.screen_capture_allowed(FakeQuartz(False)) is False
    assert macos.screen_capture_allowed(object()) is None  # an older macOS without the call
    quartz = FakeQuartz(False)
    macos.request_access(quartz)
    assert quartz.requests == 1
    opened = []
    assert macos.open_privacy_pane(lambda url: opened.append(url) or True)
    assert opened == ["x-apple.systempreferences:com.apple.preference.security?Privacy_ScreenCapture"]


def test_without_pyobjc_the_preflight_cannot_tell(monkeypatch):
    monkeypatch.setitem(sys.modules, "Quartz", None)  # import Quartz raises ImportError
    assert macos.screen_capture_allowed() is None


# ------------------------------------------------------------------ the system's pickers, as processes
def test_screencapture_flags():
    assert external.macos_command("region", "/p/a.png") == ["/usr/sbin/screencapture", "-i", "-x", "/p/a.png"]
    assert external.macos_command("window", "/p/a.png") == ["/usr/sbin/screencapture", "-i", "-W", "-o", "-x",
                                                            "/p/a.png"]


def test_wayland_pickers_in_order_of_preference():
    have = {"grim", "slurp", "spectacle", "gnome-screenshot"}
    command = external.wayland_command("region", "/p/a.png", which=lambda n: n in have)
    assert command[:2] == ["sh", "-c"] and "grim" in command[2] and command[-1] == "/p/a.png"
    have = {"spectacle"}
    assert external.wayland_command("region", "/p/a.png", which=lambda n: n in have)[0] == "spectacle"
    have = {"gnome-screenshot"}
    assert external.wayland_command("region", "/p/a.png", which=lambda n: n in have) == [
        "gnome-screenshot", "--area", "--file=/p/a.png"]
    assert external.wayland_command("region", "/p/a.png", which=lambda n: False) is None


def fake_picker(tmp_path, writes: bool) -> list[str]:
    """A stand-in for screencapture: writes a PNG to its last argument (a picked region) or nothing (Esc)."""
    script = tmp_path / "fake-screencapture"
    body = "import sys\n"
    if writes:
        body += ("from PIL import Image\nImage.new('RGB', (60, 20), 'white').save(sys.argv[-1])\n")
    script.write_text(body)
    return [sys.executable, str(script), "-i", "-x"]


@pytest.mark.parametrize("writes", [True, False])
def test_a_picker_process_gives_a_private_file_or_nothing(qtbot, tmp_path, writes):
    target = str(tmp_path / "capture.png")
    picker = external.ExternalPicker([*fake_picker(tmp_path, writes), target], target)
    got = []
    picker.picked.connect(lambda p: got.append(("picked", p)))
    picker.cancelled.connect(lambda: got.append(("cancelled", None)))
    picker.start()
    qtbot.waitUntil(lambda: bool(got), timeout=20_000)
    if writes:
        assert got == [("picked", target)]
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    else:
        assert got == [("cancelled", None)] and not os.path.exists(target)


def test_a_picker_that_cannot_start_says_so(qtbot, tmp_path):
    picker = external.ExternalPicker([str(tmp_path / "no-such-tool"), "x.png"], str(tmp_path / "x.png"))
    said = []
    picker.failed.connect(said.append)
    picker.start()
    qtbot.waitUntil(lambda: bool(said), timeout=10_000)
    assert "could not start" in said[0]


# ------------------------------------------------------------------ ocr-tray capture, the socket, the URL
def test_the_capture_message_is_strict():
    assert parse_capture(b'{"action": "capture"}') == "region"
    assert parse_capture(b'{"action": "capture", "mode": "window"}') == "window"
    assert parse_capture(b'{"action": "capture", "mode": "last"}') == "last"
    for bad in (b'{"action": "capture", "mode": "all"}', b'{"action": "capture", "extra": 1}',
                b'{"action": "quit"}', b'["capture"]', b'{"action": "capture", "mode": 2}', b"\xff"):
        assert parse_capture(bad) is None, bad
    assert parse_message(b'{"action": "capture"}') is None  # and it is no list of paths


FORWARD_CAPTURE = """
import sys
from PySide6.QtCore import QCoreApplication
from desktop.single_instance import SingleInstance
app = QCoreApplication([])
instance = SingleInstance({key!r})
if instance.acquire():
    sys.exit(3)
sys.exit(0 if instance.forward_capture({mode!r}) else 4)
"""


def test_a_second_launch_asks_the_first_for_a_capture(qtbot):
    key = f"ocr-tray-test-{uuid.uuid4().hex[:8]}"
    first = SingleInstance(key)
    try:
        assert first.acquire()
        got, paths = [], []
        first.captureRequested.connect(got.append)
        first.pathsReceived.connect(paths.append)
        for mode in ("region", "window"):
            proc = subprocess.Popen([sys.executable, "-c", FORWARD_CAPTURE.format(key=key, mode=mode)],
                                    env=child_env())
            qtbot.waitUntil(lambda m=mode: got[-1:] == [m], timeout=20_000)
            assert proc.wait(20) == 0
        assert got == ["region", "window"] and paths == []
    finally:
        first.release()


def test_the_capture_command_is_a_gui_command():
    args = cli.parse(["capture"])
    assert args.command == "capture" and args.mode == "region" and not cli.is_headless(args)
    assert cli.parse(["capture", "--window"]).mode == "window"
    assert cli.parse(["capture", "--last"]).mode == "last"
    assert cli.is_headless(cli.parse(["status"]))
    with pytest.raises(SystemExit):
        cli.parse(["capture", "--window", "--last"])
    assert "capture" in cli.build_parser().format_help()


def test_the_launcher_hands_a_capture_to_the_running_app(monkeypatch):
    from desktop import launch

    sent = []

    class Instance:
        def forward_capture(self, mode):
            sent.append(mode)
            return True

    assert launch.hand_over_capture(Instance(), "window") == 0 and sent == ["window"]


@pytest.mark.parametrize("url, mode", [
    ("ocrtray://capture", "region"), ("ocrtray://capture?mode=window", "window"), ("ocrtray://capture/last", "last"),
    ("OCRTRAY://Capture", "region"), ("ocrtray://capture?mode=everything", None), ("ocrtray://quit", None),
    ("https://capture", None),
])
def test_the_url_scheme(url, mode):
    assert capture_mode(QUrl(url)) == mode


def test_json_of_the_forwarded_message_is_one_line():
    line = json.dumps({"action": "capture"}) + "\n"
    assert parse_capture(line.encode().split(b"\n")[0]) == "region"
