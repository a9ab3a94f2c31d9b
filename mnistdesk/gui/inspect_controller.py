"""The panels that look inside the model follow the session; their clicks and sliders go back to
it. Model's eye, the bars, activations, history, robustness, the confusion matrix (scored in the
background on the test split, by the run's validation while training) and the epoch scrubber."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDockWidget, QMainWindow

from mnistdesk.explain.arithmetic import ArithmeticSelection, Unit
from mnistdesk.explain.session import Session
from mnistdesk.gui.arithmetic_panel import ArithmeticPanel
from mnistdesk.gui.canvas import DrawingCanvas
from mnistdesk.gui.inspect_panels import ActivationsPanel, HistoryPanel, MistakesPanel, RobustnessPanel
from mnistdesk.gui.panels import ModelEyePanel, SoftmaxPanel
from mnistdesk.gui.scorer import TestScorer
from mnistdesk.gui.scrubber_panel import ScrubberPanel
from mnistdesk.gui.training_controller import TrainingController
from mnistdesk.ink.pixels import normalize


class InspectController(QObject):
    """Connects the session's events to the Inspect panels and the scrubber, and back."""

    def __init__(
        self,
        window: QMainWindow,
        session: Session,
        training: TrainingController,
        canvas: DrawingCanvas,
        mistakes_dock: QDockWidget,
        *,
        eye: ModelEyePanel,
        softmax: SoftmaxPanel,
        mistakes: MistakesPanel,
        history: HistoryPanel,
        activations: ActivationsPanel,
        robustness: RobustnessPanel,
        scrubber: ScrubberPanel,
        arithmetic: ArithmeticPanel,
        arithmetic_dock: QDockWidget,
    ):
        super().__init__(window)
        self.window, self.session, self.training, self.canvas = window, session, training, canvas
        self.eye, self.softmax, self.mistakes, self.history = eye, softmax, mistakes, history
        self.activations, self.robustness, self.scrubber = activations, robustness, scrubber
        self.arithmetic, self.arithmetic_dock = arithmetic, arithmetic_dock
        self.arithmetic_selection = ArithmeticSelection()
        self.arithmetic_stale = False
        self.test_scorer = TestScorer(self)
        events = session.events
        events.notice.connect(self._on_session_notice)
        events.input_changed.connect(self.eye.show_input)
        events.input_changed.connect(self.history.request_refresh)
        events.scored.connect(self.softmax.show_probabilities)
        # The Arithmetic panel follows the unit chosen (a bar, a map's pixel, a dense unit) through
        # every new input, snapshot and epoch on show; computed only while it can be seen.
        events.scored.connect(self._on_session_scored)
        self.softmax.class_clicked.connect(self._on_softmax_class_clicked)
        self.activations.unit_clicked.connect(self._on_activations_unit_clicked)
        self.arithmetic.unit_clicked.connect(self.select_unit)
        arithmetic_dock.visibilityChanged.connect(self._on_arithmetic_dock_visibility_changed)
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
        self.robustness.transform_changed.connect(session.set_transform)
        self.mistakes.matrix.cell_clicked.connect(session.select_cell)
        self.mistakes.gallery.example_clicked.connect(session.choose_example)
        mistakes_dock.visibilityChanged.connect(self.test_scorer.set_active)
        self.test_scorer.scored.connect(session.set_score)
        self.test_scorer.failed.connect(self._show_message)
        training.run_starting.connect(self.test_scorer.pause)  # the run needs the CPU; its validation takes over the matrix
        training.running_changed.connect(self._on_training_running_changed)
        training.splits_ready.connect(session.set_splits)
        training.validation_scored.connect(session.set_validation)
        training.predictor_changed.connect(self._on_training_predictor_changed)
        # The epoch scrubber: each epoch of a run is recorded; the slider shows the model as it was at any of them.
        training.epoch_reached.connect(session.record_epoch)
        training.running_changed.connect(session.set_training)
        events.scrub_changed.connect(self.scrubber.show_position)
        events.epoch_shown.connect(self._on_session_epoch_shown)
        self.scrubber.epoch_chosen.connect(session.show_epoch)

    def set_class_names(self, names: list[str]) -> None:
        for panel in (self.softmax, self.mistakes, self.history, self.robustness, self.arithmetic):
            panel.set_class_names(names)

    def select_unit(self, unit: Unit) -> None:
        """Show how ``unit``'s number is computed, and keep following it."""
        self.arithmetic_selection.select(unit)
        self._refresh_arithmetic()

    def arithmetic_on_screen(self) -> bool:
        """Whether the Arithmetic panel can be seen (a tab behind another counts as visible to Qt)."""
        return not self.arithmetic_dock.visibleRegion().isEmpty()

    def _refresh_arithmetic(self) -> None:
        if not self.arithmetic_on_screen():
            self.arithmetic_stale = True
            return
        self.arithmetic_stale = False
        self.arithmetic.show_arithmetic(self.arithmetic_selection.update(self.session.predictor, self.session.input))

    def _on_session_scored(self, probabilities) -> None:
        if self.arithmetic_selection.unit is not None:
            self._refresh_arithmetic()

    def _on_activations_unit_clicked(self, unit: Unit) -> None:
        """A map's pixel or a dense unit clicked: its arithmetic, brought to the front."""
        self.arithmetic_dock.show()
        self.arithmetic_dock.raise_()
        self.select_unit(unit)

    def _on_softmax_class_clicked(self, index: int) -> None:
        self.select_unit(Unit(None, (index,)))

    def _on_arithmetic_dock_visibility_changed(self, visible: bool) -> None:
        if visible and self.arithmetic_stale:
            self._refresh_arithmetic()

    def stop(self) -> None:
        """Closing: no more refreshes; the test scoring ends within a batch."""
        self.history.refresh_timer.stop()
        self.robustness.refresh_timer.stop()
        self.test_scorer.cancel()

    def _show_message(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 5000)

    def _on_session_notice(self, text: str) -> None:
        """Something the user should know once (the Epochs slider could not keep every epoch)."""
        self.window.statusBar().showMessage(text, 15000)

    def _on_training_predictor_changed(self, engine, trained_epochs: float) -> None:
        """A new weight snapshot (about three a second): re-score the drawing with it."""
        self.session.set_predictor(engine, at_epoch=trained_epochs)

    def _on_training_running_changed(self, running: bool) -> None:
        if not running:
            self.test_scorer.resume()

    def _on_session_example_chosen(self, image: np.ndarray) -> None:
        """A digit from the gallery goes into the canvas as an opened image would (undoable)."""
        digit = normalize(image)
        self.canvas.set_background(digit, model_input=digit)
        self._show_message("A digit from the confusion matrix is in the canvas, given to the model as it is; Ctrl+Z brings your drawing back")

    def _on_history_refresh_wanted(self) -> None:
        if not self.session.refresh_history():
            self.history.continue_refresh()

    def _on_robustness_refresh_wanted(self) -> None:
        self.robustness.show_sweep(self.session.sweep(self.robustness.sweep_name()))

    def _on_session_epoch_shown(self, epoch: int | None, x: float | None, kernel: np.ndarray | None) -> None:
        self.training.curves.mark_epoch(x)
        self.history.mark_epoch(x)
        self.training.weights.show_epoch(epoch, kernel)
        self.robustness.request_refresh()
