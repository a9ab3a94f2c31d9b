"""mnistdesk benchmarks: ``python benchmarks/run.py --json`` prints one JSON object.

The machine this was written on is noisy (a fixed workload varied 8x between runs), so every
comparison is measured side by side in one run, interleaved A B A B, and reported as the
median of paired ratios next to the medians of each side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mnistdesk  # noqa: E402,F401  (before numpy, as in the app: it keeps numpy's BLAS to one thread)
import numpy as np  # noqa: E402

from mnistdesk.base import paths  # noqa: E402
from mnistdesk.data import pen  # noqa: E402
from mnistdesk.data.datasets import load_dataset  # noqa: E402
from mnistdesk.data.drawn import drawn_inputs, redraw  # noqa: E402
from mnistdesk.net.engine import Engine, load_predictor, softmax  # noqa: E402
from mnistdesk.net.evaluation import evaluate  # noqa: E402
from mnistdesk.net.models import read_metadata  # noqa: E402
from mnistdesk.ink.pixels import normalize  # noqa: E402
from mnistdesk.ink.preprocess import preprocess  # noqa: E402
from mnistdesk.explain.saliency import Saliency  # noqa: E402
from mnistdesk.ink.strokes import strokes_input  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e3, 4)


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def bench_prediction(rounds: int) -> dict:
    """The live path (numpy engine) against Keras's single-image predict, interleaved."""
    from mnistdesk.net.models import load_model

    engine = load_predictor(paths.SHIPPED_MODEL_PATH)
    model = load_model(paths.SHIPPED_MODEL_PATH)
    sample = load_dataset("sample")
    canvas = redraw(sample.x_test[0], np.random.default_rng(0))
    image = preprocess(canvas)
    batch = image[None, ..., None]
    for _ in range(5):  # warm up both (Keras traces its predict function on the first call)
        engine.predict(image)
        model.predict(batch, verbose=0)
    seven = next(digit for digit in pen.load_digits() if digit.label == 7 and len(digit.strokes) == 2)
    strokes = pen.place_on_canvas(seven, np.random.default_rng(0))
    saliency = Saliency(engine)
    numpy_s, keras_s, preprocess_s, strokes_s, saliency_s, smoothgrad_s = [], [], [], [], [], []
    for _ in range(rounds):
        numpy_s.append(timed(lambda: engine.predict(image)))
        keras_s.append(timed(lambda: model.predict(batch, verbose=0)))
        preprocess_s.append(timed(lambda: preprocess(canvas)))
        strokes_s.append(timed(lambda: strokes_input(strokes)))
        saliency_s.append(timed(lambda: saliency.gradient(image, 7)))
        smoothgrad_s.append(timed(lambda: saliency.smooth_gradient(image, 7)))
    ratios = [k / n for k, n in zip(keras_s, numpy_s)]
    np.testing.assert_allclose(engine.predict(image), model.predict(batch, verbose=0), atol=1e-5)
    return {
        "predict_ms_p50": median_ms(numpy_s),
        "keras_predict_ms_p50": median_ms(keras_s),
        "keras_over_numpy_predict_ratio_p50": round(statistics.median(ratios), 1),
        "preprocess_ms_p50": median_ms(preprocess_s),
        "strokes_input_ms_p50": median_ms(strokes_s),
        "saliency_ms_p50": median_ms(saliency_s),
        "smoothgrad_ms_p50": median_ms(smoothgrad_s),
    }


def bench_startup(rounds: int) -> dict:
    """Process start → window shown and first prediction made, vs. a bare ``import tensorflow``."""
    env = {**os.environ, "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="mnistdesk-bench-")}
    tf_code = "import time, tensorflow; print(time.time())"
    startup_s, tf_s = [], []
    for _ in range(rounds):
        started = time.time()
        out = subprocess.run([sys.executable, str(Path(__file__).with_name("startup_probe.py"))], capture_output=True, text=True, env=env, check=True)
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        assert probe["digit"] == 1 and not probe["tensorflow_imported"], probe
        startup_s.append(probe["ready"] - started)
        started = time.time()
        out = subprocess.run([sys.executable, "-c", tf_code], capture_output=True, text=True, env=env, check=True)
        tf_s.append(float(out.stdout.strip().splitlines()[-1]) - started)
    return {
        "startup_s": round(statistics.median(startup_s), 3),
        "tf_import_s": round(statistics.median(tf_s), 3),
        "startup_over_tf_import_ratio_p50": round(statistics.median(s / t for s, t in zip(startup_s, tf_s)), 3),
    }


def mnist_shaped_npz(folder: str, repeats: int) -> str:
    """The sample's digits repeated: ``repeats`` × 4,000 training digits, 10 × 1,000 test digits."""
    sample = load_dataset("sample")
    npz = os.path.join(folder, f"mnist-shaped-{repeats}x.npz")
    np.savez(
        npz,
        x_train=np.tile(sample.x_train, (repeats, 1, 1)),
        y_train=np.tile(sample.y_train, repeats),
        x_test=np.tile(sample.x_test, (10, 1, 1)),
        y_test=np.tile(sample.y_test, 10),
    )
    return npz


def train_probe(folder: str, *args: str) -> dict:
    """One run of ``train_probe.py`` in a fresh process; its JSON line."""
    env = {**os.environ, "PROBE_DIR": folder, "XDG_CONFIG_HOME": folder}
    probe = str(Path(__file__).with_name("train_probe.py"))
    out = subprocess.run([sys.executable, probe, *args], capture_output=True, text=True, env=env, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def seconds_to_quit(folder: str, *args: str) -> float:
    """How long after the window closed the process was gone (``train_probe.py quit-*``)."""
    closing = train_probe(folder, *args)["closing"]
    return time.time() - closing


def paired_fit_runs(folder: str, npz: str, rounds: int, *args: str) -> tuple[dict[str, list[dict]], list[float]]:
    """Plain and app training runs, interleaved; the runs and the app/plain speed ratio of each pair."""
    runs: dict[str, list[dict]] = {"plain": [], "app": []}
    for _ in range(rounds):
        for mode in ("plain", "app"):
            runs[mode].append(train_probe(folder, mode, npz, *args))
    return runs, [a["samples_per_s"] / p["samples_per_s"] for p, a in zip(runs["plain"], runs["app"])]


def bench_training(rounds: int, epochs: int) -> dict:
    """Plain ``model.fit`` vs. training through the app, in fresh processes, interleaved.

    The dense model (the one most sensitive to per-batch overhead) on 60,000 MNIST-shaped
    digits (the sample's training digits repeated 15 times), batch 128. The app's runs also
    give how much of a core the window's thread used while training (``gui_thread_cpu_share``).
    """
    folder = tempfile.mkdtemp(prefix="mnistdesk-bench-")
    runs, ratios = paired_fit_runs(folder, mnist_shaped_npz(folder, 15), rounds, "--epochs", str(epochs))
    return {
        "fit_samples_per_s_plain": round(statistics.median(r["samples_per_s"] for r in runs["plain"])),
        "fit_samples_per_s_app": round(statistics.median(r["samples_per_s"] for r in runs["app"])),
        "fit_app_over_plain_ratio_p50": round(statistics.median(ratios), 3),
        "fit_app_over_plain_ratios": [round(r, 3) for r in ratios],
        "ui_stall_ms_p99": round(statistics.median(r["ui_stall_ms_p99"] for r in runs["app"]), 1),
        "gui_thread_cpu_share_p50": round(statistics.median(r["gui_cpu_share"] for r in runs["app"]), 3),
        "ui_stall_ms_max": round(max(r["ui_stall_ms_max"] for r in runs["app"]), 1),
        "train_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["app"])),
        "plain_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["plain"])),
    }


def bench_responsiveness(seconds: float, rounds: int, tensorboard_pairs: int, launches: int) -> dict:
    """What a user feels while a model trains, and what the extras cost training.

    - ``draw_latency_ms_*``: a synthetic hand draws on the canvas (a stroke of mouse moves every
      16 ms, as a window system delivers them) while the app trains each network on 60,000
      MNIST-shaped digits; the delay from each move to the prediction bars having painted a
      prediction that includes it. ``_idle``: the same hand before training, after 1.5 s of
      drawing to warm up (median of the runs). ``_startup``: the window as launched, the hand
      writing digits (two strokes, then 2.5 s looking at the bars) from its first frame until
      2 s after TensorFlow's background import has ended (median of the launches' p99s; the
      worst launch's is ``_worst``).
    - ``quit_s_idle`` / ``quit_s_mid_run_cnn``: the app as ``mnistdesk`` runs it, closed idle (3 s
      after its background TensorFlow import), or 3 s into a ``cnn`` run (Discard): seconds until
      the process is gone.
    - ``fit_app_over_plain_ratio_p50_cnn``: as ``fit_app_over_plain_ratio_p50`` (dense), for the
      heaviest network, on 12,000 digits (one epoch each, interleaved pairs).
    - ``tensorboard_cost_ratio_p50``: ``fit`` time with the TensorBoard logger over without it,
      the default run (lean, the bundled sample), interleaved pairs on one model.
    """
    folder = tempfile.mkdtemp(prefix="mnistdesk-bench-")
    results: dict = {}
    idle = []
    big = mnist_shaped_npz(folder, 15)
    for architecture in ("dense", "lean", "cnn"):
        run = train_probe(folder, "draw", big, "--architecture", architecture, "--epochs", "100", "--seconds", str(seconds))
        idle.append(run["draw_latency_ms_p99_idle"])
        results[f"draw_latency_ms_p99_{architecture}"] = round(run["draw_latency_ms_p99_training"], 1)
        results[f"draw_latency_ms_p50_{architecture}"] = round(run["draw_latency_ms_p50_training"], 1)
    results["draw_latency_ms_p99_idle"] = round(statistics.median(idle), 1)
    startups = [train_probe(folder, "startup") for _ in range(launches)]
    results["draw_latency_ms_p99_startup"] = round(statistics.median(run["draw_latency_ms_p99_startup"] for run in startups), 1)
    results["draw_latency_ms_p99_startup_worst"] = round(max(run["draw_latency_ms_p99_startup"] for run in startups), 1)
    results["tensorflow_background_import_s"] = round(statistics.median(run["tensorflow_background_import_s"] for run in startups), 2)
    results["quit_s_idle"] = round(statistics.median(seconds_to_quit(folder, "quit-idle") for _ in range(launches)), 2)
    results["quit_s_mid_run_cnn"] = round(statistics.median(seconds_to_quit(folder, "quit-training", big, "--architecture", "cnn", "--epochs", "100") for _ in range(launches)), 2)
    runs, ratios = paired_fit_runs(folder, mnist_shaped_npz(folder, 3), rounds, "--architecture", "cnn")
    results["fit_samples_per_s_plain_cnn"] = round(statistics.median(r["samples_per_s"] for r in runs["plain"]))
    results["fit_app_over_plain_ratio_p50_cnn"] = round(statistics.median(ratios), 3)
    results["fit_app_over_plain_ratios_cnn"] = [round(r, 3) for r in ratios]
    import keras

    from mnistdesk.net.training import TensorBoardLogger

    assert TensorBoardLogger.on_train_batch_end is keras.callbacks.Callback.on_train_batch_end, "the logger must not hook every batch"
    timings = train_probe(folder, "tensorboard", "sample", "--architecture", "lean", "--pairs", str(tensorboard_pairs))
    cost = [w / wo for w, wo in zip(timings["seconds_with"], timings["seconds_without"])]
    results["tensorboard_cost_ratio_p50"] = round(statistics.median(cost), 3)
    results["tensorboard_cost_ratios"] = [round(r, 3) for r in cost]
    return results


def bench_inspection(rounds: int, launches: int = 3) -> dict:
    """One drawing update with every panel on screen (strokes → 28×28 → prediction with the
    hidden layers → all panels, painted), and one move of the epoch scrubber, in fresh
    processes; medians over the launches. Then the scrubber's memory after a long cnn run."""
    return window_probe("inspect_probe.py", rounds, launches) | bench_scrubber_memory()


def window_probe(script: str, rounds: int, launches: int) -> dict:
    """A probe that drives the window, run ``launches`` times in fresh processes: the medians."""
    probe = str(Path(__file__).with_name(script))
    env = {**os.environ, "PROBE_DIR": tempfile.mkdtemp(prefix="mnistdesk-bench-")}
    runs = []
    for _ in range(launches):
        out = subprocess.run([sys.executable, probe, str(rounds)], capture_output=True, text=True, env=env, check=True, timeout=600)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]}


def bench_scrubber_memory(epochs: int = 200) -> dict:
    """The epoch store after a long run of the biggest network (cnn, 3.2M weights: 13 MB an
    epoch) validating on MNIST's 6,000 held-out digits, simulated with real-size arrays: bytes
    held in memory, bytes spilled to disk, epochs still reachable."""
    from mnistdesk.explain.epochs import EpochStore
    from mnistdesk.net.models import build_model

    engine = Engine.from_keras_model(build_model("cnn"))
    probabilities = np.full((6000, 10), 0.1, np.float32)
    store = EpochStore()
    started = time.perf_counter()
    for epoch in range(epochs + 1):  # the start, then each epoch
        weights = [[w + np.float32(epoch / 1000) for w in spec.weights] for spec in engine.specs]
        store.add(epoch, engine.with_weights(weights), probabilities if epoch else None, {"val_accuracy": 0.99})
    seconds = time.perf_counter() - started
    assert store.get(1).predictor.specs[0].weights[1][0] == engine.specs[0].weights[1][0] + np.float32(0.001)
    result = {
        "scrubber_memory_mb": round(store.memory_bytes / 2**20, 1),
        "scrubber_disk_mb": round(store.disk_bytes / 2**20, 1),
        "scrubber_epochs_kept": len(store.epochs()),
        "scrubber_epochs_recorded": epochs + 1,
        "scrubber_record_ms_per_epoch": round(seconds / (epochs + 1) * 1e3, 1),
    }
    store.clear()
    return result


def bench_pen_accuracy() -> dict:
    """The shipped model on real handwriting: the validation writers' pen trajectories (never
    trained on) drawn as on the canvas, overall, per class, small and large, and as image files."""
    predictor = load_predictor(paths.SHIPPED_MODEL_PATH)
    _, validation = pen.split_by_writer(pen.load_digits())
    labels = pen.labels_of(validation)

    def accuracy(images: np.ndarray) -> float:
        return round(evaluate(predictor, images, labels).accuracy, 4)

    score = evaluate(predictor, pen.drawn_inputs(validation, seed=0), labels)
    rng = np.random.default_rng(0)
    from_images = np.stack([preprocess(pen.canvas_ink(pen.place_on_canvas(digit, rng))) for digit in validation])
    return {
        "pen_drawn_accuracy": round(score.accuracy, 4),
        "pen_drawn_per_class": score.per_class_accuracy,
        "pen_drawn_accuracy_small": accuracy(pen.drawn_inputs(validation, seed=0, height_range=(0.2, 0.35))),
        "pen_drawn_accuracy_large": accuracy(pen.drawn_inputs(validation, seed=0, height_range=(0.75, 0.95))),
        "pen_drawn_accuracy_as_images": round(float((predictor.predict(from_images).argmax(1) == labels).mean()), 4),
        "pen_drawn_n": int(len(labels)),
        "pen_drawn_writers": len(pen.VALIDATION_WRITERS),
    }


def bench_finetune() -> dict:
    """Teaching the shipped model one person's handwriting, for each validation writer in turn:
    20 of their drawings (2 of each digit) are the personal set, the default fine-tuning starts
    from the shipped model, and the writer's other drawings are scored before and after, with
    the sample's test digits. Reported as means over the writers, and the weakest writer."""
    from mnistdesk.net.finetune import fine_tune
    from mnistdesk.net.models import load_model
    from mnistdesk.data.personal import LabelledImages

    predictor = load_predictor(paths.SHIPPED_MODEL_PATH)
    mix = load_dataset(read_metadata(paths.SHIPPED_MODEL_PATH).get("dataset", "sample"))
    sample = load_dataset("sample")
    test_before = evaluate(predictor, sample.x_test, sample.y_test).accuracy
    _, validation = pen.split_by_writer(pen.load_digits())
    before, after, drops, seconds = {}, {}, [], []
    for writer in pen.VALIDATION_WRITERS:
        digits = [digit for digit in validation if digit.writer == writer]
        images, labels = pen.drawn_inputs(digits, seed=0), pen.labels_of(digits)
        rng = np.random.default_rng(writer)
        personal = np.concatenate([rng.permutation(np.flatnonzero(labels == digit))[:2] for digit in range(10)])
        others = np.setdiff1d(np.arange(len(labels)), personal)
        model = load_model(paths.SHIPPED_MODEL_PATH)
        started = time.perf_counter()
        fine_tune(model, mix, LabelledImages(images[personal], labels[personal]))
        seconds.append(time.perf_counter() - started)
        tuned = Engine.from_keras_model(model)
        before[writer] = round(evaluate(predictor, images[others], labels[others]).accuracy, 4)
        after[writer] = round(evaluate(tuned, images[others], labels[others]).accuracy, 4)
        drops.append(test_before - evaluate(tuned, sample.x_test, sample.y_test).accuracy)
    weakest = min(before, key=before.get)
    return {
        "finetune_s": round(statistics.median(seconds), 1),
        "finetune_writer_accuracy_before": round(statistics.mean(before.values()), 4),
        "finetune_writer_accuracy_after": round(statistics.mean(after.values()), 4),
        "finetune_test_accuracy_drop": round(statistics.mean(drops), 4),
        "finetune_test_accuracy_drop_max": round(max(drops), 4),
        "finetune_weakest_writer_accuracy_before": before[weakest],
        "finetune_weakest_writer_accuracy_after": after[weakest],
        "finetune_per_writer": {str(writer): [before[writer], after[writer]] for writer in before},
    }


def bench_accuracy() -> dict:
    """The shipped model on the sample's test digits, and on the same digits re-drawn."""
    sample = load_dataset("sample")
    predictor = load_predictor(paths.SHIPPED_MODEL_PATH)
    drawn = drawn_inputs(sample.x_test, seed=0)
    rng = np.random.default_rng(0)  # the same re-drawings, preprocessed naively
    naive = np.stack([preprocess(redraw(image, rng), "naive") for image in sample.x_test])
    return {
        "sample_test_accuracy": evaluate(predictor, sample.x_test, sample.y_test).accuracy,
        "drawn_accuracy": float((predictor.predict(drawn).argmax(1) == sample.y_test).mean()),
        "drawn_accuracy_naive_preprocessing": float((predictor.predict(naive).argmax(1) == sample.y_test).mean()),
        "drawn_n": int(len(sample.y_test)),
    }


def memory_probe(mode: str, count: int) -> list[float]:
    """RSS series (MB) from ``memory_probe.py`` in a fresh process."""
    env = {**os.environ, "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="mnistdesk-bench-")}
    probe = str(Path(__file__).with_name("memory_probe.py"))
    out = subprocess.run([sys.executable, probe, mode, str(count)], capture_output=True, text=True, env=env, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_mb"]


def growth_per_run(series: list[float]) -> float:
    """Median RSS growth per run after the second (the first runs load TensorFlow's kernels)."""
    return round(statistics.median(b - a for a, b in zip(series[1:], series[2:])), 2)


def bench_memory(runs: int, api_runs: int, long_epochs: int) -> dict:
    """Resident memory in a long session: Train pressed ``runs`` times in one window (lean,
    1 epoch on the sample), ``training.train`` called ``api_runs`` times in one process (the
    CLI/API path), and one long dense run on 512 digits, read at epoch 20 and at its end."""
    window = memory_probe("window", runs)
    api = memory_probe("api", api_runs)
    long = memory_probe("long", max(long_epochs, 20))
    at_epoch_20 = long[19]
    return {
        "train_runs_rss_growth_mb_per_run": growth_per_run(window),
        "train_runs_rss_growth_mb_second_to_last": round(window[-1] - window[1], 1),
        "train_runs_rss_mb": window,
        "api_train_rss_growth_mb_per_run": growth_per_run(api),
        "api_train_rss_mb": api,
        "long_run_rss_growth_mb": round(long[-1] - at_epoch_20, 1),
        "long_run_rss_mb_at_epoch_20_and_end": [at_epoch_20, long[-1]],
    }


def bench_saliency(rounds: int, launches: int = 3) -> dict:
    """The saliency overlay in the window: its part of a drawing update, a whole update with it on,
    and SmoothGrad's; in fresh processes, medians over the launches (see saliency_probe.py)."""
    return window_probe("saliency_probe.py", rounds, launches)


def bench_engine(rounds: int) -> dict:
    """The numpy engine on the networks learners bring (see mnistdesk/net/lessons.py), each
    trained one epoch on 2,000 sample digits and saved as a lesson saves it: one drawn digit's
    prediction time from the .keras file's engine (networks interleaved, medians), and the
    largest difference from Keras's own outputs over 500 test digits, from .keras and .h5 files."""
    import keras

    from mnistdesk.net.lessons import LESSON_NETWORKS

    sample = load_dataset("sample")
    image = preprocess(redraw(sample.x_test[0], np.random.default_rng(0)))
    x_train, x_test = normalize(sample.x_train[:2000]), normalize(sample.x_test[:500])  # as the lessons scale them
    engines, largest = {}, 0.0
    with tempfile.TemporaryDirectory() as folder:
        for name, build in LESSON_NETWORKS.items():
            keras.utils.set_random_seed(0)
            model = build()
            shape = model.input_shape[1:]
            model.fit(x_train.reshape((-1, *shape)), sample.y_train[:2000], epochs=1, batch_size=64, verbose=0)
            expected = np.asarray(model.predict(x_test.reshape((-1, *shape)), verbose=0))
            for suffix in (".keras", ".h5"):
                model.save(Path(folder) / f"{name}{suffix}")
                engine = load_predictor(Path(folder) / f"{name}{suffix}")
                assert isinstance(engine, Engine), f"{name}{suffix} fell back to Keras: {engine.note}"
                outputs = engine.predict(x_test)
                largest = max(largest, float(np.abs(outputs - (softmax(expected) if engine.logits else expected)).max()))
            engines[name] = load_predictor(Path(folder) / f"{name}.keras")
    times: dict[str, list[float]] = {name: [] for name in engines}
    for engine in engines.values():
        engine.predict(image)
    for _ in range(rounds):
        for name, engine in engines.items():
            times[name].append(timed(lambda: engine.predict(image)))
    return {**{f"engine_predict_ms_p50_{name}": median_ms(samples) for name, samples in times.items()}, "engine_keras_max_abs_diff": float(f"{largest:.2e}")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default prints it indented)")
    parser.add_argument("--rounds", type=int, default=200, help="paired rounds for the prediction timings")
    parser.add_argument("--startup-rounds", type=int, default=5, help="paired process launches")
    parser.add_argument("--train-rounds", type=int, default=5, help="paired plain/app training runs")
    parser.add_argument("--train-epochs", type=int, default=2, help="epochs per training run")
    parser.add_argument("--draw-seconds", type=float, default=6.0, help="seconds of drawing per network (and as long idle)")
    parser.add_argument("--cnn-rounds", type=int, default=3, help="paired plain/app cnn training runs")
    parser.add_argument("--startup-launches", type=int, default=3, help="launches drawn on from the first frame through TensorFlow's import")
    parser.add_argument("--tensorboard-pairs", type=int, default=5, help="paired runs with and without the TensorBoard logger")
    parser.add_argument("--memory-runs", type=int, default=20, help="Train presses in one window (memory)")
    parser.add_argument("--api-runs", type=int, default=12, help="training.train calls in one process (memory)")
    parser.add_argument("--long-epochs", type=int, default=300, help="epochs of the long run, at least 20 (memory)")
    sections = {
        "prediction": lambda args: bench_prediction(args.rounds),
        "engine": lambda args: bench_engine(args.rounds),
        "startup": lambda args: bench_startup(args.startup_rounds),
        "accuracy": lambda args: bench_accuracy(),
        "pen": lambda args: bench_pen_accuracy(),
        "memory": lambda args: bench_memory(args.memory_runs, args.api_runs, args.long_epochs),
        "training": lambda args: bench_training(args.train_rounds, args.train_epochs),
        "finetune": lambda args: bench_finetune(),
        "responsiveness": lambda args: bench_responsiveness(args.draw_seconds, args.cnn_rounds, args.tensorboard_pairs, args.startup_launches),
        "inspection": lambda args: bench_inspection(args.rounds),
        "saliency": lambda args: bench_saliency(args.rounds),
    }
    parser.add_argument("--only", nargs="+", choices=sections, metavar="SECTION", help=f"run only these sections ({', '.join(sections)}; default: all)")
    args = parser.parse_args()
    results = {}
    for name in args.only or sections:
        results.update(sections[name](args))
    print(json.dumps(results) if args.json else json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
