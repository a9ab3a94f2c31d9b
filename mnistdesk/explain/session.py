"""What the window is looking at, without Qt: the drawing's 28×28 input and the robustness
transform on it, the predictor in use and its verdict and hidden layers for that input, the
run's weight snapshots with the drawing's probability history over them, a model's
predictions on a labelled split (the confusion matrix) with the cell being looked at, the
saliency overlay (which pixels of the drawing moved a class's probability) and the epoch
scrubber: the run's model as it was at the end of any earlier epoch.

Views subscribe to :attr:`Session.events` (psygnal signals, as napari's components and ndv's
models emit them) and call the session's methods; they decide nothing themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from mnistdesk.data.datasets import dataset_of_model, load_dataset
from mnistdesk.explain.epochs import EpochState, EpochStore, ScrubPosition
from mnistdesk.explain.inspection import SplitScore, Transform, sweep, transformed
from mnistdesk.explain.saliency import Saliency
from mnistdesk.ink.preprocess import Placement, field_to_ink
from mnistdesk.net.engine import Engine, Predictor

#: Weight snapshots kept per run for re-scoring a new drawing's history (a dense model's
#: snapshot is 1.6 MB, lean's 0.2 MB); past it, every other snapshot is dropped.
SNAPSHOT_BUDGET_BYTES = 48 << 20
MAX_SNAPSHOTS = 200
#: Points of the drawing's history kept during a run (it is thinned like the snapshots).
MAX_HISTORY_POINTS = 400
#: Re-scoring a new drawing's history runs in slices of about this long between repaints.
HISTORY_SLICE_S = 0.008
#: How a saliency map is made: the plain gradient, or SmoothGrad (less speckled, ~20x the cost).
SALIENCY_METHODS = ("gradient", "smoothgrad")
#: The heat map's colours saturate at this percentile of |map|: one extreme pixel does not
#: wash out the rest.
SALIENCY_ROBUST_PERCENTILE = 99


def thinned(items: list) -> list:
    """Every other item, the first and the newest kept: a long run's series at half the density."""
    return items[:-1:2] + items[-1:]


NO_DRAWING_ACTIVATIONS = "Draw a digit to see the hidden layers' activations"


class SessionEvents:
    """Everything a view can subscribe to (psygnal, as napari's and ndv's models emit); each
    names what its callbacks receive. A callback may take fewer arguments than a signal sends."""

    input_changed = Signal(object)  # the model's 28×28 input (transform applied) or None
    scored = Signal(object)  # probabilities (classes,) for that input, or None
    activations_changed = Signal(object, object)  # [(layer name, output for the input)], and when that is [] why (text)
    transform_changed = Signal(object)  # Transform
    history_changed = Signal(object, object)  # x (T,) in epochs, probabilities (T, classes)
    score_changed = Signal(object)  # SplitScore or None: predictions on a labelled split
    selection_changed = Signal(object, int, int, object)  # SplitScore, true class, predicted class, indices into it (most confident first)
    example_chosen = Signal(object)  # uint8 (28, 28): a digit from the split to look at
    saliency_changed = Signal(object)  # Explanation: the saliency overlay's map, or why there is none
    scrub_changed = Signal(object)  # ScrubPosition: the run's recorded epochs and the one on show
    epoch_shown = Signal(object, object, object)  # epoch on show (None: live), its place on the curves (epochs) or None, its first-layer kernel or None
    notice = Signal(str)  # one line for the status bar: something no panel shows (epochs the scrubber could not keep)


@dataclass(frozen=True)
class Explanation:
    """What the saliency overlay shows: ``field``, d probability[class_index] / d input (28×28),
    and ``heat``, the same carried back onto the canvas's grid and scaled so that ±1 is its robust
    maximum (+: more ink there raises the class's probability). Without a map, ``note`` says why."""

    field: np.ndarray | None = None
    heat: np.ndarray | None = None
    class_index: int | None = None
    picked: bool = False  # the user picked the class on the bars (else it is the predicted one)
    settled: bool = True  # False: the plain gradient stands in until refine_saliency() makes SmoothGrad
    note: str | None = None


class Snapshots:
    """A run's predictors at points in training (x in epochs), bounded in memory: when full,
    every other one is dropped, keeping an even overview of the whole run and the newest."""

    def __init__(self, budget_bytes: int = SNAPSHOT_BUDGET_BYTES, most: int = MAX_SNAPSHOTS):
        self.budget_bytes, self.most = budget_bytes, most
        self.items: list[tuple[float, Predictor]] = []

    def add(self, x: float, predictor: Predictor) -> None:
        self.items.append((x, predictor))
        size = _weight_bytes(predictor) * len(self.items)
        if len(self.items) > self.most or (len(self.items) > 2 and size > self.budget_bytes):
            self.items = thinned(self.items)

    def clear(self) -> None:
        self.items = []


class Session:
    """The app's state and the calculations on it; see the module docstring."""

    def __init__(self, snapshots: Snapshots | None = None):
        self.events = SessionEvents()
        self.drawing: np.ndarray | None = None  # the drawing's 28×28 input, as drawn
        self.transform = Transform()
        self.input: np.ndarray | None = None  # what the model gets: the drawing, transformed
        self.predictor: Predictor | None = None
        self.probabilities: np.ndarray | None = None
        self.activations: list[tuple[str, np.ndarray]] = []
        self._init_saliency()
        self.snapshots = snapshots or Snapshots()
        self.history_x: list[float] = []
        self.history_probabilities: list[np.ndarray] = []
        self.history_stale = False  # a new input: the history must be re-scored from the snapshots
        self._to_rescore: list[tuple[float, Predictor]] = []
        self.splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.score: SplitScore | None = None
        self.selection: tuple[int, int] | None = None
        # The epoch scrubber: while an earlier epoch is shown, live updates wait here for Live.
        self.epoch_store = EpochStore()
        self.shown_epoch: int | None = None  # None: live
        self.live_predictor: Predictor | None = None
        self.live_score: SplitScore | None = None
        self.training = False  # a run is going on

    # -- the drawing and what the model makes of it -------------------------------------------
    def set_drawing(self, image: np.ndarray | None, placement: Placement | None = None, canvas_shape: tuple[int, int] | None = None) -> None:
        """The drawing's new 28×28 input (None: nothing drawn); ``placement``: where its ink went,
        in the pixels of a canvas grid of ``canvas_shape``, for the saliency overlay."""
        self.drawing = image
        self._set_saliency_frame(image, placement, canvas_shape)
        self._update_input()

    def set_transform(self, transform: Transform) -> None:
        self.transform = transform
        self.events.transform_changed.emit(transform)
        self._update_input()

    def set_predictor(self, predictor: Predictor, at_epoch: float | None = None) -> None:
        """Predict with ``predictor`` from now on; ``at_epoch``: it is a training snapshot taken
        at that point of the run, kept for the probability history. While the scrubber shows an
        earlier epoch, that epoch stays on show: ``predictor`` is shown once back to live."""
        self.live_predictor = predictor
        if self.shown_epoch is None:
            self.predictor = predictor
            self._rescore()
        if at_epoch is None:
            return
        self.snapshots.add(at_epoch, predictor)
        if self.probabilities is None:
            return
        if self.history_stale:  # still re-scoring the older snapshots: this one comes after them
            self._to_rescore.append((at_epoch, predictor))
        else:
            self.history_x.append(at_epoch)
            self.history_probabilities.append(self.probabilities if self.predictor is predictor else predictor.predict(self.input)[0])
            if len(self.history_x) > MAX_HISTORY_POINTS:  # a long run: every other point, the newest kept
                self.history_x, self.history_probabilities = thinned(self.history_x), thinned(self.history_probabilities)
            self._emit_history()

    def _update_input(self) -> None:
        image = self.drawing
        if image is not None and not self.transform.is_identity():
            image = transformed(image[None], [self.transform])[0]
        self.input = image
        self.history_x, self.history_probabilities = [], []
        self._to_rescore = list(self.snapshots.items) if image is not None else []
        self.history_stale = bool(self._to_rescore)
        self.events.input_changed.emit(image)
        self._rescore()

    def _rescore(self) -> None:
        """The current predictor on the current input: its verdict and hidden layers, one pass."""
        probabilities, activations = None, []
        if self.input is not None and self.predictor is not None:
            if hasattr(self.predictor, "activations"):
                outputs, hidden = self.predictor.activations(self.input)
                probabilities, activations = outputs[0], [(name, values[0]) for name, values in hidden]
            else:  # a Keras fallback predictor: no hidden layers to show
                probabilities = self.predictor.predict(self.input)[0]
        self.probabilities, self.activations = probabilities, activations
        self.events.scored.emit(probabilities)
        self.events.activations_changed.emit(activations, None if activations else self._no_activations())
        self._update_saliency()

    def _no_activations(self) -> str:
        """Why the Activations panel has nothing to show, in words for it."""
        if self.input is None or self.predictor is None:
            return NO_DRAWING_ACTIVATIONS
        if not isinstance(self.predictor, Engine):
            reason = getattr(self.predictor, "reason", None)
            return "No activations for this model: it runs through Keras" + (f" (the fast preview has no {reason})" if reason else "")
        return "This model has no hidden layers: its input goes straight to the output"

    # -- the saliency overlay -------------------------------------------------------------------
    def _init_saliency(self) -> None:
        self.saliency_wanted = False
        self.saliency_method = "gradient"
        self.saliency_pick: int | None = None  # the class picked on the bars; None: the predicted one
        self.placement: Placement | None = None  # where the drawing's ink went, on the canvas grid
        self.canvas_shape: tuple[int, int] | None = None
        self.explanation = Explanation()
        self._saliency_of: tuple[Predictor | None, Saliency | None, str | None] = (None, None, None)

    def set_saliency_wanted(self, wanted: bool) -> None:
        """Show the overlay or not; turned off, it forgets the class picked for it."""
        self.saliency_wanted = wanted
        if not wanted:
            self.saliency_pick = None
        self._update_saliency(always=True)

    def set_saliency_method(self, method: str) -> None:
        if method not in SALIENCY_METHODS:
            raise ValueError(f"unknown saliency method {method!r}; use one of {SALIENCY_METHODS}")
        self.saliency_method = method
        self._update_saliency()

    def pick_class(self, index: int) -> None:
        """Explain class ``index`` rather than the predicted one, whatever the drawing becomes;
        picking the picked class again (or clearing the drawing) goes back to the predicted one."""
        self.saliency_pick = None if index == self.saliency_pick else index
        self._update_saliency()

    def refine_saliency(self) -> None:
        """The drawing has rested: SmoothGrad replaces the gradient that stood in for it."""
        self._update_saliency(settle=True)

    def _set_saliency_frame(self, image: np.ndarray | None, placement: Placement | None, canvas_shape: tuple[int, int] | None) -> None:
        self.placement, self.canvas_shape = placement, canvas_shape
        if image is None:  # a cleared canvas: the next digit is explained by its own prediction
            self.saliency_pick = None

    def _update_saliency(self, settle: bool = False, always: bool = False) -> None:
        if self.saliency_wanted or always:
            self.explanation = self._explain(settle) if self.saliency_wanted else Explanation()
            self.events.saliency_changed.emit(self.explanation)

    def _explain(self, settle: bool) -> Explanation:
        """The saliency map of the current input for the class it is about, or why there is none."""
        if self.input is None or self.probabilities is None:
            return Explanation(note="Draw a digit: the overlay shows which of its pixels moved the answer")
        saliency, note = self._saliency()
        if saliency is None:
            return Explanation(note=note)
        if not self.transform.is_identity():  # thickening is not linear: no exact way back to the strokes
            return Explanation(note="Hidden while the Robustness sliders change the input: the map would not line up with your strokes")
        picked = self.saliency_pick is not None and self.saliency_pick < len(self.probabilities)
        class_index = self.saliency_pick if picked else int(np.argmax(self.probabilities))
        smooth = self.saliency_method == "smoothgrad" and settle
        field = saliency.smooth_gradient(self.input, class_index) if smooth else saliency.gradient(self.input, class_index)
        heat = None
        if self.placement is not None and self.canvas_shape is not None:
            robust_max = float(np.percentile(np.abs(field), SALIENCY_ROBUST_PERCENTILE))
            heat = field_to_ink(field / robust_max if robust_max > 0 else field, self.placement, self.canvas_shape)
        return Explanation(field, heat, class_index, picked, settled=smooth or self.saliency_method == "gradient")

    def _saliency(self) -> tuple[Saliency | None, str | None]:
        """The predictor's backward pass (made once per predictor), or why it has none."""
        predictor = self.predictor
        if self._saliency_of[0] is not predictor:
            saliency, note = None, None
            if isinstance(predictor, Engine):
                saliency = Saliency(predictor)
            else:
                reason = getattr(predictor, "reason", None)
                note = "No saliency for this model: it runs through Keras" + (f" (the fast preview has no {reason})" if reason else "")
            self._saliency_of = (predictor, saliency, note)
        return self._saliency_of[1:]

    # -- history over the run's snapshots ------------------------------------------------------
    def refresh_history(self, budget_s: float = HISTORY_SLICE_S) -> bool:
        """Re-score the current input with the kept snapshots (after the input changed), for at
        most about ``budget_s`` at a time, so the window stays responsive; True when done."""
        started = time.perf_counter()
        while self._to_rescore:  # at least one snapshot per call, however small the budget
            x, predictor = self._to_rescore.pop(0)
            self.history_x.append(x)
            self.history_probabilities.append(predictor.predict(self.input)[0])
            if time.perf_counter() - started >= budget_s:
                break
        self.history_stale = bool(self._to_rescore)
        self._emit_history()
        return not self.history_stale

    def _emit_history(self) -> None:
        probabilities = np.array(self.history_probabilities) if self.history_probabilities else np.zeros((0, 10))
        self.events.history_changed.emit(np.array(self.history_x), probabilities)

    def start_run(self) -> None:
        """A training run begins: its snapshots, history, validation results and epochs start afresh."""
        self.forget_epochs()
        self.snapshots.clear()
        self.history_x, self.history_probabilities, self.history_stale, self._to_rescore = [], [], False, []
        self._emit_history()

    # -- robustness sweeps ---------------------------------------------------------------------
    def sweep(self, name: str, points: int = 25) -> tuple[np.ndarray, np.ndarray] | None:
        """Probabilities (points, classes) of the drawing along transform ``name``'s whole range,
        the other transforms as set; None with nothing to score."""
        if self.drawing is None or self.predictor is None:
            return None
        values, images = sweep(self.drawing, self.transform, name, points)
        return values, self.predictor.predict(images)

    # -- predictions on a labelled split -------------------------------------------------------
    def set_splits(self, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """The labelled digits a run validates and tests on (uint8 images, labels)."""
        self.splits = splits

    def set_validation(self, epoch: int, probabilities: np.ndarray) -> None:
        """The validation pass at the end of ``epoch``: becomes the score shown."""
        self.set_score(self._validation_score(epoch, probabilities))

    def _validation_score(self, epoch: int, probabilities: np.ndarray) -> SplitScore:
        images, labels = self.splits["validation"]
        return SplitScore(f"validation split after epoch {epoch}", images, labels, probabilities)

    def set_score(self, score: SplitScore | None) -> None:
        """Show ``score``, keeping the selected cell (its digits are listed anew); while the
        scrubber shows an earlier epoch, once back to live."""
        self.live_score = score
        if self.shown_epoch is None:
            self._show_score(score)

    def _show_score(self, score: SplitScore | None) -> None:
        self.score = score
        self.events.score_changed.emit(score)
        if self.selection is not None:
            self.select_cell(*self.selection)

    def select_cell(self, true: int, predicted: int) -> None:
        """List the digits of class ``true`` that the model calls ``predicted``."""
        self.selection = (true, predicted)
        if self.score is not None:
            self.events.selection_changed.emit(self.score, true, predicted, self.score.cell(true, predicted))

    def choose_example(self, index: int) -> None:
        """Look at digit ``index`` of the score's split in the canvas."""
        if self.score is not None:
            self.events.example_chosen.emit(self.score.images[index])

    # -- the epoch scrubber --------------------------------------------------------------------
    def set_training(self, training: bool) -> None:
        """A run is going on (an earlier epoch shown stays until Live) or has ended (its epochs can
        be used; if some could not be kept, a notice says so, once, with the final count)."""
        self.training = training
        self._emit_scrub()
        store = self.epoch_store
        if not training and store.lost:
            self.events.notice.emit(
                f"The Epochs slider could not keep {store.lost} epoch{'s' if store.lost > 1 else ''} of this run"
                f" (writing them to {store.parent} failed: {store.lost_because}); the run's start, its first epoch and the newest are kept"
            )
            store.lost = 0

    def record_epoch(self, epoch: int, predictor: Engine, probabilities: np.ndarray | None, metrics: dict) -> None:
        """Keep the run's exact weights at the end of ``epoch`` (the run's first: its start), with
        that epoch's validation probabilities (or None) and metrics, to show them again later."""
        self.epoch_store.add(epoch, predictor, probabilities, metrics)
        self._emit_scrub()

    def show_epoch(self, epoch: int | None) -> None:
        """Show the model as it was at the end of ``epoch``: its verdict and hidden layers for the
        drawing and its validation matrix (None: back to live). A run goes on meanwhile: its
        snapshots and validations are recorded, and shown once back to live."""
        if epoch is None:
            if self.shown_epoch is None:
                return
            self.shown_epoch = None
            self.predictor = self.live_predictor
            self._rescore()
            self._show_score(self.live_score)
            self.events.epoch_shown.emit(None, None, None)
        else:
            state = self.epoch_store.get(epoch)
            self.shown_epoch = epoch
            self.predictor = state.predictor
            self._rescore()
            self._show_score(self._epoch_score(state))
            self.events.epoch_shown.emit(epoch, state.metrics.get("progress", float(epoch)), state.predictor.first_layer_weights())
        self._emit_scrub()

    def shown_epoch_state(self) -> EpochState | None:
        """The epoch on show, its weights read back (None: live)."""
        return None if self.shown_epoch is None else self.epoch_store.get(self.shown_epoch)

    def keep_shown_epoch(self) -> None:
        """The epoch on show became the model in use: it is live from now on, with its matrix, and
        the run ends there, as Continue carries on from it: its later epochs, snapshots and
        history points are forgotten, and its end is the history's newest point."""
        epoch = self.shown_epoch
        if epoch is None:
            return
        end = self.epoch_store.metrics(epoch).get("progress", float(epoch))
        self.epoch_store.keep_until(epoch)
        self.snapshots.items = [item for item in self.snapshots.items if item[0] < end] + [(end, self.predictor)]
        kept = [index for index, x in enumerate(self.history_x) if x < end]
        self.history_x = [self.history_x[index] for index in kept]
        self.history_probabilities = [self.history_probabilities[index] for index in kept]
        self._to_rescore = [item for item in self._to_rescore if item[0] < end]
        if self.history_stale:
            self._to_rescore.append((end, self.predictor))
        elif self.probabilities is not None:
            self.history_x.append(end)
            self.history_probabilities.append(self.probabilities)
        self.live_predictor, self.live_score = self.predictor, self.score
        self.show_epoch(None)
        self._emit_history()

    def forget_epochs(self) -> None:
        """Back to live, the run's epochs forgotten (their spilled files deleted): a new run, or a model opened."""
        self.show_epoch(None)
        self.epoch_store.clear()
        self._emit_scrub()

    def _epoch_score(self, state: EpochState) -> SplitScore | None:
        """The validation matrix as it was after ``state``'s epoch; None before the first."""
        validation = self.splits.get("validation")
        if state.probabilities is None or validation is None or len(validation[1]) != len(state.probabilities):
            return None
        return self._validation_score(state.epoch, state.probabilities)

    def _emit_scrub(self) -> None:
        shown = self.shown_epoch
        metrics = self.epoch_store.metrics(shown) if shown is not None else {}
        self.events.scrub_changed.emit(ScrubPosition(self.epoch_store.epochs(), shown, metrics, self.training))


#: Datasets that ship with mnistdesk: their test digits never need a download.
BUNDLED_DATASETS = ("sample", "pen", "sample+pen")


def bundled_test_split(dataset: str | None, class_names: list[str] | None = None) -> tuple[str, np.ndarray, np.ndarray] | None:
    """Test digits for a model opened from a file: its own dataset's if that ships with the app,
    else the bundled sample's; None for a model of other classes (e.g. Fashion-MNIST)."""
    if class_names and list(class_names) != [str(d) for d in range(10)]:
        return None
    name = dataset_of_model(dataset, BUNDLED_DATASETS)
    data = load_dataset(name)
    return f"test split of the bundled {name} digits", data.x_test, data.y_test


def _weight_bytes(predictor: Predictor) -> int:
    specs = getattr(predictor, "specs", ())
    return sum(w.nbytes for spec in specs for w in spec.weights) or 1
