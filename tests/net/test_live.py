"""Pure helpers behind the live training view."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mnistdesk.net.live import CurveBuffer, RunningMeans, Throttle, TrainingClock, TrainingControl, eta_seconds, format_eta, tile_at, weight_mosaic


def test_throttle_goes_by_time_not_by_count():
    now = iter([0.0, 0.01, 0.02, 0.05, 0.06, 0.2])
    throttle = Throttle(0.04, clock=lambda: next(now))
    assert [throttle.ready() for _ in range(6)] == [True, False, False, True, False, True]


def test_running_means_give_the_mean_since_the_last_reading():
    means = RunningMeans()
    means.start_epoch()
    losses = [2.0, 1.0, 0.6, 0.2, 0.4]
    running = np.cumsum(losses) / np.arange(1, 6)
    assert means.since_last(1, {"loss": running[0]}) == {"loss": pytest.approx(2.0)}
    assert means.since_last(4, {"loss": running[3]}) == {"loss": pytest.approx(np.mean(losses[1:4]))}
    assert means.since_last(4, {"loss": running[3]}) == {}
    assert means.since_last(5, {"loss": running[4]}) == {"loss": pytest.approx(0.4)}
    means.start_epoch()
    assert means.since_last(2, {"loss": 3.0}) == {"loss": pytest.approx(3.0)}


def test_curve_buffer_memory_is_bounded_and_keeps_the_whole_run():
    buffer = CurveBuffer(capacity=100)
    for step in range(100_000):
        buffer.append(step / 1000, float(step))
    x, y = buffer.data()
    assert len(x) <= 100 and x[0] == 0 and x[-1] > 99 * 0.9
    assert np.all(np.diff(x) > 0)
    buffer.clear()
    assert len(buffer.data()[0]) == 0


def test_smoothing_starts_at_the_first_value_and_follows_the_trend():
    buffer = CurveBuffer(smoothing=0.5)
    for step, value in enumerate([2.0, 2.0, 1.0, 1.0, 1.0]):
        buffer.append(step, value)
    out = buffer.smoothed()
    assert out[0] == pytest.approx(2.0)
    assert 1.0 < out[-1] < out[2] < 2.0


def test_dense_kernel_becomes_28x28_tiles():
    kernel = np.random.default_rng(0).normal(size=(784, 512)).astype(np.float32)
    mosaic, tile, grid, count = weight_mosaic(kernel)
    assert tile == (28, 28) and grid == (8, 8) and count == 64
    np.testing.assert_array_equal(mosaic[:28, :28], kernel[:, 0].reshape(28, 28))
    np.testing.assert_array_equal(mosaic[29:57, 29:57], kernel[:, 9].reshape(28, 28))
    assert np.isnan(mosaic[28, 5])


def test_conv_kernel_becomes_one_tile_per_filter():
    kernel = np.arange(5 * 5 * 1 * 32, dtype=np.float32).reshape(5, 5, 1, 32)
    mosaic, tile, grid, count = weight_mosaic(kernel)
    assert tile == (5, 5) and count == 32 and grid == (6, 6)
    np.testing.assert_array_equal(mosaic[:5, 6:11], kernel[:, :, 0, 1])


def test_tile_under_the_pointer():
    assert tile_at(3, 3, (28, 28), (8, 8), 64) == 0
    assert tile_at(30, 60, (28, 28), (8, 8), 64) == 8 + 2
    assert tile_at(28.5, 3, (28, 28), (8, 8), 64) is None  # the gap
    assert tile_at(5 * 6 + 1, 5 * 6 + 1, (5, 5), (6, 6), 32) is None  # past the last filter
    assert tile_at(-1, 3, (28, 28), (8, 8), 64) is None


def test_eta_format():
    assert format_eta(42) == "0:42" and format_eta(3723) == "1:02:03" and format_eta(float("inf")) == "–"


def test_a_pause_freezes_elapsed_time_and_the_eta_and_resume_goes_on_from_them():
    now = [100.0]
    clock = TrainingClock(lambda: now[0])
    now[0] = 110.0  # 10 s of training: half the samples done
    assert clock.elapsed() == 10 and eta_seconds(500, 1000, clock.elapsed()) == 10
    clock.pause()
    now[0] = 1000.0  # a long pause
    clock.pause()  # pausing again changes nothing
    assert clock.elapsed() == 10 and eta_seconds(500, 1000, clock.elapsed()) == 10
    clock.resume()
    assert clock.elapsed() == 10
    now[0] = 1005.0  # 5 s more: three quarters done
    assert clock.elapsed() == 15 and eta_seconds(750, 1000, clock.elapsed()) == 5
    clock.resume()  # resuming a running clock changes nothing
    assert clock.elapsed() == 15
    assert eta_seconds(0, 1000, 0.0) == float("inf")


def test_pause_blocks_until_resume_and_stop_wakes_a_paused_run():
    control = TrainingControl()
    control.pause()
    released = threading.Event()
    thread = threading.Thread(target=lambda: (control.wait_while_paused(), released.set()))
    thread.start()
    assert not released.wait(0.3)
    control.stop()
    assert released.wait(1.0)
    thread.join()
    assert control.stop_requested


def test_learning_rate_request_is_taken_once():
    control = TrainingControl()
    assert control.take_learning_rate() is None
    control.set_learning_rate(0.5)
    control.set_learning_rate(0.25)
    assert control.take_learning_rate() == 0.25 and control.take_learning_rate() is None
