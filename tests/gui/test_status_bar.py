"""A status message longer than the room beside the permanent labels ends in "…" (it was cut
mid-word at 1024×640) and the whole message is the status bar's tooltip."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from mnistdesk.gui.main_window import MainWindow


def test_a_long_message_is_shortened_visibly_and_kept_whole_in_the_tooltip(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.resize(1024, 640)
    window.show()
    qtbot.waitExposed(window)
    bar = window.statusBar()
    message = "Opened " + "/home/learner/courses/deep-learning/week-3/my-first-keras-network-" * 3 + "final.keras (trained 12 epochs on mnist)"
    bar.showMessage(message, 5000)
    shown = bar.currentMessage()
    room = bar.width() - sum(label.width() for label in (window.models.label, window.tensorflow.label))
    assert shown.endswith("…") and bar.fontMetrics().horizontalAdvance(shown) < room
    assert bar.toolTip() == message == bar.full_message()
    bar.showMessage("Saved", 5000)
    assert bar.currentMessage() == "Saved" and bar.toolTip() == ""
    bar.clearMessage()
