"""The status bar: a message too long for the room beside the permanent labels (a 1024-pixel
window, a long file name) ends in "…" instead of being cut mid-word, and the whole message is
its tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStatusBar, QWidget

#: Room the status bar keeps for its frame, the size grip and the gaps between its items.
CHROME_PX = 40


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.permanent: list[QWidget] = []
        self.messageChanged.connect(self._on_message_changed)
        self._full = ""

    def full_message(self) -> str:
        """The message on show as it was given, before any shortening ("" when none)."""
        return self._full if self.currentMessage() else ""

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        self.permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def showMessage(self, message: str, timeout: int = 0) -> None:
        """As QStatusBar's, elided to the room there is; the full text stays in the tooltip."""
        room = self.width() - sum(widget.width() for widget in self.permanent if widget.isVisible()) - CHROME_PX
        shown = self.fontMetrics().elidedText(message, Qt.TextElideMode.ElideRight, max(room, 0)) if room > 0 else message
        self.setToolTip(message if shown != message else "")
        super().showMessage(shown, timeout)
        self._full = message

    def _on_message_changed(self, text: str) -> None:
        if not text:  # timed out or cleared: the tooltip went with it
            self.setToolTip("")
