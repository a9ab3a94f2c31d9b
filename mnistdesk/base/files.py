"""Atomic file replacement, shared by every writer of files a crash must not leave half-written
(saved models, downloaded datasets, training histories). No Qt, no TensorFlow."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: A temporary file of a save whose process is gone (or, where that cannot be checked, older
#: than this) is left over from an interrupted save, and the next save of its target removes it.
STALE_AFTER_S = 24 * 3600


@contextmanager
def replacing(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; if the block succeeds it becomes ``target``.

    On any error the temporary file is removed and ``target`` keeps its old content. The data
    reaches the disk (fsync) before the rename, so a power cut leaves the old file or the new
    one, never an empty one. The file gets ordinary permissions (0644), not ``mkstemp``'s
    owner-only ones. Temporary files left by an interrupted earlier save are removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target, suffix)
    handle, name = tempfile.mkstemp(prefix=f"{_temporary_prefix(target)}{os.getpid()}-", suffix=suffix, dir=target.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        tmp.chmod(0o644)
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(target: Path, suffix: str = "") -> list[Path]:
    """Remove the temporary files that interrupted saves of ``target`` left beside it."""
    pattern = re.compile(re.escape(_temporary_prefix(target)) + r"(?:(\d+)-)?[\w]+" + re.escape(suffix) + "$")
    removed = []
    try:
        candidates = list(target.parent.iterdir())
    except OSError:
        return removed
    for path in candidates:
        match = pattern.match(path.name)
        if match and _is_stale(path, match.group(1)):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}."


def _is_stale(path: Path, pid: str | None) -> bool:
    if pid is not None and os.name == "posix":  # os.kill(pid, 0) only asks on POSIX; elsewhere it kills
        if int(pid) == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError, ValueError):
            pass  # alive but someone else's, or not a pid: judge by age
        else:
            return False
    try:
        return time.time() - path.stat().st_mtime > STALE_AFTER_S
    except OSError:
        return False


def _fsync(path: Path) -> None:
    """Flush a file's data to the disk before it replaces another."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(path: Path) -> None:
    """Make a rename durable; not every system can sync a folder, and the rename is done anyway."""
    try:
        _fsync(path)
    except OSError:
        pass
