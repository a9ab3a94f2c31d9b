"""Start the app: Qt, pyqtgraph and the numpy predictor only; TensorFlow follows in the background."""

from __future__ import annotations

import sys
from pathlib import Path

import pyqtgraph as pg
import shiboken6
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from mnistdesk.base import paths
from mnistdesk.gui.main_window import MainWindow


def configure_pyqtgraph() -> None:
    """Row-major images (or digits come out transposed), light theme to match the paper."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground=(60, 60, 60))


def create_app() -> QApplication:
    # Keep every mouse move: if the GUI thread is briefly busy, a stroke arrives late but whole,
    # instead of Qt collapsing it into one straight segment.
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_CompressHighFrequencyEvents, False)
    app = QApplication.instance() or QApplication(sys.argv[:1])
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
    window.show()
    status = app.exec()
    window.wait_for_threads()
    # Destroy the window while Qt is still up: left to interpreter shutdown, pyqtgraph's items
    # are torn down in an arbitrary order and the process segfaults on its way out.
    shiboken6.delete(window)
    return status
