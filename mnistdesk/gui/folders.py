"""The folder each file dialog starts in: where the user last went for that kind of file
(images, models, drawings, datasets), remembered in the settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from mnistdesk.base.settings import text_setting


def last_folder(settings: QSettings, kind: str, fallback: Path | None = None) -> str:
    """Where the user last went for ``kind``, else ``fallback``, else their home folder."""
    return text_setting(settings.value(f"files/last_{kind}_dir"), str(fallback or Path.home()))


def remember_folder(settings: QSettings, kind: str, folder: Path) -> None:
    settings.setValue(f"files/last_{kind}_dir", str(folder))
