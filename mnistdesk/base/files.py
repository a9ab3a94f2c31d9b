"""Atomic file replacement, shared by every writer of files a crash must not leave half-written
(saved models, downloaded datasets, training histories), and scratch folders that never outlive
their use. No Qt, no TensorFlow."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mnistdesk.base.untrusted import format_bytes

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


def writing_problem(folder: Path, needed_bytes: int) -> str | None:
    """Why new files cannot be written in ``folder`` (or in the missing folders a writer would
    create there), in words; None when they can and its disk has ``needed_bytes`` free. Asked
    before long work, so an hour of it is never lost to a folder found unwritable at the end."""
    existing = folder
    try:
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    except OSError as error:  # a name too long, a folder that cannot be entered
        return error.strerror or str(error)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"the folder {existing} is not writable ({error.strerror or error})"
    free = shutil.disk_usage(existing).free
    if free < needed_bytes:
        return f"only {format_bytes(free)} free on its disk, {format_bytes(needed_bytes)} needed"
    return None


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """Yield a new folder in the temporary folder, removed with all it holds when the block ends,
    however it ends (a full disk, an exception, Ctrl+C). Folders that killed processes left
    (their names carry the process id) are removed first."""
    parent = Path(tempfile.gettempdir())
    pattern = re.compile(re.escape(prefix) + r"(\d+)-\w+$")
    try:
        candidates = list(parent.iterdir())
    except OSError:
        candidates = []
    for path in candidates:
        match = pattern.match(path.name)
        if match and _is_own_folder(path) and _is_stale(path, match.group(1)):
            shutil.rmtree(path, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _is_own_folder(path: Path) -> bool:
    """A real folder (not a link to one) of this user: the only kind a clean-up may remove."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())


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


class LogFolderError(OSError):
    """TensorBoard logs cannot be written where they were asked for; the message says why."""
