"""Every mouse move reaches the canvas, however late: a stroke drawn while the window's thread
is held up (TensorFlow's import holds Python's lock for up to a second) arrives whole, not as
the straight chords Qt makes when it compresses the moves that waited (before: 2 to 28 of 81
points)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

MOVES = 80

#: In a process of its own, on a display of its own: the window as launched, TensorFlow's import
#: started, and at once a fast stroke (a move every 8 ms) drawn with the real mouse (xdotool).
STROKE_DURING_IMPORT = f"""
import math, subprocess, sys
from PySide6.QtCore import QSettings, QTimer
from mnistdesk.gui.app import create_app
from mnistdesk.gui.main_window import MainWindow
app = create_app()
window = MainWindow(settings=QSettings(sys.argv[1], QSettings.Format.IniFormat), preload_tensorflow=False)
window.resize(900, 700)
window.show()

def draw():
    centre = window.canvas.mapToGlobal(window.canvas.rect().center())
    command = ["xdotool", "mousemove", str(centre.x() + 80), str(centre.y()), "mousedown", "1"]
    for step in range(1, {MOVES} + 1):
        angle = 2 * math.pi * 0.9 * step / {MOVES}
        command += ["mousemove", str(round(centre.x() + 80 * math.cos(angle))), str(round(centre.y() + 100 * math.sin(angle))), "sleep", "0.008"]
    subprocess.Popen(command + ["mouseup", "1"])
    window.tensorflow.start()  # the import's first second holds Python's lock while the stroke is drawn

def finish(_=None):
    print("points", [len(stroke.points) for stroke in window.canvas._strokes], flush=True)
    window.models.unsaved = False
    app.quit()

window.tensorflow.ready.connect(lambda seconds: QTimer.singleShot(500, finish))
window.tensorflow.failed.connect(finish)
QTimer.singleShot(500, draw)
QTimer.singleShot(60000, finish)
app.exec()
window.wait_for_threads()
"""


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool (installed by .ci/run)")
def test_a_stroke_drawn_while_tensorflow_imports_arrives_whole(tmp_path):
    read_end, write_end = os.pipe()  # Xvfb picks a free display and writes its number here
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            display = ":" + numbers.readline().strip()
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(tmp_path)}
        run = subprocess.run([sys.executable, "-c", STROKE_DURING_IMPORT, str(tmp_path / "s.ini")], env=env, capture_output=True, text=True, timeout=240)
    finally:
        server.terminate()
        server.wait(10)
    lines = [line for line in run.stdout.splitlines() if line.startswith("points")]
    assert lines, run.stdout + run.stderr
    assert lines[-1] == f"points [{MOVES + 1}]", lines[-1]  # where the pen went down, then every move
