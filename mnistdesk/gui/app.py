"""Start the app: Qt, pyqtgraph and the numpy predictor only; TensorFlow follows in the background."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyqtgraph as pg
import shiboken6
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from mnistdesk.base import paths
from mnistdesk.gui.interrupts import Interrupts
from mnistdesk.gui.main_window import MainWindow
from mnistdesk.gui.worker import tensorflow_import_under_way


def configure_pyqtgraph() -> None:
    """Row-major images (or digits come out transposed), light theme to match the paper."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground=(60, 60, 60))


def create_app() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Keep every mouse move: if the GUI thread is busy (TensorFlow's import holds Python's lock
    # for up to a second), a stroke arrives late but whole, instead of Qt collapsing the moves
    # that waited into one straight chord. Set after the application exists: Qt's X11 plugin
    # turns compression back on as it starts.
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_CompressHighFrequencyEvents, False)
    app.setOrganizationName("mnistdesk")
    app.setApplicationName("mnistdesk")
    app.setWindowIcon(QIcon(str(paths.ASSETS_DIR / "icon.png")))
    configure_pyqtgraph()
    if not hasattr(app, "garbage_collector"):
        # Python's cyclic GC runs in whichever thread happens to allocate; if that is the
        # training thread and the garbage holds Qt objects, Qt deadlocks or crashes. Collect
        # on a timer in the GUI thread instead (pyqtgraph's recipe).
        app.garbage_collector = GarbageCollector(interval=1.0)
    return app


def run(model_path: Path | None = None) -> int:
    """Show the main window and run the event loop; returns the exit status."""
    app = create_app()
    window = MainWindow(model_path)
    interrupts = Interrupts(window)
    window.show()
    status = app.exec()
    interrupts.uninstall()
    if status == 0 and interrupts.signal_number is not None:
        status = 128 + interrupts.signal_number  # as a shell reports a command its signal ended
    if tensorflow_import_under_way() or window.tensorflow.importing():
        # It cannot be interrupted and may take seconds more (closing then took 2-4 s), and
        # nothing else is pending: everything is saved, and a run stops at its next batch.
        window.settings.sync()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    window.wait_for_threads()
    # Destroy the window while Qt is still up: left to interpreter shutdown, pyqtgraph's items
    # are torn down in an arbitrary order and the process segfaults on its way out.
    shiboken6.delete(window)
    return status
