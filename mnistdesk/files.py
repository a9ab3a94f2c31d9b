"""Atomic file replacement, shared by every writer of files a crash must not leave half-written
(saved models, downloaded datasets). No Qt, no TensorFlow."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; if the block succeeds it becomes ``target``.

    On any error the temporary file is removed and ``target`` keeps its old content. The file
    gets ordinary permissions (0644), not ``mkstemp``'s owner-only ones.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        tmp.chmod(0o644)
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
