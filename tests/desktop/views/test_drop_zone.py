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
