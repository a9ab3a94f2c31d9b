"""A status message longer than the room beside the permanent labels ends in "…" (it was cut
mid-word at 1024×640) and the whole message is the status bar's tooltip."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from mnistdesk.gui.main_window import MainWindow
from mnistdesk.gui.status_bar import CHROME_PX


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


def test_a_message_is_shortened_anew_when_a_permanent_label_grows(qtbot, tmp_path):
    """The end-of-run message was measured before the model label grew to "trained on sample ·
    97.0% on its test split · unsaved", and was then cut mid-word without an ellipsis."""
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.resize(1024, 640)
    window.show()
    qtbot.waitExposed(window)
    bar, label = window.statusBar(), window.models.label
    label.setText("training on sample…")
    room = bar.width() - window.tensorflow.label.sizeHint().width() - label.sizeHint().width() - CHROME_PX
    message = "Done in 10 s: validation 96.75%, test 97.00% — File → Save model as… keeps it"
    while bar.fontMetrics().horizontalAdvance(message + " more") < room - 10:
        message += " more"
    bar.showMessage(message, 5000)
    assert bar.currentMessage() == message  # it fits, for now
    label.setText("trained on sample · 97.0% on its test split · unsaved, and a longer name")
    QApplication.processEvents()
    shown = bar.currentMessage()
    assert shown.endswith("…")
    assert bar.fontMetrics().horizontalAdvance(shown) < bar.width() - label.width() - window.tensorflow.label.width()
    bar.clearMessage()
