"""The message strip: one line per message, the newest shown, dismissable."""

from __future__ import annotations

from desktop.views.message_bar import SHOWN, MessageBar


def test_messages_are_one_line_each_and_older_ones_are_summarised(qtbot):
    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.add("a.pdf: damaged\n  beyond repair")
    assert bar.messages == ["a.pdf: damaged beyond repair"] and not bar.isHidden()
    for i in range(SHOWN + 2):
        bar.add(f"message {i}")
    assert bar.label.text().startswith("… and 3 earlier messages")
    bar.dismiss()
    assert bar.messages == [] and bar.isHidden() and bar.text() == ""
