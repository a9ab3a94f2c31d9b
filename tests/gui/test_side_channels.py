"""A training run in the window never loses its model to the TensorBoard logs: a log folder that
cannot take them is refused before training, in words (it ended in "Training failed" with a
traceback); one that fills up mid-run stops the logs with a warning and the run goes on."""

from __future__ import annotations

from mnistdesk.net.models import TrainConfig

TIMEOUT_MS = 120_000


def test_a_log_folder_that_is_a_file_is_refused_in_words(run_worker, qtbot, tmp_path, tiny_npz):
    logs = tmp_path / "logs"
    logs.write_text("not a folder")
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=1, batch_size=32, seed=1), log_dir=str(logs))
    qtbot.waitUntil(lambda: bool(worker.records["failed"]), timeout=TIMEOUT_MS)
    title, message = worker.records["failed"][0]
    assert title == "Cannot write the TensorBoard logs" and str(logs) in message and "Traceback" not in message


def test_logs_failing_mid_run_leave_the_run_going(run_worker, qtbot, tmp_path, tiny_npz, logs_fill_up_from_epoch_2):
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=3, batch_size=32, seed=1), log_dir=str(tmp_path / "logs"))
    qtbot.waitUntil(lambda: worker.metadata is not None or bool(worker.records["failed"]), timeout=TIMEOUT_MS)
    assert not worker.records["failed"] and len(worker.metadata["history"]["loss"]) == 3
    assert any("TensorBoard logs stopped" in text for text in worker.records["status"]), worker.records["status"]
