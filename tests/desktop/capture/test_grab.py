"""Grabbing the screens for the overlay (offscreen): Qt's screens paired with X screens, their native
rectangles, the windows on each screen, and the fallback to Qt's grab when shared memory fails or is slow."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication, QImage

from desktop.capture import grab, xshm
from desktop.capture.grab import ScreenGrabber, ScreenSpec, on_screen, specs, x_screen_numbers
from desktop.capture.overlay import RegionPicker


def spec(index=0, desktop=0, desktops=1, rect=QRect(0, 0, 1600, 900), ratio=1.0):
    return ScreenSpec(index, desktop, desktops, rect, ratio)


def test_qt_desktops_pair_with_x_screens_default_first():
    # Qt lists the desktop of $DISPLAY's screen first, then the others in X order
    three = [spec(i, d, 3) for i, d in enumerate((0, 1, 2))]
    assert x_screen_numbers(three, default=0, count=3) == [0, 1, 2]
    assert x_screen_numbers(three, default=1, count=3) == [1, 0, 2]
    assert x_screen_numbers(three, default=2, count=3) == [2, 0, 1]
    # two monitors of one X screen, and a second X screen
    monitors = [spec(0, 0, 2), spec(1, 0, 2), spec(2, 1, 2)]
    assert x_screen_numbers(monitors, default=1, count=2) == [1, 1, 0]
    # one screen of several (repeat the last region) keeps its desktop's number
    assert x_screen_numbers([spec(0, 2, 3)], default=0, count=3) == [2]
    # what does not pair up is no guess
    assert x_screen_numbers(three, default=0, count=2) is None
    assert x_screen_numbers([spec(0, 0, 1)], default=3, count=1) is None
    assert x_screen_numbers([], default=0, count=1) is None


@pytest.mark.parametrize("rect, ratio, root, native", [
    (QRect(0, 0, 1600, 900), 1.0, QSize(1600, 900), QRect(0, 0, 1600, 900)),
    (QRect(0, 0, 800, 450), 2.0, QSize(1600, 900), QRect(0, 0, 1600, 900)),
    # Qt keeps a screen's position native and scales its size: the right-hand monitor of two at 2×
    (QRect(1280, 0, 640, 720), 2.0, QSize(2560, 1440), QRect(1280, 0, 1280, 1440)),
    # 1.5×: 1024 / 1.5 = 682.7, shown as 683; 1024 and 1025 both give 683, the root's edge decides
    (QRect(0, 0, 853, 683), 1.5, QSize(1280, 1024), QRect(0, 0, 1280, 1024)),
    # an odd width (1366 and 1367 both give 911): the one reaching the edge, not the roundest
    (QRect(0, 0, 911, 683), 1.5, QSize(1367, 1024), QRect(0, 0, 1367, 1024)),
    # ...and a left-hand monitor, away from the edge, the roundest (1279 would give 853 too)
    (QRect(0, 0, 853, 683), 1.5, QSize(2560, 1024), QRect(0, 0, 1280, 1024)),
])
def test_a_screens_rectangle_in_its_x_screen(rect, ratio, root, native):
    assert spec(rect=rect, ratio=ratio).native(root) == native


class FakeScreen:
    def __init__(self, rect, ratio=1.0):
        self.rect, self.ratio, self.siblings = rect, ratio, [self]

    def virtualSiblings(self):
        return list(self.siblings)

    def geometry(self):
        return QRect(self.rect)

    def devicePixelRatio(self):
        return self.ratio


def test_specs_number_desktops_over_every_screen():
    left, right = FakeScreen(QRect(0, 0, 1280, 1440)), FakeScreen(QRect(1280, 0, 640, 720), 2.0)
    left.siblings = right.siblings = [left, right]  # two monitors of one X screen
    other = FakeScreen(QRect(0, 0, 1920, 1080))  # a second X screen
    everyone = [left, right, other]
    got = specs(everyone, everyone)
    assert [(s.index, s.desktop, s.desktops) for s in got] == [(0, 0, 2), (1, 0, 2), (2, 1, 2)]
    assert (got[1].logical, got[1].ratio) == (QRect(1280, 0, 640, 720), 2.0)
    (alone,) = specs([other], everyone)  # one screen (the last region's) keeps its desktop's number
    assert (alone.index, alone.desktop, alone.desktops) == (0, 1, 2)


def test_windows_on_a_screen_in_its_logical_pixels():
    native = QRect(1280, 0, 1280, 1440)  # the right-hand monitor at 2×
    rects = [QRect(1380, 100, 400, 200),  # on it
             QRect(1000, 50, 600, 100),  # across both: the part on it
             QRect(0, 0, 500, 500),  # on the other monitor
             QRect(1280, 0, 1280, 1440)]  # the desktop itself
    assert on_screen(rects, native, 2.0) == [QRect(50, 50, 200, 100), QRect(0, 25, 160, 50)]


# ------------------------------------------------------------------ the grabber, Qt's path and the fallback
def frame(qtbot, grabber):
    got = []
    grabber.grabbed.connect(lambda index, image, windows: got.append((index, image.size(), windows)))
    return got


def test_offscreen_grabs_with_qt_at_once(qtbot):
    screens = QGuiApplication.screens()
    grabber = ScreenGrabber(screens)
    got = frame(qtbot, grabber)
    finished = []
    grabber.finished.connect(lambda: finished.append(1))
    grabber.start()
    assert not grabber.shared_memory and finished == [1]
    assert sorted(i for i, _size, _w in got) == list(range(len(screens)))
    for index, size, windows in got:
        geometry = screens[index].geometry()
        assert size == QSize(round(geometry.width() * screens[index].devicePixelRatio()),
                             round(geometry.height() * screens[index].devicePixelRatio()))
        assert windows == []


class FakeConnection:
    """Shared memory that answers the pointer, then refuses the grab of ``refuse`` or never answers."""

    def __init__(self, refuse: int | None = None, silent: bool = False):
        self.default_screen, self.refuse, self.silent = 0, refuse, silent
        self.roots = [xshm.Root(0, 1, 4000, 4000)]
        self.sent: list[QRect] = []
        self.populated: list[bool] = []  # per segment populated: was it on the GUI thread?
        self.pointer = xshm.Pointer(0, 5, 5)

    def fileno(self):
        import os

        self._pipe = os.pipe()  # never readable: answers come from _readable's own poll
        return self._pipe[0]

    def send_pointer(self):
        return 1

    def send_grab(self, root, rect):
        self.sent.append(rect)
        image = QImage(rect.size(), QImage.Format.Format_RGB32)
        image.fill(0xFF336699)
        populated = self.populated

        class Segment:
            def populate(self):
                import threading

                populated.append(threading.current_thread() is threading.main_thread())
                return True

        class Pending:
            sequence = len(self.sent) + 1
            segment = Segment()

            def image(self):
                return image

        return Pending()

    def drain_events(self):
        pass

    def poll(self, sequence):
        if self.silent and sequence > 1:
            return None
        if sequence == 1:
            return self.pointer
        if self.refuse is not None and sequence - 2 == self.refuse:
            raise xshm.XcbError("the X server refused (error 10)")
        return True


@pytest.fixture
def fake_shared_memory(monkeypatch):
    made = []

    def use(connection):
        made.append(connection)
        monkeypatch.setattr(grab, "_shared_memory_possible", lambda display: display not in grab._no_shm)
        monkeypatch.setattr(grab, "_connection", lambda display: connection)
        monkeypatch.setattr(grab, "_no_shm", set())
        return connection

    return use


def test_shared_memory_delivers_every_screen_and_its_pages_are_mapped_off_the_gui_thread(qtbot, fake_shared_memory):
    from engine import background

    screens = QGuiApplication.screens()
    connection = fake_shared_memory(FakeConnection())
    grabber = ScreenGrabber(screens)
    got = frame(qtbot, grabber)
    finished = []
    grabber.finished.connect(lambda: finished.append(1))
    grabber.start()
    assert grabber.shared_memory and finished == [1]
    assert sorted(i for i, _size, _w in got) == list(range(len(screens)))
    assert [size for _i, size, _w in got] == [r.size() for r in connection.sent]  # the server's pictures
    # every segment's pages were mapped before the paint reads them, and not by the GUI thread
    qtbot.waitUntil(lambda: background.pending() == 0, timeout=10_000)
    assert connection.populated == [False] * len(screens)


def test_the_screen_under_the_pointer_is_asked_for_and_delivered_first(qtbot, fake_shared_memory, monkeypatch):
    connection = fake_shared_memory(FakeConnection())
    connection.roots = [xshm.Root(n, 10 + n, 1000 + 100 * n, 800) for n in range(3)]  # three X screens
    connection.pointer = xshm.Pointer(2, 40, 30)  # on the third
    monkeypatch.setattr(grab, "specs", lambda screens: [
        ScreenSpec(i, i, 3, QRect(0, 0, 1000 + 100 * i, 800), 1.0) for i in range(len(screens))])
    grabber = ScreenGrabber([None, None, None])  # type: ignore[list-item]  # only counted on this path
    got = frame(qtbot, grabber)
    grabber.start()
    assert [r.width() for r in connection.sent] == [1200, 1000, 1100]  # the server copies it first
    assert [i for i, _size, _w in got] == [2, 0, 1]


def test_a_refused_grab_hands_the_missing_screens_to_qt_and_qt_grabs_from_then_on(qtbot, fake_shared_memory):
    screens = QGuiApplication.screens()
    connection = fake_shared_memory(FakeConnection(refuse=0))
    grabber = ScreenGrabber(screens)
    got = frame(qtbot, grabber)
    grabber.start()
    assert grabber.shared_memory and connection.sent  # it was asked
    assert sorted(i for i, _size, _w in got) == list(range(len(screens)))  # and Qt grabbed them all
    assert grab._no_shm  # remembered: the next capture goes to Qt at once
    again = ScreenGrabber(screens)
    frame(qtbot, again)
    again.start()
    assert not again.shared_memory


def test_a_silent_server_costs_a_bounded_wait_then_qt_grabs(qtbot, fake_shared_memory, monkeypatch):
    monkeypatch.setattr(grab, "WAIT_MS", 50)
    screens = QGuiApplication.screens()
    fake_shared_memory(FakeConnection(silent=True))
    grabber = ScreenGrabber(screens)
    got = frame(qtbot, grabber)
    grabber.start()
    assert got == []  # nothing yet: the GUI thread went back to its events
    qtbot.waitUntil(lambda: len(got) == len(screens), timeout=10_000)
    assert not grab._no_shm  # slow is not refused: shared memory is tried again next time


def test_the_picker_shows_each_screen_as_it_arrives_and_takes_the_keyboard_when_all_are_there(qtbot):
    screens = QGuiApplication.screens()
    picker = RegionPicker.for_screens(screens)
    picker.open()
    assert not picker.complete and not any(w.isVisible() for w in picker.windows)
    shown = []
    picker.shown.connect(lambda: shown.append(1))
    image = QImage(screens[0].geometry().size(), QImage.Format.Format_RGB32)
    image.fill(0xFF204060)
    picker.deliver(0, image, [])
    assert picker.windows[0].isVisible() and picker.complete == (len(screens) == 1)
    for i in range(1, len(screens)):
        picker.deliver(i, image, [])
    assert picker.complete and all(w.isVisible() for w in picker.windows)
    qtbot.waitUntil(lambda: shown == [1], timeout=10_000)  # every overlay painted: the model may load now
    picker.cancel()
