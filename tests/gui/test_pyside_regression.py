"""PySide6 6.12.0 on Python 3.11 drops a reference to None on every void method call and dies
with ``Fatal Python error: none_dealloc`` after a few thousand calls. We pin <6.12; this test
makes ~100k such calls in a child process so a bad PySide6 fails here, not in a user's session.
"""

from __future__ import annotations

import subprocess
import sys

CALLS = 100_000


def test_many_void_calls_do_not_crash():
    code = (
        "import sys\n"
        "from PySide6.QtGui import QImage, QColor\n"
        "image = QImage(4, 4, QImage.Format_ARGB32)\n"
        "colour = QColor(10, 20, 30)\n"
        "before = sys.getrefcount(None)\n"
        f"for _ in range({CALLS}):\n"
        "    image.fill(colour)\n"
        "leaked = before - sys.getrefcount(None)\n"
        f"assert abs(leaked) < {CALLS} // 10, f'None refcount changed by {{leaked}}'\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
