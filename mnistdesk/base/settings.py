"""Reading saved settings as untrusted input (no Qt: the values come in as plain objects).

A settings file is edited by hand, synced between machines, or written by another version:
``epochs=abc``, an empty ``batch_size`` or a 20-digit number must not stop the app at every
start. Each reader returns the value when it is valid and the given default otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MAX_TEXT = 4096  # a path or a name; anything longer is not a value this app wrote


def int_setting(value: Any, default: int, low: int, high: int) -> int:
    """An integer in ``[low, high]``."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return default
    return number if low <= number <= high else default


def float_setting(value: Any, default: float, low: float, high: float) -> float:
    """A finite number in ``[low, high]``."""
    try:
        number = float(str(value).strip())
    except ValueError:
        return default
    return number if math.isfinite(number) and low <= number <= high else default


def bool_setting(value: Any, default: bool) -> bool:
    """``true``/``false`` as QSettings writes them (also 1/0, yes/no)."""
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return default


def choice_setting(value: Any, default: str, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    return value if isinstance(value, str) and value in choices else default


def text_setting(value: Any, default: str) -> str:
    """A short, printable text (a path, a name)."""
    return value if isinstance(value, str) and value and len(value) <= MAX_TEXT and value.isprintable() else default


def text_list_setting(value: Any, limit: int) -> list[str]:
    """Up to ``limit`` texts; QSettings gives a lone string for a one-item list."""
    items = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    return [item for item in items if text_setting(item, "")][:limit]
