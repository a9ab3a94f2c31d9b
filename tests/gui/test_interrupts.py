"""Ctrl+C in the terminal and SIGTERM close the window as its close button does: asking first
about unsaved work, never a traceback (an idle window printed pyqtgraph's KeyboardInterrupt
traceback and kept running)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from PySide6.QtCore import QSettings

from mnistdesk.gui.interrupts import Interrupts
from mnistdesk.gui.main_window import MainWindow


def window_with_interrupts(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window, Interrupts(window)


def test_ctrl_c_closes_an_idle_window(qtbot, tmp_path):
    window, interrupts = window_with_interrupts(qtbot, tmp_path)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
        assert interrupts.signal_number == signal.SIGINT
    finally:
        interrupts.uninstall()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_sigterm_asks_about_an_unsaved_model_and_cancel_keeps_the_window(qtbot, tmp_path, monkeypatch):
    window, interrupts = window_with_interrupts(qtbot, tmp_path)
    answers = [False, True]  # Cancel, then Discard
    asked = []
    window.models.unsaved = True
    monkeypatch.setattr(window.models, "confirm_discard", lambda: asked.append(1) or answers[len(asked) - 1])
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        qtbot.waitUntil(lambda: len(asked) == 1, timeout=10_000)
        qtbot.wait(50)
        assert window.isVisible() and interrupts.signal_number is None  # kept: the next one asks again
        os.kill(os.getpid(), signal.SIGTERM)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
        assert len(asked) == 2 and interrupts.signal_number == signal.SIGTERM
    finally:
        interrupts.uninstall()


def test_the_app_quits_on_ctrl_c_with_the_shells_status_and_no_traceback(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    app = subprocess.Popen([sys.executable, "-m", "mnistdesk"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)  # up and idle (TensorFlow may be loading in the background)
        app.send_signal(signal.SIGINT)
        _, stderr = app.communicate(timeout=60)
    finally:
        app.kill()
    assert "Traceback" not in stderr, stderr
    assert "SIGINT: closing the window" in stderr, stderr
    assert app.returncode == 130


#: The app as launched, closed the moment TensorFlow's background import has begun.
CLOSED_DURING_IMPORT = """
import os, sys, time
from PySide6.QtCore import QTimer
from mnistdesk.gui import app, main_window

exit_now = os._exit
os._exit = lambda status: (print("quit without waiting for the import", flush=True), exit_now(status))

def show(window, shown=main_window.MainWindow.show):
    shown(window)
    window.tensorflow.start()
    QTimer.singleShot(300, lambda: (print("closing", time.time(), flush=True), window.close()))

main_window.MainWindow.show = show
sys.exit(app.run())
"""


def test_closing_while_tensorflow_imports_quits_at_once(tmp_path):
    """The import cannot be interrupted; waiting for it made closing take 2-4 s."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", CLOSED_DURING_IMPORT], env=env, capture_output=True, text=True, timeout=120)
    gone = time.time()
    closing = [float(line.split()[1]) for line in run.stdout.splitlines() if line.startswith("closing")]
    assert run.returncode == 0 and closing, run.stdout + run.stderr
    assert "quit without waiting for the import" in run.stdout, f"the process was gone {gone - closing[0]:.1f} s after the window closed"
    assert gone - closing[0] < 30  # a fraction of a second; the bound is against a hang, on a loaded machine too
