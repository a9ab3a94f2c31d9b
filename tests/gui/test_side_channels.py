"""A training run in the window never loses its model to the TensorBoard logs: a log folder that
cannot take them is refused before training, in words (it ended in "Training failed" with a
traceback); one that fills up mid-run stops the logs with a warning and the run goes on."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThread

from mnistdesk.gui.worker import TrainingWorker, wait_for_thread_exit
from mnistdesk.net.models import TrainConfig

TIMEOUT_MS = 120_000


@pytest.fixture
def worker_for(qtbot):
    started = []

    def start(config: TrainConfig, log_dir: str) -> TrainingWorker:
        thread = QThread()
        worker = TrainingWorker(config, log_dir=log_dir)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(thread.quit)
        worker.said = []
        worker.status.connect(worker.said.append)
        started.append((thread, worker))
        return worker

    yield start
    for thread, worker in started:
        worker.control.abandon()
        thread.quit()
        assert thread.wait(TIMEOUT_MS)
        wait_for_thread_exit(worker.native_thread_id)


def test_a_log_folder_that_is_a_file_is_refused_in_words(worker_for, qtbot, tmp_path, tiny_npz):
    logs = tmp_path / "logs"
    logs.write_text("not a folder")
    worker = worker_for(TrainConfig("dense", str(tiny_npz), epochs=1, batch_size=32, seed=1), str(logs))
    with qtbot.waitSignal(worker.failed, timeout=TIMEOUT_MS) as failed:
        worker.thread().start()
    title, message = failed.args
    assert title == "Cannot write the TensorBoard logs" and str(logs) in message and "Traceback" not in message


def test_logs_failing_mid_run_leave_the_run_going(worker_for, qtbot, tmp_path, tiny_npz, monkeypatch):
    import tensorflow as tf

    from mnistdesk.net.training import TensorBoardLogger

    real_write = TensorBoardLogger._write

    def disk_full_from_epoch_2(self, split, **fields):
        if fields.get("step", 0) >= 1:
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        real_write(self, split, **fields)

    monkeypatch.setattr(TensorBoardLogger, "_write", disk_full_from_epoch_2)
    worker = worker_for(TrainConfig("dense", str(tiny_npz), epochs=3, batch_size=32, seed=1), str(tmp_path / "logs"))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as finished:
        worker.thread().start()
    assert len(finished.args[0]["history"]["loss"]) == 3
    assert any("TensorBoard logs stopped" in text for text in worker.said), worker.said
