"""Opening a model file off the GUI thread, and showing file-provided text safely.

The numpy engine reads a model in milliseconds, but a model it cannot run (a layer it does
not know) needs Keras, whose import alone takes 2-4 s: done in the GUI thread, that
froze the window. A :class:`ModelLoader` runs on its own ``QThread``; it keeps its result as
plain attributes, read once the thread has finished.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from mnistdesk.net.engine import Predictor, load_predictor
from mnistdesk.net.models import ModelFileError, compiled_settings, read_metadata_checked


class ModelLoader(QObject):
    """Loads one model file: the predictor, its checked metadata and the notes about both."""

    done = Signal()

    def __init__(self, path: Path, quiet: bool = False):
        super().__init__()
        self.path, self.quiet = path, quiet
        self.predictor: Predictor | None = None
        self.metadata: dict[str, Any] = {}
        self.notes: list[str] = []
        self.error: str | None = None

    @Slot()
    def run(self) -> None:
        try:
            self.predictor = load_predictor(self.path)
            self.metadata, self.notes = read_metadata_checked(self.path)
            if "train_config" not in self.metadata:  # a model from elsewhere: continue it as it was compiled
                compiled = compiled_settings(self.path)
                self.metadata["train_config"] = {**compiled, "compiled_in_file": bool(compiled)}
            self.notes += [self.predictor.note] if getattr(self.predictor, "note", None) else []
            if self.path.suffix.lower() != ".keras":
                self.notes.append("legacy .h5: Save model (Ctrl+Alt+S) keeps it as .keras")
        except ModelFileError as error:
            self.error = str(error)
        except Exception as error:  # a crafted file must never take the window down
            self.error = f"{self.path}: cannot load this model ({type(error).__name__}: {error})"
        finally:
            self.done.emit()


def plain(text: str) -> str:
    """``text`` for a Qt widget that guesses rich text (message boxes, tooltips): escaped, so
    markup in a file name or a model's metadata shows as typed and never loads a resource."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text, quote=False)}</p>"
