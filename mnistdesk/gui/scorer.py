"""Scoring the model in use on its test digits off the GUI thread, for the confusion matrix: a
thousand digits take about a second in numpy, ten thousand several. Only while the matrix is
on screen (no work for a panel nobody looks at), one scoring at a time, the newest request
winning, and never while a training run's thread is alive."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from mnistdesk.explain.inspection import SplitScore
from mnistdesk.gui.worker import wait_for_thread_exit
from mnistdesk.ink.pixels import normalize
from mnistdesk.net.engine import Predictor
from mnistdesk.net.evaluation import BATCH

#: Loads the digits to score: (what to call them, uint8 images, labels), or None if there are none.
SplitSource = Callable[[], "tuple[str, object, object] | None"]


class _Job(QObject):
    done = Signal()

    def __init__(self, predictor: Predictor, source: SplitSource):
        super().__init__()
        self.predictor, self.source = predictor, source
        self.score: SplitScore | None = None
        self.error: str | None = None
        self.cancelled = threading.Event()
        self.native_thread_id: int | None = None

    @Slot()
    def run(self) -> None:
        self.native_thread_id = threading.get_native_id()
        try:
            split = self.source()
            if split is None:
                return
            name, images, labels = split
            parts = []
            for start in range(0, len(images), BATCH):  # a batch at a time, so a training run can cut it short
                if self.cancelled.is_set():
                    return
                parts.append(self.predictor.predict(normalize(images[start : start + BATCH])))
            self.score = SplitScore(name, images, labels, np.concatenate(parts))
        except Exception as error:  # a failed scoring leaves the matrix as it was, with a message
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.done.emit()


class TestScorer(QObject):
    """``request()`` a model's test scoring; it runs once :meth:`set_active` is true and emits
    ``scored`` (a SplitScore) or ``failed`` (one line) in the GUI thread."""

    scored = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.active = False
        self.paused = False
        self.pending: tuple[Predictor, SplitSource] | None = None
        self.thread: QThread | None = None
        self.job: _Job | None = None

    def request(self, predictor: Predictor, source: SplitSource) -> None:
        self.pending = (predictor, source)
        self._start()

    def cancel(self) -> None:
        """Drop any scoring, stopping one under way within a batch: a training run starts (it
        needs the CPU, and its validation takes over the matrix)."""
        self.pending = None
        if self.job is not None:
            self.job.cancelled.set()

    def set_active(self, active: bool) -> None:
        self.active = active
        self._start()

    def pause(self) -> None:
        """A training run is about to start: drop any scoring and wait until its thread is gone
        (a Keras-run model must not run TensorFlow while the run's start cleans up after the
        last run). Requests made until :meth:`resume` wait for it."""
        self.cancel()
        self.paused = True
        self._wait_for_job()

    def resume(self) -> None:
        """The run's thread is gone: score what was asked for meanwhile (the trained model)."""
        self.paused = False
        self._start()

    def _start(self) -> None:
        if not self.active or self.paused or self.pending is None or self.thread is not None:
            return
        (predictor, source), self.pending = self.pending, None
        self.job, self.thread = _Job(predictor, source), QThread(self)
        self.job.moveToThread(self.thread)
        self.thread.started.connect(self.job.run)
        self.job.done.connect(self.thread.quit)
        self.thread.finished.connect(self._on_thread_finished)
        self.thread.start()

    def _on_thread_finished(self) -> None:
        job, thread = self.job, self.thread
        self.job = self.thread = None
        job.deleteLater()
        thread.deleteLater()
        if self.pending is None and not job.cancelled.is_set():  # a newer request supersedes this result
            if job.score is not None:
                self.scored.emit(job.score)
            elif job.error is not None:
                self.failed.emit(f"Cannot score the model on its test digits: {job.error}")
        self._start()

    def shutdown(self) -> None:
        """Wait for a scoring under way (at most a few seconds of numpy) before the window goes."""
        self.cancel()
        self.active = False
        self._wait_for_job()

    def _wait_for_job(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
            wait_for_thread_exit(self.job.native_thread_id)
