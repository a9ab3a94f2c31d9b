"""The main window: canvas in the middle, panels in docks, one direction of data:
canvas → ``preprocess`` → predictor → panels. TensorFlow is never needed to draw and predict.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QObject, QSettings, QSize, QStandardPaths, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QProgressDialog, QPushButton, QToolButton, QVBoxLayout, QWidget

from mnistdesk import __version__
from mnistdesk.base import paths
from mnistdesk.base.settings import bool_setting, choice_setting, int_setting, text_list_setting, text_setting
from mnistdesk.base.untrusted import file_problem
from mnistdesk.data.personal import PersonalDrawing, PersonalDrawings
from mnistdesk.explain.epochs import epoch_metadata
from mnistdesk.explain.session import SALIENCY_METHODS, Explanation, Session, bundled_test_split
from mnistdesk.gui.canvas import DEFAULT_HEAT_OPACITY, DrawingCanvas
from mnistdesk.gui.inspect_panels import ActivationsPanel, HistoryPanel, MistakesPanel, RobustnessPanel
from mnistdesk.gui.model_loader import ModelLoader, plain
from mnistdesk.gui.panels import ModelEyePanel, SaliencyMenu, SoftmaxPanel, saliency_caption
from mnistdesk.gui.scorer import TestScorer
from mnistdesk.gui.scrubber_panel import ScrubberPanel
from mnistdesk.gui.teach_panel import DigitKeys, TeachPanel, drawings_count
from mnistdesk.gui.training_controller import TrainingController
from mnistdesk.gui.worker import import_training
from mnistdesk.ink.imagefile import ImageFileError, load_ink
from mnistdesk.ink.pixels import normalize
from mnistdesk.ink.preprocess import preprocess
from mnistdesk.net.engine import Engine, Predictor
from mnistdesk.net.models import FINE_TUNE_MIN_DRAWINGS, ModelFileError, check_model_file, copy_model_file, save_model

#: The window manager's title bar and borders, outside the size a window is given: without
#: this room a first start on a 1024×640 screen put the status bar below the screen's edge.
WINDOW_FRAME_ALLOWANCE = QSize(8, 40)
PREDICTION_INTERVAL_MS = 16  # at most ~60 predictions a second while drawing
#: The background TensorFlow import holds the GIL in bursts (up to ~250 ms here), so it waits
#: until the user has not drawn for this long: strokes never stutter while it loads.
TENSORFLOW_IDLE_MS = 1500
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
MODE_LABELS = {"mnist": "MNIST preprocessing", "naive": "Naive: whole canvas → 28×28"}
MAX_RECENT_MODELS = 8
#: The user's labelled drawings live in this folder of the app's data folder.
PERSONAL_DIR = "handwriting"
MAX_PROBLEMS_SHOWN = 12
#: SmoothGrad waits until the drawing has rested this long (it costs about 20 plain gradients).
SMOOTHGRAD_REST_MS = 200
SALIENCY_TIP = (
    "Lay a heat map over the canvas: which pixels raised (red) or lowered (blue) the probability of the\n"
    "predicted class, or of the class whose bar you click in Prediction. Live while you draw.\n"
    "The arrow beside the button chooses the method (Gradient or SmoothGrad) and the opacity."
)
#: The Inspect panels (tabbed under the canvas), with what each is for.
INSPECT_DOCKS = {
    "mistakes": "Which digits the model confuses: click a cell of the matrix to see those digits, click one to open it",
    "history": "Your drawing's class probabilities at every weight snapshot of the training run",
    "activations": "What the hidden layers compute for your drawing, live",
    "robustness": "Shift, rotate, scale and thicken the model's input: where does the answer flip?",
}
#: The window waits this long for a model to load; a slower one (Keras must be imported)
#: finishes in the background while the window stays responsive.
OPEN_WAIT_MS = 500
STARTUP_OPEN_WAIT_MS = 3000
#: Closing waits this long for a training run to stop; a TensorFlow import cannot be
#: interrupted, so the window closes anyway and the app ends when the import does.
CLOSE_WAIT_MS = 250


def key_sequences(*keys: str | QKeySequence.StandardKey) -> list[QKeySequence]:
    """Each key once, a standard key as all of this platform's bindings. Qt fires neither of two
    equal shortcuts: on Linux the standard Redo *is* Ctrl+Shift+Z, and listing both silenced it."""
    found: list[QKeySequence] = []
    for key in keys:
        for sequence in QKeySequence.keyBindings(key) if isinstance(key, QKeySequence.StandardKey) else [QKeySequence(key)]:
            if sequence not in found:
                found.append(sequence)
    return found


class TensorFlowLoader(QObject):
    """Imports the training stack (TensorFlow, 2-4 s) off the GUI thread."""

    ready = Signal(float)
    failed = Signal(str)

    @Slot()
    def run(self) -> None:
        started = time.perf_counter()
        try:
            import_training()
        except Exception as error:  # a broken TF install must not take the drawing app down
            self.failed.emit(f"{type(error).__name__}: {error}")
            return
        self.ready.emit(time.perf_counter() - started)


class MainWindow(QMainWindow):
    """Draw, see what the model sees, see what it predicts."""

    prediction_made = Signal(object)  # probabilities (10,) or None; for tests and later panels

    def __init__(self, model_path: Path | None = None, settings: QSettings | None = None, preload_tensorflow: bool = True, personal_dir: Path | None = None):
        super().__init__()
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.session = Session()  # the drawing's input, the predictor and what the panels show
        self.model_path: Path | None = None
        self.trained_model = None  # a Keras model trained in this session, until saved
        self.model_metadata: dict = {}
        self.unsaved = False
        self.model_loader: ModelLoader | None = None
        self.model_loader_thread: QThread | None = None
        self.closing = False
        self.kept_last: PersonalDrawing | None = None  # the drawing a digit key just kept: Ctrl+Z takes it back

        self.canvas = DrawingCanvas()
        self.eye = ModelEyePanel()
        self.softmax = SoftmaxPanel()
        self.mistakes = MistakesPanel()
        self.history = HistoryPanel()
        self.activations = ActivationsPanel()
        self.robustness = RobustnessPanel()
        self.scrubber = ScrubberPanel()
        self.test_scorer = TestScorer(self)
        self.teach = TeachPanel()
        # The user's labelled drawings, in their data folder (the core only takes a path).
        self.personal = PersonalDrawings(personal_dir or Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / PERSONAL_DIR)
        self.mode_box = QComboBox()
        for mode, label in MODE_LABELS.items():
            self.mode_box.addItem(label, mode)
        self.mode_box.setToolTip(
            "How the drawing becomes the model's 28×28 input.\n"
            "MNIST: crop to the ink, fit 20×20, centre by mass (how MNIST was made).\n"
            "Naive: squash the whole canvas — see how much worse it reads your digits."
        )
        self.training = TrainingController(self, self.settings)
        self._build_central()
        self._build_docks()
        self._build_actions()
        self.model_label = QLabel()
        self.model_label.setTextFormat(Qt.TextFormat.PlainText)  # names come from model files
        self.tensorflow_label = QLabel("TensorFlow: not loaded")
        self.tensorflow_label.setToolTip("TensorFlow is only needed for training; drawing and predicting run in numpy.")
        for label in (self.model_label, self.tensorflow_label):  # a rule and room before each: a long message is cut, not run on into it
            label.setStyleSheet("QLabel { border: none; border-left: 1px solid #a8a8a8; padding-left: 6px; margin-left: 4px; }")
            self.statusBar().addPermanentWidget(label)

        self.prediction_timer = QTimer(self)
        self.prediction_timer.setSingleShot(True)
        self.prediction_timer.setInterval(PREDICTION_INTERVAL_MS)
        self.prediction_timer.timeout.connect(self._on_prediction_timer_timeout)
        self.tensorflow_thread: QThread | None = None
        self.tensorflow_timer = QTimer(self)
        self.tensorflow_timer.setSingleShot(True)
        self.tensorflow_timer.setInterval(TENSORFLOW_IDLE_MS)
        self.tensorflow_timer.timeout.connect(self._start_tensorflow_import)
        self.canvas.changed.connect(self._on_canvas_changed)
        self.mode_box.currentIndexChanged.connect(self._on_mode_box_changed)
        self.training.predictor_changed.connect(self._on_training_predictor_changed)
        self.training.run_started.connect(self._on_training_run_started)
        self.training.model_trained.connect(self._on_training_model_trained)
        self.training.running_changed.connect(self._on_training_running_changed)
        self.training.message.connect(self._show_message)
        self.training.may_replace_model = self._may_replace_model
        self.training.splits_ready.connect(self.session.set_splits)
        self.training.validation_scored.connect(self.session.set_validation)
        self._connect_session()
        self._connect_teach()
        self._connect_saliency()
        self._connect_scrubber()

        self._restore_settings()
        requested = model_path or Path(text_setting(self.settings.value("model/path"), str(paths.SHIPPED_MODEL_PATH)))
        # Not shown yet, so nothing freezes: wait longer; falls back to the shipped model.
        self.open_model(requested, quiet=model_path is None, wait_ms=STARTUP_OPEN_WAIT_MS)

        if preload_tensorflow:
            self.tensorflow_timer.start()

    # -- layout --------------------------------------------------------------------------------
    def _build_central(self) -> None:
        clear = QPushButton("Clear")
        clear.setToolTip("Clear the canvas (Esc or Delete)")
        clear.clicked.connect(self.clear_drawing)
        undo = QPushButton("Undo")
        undo.setToolTip("Undo the last stroke, Clear or opened image (Ctrl+Z); redo with Ctrl+Shift+Z")
        undo.clicked.connect(self.undo_stroke)
        self.saliency_button, self.saliency_menu = QToolButton(), SaliencyMenu(self)  # see _connect_saliency
        row = QHBoxLayout()
        row.addWidget(clear)
        row.addWidget(undo)
        row.addStretch(1)
        row.addWidget(self.saliency_button)
        row.addWidget(QLabel("Input:"))
        row.addWidget(self.mode_box)
        central = QWidget()
        column = QVBoxLayout(central)
        column.addWidget(self.canvas, 1)
        column.addLayout(row)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.docks = {}
        right, bottom, left = (Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea)
        for key, title, widget, area in (
            ("train", "Train", self.training.panel, left),
            ("teach", "Teach", self.teach, left),
            ("weights", "First-layer weights", self.training.weights, left),
            ("eye", "Model's eye (28×28)", self.eye, right),
            ("prediction", "Prediction", self.softmax, right),
            ("scrubber", "Epochs", self.scrubber, right),  # under the bars it replays
            ("curves", "Loss and accuracy", self.training.curves, bottom),
            ("mistakes", "Mistakes", self.mistakes, bottom),
            ("history", "History", self.history, bottom),
            ("activations", "Activations", self.activations, bottom),
            ("robustness", "Robustness", self.robustness, bottom),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{key}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[key] = dock
        # The Inspect panels share the space under the canvas with the curves, as tabs.
        for key in INSPECT_DOCKS:
            self.tabifyDockWidget(self.docks["curves"], self.docks[key])
        self.docks["curves"].raise_()
        self.tabifyDockWidget(self.docks["train"], self.docks["teach"])  # label and fine-tune beside Train
        self.docks["train"].raise_()
        self.docks["teach"].setToolTip("Teach it your handwriting: label your drawings (keys 0-9 on the canvas), then fine-tune")
        # Full-height side columns: training controls over the weights on the left, what the
        # model sees over what it predicts on the right, the curves under the canvas.
        self.setCorner(Qt.Corner.BottomLeftCorner, left)
        self.setCorner(Qt.Corner.BottomRightCorner, right)
        # Until now Train, Teach and the weights stood one above the other, and the window's minimum
        # height grew with them (709 px): take the tabbed layout's minimum before any resize.
        self.layout().activate()

    def _default_dock_sizes(self) -> None:
        """First start, at the window's real size (1024×640 up to 2560×1440): the canvas biggest,
        the columns and the curves growing with the window within readable limits."""
        docks, width, height = self.docks, self.width(), self.height()
        side = round(min(max(0.2 * width, 300), 520))
        train_height = self.training.panel.sizeHint().height()
        self.resizeDocks([docks["train"], docks["eye"]], [side - 10, side], Qt.Orientation.Horizontal)
        self.resizeDocks([docks["train"], docks["weights"]], [train_height, max(height - train_height, 100)], Qt.Orientation.Vertical)
        scrubber_height = self.scrubber.sizeHint().height()
        self.resizeDocks([docks["eye"], docks["prediction"], docks["scrubber"]], [side, max(height - side - scrubber_height, 200), scrubber_height], Qt.Orientation.Vertical)
        # the curves share their space with the Inspect tabs: room for the tab bar too
        self.resizeDocks([docks["curves"]], [round(min(max(0.3 * height, 226), 450))], Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:
        if self._needs_default_docks:
            self._needs_default_docks = False
            self._default_dock_sizes()
        super().showEvent(event)

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open image…", QKeySequence.StandardKey.Open, self.choose_image, "Open an image file as the drawing (or drop one on the window)")
        self._action(file_menu, "&Save drawing…", QKeySequence.StandardKey.Save, self.choose_save_drawing, "Save the drawing as a PNG")
        file_menu.addSeparator()
        self.model_actions = [
            self._action(file_menu, "Open &model…", "Ctrl+Shift+O", self.choose_model, "Open a .keras model"),
            self._action(file_menu, "Save m&odel", "Ctrl+Alt+S", self.save_model, "Save the model (asks where the first time)"),
            self._action(file_menu, "Save model &as…", "Ctrl+Shift+S", self.choose_save_model, "Save the model to a new .keras file"),
        ]
        self.recent_menu = file_menu.addMenu("&Recent models")
        self.model_actions.append(self.recent_menu.menuAction())
        self.model_actions.append(
            self._action(file_menu, "&Restore shipped model", None, lambda: self.open_model(paths.SHIPPED_MODEL_PATH), "Go back to the model that ships with mnistdesk")
        )
        self._refresh_recent_menu()
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit_menu = self.menuBar().addMenu("&Edit")
        self._action(edit_menu, "&Undo", QKeySequence.StandardKey.Undo, self.undo_stroke, "Take back the last stroke, Clear or opened image")
        self._action(edit_menu, "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y", QKeySequence.StandardKey.Redo), self.canvas.redo)
        self._action(edit_menu, "&Clear", ("Esc", QKeySequence.StandardKey.Delete), self.clear_drawing)
        train_menu = self.menuBar().addMenu("&Training")
        self._action(train_menu, "&Train new", "Ctrl+T", self.training.start, "Train a fresh network with the Train panel's settings")
        self._action(train_menu, "&Continue training", "Ctrl+Shift+T", self.training.continue_training, "Train the model in use for more epochs")
        self._action(train_menu, "&Pause / resume", "Ctrl+P", self.training.toggle_pause, "Pause between batches, or resume")
        self._action(train_menu, "&Stop", "Ctrl+.", self.training.stop, "Stop after the current batch and keep the model")
        train_menu.addSeparator()
        self._action(train_menu, "T&each it your handwriting", "Ctrl+Shift+L", lambda: self._show_dock(self.docks["teach"]), "Label your drawings (keys 0-9 on the canvas) and fine-tune on them")
        self._action(train_menu, "&Fine-tune on your drawings", "Ctrl+Shift+F", lambda: self._on_teach_fine_tune_requested(self.teach.epochs.value()), "Keep training the model in use on its data mixed with your labelled drawings")
        view_menu = self.menuBar().addMenu("&View")
        for key, dock in self.docks.items():
            if key not in INSPECT_DOCKS:
                view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        self._action(view_menu, "Toggle &naive preprocessing", "Ctrl+N", lambda: self.mode_box.setCurrentIndex(1 - self.mode_box.currentIndex()))
        log_loss = self._action(view_menu, "&Log-scale loss", "Ctrl+L", self.training.curves.set_log_loss, "Show the loss on a logarithmic axis")
        log_loss.setCheckable(True)
        inspect_menu = self.menuBar().addMenu("&Inspect")
        for number, (key, tip) in enumerate(INSPECT_DOCKS.items(), start=1):
            dock = self.docks[key]
            self._action(inspect_menu, f"&{dock.windowTitle()}", f"Alt+{number}", lambda checked=False, dock=dock: self._show_dock(dock), tip)
            dock.setToolTip(tip)
        inspect_menu.addSeparator()
        change = self._action(inspect_menu, "First-layer weights as &change since start", None, self.training.weights.set_show_change, "Show how much each first-layer weight moved since the run began (dense units' digit-like patterns stand out)")
        change.setCheckable(True)
        inspect_menu.addSeparator()
        self.saliency_action = self._action(inspect_menu, "&Saliency overlay", "Ctrl+G", self._on_saliency_action_triggered, SALIENCY_TIP)
        self.saliency_action.setCheckable(True)
        inspect_menu.addMenu(self.saliency_menu)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", QKeySequence.StandardKey.HelpContents, self._show_shortcuts)
        self._action(help_menu, "&About mnistdesk", None, self._show_about)

    def _show_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    def _action(self, menu, text, shortcut, slot, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, tuple):
            action.setShortcuts(key_sequences(*shortcut))
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    # -- model ---------------------------------------------------------------------------------
    def open_model(self, path: Path, quiet: bool = False, wait_ms: int = OPEN_WAIT_MS) -> bool:
        """Load a model for prediction; on failure keep the current one and say why.

        Loading (checks included) runs on a background thread. The window waits up to
        ``wait_ms`` for it — a numpy-engine model takes milliseconds — and returns whether it
        opened; a slower load (Keras must be imported) goes on in the background, the window
        stays responsive, and the model is used when it is ready (returns True).
        """
        if self.training.is_running():
            return False
        if not quiet and self.unsaved:
            try:  # a file that cannot be a model fails before the unsaved one is given up for it
                check_model_file(path)
            except ModelFileError as error:
                self._on_model_open_failed(Path(path), str(error), quiet)
                return False
        if not (quiet or self._may_replace_model()):
            return False
        if self.model_loader_thread is not None:  # one load at a time
            if not self.model_loader_thread.wait(wait_ms):
                self.statusBar().showMessage(f"Still opening {self.model_loader.path.name}…", 4000)
                return False
            self._finish_model_open()
        self.model_loader, self.model_loader_thread = ModelLoader(Path(path), quiet), QThread(self)
        self.model_loader.moveToThread(self.model_loader_thread)
        self.model_loader_thread.started.connect(self.model_loader.run)
        # Direct: the GUI thread may be blocked in wait() below, so a queued quit would never run.
        self.model_loader.done.connect(self.model_loader_thread.quit, Qt.ConnectionType.DirectConnection)
        self.model_loader_thread.finished.connect(self._on_model_loader_thread_finished)
        self.model_loader_thread.start()
        if self.model_loader_thread.wait(wait_ms):
            return self._finish_model_open()
        self.statusBar().showMessage(f"Opening {Path(path).name}… (this model needs TensorFlow, which takes a few seconds to load)")
        return True

    def _on_model_loader_thread_finished(self) -> None:
        thread = self.model_loader_thread  # None or another one when the window already took the result
        if thread is not None and thread.isFinished() and not self.closing:
            self._finish_model_open()

    def _finish_model_open(self) -> bool:
        loader, thread = self.model_loader, self.model_loader_thread
        self.model_loader = self.model_loader_thread = None
        loader.deleteLater()
        thread.deleteLater()
        if loader.error is not None:
            self._on_model_open_failed(loader.path, loader.error, loader.quiet)
            return False
        self.trained_model, self.unsaved = None, False
        self.session.forget_epochs()  # the run's epochs are not this model's
        self.training.weights.set_reference(None)  # not a run's model: no start to compare with
        self._use_model(loader.predictor, loader.path, loader.metadata)
        self.training.curves.show_history(loader.metadata.get("history"))
        self.training.show_model_opened(loader.path.name)
        self.settings.setValue("model/path", str(loader.path))
        self._remember_model(loader.path)
        if loader.notes:
            self.statusBar().showMessage(f"{loader.path.name}: " + "; ".join(loader.notes), 10000)
        return True

    def _on_model_open_failed(self, path: Path, message: str, quiet: bool) -> None:
        if not quiet:
            QMessageBox.warning(self, "Cannot open model", plain(f"{message}\n\nThe current model stays in use."))
        if self.predictor is None and path != paths.SHIPPED_MODEL_PATH:  # e.g. a bad model in the settings
            self.open_model(paths.SHIPPED_MODEL_PATH, wait_ms=STARTUP_OPEN_WAIT_MS)

    def _use_model(self, predictor: Predictor, path: Path | None, metadata: dict) -> None:
        self.model_path, self.model_metadata = path, metadata
        names = metadata.get("class_names") or [str(d) for d in range(10)]
        for panel in (self.softmax, self.mistakes, self.history, self.robustness):
            panel.set_class_names(names)
        first_layer = getattr(predictor, "first_layer_weights", None)
        self.training.weights.show_kernel(first_layer() if first_layer else None)
        self.training.current_model = (self.trained_model, path, metadata)
        self._update_model_label()
        self.session.set_predictor(predictor)
        self.robustness.request_refresh()
        test = self.session.splits.get("test") if self.trained_model is not None else None
        if test is not None:
            self.test_scorer.request(predictor, lambda: (f"test split of {Path(metadata.get('dataset', 'the data')).name}", *test))
        else:
            self.test_scorer.request(predictor, lambda: bundled_test_split(metadata.get("dataset"), metadata.get("class_names")))

    def _update_model_label(self, training: bool = False) -> None:
        metadata, path = self.model_metadata, self.model_path
        parts = [f"Predicting with: {path.name if path else metadata.get('architecture', 'a new model')}"]
        if path and metadata.get("architecture"):
            parts.append(metadata["architecture"])
        if training:
            parts.append(f"training on {metadata.get('dataset')}…")
        elif metadata.get("dataset"):
            parts.append(f"trained on {metadata['dataset']}")
        if metadata.get("test_accuracy") is not None and not training:
            parts.append(f"test accuracy {metadata['test_accuracy']:.1%}")
        if self.unsaved:
            parts.append("unsaved")
        self.model_label.setText(" · ".join(parts))
        self.model_label.setToolTip(plain(str(path)) if path else "Not saved yet: File → Save model as…")
        self.setWindowTitle(f"{path.name if path else metadata.get('architecture', 'new model')}[*] — mnistdesk")
        self.setWindowModified(self.unsaved)

    def choose_model(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open model", self._last_dir("models"), "Keras models (*.keras)")
        if name and self.open_model(Path(name)):
            self._remember_dir("models", name)

    def save_model(self) -> bool:
        """Save to the model's own file, or ask where if it has none (or is the shipped one)."""
        if self.model_path is None or self.model_path == paths.SHIPPED_MODEL_PATH:
            return self.choose_save_model()
        if not self.unsaved:
            self.statusBar().showMessage(f"{self.model_path.name} is already saved", 3000)
            return True
        return self.save_model_to(self.model_path)

    def choose_save_model(self) -> bool:
        suggestion = Path(self._last_dir("models")) / f"{self.model_metadata.get('architecture', 'model')}-{self.model_metadata.get('dataset', 'mnist')}.keras"
        name, _ = QFileDialog.getSaveFileName(self, "Save model as", str(suggestion), "Keras models (*.keras)")
        if not name:
            return False
        path = Path(name) if name.endswith(".keras") else Path(name + ".keras")
        self._remember_dir("models", str(path))
        return self.save_model_to(path)

    def save_model_to(self, path: Path) -> bool:
        """Write the model atomically: a trained one through Keras, an opened one as a file copy."""
        try:
            if self.trained_model is not None:
                save_model(self.trained_model, path, self.model_metadata)
            elif self.model_path is not None:
                copy_model_file(self.model_path, path)
        except (OSError, ModelFileError) as error:
            QMessageBox.warning(self, "Cannot save model", plain(f"Could not write {path}:\n{error}"))
            return False
        self.model_path, self.unsaved = path, False
        self.settings.setValue("model/path", str(path))
        self._remember_model(path)
        self._update_model_label()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def _remember_model(self, path: Path) -> None:
        if path == paths.SHIPPED_MODEL_PATH:
            return
        recent = [str(path)] + [p for p in self._recent_models() if p != str(path)]
        self.settings.setValue("model/recent", recent[:MAX_RECENT_MODELS])
        self._refresh_recent_menu()

    def _recent_models(self) -> list[str]:
        return text_list_setting(self.settings.value("model/recent"), MAX_RECENT_MODELS)

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in self._recent_models() if file_problem(p) is None]
        for number, name in enumerate(recent, start=1):
            action = self.recent_menu.addAction(f"&{number} {Path(name).name}")
            action.setToolTip(plain(name))
            action.triggered.connect(lambda checked=False, name=name: self.open_model(Path(name)))
        self.recent_menu.setEnabled(bool(recent))

    # -- training ------------------------------------------------------------------------------
    def _on_training_predictor_changed(self, engine: Engine, trained_epochs: float) -> None:
        """A new weight snapshot (about three a second): re-score the drawing with it."""
        self.session.set_predictor(engine, at_epoch=trained_epochs)

    def _on_training_run_started(self, info: dict) -> None:
        self.tensorflow_label.setText("TensorFlow: ready")  # the worker has imported it
        self.session.start_run()
        self.model_metadata = {"architecture": info["architecture"], "dataset": info["dataset"]}
        self.trained_model, self.unsaved = None, False
        if not info.get("continued"):
            self.model_path = None
        # The worker holds the model it trains; the previous one must not outlive this moment.
        self.training.current_model = (None, self.model_path, self.model_metadata)
        self._update_model_label(training=True)

    def _on_training_model_trained(self, model, metadata: dict) -> None:
        try:
            engine = Engine.from_keras_model(model)
        except ModelFileError as error:  # diverged so far that even the last good weights overflow
            self.statusBar().showMessage(f"The trained model cannot be used: {error}", 10000)
            return
        self.trained_model, self.unsaved = model, True
        self._use_model(engine, self.model_path, metadata)

    def _on_training_running_changed(self, running: bool) -> None:
        if running:
            self.tensorflow_timer.stop()  # the worker imports TensorFlow itself
        else:
            self.test_scorer.resume()
        for action in self.model_actions:
            action.setEnabled(not running)

    def _show_message(self, text: str) -> None:
        """What training or the test scoring says, on the status line for a while."""
        self.statusBar().showMessage(text, 5000)

    # -- drawing -------------------------------------------------------------------------------
    def clear_drawing(self) -> None:
        self.canvas.clear()

    def undo_stroke(self) -> None:
        """Take back the canvas's last change; right after a digit key kept the drawing, that
        keeping too (a wrong key must not leave a mislabelled drawing behind)."""
        kept, self.kept_last = self.kept_last, None
        self.canvas.undo()
        if kept is None:
            return
        try:
            self.personal.remove(kept)
        except OSError as error:
            QMessageBox.warning(self, "Cannot take the drawing back", plain(f"Could not delete {kept.drawing}: {error.strerror or error}"))
            return
        self._refresh_teach()
        self.statusBar().showMessage(f"Took back the drawing kept as a {kept.label}: it is on the canvas again", 5000)

    def open_image(self, path: Path) -> bool:
        try:
            ink = load_ink(path)
        except ImageFileError as error:
            QMessageBox.warning(self, "Cannot open image", plain(str(error)))
            return False
        if preprocess(ink, self.mode_box.currentData()) is None:
            QMessageBox.warning(self, "Nothing to read in this image", f"{path}: no ink found (a blank image). The drawing is unchanged.")
            return False
        self.canvas.set_background(ink)
        self.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def choose_image(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open image", self._last_dir("images"), IMAGE_FILTER)
        if name and self.open_image(Path(name)):
            self._remember_dir("images", name)

    def choose_save_drawing(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save drawing", str(Path(self._last_dir("images")) / "digit.png"), "PNG image (*.png)")
        if not name:
            return
        path = Path(name) if name.lower().endswith(".png") else Path(name + ".png")
        if self.canvas.save_png(path):
            self._remember_dir("images", str(path))
            self.statusBar().showMessage(f"Saved {path}", 4000)
        else:
            QMessageBox.warning(self, "Cannot save drawing", f"Could not write {path}. Is the folder writable?")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files and self.open_image(Path(files[0])):
            event.acceptProposedAction()

    # -- prediction ----------------------------------------------------------------------------
    def _on_canvas_changed(self) -> None:
        self.kept_last = None  # the canvas moved on: Ctrl+Z is about the drawing again
        if not self.prediction_timer.isActive():
            self.prediction_timer.start()
        if self.tensorflow_timer.isActive():
            self.tensorflow_timer.start()  # postpone the import while the user draws

    def _on_prediction_timer_timeout(self) -> None:
        self._predict_now()

    def _on_mode_box_changed(self, index: int) -> None:
        self.settings.setValue("preprocess/mode", self.mode_box.itemData(index))
        self._predict_now()

    def _predict_now(self) -> None:
        """canvas → preprocess → session (predictor) → panels; an empty canvas predicts nothing."""
        image, placement = self.canvas.model_input_placed(self.mode_box.currentData())
        self.session.set_drawing(image, placement, self.canvas.heat_shape())

    @property
    def predictor(self) -> Predictor | None:
        return self.session.predictor

    @property
    def last_input(self) -> np.ndarray | None:
        """The model's input: the drawing, with the robustness sliders' transform."""
        return self.session.input

    @property
    def last_probabilities(self) -> np.ndarray | None:
        return self.session.probabilities

    # -- inspection ----------------------------------------------------------------------------
    def _connect_session(self) -> None:
        """Views follow the session's events; their clicks and sliders go back to it."""
        events = self.session.events
        events.input_changed.connect(self.eye.show_input)
        events.input_changed.connect(self.history.request_refresh)
        events.scored.connect(self.softmax.show_probabilities)
        events.scored.connect(self.prediction_made.emit)
        # The sweep follows the drawing and the sliders (and a model put to use), not each
        # training snapshot: 25 inputs scored at every snapshot would tax a training run.
        events.input_changed.connect(self.robustness.request_refresh)
        events.activations_changed.connect(self.activations.show_activations)
        events.history_changed.connect(self.history.show_history)
        events.transform_changed.connect(self.robustness.show_transform)
        events.score_changed.connect(self.mistakes.show_score)
        events.selection_changed.connect(self.mistakes.show_selection)
        events.example_chosen.connect(self._on_session_example_chosen)
        self.history.refresh_wanted.connect(self._on_history_refresh_wanted)
        self.robustness.refresh_wanted.connect(self._on_robustness_refresh_wanted)
        self.robustness.transform_changed.connect(self.session.set_transform)
        self.mistakes.matrix.cell_clicked.connect(self.session.select_cell)
        self.mistakes.gallery.example_clicked.connect(self.session.choose_example)
        self.docks["mistakes"].visibilityChanged.connect(self.test_scorer.set_active)
        self.test_scorer.scored.connect(self.session.set_score)
        self.test_scorer.failed.connect(self._show_message)
        self.training.run_starting.connect(self.test_scorer.pause)  # the run needs the CPU; its validation takes over the matrix

    # -- teach it your handwriting -------------------------------------------------------------
    def _connect_teach(self) -> None:
        """Keys 0-9 on the canvas (or the Teach panel's buttons) keep the drawing as that digit."""
        self.canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click on it gives it the keys
        self.digit_keys = DigitKeys(self.canvas)
        self.digit_keys.pressed.connect(self.label_drawing)
        self.teach.set_folder(str(self.personal.root))
        self.teach.label_requested.connect(self.label_drawing)
        self.teach.delete_requested.connect(self._on_teach_delete_requested)
        self.teach.drawing_opened.connect(self._on_teach_drawing_opened)
        self.teach.add_folder_requested.connect(self.choose_drawings_folder)
        self.teach.fine_tune_requested.connect(self._on_teach_fine_tune_requested)
        self.training.running_changed.connect(self.teach.set_busy)
        self.training.progress.connect(self.teach.show_progress)
        self.training.fine_tuned.connect(self.teach.show_result)
        self._refresh_teach()

    def label_drawing(self, digit: int) -> bool:
        """Keep the drawing (the canvas and its 28×28 input) as a ``digit`` among the user's
        labelled drawings, then clear the canvas for the next one (Ctrl+Z takes both back)."""
        self._predict_now()  # the input of the canvas as it is now, not as of the last timer tick
        if self.session.drawing is None:
            self.statusBar().showMessage("Draw a digit first, then press its key (0-9) to keep it", 4000)
            return False
        try:
            entry = self.personal.add(digit, self.canvas.ink(), self.session.drawing)
            self.teach.add_drawing(entry, self.personal.read_input(entry))
        except OSError as error:
            QMessageBox.warning(self, "Cannot keep the drawing", plain(f"Could not write to {self.personal.root}: {error.strerror or error}"))
            return False
        except ImageFileError as error:  # written, but it does not read back
            QMessageBox.warning(self, "Cannot keep the drawing", plain(str(error)))
            return False
        self.canvas.clear()
        self.kept_last = entry
        self.statusBar().showMessage(f"Kept as a {digit} ({drawings_count(len(self.teach.entries))} in all) — draw the next; Ctrl+Z takes it back", 5000)
        return True

    def _refresh_teach(self) -> None:
        """The Teach panel shows the stored drawings; one that cannot be read is named, and left out."""
        entries, drawings = self.personal.read()
        self.teach.show_drawings(entries, drawings.images)
        if drawings.problems:
            more = f" (and {len(drawings.problems) - 1} more)" if len(drawings.problems) > 1 else ""
            self.statusBar().showMessage(f"Left out of your drawings: {drawings.problems[0]}{more}", 10000)

    def _on_teach_delete_requested(self, entries: list[PersonalDrawing]) -> None:
        choice = QMessageBox.question(self, "Delete drawings", f"Delete {len(entries)} of your labelled drawings? This cannot be undone.")
        if choice != QMessageBox.StandardButton.Yes:
            return
        for entry in entries:
            self.personal.remove(entry)
        self._refresh_teach()

    def _on_teach_drawing_opened(self, entry: PersonalDrawing) -> None:
        try:
            self.canvas.set_background(load_ink(entry.drawing))
        except ImageFileError as error:
            self.statusBar().showMessage(str(error), 6000)

    def choose_drawings_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of labelled images (0/ … 9/)", self._last_dir("drawings"))
        if folder:
            self.settings.setValue("files/last_drawings_dir", folder)
            self.add_drawings_folder(Path(folder))

    def add_drawings_folder(self, folder: Path) -> int:
        """Copy a folder of labelled images into the user's drawings, with progress; says what
        could not be read. Returns how many were added."""
        dialog = QProgressDialog(f"Adding the images in {folder.name}…", "Stop", 0, 0, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(500)

        def progress(done: int, total: int) -> bool:
            dialog.setMaximum(total)
            dialog.setValue(done)
            return not dialog.wasCanceled()

        try:
            added, problems = self.personal.add_folder(folder, self.mode_box.currentData(), progress)
        except (ImageFileError, OSError) as error:
            QMessageBox.warning(self, "Cannot add the folder", plain(str(error)))
            return 0
        finally:
            dialog.close()
        self._refresh_teach()
        self.statusBar().showMessage(f"Added {drawings_count(added)} from {folder}", 6000)
        if problems:
            shown = "\n".join(problems[:MAX_PROBLEMS_SHOWN]) + (f"\n… and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else "")
            QMessageBox.warning(self, "Some images were skipped", plain(f"Added {added}; skipped {len(problems)}:\n{shown}"))
        return added

    def _on_teach_fine_tune_requested(self, epochs: int) -> None:
        entries, drawings = self.personal.read()
        if len(entries) < FINE_TUNE_MIN_DRAWINGS:
            self._show_dock(self.docks["teach"])
            self.statusBar().showMessage(f"Label at least {FINE_TUNE_MIN_DRAWINGS} drawings first (keys 0-9 on the canvas)", 5000)
            return
        if self.training.fine_tune(drawings, epochs):
            self.teach.show_result(f"Fine-tuning on {len(entries)} drawings (a fifth held out to score it)…")

    def _on_session_example_chosen(self, image: np.ndarray) -> None:
        """A digit from the gallery goes into the canvas as an opened image would (undoable)."""
        digit = normalize(image)
        self.canvas.set_background(digit, model_input=digit)
        self.statusBar().showMessage("A digit from the confusion matrix is in the canvas, given to the model as it is; Ctrl+Z brings your drawing back", 5000)

    def _on_history_refresh_wanted(self) -> None:
        if not self.session.refresh_history():
            self.history.continue_refresh()

    def _on_robustness_refresh_wanted(self) -> None:
        self.robustness.show_sweep(self.session.sweep(self.robustness.sweep_name()))

    # -- saliency overlay ----------------------------------------------------------------------
    def _connect_saliency(self) -> None:
        """The overlay's controls go to the session (the opacity straight to the canvas); its maps
        come back to the canvas and the bars. SmoothGrad waits for the drawing to rest. Restores
        the overlay's settings."""
        self.saliency_action.setIconText("Saliency")
        self.saliency_button.setDefaultAction(self.saliency_action)
        self.saliency_button.setMenu(self.saliency_menu)
        self.saliency_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.saliency_timer = QTimer(self)
        self.saliency_timer.setSingleShot(True)
        self.saliency_timer.setInterval(SMOOTHGRAD_REST_MS)
        self.saliency_timer.timeout.connect(self.session.refine_saliency)
        self.saliency_menu.method_changed.connect(self._on_saliency_menu_method_changed)
        self.saliency_menu.opacity_changed.connect(self._on_saliency_menu_opacity_changed)
        self.softmax.class_clicked.connect(self._on_softmax_class_clicked)
        self.canvas.resized.connect(self._on_canvas_resized)
        self.session.events.saliency_changed.connect(self._on_session_saliency_changed)
        self.saliency_menu.set_method(choice_setting(self.settings.value("saliency/method"), "gradient", SALIENCY_METHODS))
        self.session.set_saliency_method(self.saliency_menu.method())
        self.saliency_menu.opacity.setValue(int_setting(self.settings.value("saliency/opacity"), round(DEFAULT_HEAT_OPACITY * 100), 10, 100))
        self.canvas.set_saliency_opacity(self.saliency_menu.opacity.value() / 100)
        if bool_setting(self.settings.value("saliency/shown"), False):
            self.saliency_action.trigger()

    def _on_saliency_action_triggered(self, shown: bool) -> None:
        self.settings.setValue("saliency/shown", shown)
        self.session.set_saliency_wanted(shown)

    def _on_saliency_menu_method_changed(self, method: str) -> None:
        self.settings.setValue("saliency/method", method)
        self.session.set_saliency_method(method)

    def _on_saliency_menu_opacity_changed(self, opacity: float) -> None:
        self.settings.setValue("saliency/opacity", round(opacity * 100))
        self.canvas.set_saliency_opacity(opacity)

    def _on_softmax_class_clicked(self, index: int) -> None:
        """A bar picks its class for the overlay, turning the overlay on if it was off."""
        if not self.saliency_action.isChecked():
            self.saliency_action.trigger()
        self.session.pick_class(index)

    def _on_canvas_resized(self) -> None:
        """The overlay was made for the old size: predict again for a map that lines up."""
        self.prediction_timer.start()

    def _on_session_saliency_changed(self, explanation: Explanation) -> None:
        self.canvas.set_saliency(explanation.heat)
        self.canvas.set_caption(saliency_caption(explanation, self.softmax.class_names))
        self.softmax.show_picked(explanation.class_index if explanation.picked else None)
        if explanation.settled:
            self.saliency_timer.stop()
        else:  # SmoothGrad once nothing has changed for a moment
            self.saliency_timer.start()

    # -- the epoch scrubber --------------------------------------------------------------------
    def _connect_scrubber(self) -> None:
        """Each epoch of a run is recorded; the slider shows the model as it was at any of them."""
        self.training.epoch_reached.connect(self.session.record_epoch)
        self.training.running_changed.connect(self.session.set_training)
        self.session.events.scrub_changed.connect(self.scrubber.show_position)
        self.session.events.epoch_shown.connect(self._on_session_epoch_shown)
        self.scrubber.epoch_chosen.connect(self.session.show_epoch)
        self.scrubber.use_clicked.connect(self.use_shown_epoch)

    def _on_session_epoch_shown(self, epoch: int | None, x: float | None, kernel: np.ndarray | None) -> None:
        self.training.curves.mark_epoch(x)
        self.history.mark_epoch(x)
        self.training.weights.show_epoch(epoch, kernel)
        self.robustness.request_refresh()

    def use_shown_epoch(self) -> bool:
        """The epoch on show becomes the model in use: the run's Keras model takes its weights,
        unsaved, its metadata saying which epoch it is; only once the run has ended."""
        state = self.session.shown_epoch_state()
        if state is None or self.training.is_running():
            return False
        if self.trained_model is None:
            self.statusBar().showMessage("This run ended without a model to use", 5000)
            return False
        for layer, weights in zip(self.trained_model.layers, state.layer_weights(), strict=True):
            layer.set_weights(weights)
        self.unsaved = True
        self._use_model(state.predictor, self.model_path, epoch_metadata(self.model_metadata, state.epoch, state.metrics))
        self.session.keep_shown_epoch()
        self.statusBar().showMessage(f"Epoch {state.epoch} is now the model in use — File → Save model keeps it", 8000)
        return True

    # -- TensorFlow in the background ----------------------------------------------------------
    def _start_tensorflow_import(self) -> None:
        if self.tensorflow_thread is not None:
            return
        self.tensorflow_label.setText("TensorFlow: loading…")
        self.tensorflow_thread = QThread(self)
        self.tensorflow_loader = TensorFlowLoader()
        self.tensorflow_loader.moveToThread(self.tensorflow_thread)
        self.tensorflow_thread.started.connect(self.tensorflow_loader.run)
        self.tensorflow_loader.ready.connect(self._on_tensorflow_loader_ready)
        self.tensorflow_loader.failed.connect(self._on_tensorflow_loader_failed)
        self.tensorflow_loader.ready.connect(self.tensorflow_thread.quit)
        self.tensorflow_loader.failed.connect(self.tensorflow_thread.quit)
        self.tensorflow_thread.start()

    def _on_tensorflow_loader_ready(self, seconds: float) -> None:
        self.tensorflow_label.setText("TensorFlow: ready")
        self.tensorflow_label.setToolTip(f"Loaded in the background in {seconds:.1f} s; training is available.")

    def _on_tensorflow_loader_failed(self, message: str) -> None:
        self.tensorflow_label.setText("TensorFlow: unavailable")
        self.tensorflow_label.setToolTip(f"Training is unavailable: {message}\nReinstall with: pip install -e .")

    # -- settings and lifecycle ----------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:  # first start: a roomy window, but never larger than the screen (a 1024×640 laptop)
            screen = self.screen().availableGeometry().size() - WINDOW_FRAME_ALLOWANCE
            self.resize(QSize(1280, 800).boundedTo(screen).expandedTo(self.minimumSizeHint()))
        state = self.settings.value("window/state")
        # Without a saved layout, size the docks when the window is shown at its final size.
        self._needs_default_docks = not (isinstance(state, QByteArray) and self.restoreState(state))
        index = self.mode_box.findData(self.settings.value("preprocess/mode", "mnist"))
        self.mode_box.setCurrentIndex(max(index, 0))

    def _last_dir(self, kind: str) -> str:
        """The folder a file dialog for ``kind`` ("images" or "models") starts in: where the
        user last went for that kind (models: else the model in use's own folder), else home."""
        fallback = self.model_path.parent if kind == "models" and self.model_path and self.model_path != paths.SHIPPED_MODEL_PATH else Path.home()
        return text_setting(self.settings.value(f"files/last_{kind}_dir"), str(fallback))

    def _remember_dir(self, kind: str, name: str) -> None:
        self.settings.setValue(f"files/last_{kind}_dir", str(Path(name).parent))

    def _show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td>{action.text().replace('&', '')}</td><td><b>{' or '.join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()[:2])}</b></td></tr>"
            for action in self.actions()
            if not action.shortcut().isEmpty()
        )
        QMessageBox.information(
            self,
            "Keyboard shortcuts",
            f"<table cellspacing=6>{rows}<tr><td>Keep the drawing as that digit (canvas)</td><td><b>0 – 9</b></td></tr>"
            "<tr><td>Draw / erase</td><td><b>left / right mouse button</b></td></tr></table>",
        )

    def _show_about(self) -> None:
        QMessageBox.about(
            self,
            "About mnistdesk",
            f"<b>mnistdesk {__version__}</b><p>Draw a digit, see what the model sees, and watch a Keras "
            "model learn MNIST live.</p><p>MNIST digits: Y. LeCun, C. Cortes, C. Burges, CC BY-SA 3.0.</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.training.is_running() and self.unsaved and not self._confirm_discard():
            event.ignore()
            return
        self.closing = True
        self.training.shutdown(CLOSE_WAIT_MS)  # a run stops within a batch, a download at once
        for thread in (self.tensorflow_thread, self.model_loader_thread):
            if thread is not None:
                thread.quit()
        self.prediction_timer.stop()
        self.tensorflow_timer.stop()
        self.saliency_timer.stop()
        self.history.refresh_timer.stop()
        self.robustness.refresh_timer.stop()
        self.test_scorer.cancel()  # ends within a batch; wait_for_threads waits for it
        self.statusBar().clearMessage()  # stops the message's own timeout timer
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        super().closeEvent(event)

    def wait_for_threads(self) -> None:
        """Block until the background threads have ended: after the window has closed (nothing
        on screen freezes), before it is destroyed (destroying a running QThread aborts the
        process). A TensorFlow import cannot be interrupted; everything else ends at once."""
        self.training.shutdown(0)  # in case the app quit without closing the window
        self.test_scorer.shutdown()
        for thread in (self.training.thread, self.tensorflow_thread, self.model_loader_thread):
            if thread is not None:
                thread.quit()
                thread.wait()

    def _may_replace_model(self) -> bool:
        """True when nothing unsaved would be lost, or the user saved it or chose to discard it."""
        return not self.unsaved or self._confirm_discard()

    def _confirm_discard(self) -> bool:
        """Ask before a trained, unsaved model is thrown away; True to go on closing."""
        choice = QMessageBox.question(
            self,
            "Save the trained model?",
            "The model you trained has not been saved.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if choice == QMessageBox.StandardButton.Save:
            return self.save_model()
        return choice == QMessageBox.StandardButton.Discard
