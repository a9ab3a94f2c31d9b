"""The model in use: opening a model file (off the GUI thread), saving it, the recent models, the
model a run trains and the epoch the scrubber puts to use; and saying which model it is (the
status bar's *Predicting with*, the window title). It asks before an unsaved model is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QThread
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox

from mnistdesk.base import paths
from mnistdesk.base.settings import text_list_setting, text_setting
from mnistdesk.base.untrusted import file_problem
from mnistdesk.explain.epochs import epoch_metadata
from mnistdesk.explain.session import Session, bundled_test_split
from mnistdesk.gui.folders import last_folder, remember_folder
from mnistdesk.gui.inspect_controller import InspectController
from mnistdesk.gui.model_loader import ModelLoader, plain
from mnistdesk.gui.network_controller import NetworkController
from mnistdesk.gui.training_controller import TrainingController
from mnistdesk.net.engine import Predictor, predictor_for
from mnistdesk.net.models import ModelFileError, copy_model_file, load_model, save_model

MAX_RECENT_MODELS = 8
#: The window waits this long for a model to load; a slower one (Keras must be imported)
#: finishes in the background while the window stays responsive.
OPEN_WAIT_MS = 500
STARTUP_OPEN_WAIT_MS = 3000
OPEN_FILTER = "Keras models (*.keras *.h5 *.hdf5)"
SAVE_FILTER = "Keras models (*.keras)"


class ModelController(QObject):
    """Holds the model in use (``path``, ``metadata``, the ``trained`` Keras model until saved,
    ``unsaved``) and everything that replaces or writes it."""

    def __init__(self, window: QMainWindow, settings: QSettings, session: Session, training: TrainingController, inspect: InspectController, networks: NetworkController):
        super().__init__(window)
        self.window, self.settings, self.session, self.training, self.inspect, self.networks = window, settings, session, training, inspect, networks
        self.path: Path | None = None
        self.trained = None  # a Keras model trained in this session, until saved
        self.metadata: dict = {}
        self.unsaved = False
        self.loader: ModelLoader | None = None
        self.loader_thread: QThread | None = None
        self.closing = False
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # names come from model files
        self.recent_menu = QMenu("&Recent models", window)
        self._refresh_recent_menu()
        training.may_replace_model = self.may_replace
        self._close_after_saving: Callable[[], object] | None = None  # Stop and save… while closing
        training.running_changed.connect(self._on_training_running_changed)
        training.run_started.connect(self._on_training_run_started)
        training.model_trained.connect(self._on_training_model_trained)

    # -- opening -------------------------------------------------------------------------------
    def open(self, path: Path, quiet: bool = False, wait_ms: int = OPEN_WAIT_MS) -> bool:
        """Load a model for prediction; on failure keep the current one and say why.

        Loading (checks included) runs on a background thread. The window waits up to
        ``wait_ms`` for it — a numpy-engine model takes milliseconds — and returns whether it
        opened; a slower load (Keras must be imported) goes on in the background, the window
        stays responsive, and the model is used when it is ready (returns True).
        """
        if self.training.is_running():
            return False
        if self.loader_thread is not None:  # one load at a time
            if not self.loader_thread.wait(wait_ms):
                self.window.statusBar().showMessage(f"Still opening {self.loader.path.name}…", 4000)
                return False
            self._finish_open()
        self.loader, self.loader_thread = ModelLoader(Path(path), quiet), QThread(self)
        self.loader.moveToThread(self.loader_thread)
        self.loader_thread.started.connect(self.loader.run)
        # Direct: the GUI thread may be blocked in wait() below, so a queued quit would never run.
        self.loader.done.connect(self.loader_thread.quit, Qt.ConnectionType.DirectConnection)
        self.loader_thread.finished.connect(self._on_loader_thread_finished)
        self.loader_thread.start()
        if self.loader_thread.wait(wait_ms):
            return self._finish_open()
        self.window.statusBar().showMessage(f"Opening {Path(path).name}… (this model needs TensorFlow, which takes a few seconds to load)")
        return True

    def open_at_start(self, requested: Path | None) -> None:
        """The model asked for on the command line, else the last one used; the shipped one
        if that cannot open (quietly, unless the user named the file)."""
        path = requested or Path(text_setting(self.settings.value("model/path"), str(paths.SHIPPED_MODEL_PATH)))
        # Not shown yet, so nothing freezes: wait longer; falls back to the shipped model.
        self.open(path, quiet=requested is None, wait_ms=STARTUP_OPEN_WAIT_MS)

    def choose(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self.window, "Open model", self._last_folder(), OPEN_FILTER)
        if name and self.open(Path(name)):
            remember_folder(self.settings, "models", Path(name).parent)

    def restore_shipped(self) -> None:
        self.open(paths.SHIPPED_MODEL_PATH)

    def _on_loader_thread_finished(self) -> None:
        thread = self.loader_thread  # None or another one when the window already took the result
        if thread is not None and thread.isFinished() and not self.closing:
            self._finish_open()

    def _finish_open(self) -> bool:
        loader, thread = self.loader, self.loader_thread
        self.loader = self.loader_thread = None
        loader.deleteLater()
        thread.deleteLater()
        if loader.error is not None:
            self._on_open_failed(loader.path, loader.error, loader.quiet)
            return False
        if not (loader.quiet or self.may_replace()):  # asked only once the new model has opened: check first, then ask
            self.window.statusBar().showMessage(f"{loader.path.name} was not opened: the model you trained stays in use", 5000)
            return False
        self.trained, self.unsaved = None, False
        self.session.forget_epochs()  # the run's epochs are not this model's
        self.training.weights.set_reference(None)  # not a run's model: no start to compare with
        self.use(loader.predictor, loader.path, loader.metadata)
        self.training.curves.show_history(loader.metadata.get("history"))
        self.training.show_model_opened(loader.path.name, loader.metadata)
        self.networks.adopt(loader.metadata)  # a network built in the editor reopens editable
        self.settings.setValue("model/path", str(loader.path))
        self._remember(loader.path)
        if loader.notes:
            self.window.statusBar().showMessage(f"{loader.path.name}: " + "; ".join(loader.notes), 10000)
        return True

    def _on_open_failed(self, path: Path, message: str, quiet: bool) -> None:
        if not quiet:
            QMessageBox.warning(self.window, "Cannot open model", plain(f"{message}\n\nThe current model stays in use."))
        if self.session.predictor is None and path != paths.SHIPPED_MODEL_PATH:  # e.g. a bad model in the settings
            self.open(paths.SHIPPED_MODEL_PATH, wait_ms=STARTUP_OPEN_WAIT_MS)

    # -- the model in use ----------------------------------------------------------------------
    def use(self, predictor: Predictor, path: Path | None, metadata: dict) -> None:
        self.path, self.metadata = path, metadata
        self.inspect.set_class_names(metadata.get("class_names") or [str(d) for d in range(10)])
        first_layer = getattr(predictor, "first_layer_weights", None)
        self.training.weights.show_kernel(first_layer() if first_layer else None)
        self.training.current_model = (self.trained, path, metadata)
        self.update_label()
        self.session.set_predictor(predictor)
        self.inspect.robustness.request_refresh()
        test = self.session.splits.get("test") if self.trained is not None else None
        if test is not None:
            self.inspect.test_scorer.request(predictor, lambda: (f"test split of {Path(metadata.get('dataset', 'the data')).name}", *test))
        else:
            self.inspect.test_scorer.request(predictor, lambda: bundled_test_split(metadata.get("dataset"), metadata.get("class_names")))

    def update_label(self, training: bool = False) -> None:
        metadata, path = self.metadata, self.path
        parts = [f"Predicting with: {path.name if path else metadata.get('architecture', 'a new model')}"]
        if path and metadata.get("architecture"):
            parts.append(metadata["architecture"] + (" (your network)" if "network" in metadata else ""))
        if training:
            parts.append(f"training on {metadata.get('dataset')}…")
        elif metadata.get("dataset"):
            parts.append(f"trained on {metadata['dataset']}")
        if metadata.get("test_accuracy") is not None and not training:
            # which digits: the test split of the data it was trained on (README's headline is the sample's)
            parts.append(f"{metadata['test_accuracy']:.1%} on its test split" if metadata.get("dataset") else f"test accuracy {metadata['test_accuracy']:.1%}")
        if self.unsaved:
            parts.append("unsaved")
        self.label.setText(" · ".join(parts))
        self.label.setToolTip(plain(str(path)) if path else "Not saved yet: File → Save model as…")
        self.window.setWindowTitle(f"{path.name if path else metadata.get('architecture', 'new model')}[*] — mnistdesk")
        self.window.setWindowModified(self.unsaved)

    def _on_training_run_started(self, info: dict) -> None:
        self.session.start_run()
        self.metadata = {"architecture": info["architecture"], "dataset": info["dataset"]}
        self.trained, self.unsaved = None, False
        if not info.get("continued"):
            self.path = None
        # The worker holds the model it trains; the previous one must not outlive this moment.
        self.training.current_model = (None, self.path, self.metadata)
        self.update_label(training=True)

    def _on_training_model_trained(self, model, metadata: dict) -> None:
        try:
            engine = predictor_for(model)
        except ModelFileError as error:  # diverged so far that even the last good weights overflow
            self.window.statusBar().showMessage(f"The trained model cannot be used: {error}", 10000)
            return
        self.trained, self.unsaved = model, True
        self.use(engine, self.path, metadata)

    def use_shown_epoch(self) -> bool:
        """The epoch on show becomes the model in use: the run's Keras model takes its weights,
        unsaved, its metadata saying which epoch it is; only once the run has ended."""
        state = self.session.shown_epoch_state()
        if state is None or self.training.is_running():
            return False
        if self.trained is None:
            self.window.statusBar().showMessage("This run ended without a model to use", 5000)
            return False
        for layer, weights in zip(self.trained.layers, state.layer_weights(), strict=True):
            layer.set_weights(weights)
        self.unsaved = True
        self.use(state.predictor, self.path, epoch_metadata(self.metadata, state.epoch, state.metrics))
        self.session.keep_shown_epoch()
        self.training.curves.cut_at(state.metrics.get("progress", float(state.epoch)))  # the run ends at this epoch now
        validation = state.metrics.get("val_accuracy")
        self.training.panel.show_idle(f"Epoch {state.epoch} in use" + (f" · validation {validation:.1%}" if isinstance(validation, float) else ""))  # the run's last figures no longer apply
        self.window.statusBar().showMessage(f"Epoch {state.epoch} is now the model in use — File → Save model keeps it", 8000)
        return True

    # -- saving --------------------------------------------------------------------------------
    def save(self) -> bool:
        """Save to the model's own file, or ask where if it has none (or is the shipped one)."""
        if self.path is None or self.path == paths.SHIPPED_MODEL_PATH or self.path.suffix != ".keras":
            return self.choose_save()  # a legacy .h5 is saved anew as .keras, never over the original
        if not self.unsaved:
            self.window.statusBar().showMessage(f"{self.path.name} is already saved", 3000)
            return True
        return self.save_to(self.path)

    def choose_save(self) -> bool:
        if self.path is not None and self.path.suffix != ".keras" and self.path != paths.SHIPPED_MODEL_PATH:
            suggestion = Path(self._last_folder()) / f"{self.path.stem}.keras"  # the same name, in the current format
        else:
            suggestion = Path(self._last_folder()) / f"{self.metadata.get('architecture', 'model')}-{self.metadata.get('dataset', 'mnist')}.keras"
        name, _ = QFileDialog.getSaveFileName(self.window, "Save model as", str(suggestion), SAVE_FILTER)
        if not name:
            return False
        path = Path(name) if name.endswith(".keras") else Path(name + ".keras")
        remember_folder(self.settings, "models", path.parent)
        return self.save_to(path)

    def save_to(self, path: Path) -> bool:
        """Write the model atomically: a trained one through Keras, an opened one as a file copy
        (a legacy .h5 one converted to .keras through Keras)."""
        try:
            if self.trained is not None:
                save_model(self.trained, path, self.metadata)
            elif self.path is not None and self.path.suffix != ".keras":
                save_model(load_model(self.path), path, self.metadata)
            elif self.path is not None:
                copy_model_file(self.path, path)
        except (OSError, ModelFileError) as error:
            QMessageBox.warning(self.window, "Cannot save model", plain(f"Could not write {path}:\n{error}"))
            return False
        self.path, self.unsaved = path, False
        self.settings.setValue("model/path", str(path))
        self._remember(path)
        self.update_label()
        self.window.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def may_replace(self) -> bool:
        """True when nothing unsaved would be lost, or the user saved it or chose to discard it."""
        return not self.unsaved or self.confirm_discard()

    def closing_during_run(self, close: Callable[[], object]) -> bool:
        """The window is closing while a run trains: ask, as Train new does. True: discard the
        run and close now. Save stops the run and, once its model is in use, asks where to save
        it and calls ``close`` again; Keep training (or closing the question) leaves it running.
        A run that has not trained a batch yet (loading data or TensorFlow) has nothing to lose."""
        if self.training.latest_batch is None:
            return True
        choice = QMessageBox.question(
            self.window,
            "A model is training",
            "Closing now loses the model this run is training.\n\nSave: stop the run and save what it has learned so far.\nDiscard: close and lose it.\nCancel: keep training.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if choice == QMessageBox.StandardButton.Discard:
            return True
        if choice == QMessageBox.StandardButton.Save:
            self._close_after_saving = close
            self.training.stop()
        return False

    def _on_training_running_changed(self, running: bool) -> None:
        """A run ended: if closing waited for it, save its model (asking where), then close."""
        close, self._close_after_saving = self._close_after_saving, None
        if close is not None and not running and (not self.unsaved or self.save()):
            close()

    def confirm_discard(self) -> bool:
        """Ask before a trained, unsaved model is thrown away; True to go on."""
        choice = QMessageBox.question(
            self.window,
            "Save the trained model?",
            "The model you trained has not been saved.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if choice == QMessageBox.StandardButton.Save:
            return self.save()
        return choice == QMessageBox.StandardButton.Discard

    # -- recent models and folders -------------------------------------------------------------
    def _last_folder(self) -> str:
        """Where the user last went for models, else the model in use's own folder."""
        own = self.path.parent if self.path and self.path != paths.SHIPPED_MODEL_PATH else None
        return last_folder(self.settings, "models", own)

    def _remember(self, path: Path) -> None:
        if path == paths.SHIPPED_MODEL_PATH:
            return
        recent = [str(path)] + [p for p in self.recent() if p != str(path)]
        self.settings.setValue("model/recent", recent[:MAX_RECENT_MODELS])
        self._refresh_recent_menu()

    def recent(self) -> list[str]:
        return text_list_setting(self.settings.value("model/recent"), MAX_RECENT_MODELS)

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in self.recent() if file_problem(p) is None]
        for number, name in enumerate(recent, start=1):
            action = self.recent_menu.addAction(f"&{number} {Path(name).name}")
            action.setToolTip(plain(name))
            action.triggered.connect(lambda checked=False, name=name: self.open(Path(name)))
        self.recent_menu.setEnabled(bool(recent))

    def stop(self) -> None:
        """Closing: a load still under way is left to end; its result is not used."""
        self.closing = True
        if self.loader_thread is not None:
            self.loader_thread.quit()
