"""The X11 shared-memory grab on a real X server (a private Xvfb with two screens of different sizes):
its pixels are those the server's plain GetImage gives (python-xlib, a second implementation), on every
X screen and at an offset; its pages can be mapped ahead of the paint; it says where the pointer is; its
memory lives exactly as long as the pictures made over it; a server that stops answering costs a bounded
wait, and a remote display is not tried."""

from __future__ import annotations

import gc
import os
import signal

import pytest
from PySide6.QtCore import QRect

from desktop.capture import xshm
from tests.desktop.capture.test_x11_capture import start_xvfb
from tests.desktop.test_screenshots import find_xvfb

pytestmark = [pytest.mark.slow, pytest.mark.linux_only]

SCREENS = ("1600x900x24", "1280x1024x24")


@pytest.fixture(scope="module")
def server():
    xvfb = find_xvfb()
    if xvfb is None:
        reason = "Xvfb is not installed and could not be installed (needs root and apt-get)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    proc, display = start_xvfb(xvfb, SCREENS)
    if display is None:
        proc.kill()
        pytest.skip(f"Xvfb did not start: {proc.stderr.read().decode(errors='replace')[-300:]}")
    paint_roots(display)
    yield proc, display
    proc.terminate()
    proc.wait(10)


def paint_roots(display: str) -> None:
    """Stripes of different colours on every screen's root, so a wrong offset or screen shows."""
    from Xlib.display import Display

    d = Display(display)
    for n in range(d.screen_count()):
        root = d.screen(n).root
        for i in range(40):
            gc_ = root.create_gc(foreground=(i * 0x0B1D07 + n * 0x402010) & 0xFFFFFF)
            root.fill_rectangle(gc_, i * 37 % 1200, i * 23 % 800, 300, 150)
            gc_.free()
    d.sync()
    d.close()


def server_pixels(display: str, screen: int, rect: QRect) -> bytes:
    """The same rectangle through the server's plain GetImage: BGRX, the X byte cleared."""
    from Xlib import X
    from Xlib.display import Display

    d = Display(display)
    try:
        raw = d.screen(screen).root.get_image(rect.x(), rect.y(), rect.width(), rect.height(), X.ZPixmap,
                                               0xFFFFFFFF).data
    finally:
        d.close()
    return bytes(b & m for b, m in zip(raw, b"\xff\xff\xff\x00" * (len(raw) // 4)))


def pixels(image) -> bytes:
    raw = bytes(image.constBits())[: image.width() * image.height() * 4]
    return bytes(b & m for b, m in zip(raw, b"\xff\xff\xff\x00" * (len(raw) // 4)))


@pytest.mark.parametrize("screen, rect", [(0, QRect(0, 0, 1600, 900)), (1, QRect(0, 0, 1280, 1024)),
                                          (1, QRect(133, 71, 321, 97))])
def test_the_shared_memory_grab_is_what_the_server_shows(server, screen, rect):
    _proc, display = server
    with xshm.Connection(display) as connection:
        assert [(r.number, r.width, r.height) for r in connection.roots] == [(0, 1600, 900), (1, 1280, 1024)]
        image = connection.grab(connection.roots[screen], rect)
    assert (image.width(), image.height()) == (rect.width(), rect.height())
    assert pixels(image) == server_pixels(display, screen, rect)


def test_the_pointer_is_found_on_the_second_screen(server):
    from Xlib.display import Display

    _proc, display = server
    d = Display(display)
    d.screen(1).root.warp_pointer(321, 123)
    d.sync()
    d.close()
    with xshm.Connection(display) as connection:
        assert connection.pointer() == xshm.Pointer(1, 321, 123)


def mapped_segments() -> int:
    """Shared-memory segments this process has mapped, as the kernel sees them (this process draws offscreen:
    Qt maps none of its own)."""
    with open("/proc/self/maps") as f:
        return sum(1 for line in f if "/SYSV" in line)


def test_the_memory_lives_as_long_as_its_pictures(server):
    _proc, display = server
    gc.collect()
    before, mapped = xshm.live_segments(), mapped_segments()
    with xshm.Connection(display) as connection:
        pending = connection.send_grab(connection.roots[0], QRect(0, 0, 400, 300))
        connection.wait(pending.sequence)
        image = pending.image()
        copy = image.copy(QRect(10, 10, 50, 50))  # a crop is a copy: it needs no shared memory
        del pending
    gc.collect()
    assert xshm.live_segments() == before + 1  # the picture still holds its segment (the connection is gone)
    assert mapped_segments() == mapped + 1
    expected = server_pixels(display, 0, QRect(0, 0, 400, 300))
    assert pixels(image) == expected  # ...and its pixels are intact
    shallow = image  # a copy sharing the pixels keeps it too
    del image
    gc.collect()
    assert xshm.live_segments() == before + 1
    del shallow
    gc.collect()
    assert xshm.live_segments() == before and mapped_segments() == mapped  # the last one gone: memory back
    assert copy.width() == 50


def resident_kib(address: int) -> int:
    """How much of the mapping at ``address`` this process has in its page tables (/proc/self/smaps)."""
    with open("/proc/self/smaps") as f:
        lines = f.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{address:x}-"))
    for line in lines[start + 1:]:
        if line.startswith("Rss:"):
            return int(line.split()[1])
    raise AssertionError("no Rss line")


def test_populate_maps_every_page_before_the_paint_reads_them(server):
    _proc, display = server
    rect = QRect(0, 0, 400, 300)
    with xshm.Connection(display) as connection:
        pending = connection.send_grab(connection.roots[0], rect)
        connection.wait(pending.sequence)
        segment = pending.segment
        assert resident_kib(segment.address) == 0  # the server wrote the pages; none is mapped here yet
        assert segment.populate()
        assert resident_kib(segment.address) == -(-segment.size // 4096) * 4
        assert pixels(pending.image()) == server_pixels(display, 0, rect)  # and the picture is untouched
        segment.release()
        assert not segment.populate()  # gone: nothing to map


def test_a_rectangle_outside_the_screen_is_refused(server):
    _proc, display = server
    with xshm.Connection(display) as connection, pytest.raises(xshm.XcbError):
        connection.send_grab(connection.roots[1], QRect(1200, 0, 200, 100))


def test_a_server_that_stops_answering_costs_a_bounded_wait(server):
    proc, display = server
    with xshm.Connection(display, timeout=0.3) as connection:
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            with pytest.raises(xshm.XcbError, match="did not answer"):
                connection.pointer()
        finally:
            os.kill(proc.pid, signal.SIGCONT)


@pytest.mark.parametrize("name", ["localhost:10.0", "remote.example:0", "tcp/host:1"])
def test_a_remote_display_is_not_tried(name):
    assert not xshm.is_local(name)
    with pytest.raises(xshm.XcbError, match="not a local display"):
        xshm.Connection(name)


def test_local_display_names():
    assert xshm.is_local(":0") and xshm.is_local(":1.0") and xshm.is_local("unix:2")
