"""Pure helpers for watching training live (no Qt, no TensorFlow): time-based throttling,
per-batch values recovered from Keras's running means, bounded curve buffers, smoothing and
the first-layer weight mosaic.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

#: While a model trains, the window (bars, activations, history, first-layer weights, curves,
#: progress) follows it about three times a second. On two cores each refresh is taken from
#: training: at five a second (curves at seven, progress readings at 25) the dense model
#: trained ~5% slower through the window than at three; three a second still reads as live.
LIVE_REFRESH_S = 0.3
#: The running loss and accuracy are read ten times a second: each reading syncs Keras's
#: metrics (~0.7 ms of the training thread here) and wakes the window.
BATCH_READING_S = 0.1


def log_ticks(low: float, high: float) -> list[list[tuple[float, str]]]:
    """Ticks for a log axis from ``low`` to ``high`` (data units, both > 0), as pyqtgraph's
    ``setTicks`` takes them (positions in log10 units): powers of ten, then 2× and 5× of each,
    labelled as written. pyqtgraph's own labelled every multiple 2…9, crowding each decade's top."""
    ticks: list[list[tuple[float, str]]] = [[], []]
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for multiple in (1, 2, 5):
            value = float(f"{multiple}e{exponent}")  # 0.2, not 0.20000000000000001
            if low <= value <= high:
                ticks[multiple != 1].append((math.log10(value), f"{value:g}"))
    return ticks


class Throttle:
    """``ready()`` is true at most once per ``interval`` seconds (by the clock, not by count)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.perf_counter):
        self.interval, self.clock = interval, clock
        self.last = -math.inf

    def ready(self) -> bool:
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False


class RunningMeans:
    """Keras keeps each training metric as its mean over the epoch so far. Reading those means
    now and then (not every batch: a per-batch callback costs the dense model ~40% of its
    speed here), recover the mean over just the batches since the previous reading:
    ``(k·m_k − j·m_j) / (k − j)``."""

    def __init__(self):
        self.count = 0
        self.means: dict[str, float] = {}

    def start_epoch(self) -> None:
        self.count, self.means = 0, {}

    def since_last(self, count: int, means: dict) -> dict[str, float]:
        """Means over batches ``self.count+1 .. count`` of this epoch, given the running means at ``count``."""
        if count <= self.count:
            return {}
        means = {key: float(mean) for key, mean in means.items()}  # Keras gives tensors
        values = {key: (count * mean - self.count * self.means.get(key, 0.0)) / (count - self.count) for key, mean in means.items()}
        self.count, self.means = count, means
        return values


class CurveBuffer:
    """x/y points with bounded memory, plus their running smoothed values.

    When full, every other point is dropped and from then on only every second new point is
    kept, so a long run keeps an even overview of its whole history. Smoothing is an
    exponential moving average with TensorBoard's debiasing (the start is not dragged to 0),
    updated per point so a redraw costs no pass over the history.
    """

    def __init__(self, capacity: int = 4000, smoothing: float = 0.9):
        self.capacity, self.smoothing = capacity, smoothing
        self.x = np.empty(capacity, np.float64)
        self.y = np.empty(capacity, np.float64)
        self.smooth = np.empty(capacity, np.float64)
        self.clear()

    def clear(self) -> None:
        self.size, self.stride, self.skipped = 0, 1, 0
        self.average, self.count = 0.0, 0

    def append(self, x: float, y: float) -> None:
        self.average = self.smoothing * self.average + (1 - self.smoothing) * y
        self.count += 1
        smoothed = self.average / (1 - self.smoothing**self.count)
        self.skipped += 1
        if self.skipped < self.stride:
            return
        self.skipped = 0
        if self.size == self.capacity:
            half = self.capacity // 2
            for array in (self.x, self.y, self.smooth):
                array[:half] = array[: self.capacity : 2]
            self.size = half
            self.stride *= 2
        self.x[self.size], self.y[self.size], self.smooth[self.size] = x, y, smoothed
        self.size += 1

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.size], self.y[: self.size]

    def smoothed(self) -> np.ndarray:
        return self.smooth[: self.size]


def weight_mosaic(kernel: np.ndarray, max_tiles: int = 64, aspect: float = 1.0) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], int]:
    """Arrange a first-layer kernel as a grid of tiles with 1-px gaps (NaN), its columns chosen
    so the tiles come out largest in a view of width/height ``aspect``.

    Dense ``(784, units)`` → 28×28 tiles, one per unit; Conv2D ``(kh, kw, channels, filters)`` →
    kh×kw tiles, one per filter (channels averaged). Returns the mosaic, the tile shape, the grid
    (rows, cols) and how many tiles it shows.
    """
    if kernel.ndim == 2 and kernel.shape[0] == 784:
        tiles = kernel.T.reshape(-1, 28, 28)
    elif kernel.ndim == 4:
        tiles = kernel.mean(axis=2).transpose(2, 0, 1)
    else:
        raise ValueError(f"cannot draw a first-layer kernel of shape {kernel.shape}")
    tiles = tiles[:max_tiles]
    count, height, width = tiles.shape
    image, cols = mosaic(tiles, best_columns(count, (height, width), aspect))
    return image, (height, width), (math.ceil(count / cols), cols), count


def best_columns(count: int, tile: tuple[int, int], aspect: float) -> int:
    """How many columns of ``tile``-sized tiles (with 1-px gaps) fill a view of width/height
    ``aspect`` with the largest tiles."""

    def scale(cols: int) -> float:
        rows = math.ceil(count / cols)
        return min(aspect / (cols * (tile[1] + 1) - 1), 1 / (rows * (tile[0] + 1) - 1))

    return max(range(1, max(count, 1) + 1), key=scale)


def mosaic(tiles: np.ndarray, cols: int | None = None) -> tuple[np.ndarray, int]:
    """Tiles (N, h, w) as one image with 1-px NaN gaps, ``cols`` to a row (default: near
    square). Returns the mosaic and the number of columns."""
    count, height, width = tiles.shape
    cols = cols or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / cols))
    padded = np.full((rows * cols, height + 1, width + 1), np.nan, np.float32)
    padded[:count, :height, :width] = tiles
    grid = padded.reshape(rows, cols, height + 1, width + 1).transpose(0, 2, 1, 3)
    return grid.reshape(rows * (height + 1), cols * (width + 1))[:-1, :-1], cols


def tile_slices(index: int, tile: tuple[int, int], cols: int) -> tuple[slice, slice]:
    """Where tile ``index`` lies in a mosaic of ``cols`` columns with 1-px gaps."""
    r, c = divmod(index, cols)
    return slice(r * (tile[0] + 1), r * (tile[0] + 1) + tile[0]), slice(c * (tile[1] + 1), c * (tile[1] + 1) + tile[1])


def tile_at(row: float, col: float, tile: tuple[int, int], grid: tuple[int, int], count: int) -> int | None:
    """Index of the tile under mosaic coordinates (row, col), or None over a gap or outside."""
    r, dr = divmod(int(math.floor(row)), tile[0] + 1)
    c, dc = divmod(int(math.floor(col)), tile[1] + 1)
    if row < 0 or col < 0 or r >= grid[0] or c >= grid[1] or dr == tile[0] or dc == tile[1]:
        return None
    index = r * grid[1] + c
    return index if index < count else None


class TrainingClock:
    """Seconds spent training so far, pauses left out: speed, ETA and a run's reported duration
    are based on it, so Pause freezes them and Resume goes on from where they stood."""

    def __init__(self, clock: Callable[[], float] | None = None):
        self.clock = clock or time.perf_counter
        self.restart()

    def restart(self) -> None:
        self.started, self.paused_at, self.paused_for = self.clock(), None, 0.0

    def pause(self) -> None:
        if self.paused_at is None:
            self.paused_at = self.clock()

    def resume(self) -> None:
        if self.paused_at is not None:
            self.paused_for += self.clock() - self.paused_at
            self.paused_at = None

    def elapsed(self) -> float:
        now = self.clock() if self.paused_at is None else self.paused_at
        return now - self.started - self.paused_for


def eta_seconds(done: float, total: float, elapsed: float) -> float:
    """Time left at the average speed so far; infinite before anything is done."""
    if done <= 0 or elapsed <= 0:
        return math.inf
    return (total - done) * elapsed / done


def format_eta(seconds: float) -> str:
    """``0:42`` or ``1:02:03``; ``–`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class TrainingControl:
    """Stop, pause and learning-rate requests from the GUI thread to the training thread.

    Plain ``threading`` primitives: the training thread is busy inside ``model.fit`` and cannot
    run queued Qt slots, so it polls this between batches. Pausing waits on an Event, which
    releases the GIL, so the GUI stays smooth while training is paused.
    """

    def __init__(self):
        self._stop = threading.Event()
        self._abandoned = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._learning_rate: float | None = None

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run wakes up to stop

    def abandon(self) -> None:
        """Stop and skip the final scoring: the app is closing and nobody will read it."""
        self._abandoned.set()
        self.stop()

    @property
    def abandoned(self) -> bool:
        return self._abandoned.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def set_learning_rate(self, rate: float) -> None:
        with self._lock:
            self._learning_rate = rate

    def take_learning_rate(self) -> float | None:
        """The learning rate asked for since the last call, if any."""
        with self._lock:
            rate, self._learning_rate = self._learning_rate, None
        return rate

    def wait_while_paused(self) -> None:
        while not self._running.wait(0.1):
            pass
