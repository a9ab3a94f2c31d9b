"""Child process for ``run.py``: show the window, make the first prediction, print the time."""

import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import shiboken6  # noqa: E402

from mnistdesk.gui.app import create_app  # noqa: E402
from mnistdesk.gui.main_window import MainWindow  # noqa: E402

app = create_app()
window = MainWindow(preload_tensorflow=False)
window.show()
app.processEvents()
ink = np.zeros((280, 280), np.float32)
ink[40:240, 130:150] = 1.0
window.canvas.set_background(ink)
window.drawing.predict_now()
ready = time.time()
print(json.dumps({"ready": ready, "digit": int(np.argmax(window.last_probabilities)), "tensorflow_imported": "tensorflow" in sys.modules}))
window.close()
shiboken6.delete(window)  # as mnistdesk.gui.app.run does, for a clean exit
