"""The status bar: a message too long for the room beside the permanent labels (a 1024-pixel
window, a long file name) ends in "…" instead of being cut mid-word, and the whole message is
its tooltip."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, Qt
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
        super().addPermanentWidget(widget, stretch)

    def showMessage(self, message: str, timeout: int = 0) -> None:
        """As QStatusBar's, elided to the room there is; the full text stays in the tooltip."""
        self._full = message
        self._until = time.monotonic() + timeout / 1000 if timeout else None
        self._show(timeout)

    def _show(self, timeout: int) -> None:
        shown = self._shortened()
        self.setToolTip(self._full if shown != self._full else "")
        super().showMessage(shown, timeout)

    def _shortened(self) -> str:
        room = self.width() - sum(widget.sizeHint().width() for widget in self.permanent if widget.isVisible()) - CHROME_PX
        return self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(room, 0)) if room > 0 else self._full

    def _fit_again(self) -> None:
        """The room changed (the window, or a permanent label's text): elide the message anew,
        for the time it has left."""
        if not self.currentMessage() or self._shortened() == self.currentMessage():
            return
        left = 0 if self._until is None else max(1, round((self._until - time.monotonic()) * 1000))
        self._show(left)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_again()

    def event(self, event: QEvent) -> bool:
        """A permanent label that changes its text asks this bar to lay out again: the room
        for the message changed. (Its own event, not a filter on the labels: a filter was still
        called while the window was being destroyed.)"""
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:
            self._fit_again()
        return handled

    def _on_message_changed(self, text: str) -> None:
        if not text:  # timed out or cleared: the tooltip went with it
            self.setToolTip("")
