"""Ctrl+C in the terminal (SIGINT) and SIGTERM close the window as its close button does: asking
first when unsaved work would be lost, never a ``KeyboardInterrupt`` traceback from whatever
Python code happened to run (a timer, a folder being added)."""

from __future__ import annotations

import signal
import socket
import sys

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QWidget

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts(QObject):
    """While installed, the signals in :data:`SIGNALS` close ``window``; a second one while the
    first is still asking quits at once. :attr:`signal_number`: the one that closed the window.

    Python runs a signal handler only between bytecodes, and the event loop runs C++: the handler
    therefore writes to a socket (``signal.set_wakeup_fd``) that a ``QSocketNotifier`` watches,
    so the loop wakes at once and the closing happens in the GUI thread's ordinary course."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.window = window
        self.signal_number: int | None = None
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous_handlers = {number: signal.signal(number, self._on_signal) for number in SIGNALS}
        self.notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self.notifier.activated.connect(self._on_notifier_activated)

    def uninstall(self) -> None:
        """Give the signals back to whoever had them (the window is gone)."""
        self.notifier.setEnabled(False)
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        self._reader.close()
        self._writer.close()

    def _on_signal(self, number: int, frame: object) -> None:
        """In the main thread, between two bytecodes: note it and let the event loop act on it."""
        first = self.signal_number is None
        self.signal_number = number
        name = signal.Signals(number).name
        if first:
            print(f"mnistdesk: {name}: closing the window (it asks first if there is unsaved work; {name} again quits at once)", file=sys.stderr, flush=True)
            QTimer.singleShot(0, self._close_window)
        else:
            print(f"mnistdesk: {name} again: quitting without saving", file=sys.stderr, flush=True)
            QApplication.exit(128 + number)  # every event loop, a question's included

    def _close_window(self) -> None:
        if not self.window.close():  # kept open (Cancel): the next signal asks again
            self.signal_number = None

    def _on_notifier_activated(self) -> None:
        try:
            self._reader.recv(64)  # the signal numbers, already handled by _on_signal
        except OSError:
            pass
