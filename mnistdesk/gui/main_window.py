"""The main window assembles: it builds the canvas, the panels in docks and the menus, hands them
to the controllers that decide (drawing, model, training, inspection, teaching, saliency,
TensorFlow), and connects them. One direction of data: canvas → ``preprocess`` → predictor →
panels. TensorFlow is never needed to draw and predict.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, QSize, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton, QVBoxLayout, QWidget

from mnistdesk import __version__
from mnistdesk.data.personal import PersonalDrawings
from mnistdesk.explain.session import Session
from mnistdesk.gui.arithmetic_panel import ArithmeticPanel
from mnistdesk.gui.canvas import DrawingCanvas
from mnistdesk.gui.drawing_controller import DrawingController
from mnistdesk.gui.inspect_controller import InspectController
from mnistdesk.gui.inspect_panels import ActivationsPanel, HistoryPanel, MistakesPanel, RobustnessPanel
from mnistdesk.gui.model_controller import ModelController
from mnistdesk.gui.network_controller import NetworkController
from mnistdesk.gui.panels import ModelEyePanel, SoftmaxPanel
from mnistdesk.gui.saliency_controller import SaliencyController
from mnistdesk.gui.scrubber_panel import ScrubberPanel
from mnistdesk.gui.status_bar import StatusBar
from mnistdesk.gui.teach_controller import TeachController
from mnistdesk.gui.teach_panel import TeachPanel
from mnistdesk.gui.tensorflow_loader import TensorFlowLoader
from mnistdesk.gui.training_controller import TrainingController
from mnistdesk.net.engine import Predictor
from mnistdesk.net.models import MODEL_SUFFIXES

#: The window manager's title bar and borders, outside the size a window is given: without
#: this room a first start on a 1024×640 screen put the status bar below the screen's edge.
WINDOW_FRAME_ALLOWANCE = QSize(8, 40)
#: The user's labelled drawings live in this folder of the app's data folder.
PERSONAL_DIR = "handwriting"
#: The Inspect panels (tabbed under the canvas), with what each is for.
INSPECT_DOCKS = {
    "mistakes": "Which digits the model confuses: click a cell of the matrix to see those digits, click one to open it",
    "history": "Your drawing's class probabilities at every weight snapshot of the training run",
    "activations": "What the hidden layers compute for your drawing, live",
    "robustness": "Shift, rotate, scale and thicken the model's input: where does the answer flip?",
    "arithmetic": "How one number is computed from the layer before, with the real numbers: click a bar of the Prediction panel, an activation map's pixel or a dense unit",
}
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


class MainWindow(QMainWindow):
    """Draw, see what the model sees, see what it predicts."""

    prediction_made = Signal(object)  # probabilities (10,) or None; for tests and later panels

    def __init__(self, model_path: Path | None = None, settings: QSettings | None = None, preload_tensorflow: bool = True, personal_dir: Path | None = None):
        super().__init__()
        self.setAcceptDrops(True)
        self.setStatusBar(StatusBar(self))
        self.settings = settings or QSettings()
        self.session = Session()  # the drawing's input, the predictor and what the panels show
        self.canvas = DrawingCanvas()
        self.eye = ModelEyePanel()
        self.softmax = SoftmaxPanel()
        self.mistakes = MistakesPanel()
        self.history = HistoryPanel()
        self.activations = ActivationsPanel()
        self.robustness = RobustnessPanel()
        self.arithmetic = ArithmeticPanel()
        self.scrubber = ScrubberPanel()
        self.teach = TeachPanel()
        # The user's labelled drawings, in their data folder (the core only takes a path).
        self.personal = PersonalDrawings(personal_dir or Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / PERSONAL_DIR)
        self.training = TrainingController(self, self.settings)
        self.networks = NetworkController(self, self.settings, self.training.panel)
        self.drawing = DrawingController(self, self.settings, self.session, self.canvas)
        self.saliency = SaliencyController(self, self.settings, self.session, self.canvas, self.softmax, arithmetic_shown=lambda: self.inspect.arithmetic_on_screen())
        self._build_central()
        self._build_docks()
        self.inspect = InspectController(
            self, self.session, self.training, self.canvas, self.docks["mistakes"],
            eye=self.eye, softmax=self.softmax, mistakes=self.mistakes, history=self.history,
            activations=self.activations, robustness=self.robustness, scrubber=self.scrubber,
            arithmetic=self.arithmetic, arithmetic_dock=self.docks["arithmetic"],
        )
        self.models = ModelController(self, self.settings, self.session, self.training, self.inspect, self.networks)
        self.tensorflow = TensorFlowLoader(self, self.training)
        self.teaching = TeachController(self, self.settings, self.session, self.personal, self.canvas, self.teach, self.training, self.docks["teach"], self.drawing)
        self._build_actions()
        for label in (self.models.label, self.tensorflow.label):  # a rule and room before each: a long message is cut, not run on into it
            label.setStyleSheet("QLabel { border: none; border-left: 1px solid #a8a8a8; padding-left: 6px; margin-left: 4px; }")
            self.statusBar().addPermanentWidget(label)
        self.session.events.scored.connect(self.prediction_made.emit)
        self.canvas.changed.connect(self.tensorflow.postpone)  # the import waits while the user draws
        self.scrubber.use_clicked.connect(self.models.use_shown_epoch)
        self.training.running_changed.connect(self._on_training_running_changed)
        self.training.message.connect(self._show_message)
        self.networks.message.connect(self._show_message)
        self.saliency.restore()
        self._restore_settings()
        self.models.open_at_start(model_path)
        if preload_tensorflow:
            self.tensorflow.start_when_idle()

    # -- layout --------------------------------------------------------------------------------
    def _build_central(self) -> None:
        clear = QPushButton("Clear")
        clear.setToolTip("Clear the canvas (Esc or Delete)")
        clear.clicked.connect(self.canvas.clear)
        undo = QPushButton("Undo")
        undo.setToolTip("Undo the last stroke, Clear or opened image (Ctrl+Z); redo with Ctrl+Shift+Z")
        undo.clicked.connect(lambda: self.teaching.undo())  # built before the Teach controller
        row = QHBoxLayout()
        row.addWidget(clear)
        row.addWidget(undo)
        row.addStretch(1)
        row.addWidget(self.saliency.button)
        row.addWidget(QLabel("Input:"))
        row.addWidget(self.drawing.mode_box)
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
            ("arithmetic", "Arithmetic", self.arithmetic, bottom),
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
        models, drawing, training = self.models, self.drawing, self.training
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open image…", QKeySequence.StandardKey.Open, drawing.choose_image, "Open an image file as the drawing (or drop one on the window)")
        self._action(file_menu, "&Save drawing…", QKeySequence.StandardKey.Save, drawing.choose_save_drawing, "Save the drawing as a PNG")
        file_menu.addSeparator()
        self.model_actions = [
            self._action(file_menu, "Open &model…", "Ctrl+Shift+O", models.choose, "Open a Keras model (.keras, or a legacy .h5 file); dropping one on the window opens it too"),
            self._action(file_menu, "Save m&odel", "Ctrl+Alt+S", models.save, "Save the model (asks where the first time)"),
            self._action(file_menu, "Save model &as…", "Ctrl+Shift+S", models.choose_save, "Save the model to a new .keras file"),
            file_menu.addMenu(models.recent_menu),
            self._action(file_menu, "&Restore shipped model", None, models.restore_shipped, "Go back to the model that ships with mnistdesk"),
        ]
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit_menu = self.menuBar().addMenu("&Edit")
        self._action(edit_menu, "&Undo", QKeySequence.StandardKey.Undo, self.teaching.undo, "Take back the last stroke, Clear or opened image")
        self._action(edit_menu, "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y", QKeySequence.StandardKey.Redo), self.canvas.redo)
        self._action(edit_menu, "&Clear", ("Esc", QKeySequence.StandardKey.Delete), self.canvas.clear)
        train_menu = self.menuBar().addMenu("&Training")
        self._action(train_menu, "&Train new", "Ctrl+T", training.start, "Train a fresh network with the Train panel's settings")
        self._action(train_menu, "&Continue training", "Ctrl+Shift+T", training.continue_training, "Train the model in use for more epochs")
        self._action(train_menu, "&Pause / resume", "Ctrl+P", training.toggle_pause, "Pause between batches, or resume")
        self._action(train_menu, "&Stop", "Ctrl+.", training.stop, "Stop after the current batch and keep the model")
        train_menu.addSeparator()
        self._action(train_menu, "Edit &network…", "Ctrl+Shift+N", self.networks.edit, "Build your own network: layers, widths, activations, with a live summary")
        self._action(train_menu, "Show as &Keras code", "Ctrl+Shift+K", self.networks.show_code, "The chosen network and the Train panel's settings as a runnable Keras script")
        train_menu.addSeparator()
        self._action(train_menu, "T&each it your handwriting", "Ctrl+Shift+L", self.teaching.show_panel, "Label your drawings (keys 0-9 on the canvas) and fine-tune on them")
        self._action(train_menu, "&Fine-tune on your drawings", "Ctrl+Shift+F", lambda: self.teaching.fine_tune(), "Keep training the model in use on its data mixed with your labelled drawings")
        view_menu = self.menuBar().addMenu("&View")
        for key, dock in self.docks.items():
            if key not in INSPECT_DOCKS:
                view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        self._action(view_menu, "Toggle &naive preprocessing", "Ctrl+N", drawing.toggle_mode)
        log_loss = self._action(view_menu, "&Log-scale loss", "Ctrl+L", training.curves.set_log_loss, "Show the loss on a logarithmic axis")
        log_loss.setCheckable(True)
        inspect_menu = self.menuBar().addMenu("&Inspect")
        for number, (key, tip) in enumerate(INSPECT_DOCKS.items(), start=1):
            dock = self.docks[key]
            self._action(inspect_menu, f"&{dock.windowTitle()}", f"Alt+{number}", lambda checked=False, dock=dock: self.show_dock(dock), tip)
            dock.setToolTip(tip)
        inspect_menu.addSeparator()
        change = self._action(inspect_menu, "First-layer weights as &change since start", None, training.weights.set_show_change, "Show how much each first-layer weight moved since the run began (dense units' digit-like patterns stand out)")
        change.setCheckable(True)
        inspect_menu.addSeparator()
        inspect_menu.addAction(self.saliency.action)
        self.addAction(self.saliency.action)
        inspect_menu.addMenu(self.saliency.menu)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", QKeySequence.StandardKey.HelpContents, self._show_shortcuts)
        self._action(help_menu, "&About mnistdesk", None, self._show_about)

    def show_dock(self, dock: QDockWidget) -> None:
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

    # -- what the controllers share ------------------------------------------------------------
    def _on_training_running_changed(self, running: bool) -> None:
        for action in self.model_actions:
            action.setEnabled(not running)

    def _show_message(self, text: str) -> None:
        """What training says, on the status line for a while."""
        self.statusBar().showMessage(text, 5000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """A dropped model file becomes the model in use; anything else is read as a digit image."""
        files = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not files:
            return
        opened = self.models.open(files[0]) if files[0].suffix.lower() in MODEL_SUFFIXES else self.drawing.open_image(files[0])
        if opened:
            event.acceptProposedAction()

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
        self.drawing.restore()

    def _show_shortcuts(self) -> None:
        """Every shortcut, in two columns of pairs: one column was taller than a 1024×640 screen."""
        pairs = [
            (action.text().replace("&", ""), " or ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()[:2]))
            for action in self.actions()
            if not action.shortcut().isEmpty()
        ]
        pairs += [
            ("Keep the drawing as that digit (canvas)", "0 – 9"),
            ("Draw / erase", "left / right mouse button"),
            ("A run's epochs, one by one (the Epochs slider)", "← / →"),
        ]
        half = (len(pairs) + 1) // 2
        cells = [f"<td>{text}</td><td><b>{keys}</b></td>" for text, keys in pairs] + ["<td></td><td></td>"]
        rows = "".join(f"<tr>{cells[index]}<td width=24></td>{cells[index + half] if index + half < len(pairs) else cells[-1]}</tr>" for index in range(half))
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellspacing=4>{rows}</table>")

    def _show_about(self) -> None:
        QMessageBox.about(
            self,
            "About mnistdesk",
            f"<b>mnistdesk {__version__}</b><p>Draw a digit, see what the model sees, and watch a Keras "
            "model learn MNIST live.</p><p>MNIST digits: Y. LeCun, C. Cortes, C. Burges, CC BY-SA 3.0.</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.training.is_running() and not self.models.closing_during_run(self.close):
            event.ignore()  # kept training, or it stops and is saved first, then the window closes
            return
        if not self.training.is_running() and self.models.unsaved and not self.models.confirm_discard():
            event.ignore()
            return
        self.training.shutdown(CLOSE_WAIT_MS)  # a run stops within a batch, a download at once
        self.models.stop()
        self.tensorflow.stop()
        self.drawing.stop()
        self.saliency.stop()
        self.inspect.stop()  # the test scoring ends within a batch; wait_for_threads waits for it
        self.teaching.stop()  # reading the kept drawings ends within a file
        self.statusBar().clearMessage()  # stops the message's own timeout timer
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        super().closeEvent(event)

    def wait_for_threads(self) -> None:
        """Block until the background threads have ended: after the window has closed (nothing
        on screen freezes), before it is destroyed (destroying a running QThread aborts the
        process). A TensorFlow import cannot be interrupted; everything else ends at once."""
        self.training.shutdown(0)  # in case the app quit without closing the window
        self.inspect.test_scorer.shutdown()
        self.teaching.stop()
        for thread in (self.training.thread, self.tensorflow.thread, self.models.loader_thread):
            if thread is not None:
                thread.quit()
                thread.wait()
