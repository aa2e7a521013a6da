"""The drop zone on its own: local paths out, anything else named in one line."""

from __future__ import annotations

from desktop.views.drop_zone import DropZone, paths_from_mime

from ..conftest import drop, mime_for


def test_drop_zone_emits_local_paths_and_names_web_links(qtbot, tmp_path):
    zone = DropZone()
    qtbot.addWidget(zone)
    got, rejected = [], []
    zone.pathsDropped.connect(got.append)
    zone.rejected.connect(rejected.append)
    a = tmp_path / "a.png"
    assert drop(zone, [a, tmp_path], ["https://example.com/scan.pdf"])
    assert got == [[str(a), str(tmp_path)]]
    assert len(rejected) == 1 and "https://example.com/scan.pdf" in rejected[0]
    assert "\n" not in rejected[0]


def test_drop_zone_refuses_a_drag_without_urls(qtbot):
    zone = DropZone()
    qtbot.addWidget(zone)
    from PySide6.QtCore import QMimeData

    mime = QMimeData()
    mime.setText("some text")
    assert paths_from_mime(mime) == ([], ["dropped text"])
    assert paths_from_mime(mime_for(["/x/y.pdf"])) == (["/x/y.pdf"], [])


def test_a_drag_with_something_worth_reading_announces_files_at_once(qtbot, tmp_path):
    """``filesComing`` (the app prewarms the model on it) when a drag enters, before any drop; judged by the
    names alone (a folder, a readable ending, or no ending at all), never for a web link or text."""
    from PySide6.QtCore import QMimeData

    from desktop.views.drop_zone import worth_reading

    from ..conftest import drag_enter, drag_leave

    zone = DropZone()
    qtbot.addWidget(zone)
    coming, dropped = [], []
    zone.filesComing.connect(coming.append)
    zone.pathsDropped.connect(dropped.append)
    assert drag_enter(zone, [tmp_path / "scan.pdf", tmp_path / "b.png"])
    assert coming == [[str(tmp_path / "scan.pdf")]] and dropped == []  # announced on entering, with its first file
    drag_leave(zone)
    assert coming == [[str(tmp_path / "scan.pdf")]] and dropped == []  # leaving takes nothing back, drops nothing
    assert drag_enter(zone, [tmp_path / "Scans", tmp_path / "b.png"])  # a folder first: its first file is unknown
    assert coming[-1] == []
    drag_leave(zone)

    assert worth_reading(mime_for([tmp_path / "Scans"]))  # a folder (no ending)
    assert worth_reading(mime_for([tmp_path / "PAGE.JPG", tmp_path / "notes.txt"]))
    assert not worth_reading(mime_for([tmp_path / "notes.txt", tmp_path / "report.docx"]))
    assert not worth_reading(mime_for(urls=["https://example.com/scan.pdf"]))
    text = QMimeData()
    text.setText("some text")
    assert not worth_reading(text)
    assert drag_enter(zone, [tmp_path / "report.docx"])  # still accepted (its drop is named), but no prewarm
    assert len(coming) == 2
