"""The ``mnistdesk`` command: the app with no subcommand; ``train``, ``finetune``, ``evaluate``
and ``classify`` for scripts. Bad input gets one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnistdesk import __version__
from mnistdesk.base import paths
from mnistdesk.base.files import replacing
from mnistdesk.base.untrusted import file_problem, terminal_text
from mnistdesk.data.datasets import BUILTIN_DATASETS, DatasetError, DatasetOffline, dataset_of_model
from mnistdesk.ink.imagefile import ImageFileError
from mnistdesk.ink.preprocess import MODES
from mnistdesk.net.models import (
    ARCHITECTURES,
    DEFAULT_VALIDATION_FRACTION,
    LR_SCHEDULES,
    OPTIMIZERS,
    FineTuneConfig,
    ModelFileError,
    TrainConfig,
    TrainingDiverged,
    check_model_target,
    compiled_settings,
    fine_tuning_summary,
    read_metadata_checked,
    save_model,
)

EXIT_ERROR = 1
#: More epochs than anyone waits for: a typo (1e22) must not start a run with an ETA of ages.
MAX_EPOCHS = 10_000
#: What a shell reports for a command that Ctrl+C (SIGINT) or SIGTERM ended: 128 + the signal.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised wherever the command is, so that it ends as Ctrl+C ends it: saves are
    atomic and their temporary files removed on the way out, so nothing is left half-written."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnistdesk",
        description="Draw a digit, see what the model sees, and watch a Keras model learn MNIST live. "
        "With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"mnistdesk {__version__}")
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help="also show TensorFlow's and Qt's own log messages")
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's and Qt's own log messages")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    dataset_help = f"{', '.join(BUILTIN_DATASETS)}, or a .npz in Keras's layout (x_train, y_train, x_test, y_test)"

    gui = commands.add_parser("gui", parents=[verbose], help="open the app (the default)")
    gui.add_argument("--model", type=Path, help="model file to open (default: the shipped model)")

    train = commands.add_parser("train", parents=[verbose], help="train a model and save it with its history")
    train.add_argument("--model", metavar="{lean,cnn,dense,FILE.json,FILE.keras}", help="the network: lean (the default), cnn, dense, a network description (.json, as the network editor saves it) or a model file whose architecture is trained from scratch")
    train.add_argument("--print-code", action="store_true", help="print the network and these settings as a runnable Keras script, and train nothing")
    train.add_argument("--continue", dest="continue_from", type=Path, metavar="MODEL", help="train this model file (.keras or .h5, yours or from a Keras lesson) further instead of a fresh network; its curves carry on (default --out: MODEL-continued.keras)")
    train.add_argument("--dataset", help=f"{dataset_help} (default: sample; with --continue, the model's own)")
    train.add_argument("--epochs", type=_epochs, default=5, help=f"default: 5 (at most {MAX_EPOCHS:,})")
    train.add_argument("--batch-size", type=_positive_int, default=128, help="default: 128")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam (rmsprop for dense; with --continue, the one the model was trained or compiled with)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default: 0.001; 0.01 for sgd)")
    train.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant", help="constant, or cosine: the rate falls along a half cosine from --lr towards 0, the last epoch taking the smallest steps (default: constant)")
    train.add_argument("--augment", action="store_true", help="random rotations, shifts, zoom and stroke thickness")
    train.add_argument("--seed", type=_seed, help="random seed, for a reproducible run")
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=DEFAULT_VALIDATION_FRACTION,
        help=f"fraction of the training split held out (stratified, fixed seed) to validate each epoch; the test split is scored once at the end (default: {DEFAULT_VALIDATION_FRACTION:g})",
    )
    train.add_argument("--log-dir", type=Path, help="write TensorBoard logs (epoch metrics, first-layer weight images) here")
    train.add_argument("--out", type=Path, help="where to write the model (default: MODEL-DATASET.keras)")

    finetune = commands.add_parser("finetune", parents=[verbose], help="teach a model your handwriting: continue training it on labelled drawings")
    finetune.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL_PATH, help="the model to fine-tune (default: the shipped model)")
    finetune.add_argument("--drawings", type=Path, required=True, help="a folder of labelled drawings: 0/, 1/, … 9/ holding images of any size")
    finetune.add_argument("--dataset", help=f"the data mixed in so the model keeps what it knows: {dataset_help} (default: the model's own, else sample)")
    finetune.add_argument("--epochs", type=_epochs, default=FineTuneConfig.epochs, help=f"default: {FineTuneConfig.epochs} (at most {MAX_EPOCHS:,})")
    finetune.add_argument("--lr", type=_positive_float, default=FineTuneConfig.learning_rate, help=f"learning rate (default: {FineTuneConfig.learning_rate:g})")
    finetune.add_argument("--seed", type=_seed, default=FineTuneConfig.seed, help=f"random seed: which drawings are held out, the mix and the augmentation (default: {FineTuneConfig.seed})")
    finetune.add_argument("--out", type=Path, required=True, help="where to write the fine-tuned model")
    finetune.add_argument("--json", action="store_true", help="print one JSON object")

    evaluate = commands.add_parser("evaluate", parents=[verbose], help="score a model on a dataset's test split")
    evaluate.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL_PATH, help="default: the shipped model")
    evaluate.add_argument("--dataset", help=f"{dataset_help} (default: the model's own, else sample)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    classify = commands.add_parser("classify", parents=[verbose], help="classify digits in image files (PNG, JPEG, BMP, …)")
    classify.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    classify.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL_PATH, help="default: the shipped model")
    classify.add_argument("--mode", choices=MODES, default="mnist", help="preprocessing (default: mnist)")
    classify.add_argument("--json", action="store_true", help="one JSON object per line per image")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    if not getattr(args, "verbose", False):
        _quiet_native_stderr()
    handlers = {None: _run_gui, "gui": _run_gui, "train": _run_train, "finetune": _run_finetune, "evaluate": _run_evaluate, "classify": _run_classify}
    commanded = args.command not in (None, "gui") and threading.current_thread() is threading.main_thread()  # the window handles its own signals
    previous_handler = signal.signal(signal.SIGTERM, _raise_terminated) if commanded else None
    try:
        return handlers[args.command](args)
    except TrainingDiverged as error:
        _say(f"mnistdesk: error: {error} (--lr)", file=sys.stderr)
        return EXIT_ERROR
    except DatasetOffline as error:
        _say(f"mnistdesk: error: {error} (--dataset sample)", file=sys.stderr)
        return EXIT_ERROR
    except (DatasetError, ModelFileError, ImageFileError) as error:
        _say(f"mnistdesk: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as interrupt:
        _say("mnistdesk: interrupted", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    except OSError as error:  # e.g. the disk filled up while writing the history
        _say(f"mnistdesk: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if commanded:
            signal.signal(signal.SIGTERM, previous_handler or signal.SIG_DFL)


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _quiet_native_stderr() -> None:
    """Keep the terminal to our own messages: TensorFlow's C++ start-up lines ("failed call to
    cuInit", oneDNN notes) ignore ``TF_CPP_MIN_LOG_LEVEL`` and write to file descriptor 2. Point
    that descriptor at /dev/null and give Python's ``sys.stderr`` (our messages, warnings, any
    traceback) the original stream. Only when stderr really is descriptor 2 (not in tests)."""
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (captured)
        return
    sys.stderr.flush()
    original = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(original, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")


def _run_gui(args: argparse.Namespace) -> int:
    if sys.platform.startswith("linux") and not any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        # Qt would abort with no word on the terminal (its messages are silenced without --verbose)
        _say("mnistdesk: error: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set): run it in a desktop session or over ssh -X; the commands work without one (mnistdesk --help)", file=sys.stderr)
        return EXIT_ERROR
    from mnistdesk.gui.app import run

    return run(getattr(args, "model", None))


def _run_train(args: argparse.Namespace) -> int:
    from mnistdesk.data.datasets import load_dataset

    previous: dict[str, Any] = {}
    if args.continue_from is not None:
        if args.model is not None:
            raise ModelFileError(f"{args.continue_from}: --continue trains that model's own network; leave out --model {args.model}")
        previous = _continued_metadata(args.continue_from)
    network, architecture_file = _network_argument(args.model)
    architecture = (network["name"] if network else None) or (Path(args.model).stem if architecture_file else args.model) or previous.get("architecture") or (args.continue_from.stem if args.continue_from else "lean")
    dataset_name = args.dataset or (dataset_of_model(previous.get("dataset")) if args.continue_from else "sample")
    if args.print_code:
        return _print_code(args, network, architecture_file, str(dataset_name))
    default_out = f"{args.continue_from.stem}-continued.keras" if args.continue_from else f"{architecture}-{Path(str(dataset_name)).stem}.keras"
    out = args.out or Path(default_out)
    check_model_target(out)  # before the data and the training, not after an hour of it
    dataset = load_dataset(dataset_name, progress=_print_download_progress if sys.stderr.isatty() else None)
    from mnistdesk.net.training import LiveCallback, ProgressPrinter, TensorBoardLogger, split_validation, train, training_batches

    train_indices, validation_indices = split_validation(dataset.y_train, args.validation_split)  # the run's own split, so the counts agree
    held_out = len(validation_indices)
    if not len(train_indices):
        raise DatasetError(f"{dataset.name}: --validation-split {args.validation_split:g} holds out every training digit, leaving none to train on; use a smaller one (default {DEFAULT_VALIDATION_FRACTION:g})")
    trained_with = previous.get("train_config") or (compiled_settings(architecture_file) if architecture_file else {})
    optimizer = args.optimizer or (trained_with.get("optimizer") if trained_with.get("optimizer") in OPTIMIZERS else None)
    learning_rate = args.lr or (trained_with.get("learning_rate") if optimizer and not args.optimizer and _is_rate(trained_with.get("learning_rate")) else None)
    config = TrainConfig(architecture, str(dataset_name), args.epochs, args.batch_size, optimizer, learning_rate, args.augment, args.seed, args.validation_split, args.lr_schedule, network)
    logger = TensorBoardLogger(args.log_dir) if args.log_dir is not None else None  # its folder is judged before the run, never in the middle of it
    what = f"{args.continue_from} further ({config.resolved_optimizer()}, learning rate {config.resolved_learning_rate():g})" if args.continue_from else architecture
    _say(f"training {what} on {dataset.name}: {len(dataset.x_train) - held_out} train / {held_out} validation / {len(dataset.x_test)} test digits", file=sys.stderr)
    from mnistdesk.net.live import TrainingControl

    steps = len(training_batches(dataset, config))
    # The window's NaN guard: stops at a non-finite loss and puts the last good weights back.
    guard = LiveCallback(TrainingControl(), steps, args.epochs, len(dataset.x_train) - held_out, _ignore, _ignore, _ignore, batch_interval=1.0, weights_interval=1.0)
    callbacks = [guard, ProgressPrinter(sys.stderr, args.epochs, steps), *([logger] if logger is not None else [])]
    model = _continued_model(args.continue_from, config) if args.continue_from else _fresh_from_file(architecture_file, config) if architecture_file else None
    model, metadata = train(config, dataset, None, callbacks, model=model, history=previous.get("history") if isinstance(previous.get("history"), dict) else None)
    if guard.nan_message is not None:
        unchanged = f"{out} is unchanged" if out.exists() else f"{out} was not written"
        _say(f"mnistdesk: error: training stopped: {guard.nan_message} Nothing was saved ({unchanged}); try a lower learning rate (--lr).", file=sys.stderr)
        return EXIT_ERROR
    saved = _save_with_fallback(model, out, metadata)
    history_path = saved.with_suffix(".history.json")
    try:
        with replacing(history_path) as tmp:
            tmp.write_text(json.dumps(metadata["history"], indent=1))
    except OSError as error:  # the model is saved (its metadata holds the history too): say so
        _say(f"mnistdesk: error: {history_path}: cannot write the history ({error.strerror or error}); the model itself was saved to {saved}, its history inside it", file=sys.stderr)
        return EXIT_ERROR
    if "validation_accuracy" in metadata:
        _say(f"validation accuracy {metadata['validation_accuracy']:.4f} on {metadata['validation_n']} digits held out of training", file=sys.stderr)
    _say(f"test accuracy {metadata['test_accuracy']:.4f} on {metadata['test_n']} digits; wrote {saved} and {history_path}", file=sys.stderr)
    if args.log_dir is not None:
        _say(f"TensorBoard logs in {args.log_dir}: tensorboard --logdir {args.log_dir}", file=sys.stderr)
    return 0 if saved == out else EXIT_ERROR


def _network_argument(model: str | None) -> tuple[dict[str, Any] | None, Path | None]:
    """``train --model``: (a network description from a .json file, or a model file whose
    architecture is trained afresh); (None, None) for a built-in architecture."""
    from mnistdesk.net.models import MODEL_SUFFIXES, check_model_file
    from mnistdesk.net.networks import MAX_DESCRIPTION_BYTES, read_description

    if model is None or model in ARCHITECTURES:
        return None, None
    path = Path(model)
    if path.suffix.lower() == ".json":
        problem = file_problem(path)
        if problem is not None:
            raise ModelFileError(f"{path}: {problem}")
        if path.stat().st_size > MAX_DESCRIPTION_BYTES:
            raise ModelFileError(f"{path}: refused: over {MAX_DESCRIPTION_BYTES // 1024} KB, too big for a network description")
        try:
            return read_description(path.read_text(encoding="utf-8", errors="replace"), str(path)), None
        except ValueError as error:
            raise ModelFileError(str(error)) from None
    if path.suffix.lower() in MODEL_SUFFIXES:
        check_model_file(path)
        return None, path
    raise ModelFileError(f"unknown --model {model!r}: use {', '.join(ARCHITECTURES)}, a network description (.json) or a model file (.keras, .h5)")


def _print_code(args: argparse.Namespace, network: dict[str, Any] | None, architecture_file: Path | None, dataset: str) -> int:
    """``train --print-code``: the network and this command's settings as a Keras script, on stdout."""
    from mnistdesk.net.networks import BUILT_IN_NETWORKS, keras_code

    if architecture_file is not None or args.continue_from is not None:
        raise ModelFileError(f"{architecture_file or args.continue_from}: --print-code writes a network mnistdesk describes: use {', '.join(ARCHITECTURES)} or a network .json")
    description = dict(network or BUILT_IN_NETWORKS[args.model or "lean"])
    if args.optimizer:
        description.update(optimizer=args.optimizer, learning_rate=args.lr)
    elif args.lr:
        description["learning_rate"] = args.lr
    print(keras_code(description, args.epochs, args.batch_size, args.validation_split, dataset, args.augment, __version__), end="")
    return 0


def _fresh_from_file(path: Path, config: TrainConfig) -> Any:
    """A model file's architecture with fresh weights (``--model FILE.keras``), compiled for ``config``."""
    import keras

    from mnistdesk.net.engine import predictor_for
    from mnistdesk.net.models import compile_model, load_model

    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    model = keras.models.clone_model(load_model(path))  # the layers and their settings, new weights
    compile_model(model, config.resolved_optimizer(), config.learning_rate, from_logits=predictor_for(model).logits)
    return model


def _continued_metadata(path: Path) -> dict[str, Any]:
    """A model file's metadata (checked), and for a model from elsewhere how its file says it was compiled."""
    from mnistdesk.net.models import check_model_file

    check_model_file(path)
    metadata, notes = read_metadata_checked(path)
    _print_notes(path, notes)
    if "train_config" not in metadata:
        metadata["train_config"] = compiled_settings(path)
    return metadata


def _continued_model(path: Path, config: TrainConfig) -> Any:
    """The model file, compiled to train on with ``config``'s optimizer (a softmax-free model's loss applies the softmax)."""
    from mnistdesk.net.engine import predictor_for
    from mnistdesk.net.models import compile_model, load_model

    model = load_model(path)
    predictor = predictor_for(model)
    _print_notes(path, [predictor.note])
    compile_model(model, config.resolved_optimizer(), config.learning_rate, from_logits=predictor.logits)
    return model


def _is_rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1


def _save_with_fallback(model: Any, out: Path, metadata: dict) -> Path:
    """Save to ``out``; if that fails after all (the disk filled up during training), save to
    the home folder or the temporary folder instead and say where: trained work is never lost."""
    try:
        return save_model(model, out, metadata)
    except (OSError, ModelFileError) as error:
        failure = error
    name = f"{out.stem}-rescued-{time.strftime('%Y%m%d-%H%M%S')}.keras"
    for folder in (Path.home(), Path(tempfile.gettempdir())):
        try:
            saved = save_model(model, folder / name, metadata)
        except (OSError, ModelFileError):
            continue
        _say(f"mnistdesk: error: could not write {out} ({failure}); the model is saved as {saved} instead", file=sys.stderr)
        return saved
    raise ModelFileError(f"{out}: could not write the model ({failure}), nor a copy in the home or temporary folder")


def _ignore(*_: Any) -> None:
    """A callback for events the CLI does not show."""


def _run_finetune(args: argparse.Namespace) -> int:
    from mnistdesk.data.datasets import load_dataset
    from mnistdesk.data.personal import read_labelled_folder

    check_model_target(args.out)
    drawings = read_labelled_folder(args.drawings)
    for problem in drawings.problems:
        _say(f"mnistdesk: skipped: {problem}", file=sys.stderr)
    metadata, notes = read_metadata_checked(args.model)
    _print_notes(args.model, notes)
    dataset = load_dataset(args.dataset or dataset_of_model(metadata.get("dataset")))
    from mnistdesk.net.finetune import FineTuneError, fine_tune, fine_tuned_metadata
    from mnistdesk.net.models import load_model

    model = load_model(args.model)
    config = FineTuneConfig(epochs=args.epochs, learning_rate=args.lr, seed=args.seed)
    _say(f"fine-tuning {args.model} on {len(drawings.labels)} drawings from {args.drawings} mixed with {dataset.name}", file=sys.stderr)
    try:
        result = fine_tune(model, dataset, drawings, config)
    except FineTuneError as error:
        _say(f"mnistdesk: error: {args.drawings}: {error}", file=sys.stderr)
        return EXIT_ERROR
    before, after = result["before"], result["after"]
    test = after["test"]
    saved = _save_with_fallback(model, args.out, fine_tuned_metadata(metadata, dataset, result))
    summary = {
        "model": str(saved),
        "drawings": result["fine_tune"]["drawings"],
        "held_out": result["fine_tune"]["held_out"],
        "before_accuracy": before["held_out_accuracy"],
        "after_accuracy": after["held_out_accuracy"],
        "test_accuracy_before": before["test"].accuracy,
        "test_accuracy": test.accuracy,
        "dataset": dataset.name,
        "seconds": result["fine_tune"]["seconds"],
    }
    if args.json:
        print(json.dumps(summary, allow_nan=False))
    else:
        _say(f"{fine_tuning_summary(result['fine_tune'], test.accuracy)}; wrote {saved}")
    return 0 if saved == args.out else EXIT_ERROR


def _run_evaluate(args: argparse.Namespace) -> int:
    from mnistdesk.data.datasets import load_dataset
    from mnistdesk.net.engine import load_predictor
    from mnistdesk.net.evaluation import evaluate

    predictor = load_predictor(args.model)
    metadata, notes = read_metadata_checked(args.model)
    _print_notes(args.model, [*notes, predictor.note])
    dataset = load_dataset(args.dataset or dataset_of_model(metadata.get("dataset")))
    score = evaluate(predictor, dataset.x_test, dataset.y_test)
    if not math.isfinite(score.loss):
        raise ModelFileError(f"{args.model}: the model gives non-finite outputs on {dataset.name}; it cannot be scored")
    if args.json:
        print(json.dumps({"model": str(args.model), "dataset": dataset.name, **score.as_dict()}, allow_nan=False))
        return 0
    _say(f"{args.model} on {dataset.name} test ({score.n} images): accuracy {score.accuracy:.4f}, loss {score.loss:.4f}")
    _say("class  accuracy  " + " ".join(f"{name[:5]:>5}" for name in dataset.class_names))
    for name, accuracy, row in zip(dataset.class_names, score.per_class_accuracy, score.confusion):
        _say(f"{name[:5]:>5}  {accuracy:8.4f}  " + " ".join(f"{count:5d}" for count in row))
    return 0


def _run_classify(args: argparse.Namespace) -> int:
    import numpy as np

    from mnistdesk.ink.imagefile import load_ink
    from mnistdesk.ink.preprocess import preprocess
    from mnistdesk.net.engine import load_predictor

    predictor = load_predictor(args.model)
    _print_notes(args.model, [predictor.note])
    status = 0
    for path in args.images:
        try:
            image = preprocess(load_ink(path), args.mode)
            if image is None:
                raise ImageFileError(f"{path}: no ink found (a blank image)")
            probabilities = predictor.predict(image)[0]
            if not np.isfinite(probabilities).all():
                raise ImageFileError(f"{path}: the model gives non-finite outputs for this image")
        except ImageFileError as error:
            _say(f"mnistdesk: {error}", file=sys.stderr)
            status = EXIT_ERROR
            continue
        digit = int(np.argmax(probabilities))
        if args.json:
            record = {"path": str(path), "digit": digit, "probabilities": [round(float(p), 6) for p in probabilities]}
            print(json.dumps(record, allow_nan=False), flush=True)
        else:
            _say(f"{path}: {digit} ({probabilities[digit]:.1%})", flush=True)
    return status


def _print_download_progress(done: int, total: int | None) -> None:
    size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
    print(f"\rdownloading {size}", end="" if total is None or done < total else "\n", file=sys.stderr, flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _epochs(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_EPOCHS:,}, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 4294967295, got {text}")
    return value


def _say(text: str, file: Any = None, **options: Any) -> None:
    """``print``, with every file-provided string in ``text`` made harmless to the terminal."""
    print(terminal_text(text), file=file if file is not None else sys.stdout, **options)


def _print_notes(path: Path, notes: Sequence[str | None]) -> None:
    """One stderr line per thing the user should know about a model file (ignored metadata,
    softmax applied to its outputs)."""
    for note in filter(None, notes):
        _say(f"mnistdesk: note: {path}: {note}", file=sys.stderr)
