"""The message strip: one line per message, the newest shown, dismissable."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from desktop.views.message_bar import SHOWN, MessageBar


def test_messages_are_one_line_each_and_older_ones_are_summarised(qtbot):
    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.add("a.pdf: damaged\n  beyond repair")
    assert bar.messages == ["a.pdf: damaged beyond repair"] and not bar.isHidden()
    for i in range(SHOWN + 2):
        bar.add(f"message {i}")
    assert bar.earlier.text() == "… and 3 earlier messages" and len(bar.findChildren(QWidget, "messageRow")) == SHOWN
    bar.dismiss()
    assert bar.messages == [] and bar.isHidden() and bar.text() == ""


def test_each_row_is_dismissed_alone_and_retry_runs_its_action(qtbot):
    from PySide6.QtWidgets import QPushButton, QToolButton

    bar = MessageBar()
    qtbot.addWidget(bar)
    tried = []
    bar.add("first: damaged")
    bar.add("No internet connection — Tiny could not be downloaded", retry=lambda: tried.append(True))
    bar.add("first: damaged")  # the same text again: one row, moved to the end
    assert bar.messages == ["No internet connection — Tiny could not be downloaded", "first: damaged"]
    rows = bar.findChildren(QWidget, "messageRow")
    assert len(rows) == 2 and len(bar.findChildren(QPushButton, "retryMessage")) == 1
    bar.findChildren(QPushButton, "retryMessage")[0].click()
    assert tried == [True] and bar.messages == ["first: damaged"]
    assert len(bar.findChildren(QWidget, "messageRow")) == 1
    bar.findChildren(QToolButton, "dismissMessage")[-1].click()
    assert bar.messages == [] and bar.isHidden()
