"""base: saves are atomic (synced before the rename, an interrupted save's leftovers removed by
the next), and a settings value that is not valid falls back to its default."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mnistdesk.base import files
from mnistdesk.base.settings import bool_setting, float_setting, int_setting, text_list_setting, text_setting


def test_saves_sync_to_disk_before_the_rename(tmp_path, monkeypatch):
    synced, real_fsync = [], os.fsync
    monkeypatch.setattr(os, "fsync", lambda descriptor: synced.append(os.readlink(f"/proc/self/fd/{descriptor}")) or real_fsync(descriptor))
    with files.replacing(tmp_path / "out.json") as tmp:
        tmp.write_text("{}")
        temporary = str(tmp)
    assert synced[0] == temporary and (tmp_path / "out.json").read_text() == "{}"


def test_temporary_files_of_an_interrupted_save_are_cleaned_up(tmp_path):
    target = tmp_path / "m.keras"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    orphan = tmp_path / f".m.keras.{dead}-abcd1234.keras"
    old_style = tmp_path / ".m.keras.k2j3h4g5.keras"
    live = tmp_path / f".m.keras.{os.getppid()}-zzzz9999.keras"  # a save running in another process
    for path in (orphan, old_style, live):
        path.write_bytes(b"half a model")
    os.utime(old_style, (time.time() - 2 * files.STALE_AFTER_S,) * 2)
    with files.replacing(target, suffix=".keras") as tmp:
        tmp.write_bytes(b"model")
    assert not orphan.exists() and not old_style.exists() and live.exists()


def test_each_bad_setting_falls_back_to_its_default():
    assert int_setting("abc", 5, 1, 500) == 5 and int_setting("", 128, 1, 4096) == 128
    assert int_setting("99999999999999999999", 5, 1, 500) == 5 and int_setting(" 7 ", 5, 1, 500) == 7
    assert float_setting("xyz", 1e-3, 1e-5, 1) == 1e-3 and float_setting("nan", 1e-3, 1e-5, 1) == 1e-3
    assert float_setting("inf", 1e-3, 1e-5, 1) == 1e-3 and float_setting("0.01", 1e-3, 1e-5, 1) == 0.01
    assert bool_setting("maybe", False) is False and bool_setting("true", False) is True
    assert text_setting(["a", "b"], "x") == "x" and text_setting("a\nb", "x") == "x"
    assert text_list_setting(5, 8) == [] and text_list_setting("one", 8) == ["one"]
