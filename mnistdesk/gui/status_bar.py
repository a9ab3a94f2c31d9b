"""The status bar: a message too long for the room beside the permanent labels (a 1024-pixel
window, a long file name) ends in "…" instead of being cut mid-word, and the whole message is
its tooltip."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QStatusBar, QWidget

#: Room the status bar keeps for its frame, the size grip and the gaps between its items.
CHROME_PX = 40


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.permanent: list[QWidget] = []
        self.messageChanged.connect(self._on_message_changed)
        self._full = ""
        self._until: float | None = None  # when the message on show times out (None: never)

    def full_message(self) -> str:
        """The message on show as it was given, before any shortening ("" when none)."""
        return self._full if self.currentMessage() else ""

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        self.permanent.append(widget)
        widget.installEventFilter(self)  # a label that grows takes room from the message
        super().addPermanentWidget(widget, stretch)

    def showMessage(self, message: str, timeout: int = 0) -> None:
        """As QStatusBar's, elided to the room there is; the full text stays in the tooltip."""
        self._full = message
        self._until = time.monotonic() + timeout / 1000 if timeout else None
        self._show(timeout)

    def _show(self, timeout: int) -> None:
        message = self._full
        room = self.width() - sum(widget.sizeHint().width() for widget in self.permanent if widget.isVisible()) - CHROME_PX
        shown = self.fontMetrics().elidedText(message, Qt.TextElideMode.ElideRight, max(room, 0)) if room > 0 else message
        self.setToolTip(message if shown != message else "")
        super().showMessage(shown, timeout)

    def _fit_again(self) -> None:
        """The room changed (the window, or a permanent label's text): elide the message anew,
        for the time it has left."""
        if not self.currentMessage():
            return
        left = 0 if self._until is None else max(1, round((self._until - time.monotonic()) * 1000))
        self._show(left)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_again()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            self._fit_again()
        return False

    def _on_message_changed(self, text: str) -> None:
        if not text:  # timed out or cleared: the tooltip went with it
            self.setToolTip("")
