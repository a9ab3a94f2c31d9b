"""How one number of the network came out of the layer before it, for the current drawing, with
the engine's own numbers: a dense unit's weighted sum, a convolution's patch times its kernel, a
pooling window, the softmax's shares; then what each later step (activation, batch norm, dropout,
a residual add) did to that number. CNN Explainer (Wang et al., IEEE VIS 2020) shows this for one
fixed network; here it is for any network :class:`~mnistdesk.net.engine.Engine` runs.

The numbers come from one :meth:`Engine.trace` of the input, the same operations that predict:
nothing is recomputed another way, so what is shown is what the model did. No Qt.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from mnistdesk.explain.inspection import activation_image
from mnistdesk.net.engine import Engine, LayerSpec, Predictor
from mnistdesk.net.layers import IDENTITY_LAYERS, Affine, Concatenate, Conv, Crop, DepthwiseConv, Elementwise, GlobalPool, LayerNorm, MatMul, Merge, Op, Pool, Reshape, Softmax, Window, activation_name, layer_ops
from mnistdesk.net.live import tile_at

#: Contributions w·x listed one by one for a dense unit; the others are summed into one number.
TOP_CONTRIBUTIONS = 12
#: Points of an activation's curve, drawn around the unit's z.
CURVE_POINTS = 61
#: Softmax's plain formula is shown on the logits times this: exp overflows float32 past ~88.7.
LARGE_LOGIT_FACTOR = 100.0
NO_DRAWING_NOTE = "Draw a digit to see how this number is computed from it"
MERGE_SIGNS = {"Add": " + ", "Subtract": " − ", "Multiply": " × "}


@dataclass(frozen=True)
class Unit:
    """One number of the network, as the user picks it: ``layer`` named as the Activations panel
    names it (None: the Prediction panel's bars, the model's output), and ``index``: (row, col,
    channel) in a layer of maps, (i,) in anything else (its numbers flattened, a class for the bars)."""

    layer: str | None
    index: tuple[int, ...]


@dataclass(frozen=True)
class Source:
    """The numbers a unit reads: the drawing (the 28×28 input), or a layer's output; ``layer`` is
    the name a :class:`Unit` selects it by (None for the drawing, or for a value inside a layer
    that has no name of its own, such as a separable convolution's depthwise step). ``via``:
    layers in between that pass the numbers on unchanged (flatten, dropout)."""

    label: str
    layer: str | None
    shape: tuple[int, ...]  # one digit's: (28, 28) for the drawing, (h, w, channels) maps, (units,)
    drawing: bool = False
    via: tuple[str, ...] = ()

    def unit(self, position: tuple[int, ...]) -> Unit | None:
        """The unit at ``position`` here, to select it in turn (None: the drawing, or unnamed)."""
        if self.layer is None:
            return None
        if len(self.shape) == 3:
            return Unit(self.layer, tuple(position))
        return Unit(self.layer, (int(np.ravel_multi_index(position, self.shape)),))


@dataclass(frozen=True)
class Contribution:
    """One input's share of a dense unit's sum: its value x, its weight w and w·x; ``position``
    in the source: (row, col) on the drawing, (row, col, channel) on maps, (unit,) otherwise."""

    position: tuple[int, ...]
    x: float
    w: float
    product: float


@dataclass(frozen=True)
class Curve:
    """An activation function around the point the unit is at: f(z) and the curve (xs, ys)."""

    name: str
    z: float
    value: float
    xs: np.ndarray
    ys: np.ndarray


@dataclass(frozen=True)
class DenseView:
    """z = Σ w·x + bias: the largest contributions one by one, the rest summed; ``in_place``
    is every w·x where its input sits (28×28 on the drawing), for a heat map of the sum."""

    layer: str
    source: Source
    top: tuple[Contribution, ...]
    rest: float
    rest_count: int
    bias: float
    z: float
    in_place: np.ndarray


@dataclass(frozen=True)
class ConvView:
    """z = Σ over channels of Σ patch × kernel, + bias: the receptive field (``rows``, ``cols`` on
    the source; outside it the padding reads 0), the patch, the kernel and their products as
    (kh, kw, channels), each channel's sum; ``channels``: the source channels it reads (one for
    a depthwise convolution); ``input``: the source's maps (h, w, channels) for the outline."""

    layer: str
    source: Source
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    channels: tuple[int, ...]
    patch: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    bias: float
    z: float
    input: np.ndarray


@dataclass(frozen=True)
class PoolView:
    """A pooling window on one channel of the source: its numbers (NaN where it hangs over the
    edge), the one kept (max: ``kept`` is its cell) or their mean over ``count`` real cells."""

    layer: str
    source: Source
    kind: str  # "max" or "mean"
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    channel: int
    window: np.ndarray
    kept: tuple[int, int] | None
    count: int
    value: float
    input: np.ndarray


@dataclass(frozen=True)
class SoftmaxView:
    """Softmax as the lessons write it, made safe by subtracting the largest logit first: logits,
    logits − max, their exponentials, the sum and each share. The plain formula exp(x) / Σ exp(x)
    on the same logits, and on the logits × ``factor``, shows where it overflows (inf, then NaN)."""

    layer: str
    index: int
    logits: np.ndarray
    shifted: np.ndarray
    exps: np.ndarray
    total: float
    shares: np.ndarray
    plain_exps: np.ndarray
    plain_shares: np.ndarray
    factor: float
    scaled_plain: np.ndarray
    scaled_stable: np.ndarray
    log: bool  # the layer outputs log(share) (log_softmax)
    added: bool  # the model ends without a softmax: the app applies it to read probabilities


@dataclass(frozen=True)
class Step:
    """What one later step did to the number, in one line; ``after``: the number it made."""

    layer: str
    text: str
    after: float


@dataclass(frozen=True)
class Arithmetic:
    """How ``unit``'s number came about: ``view`` the sum (or window, or softmax) that made it from
    the layer before, ``steps`` what came after it in order, ``curve`` the activation among them;
    ``value`` the number itself. ``note`` says why there is nothing to show (no drawing, a model
    that runs through Keras) or what has no view."""

    unit: Unit
    title: str
    value: float | None = None
    view: DenseView | ConvView | PoolView | SoftmaxView | None = None
    curve: Curve | None = None
    steps: tuple[Step, ...] = ()
    note: str | None = None


def number(value: float) -> str:
    """A number as the panel prints it: three significant figures, a true minus sign."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "−inf"
    if value == 0:
        return "0"
    text = f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"
    return text.replace("-", "−")


class ArithmeticSelection:
    """The unit the Arithmetic panel follows: it stays selected across drawings and models and is
    let go of when a model has no such unit."""

    def __init__(self) -> None:
        self.unit: Unit | None = None

    def select(self, unit: Unit | None) -> None:
        self.unit = unit

    def update(self, predictor: Predictor | None, image: np.ndarray | None) -> Arithmetic | None:
        """The selected unit's arithmetic for ``image``; None with nothing selected (or no longer)."""
        if self.unit is None:
            return None
        result = arithmetic(predictor, image, self.unit)
        if result is None:
            self.unit = None
        return result


def arithmetic(predictor: Predictor | None, image: np.ndarray | None, unit: Unit) -> Arithmetic | None:
    """How ``unit``'s number comes out of the layer before for the 28×28 ``image``; None when the
    model has no such unit (another model was opened)."""
    if predictor is None:
        return None
    if not isinstance(predictor, Engine):
        reason = getattr(predictor, "reason", None)
        note = "No arithmetic for this model: it runs through Keras" + (f" (the fast preview has no {reason})" if reason else "")
        return Arithmetic(unit, _unit_title(unit), note=note)
    graph = _graph(predictor)
    found = graph.locate(unit)
    if found is None:
        return None
    value_index, position = found
    if image is None:
        return Arithmetic(unit, graph.title(unit, value_index, position), note=NO_DRAWING_NOTE)
    values = predictor.trace(image)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _Walk(predictor, graph, values).explain(unit, value_index, position)


def unit_at(layer: str, shape: tuple[int, ...], row: float, col: float) -> Unit | None:
    """The unit under pixel (row, col) of the Activations panel's picture of ``layer``'s output
    of ``shape`` (one digit's: maps (h, w, F) or units (U,)); None over a gap or outside."""
    picture = activation_image(np.zeros(shape, np.float32)).shape
    if not (0 <= row < picture[0] and 0 <= col < picture[1]):
        return None
    if len(shape) == 3:
        height, width, maps = shape
        grid = ((picture[0] + 1) // (height + 1), (picture[1] + 1) // (width + 1))
        tile = tile_at(row, col, (height, width), grid, maps)
        if tile is None:
            return None
        return Unit(layer, (int(row) % (height + 1), int(col) % (width + 1), tile))
    flat = int(row) * picture[1] + int(col)
    return Unit(layer, (flat,)) if flat < math.prod(shape) else None


def activation_pixel(shape: tuple[int, ...], position: tuple[int, ...]) -> tuple[int, int]:
    """Where ``position`` (as :class:`Unit` indexes it) lies in the Activations panel's picture of
    an output of ``shape``, as (row, col): to outline a receptive field or mark an input there."""
    picture = activation_image(np.zeros(shape, np.float32)).shape
    if len(shape) == 3:
        height, width, _ = shape
        row, col, channel = position
        tile_row, tile_col = divmod(channel, (picture[1] + 1) // (width + 1))
        return tile_row * (height + 1) + row, tile_col * (width + 1) + col
    row, col = divmod(position[0], picture[1])
    return row, col


# -- the graph in layers ---------------------------------------------------------------------
class _Graph:
    """Which layer made each of an engine's values, which layers before it pass a value on
    unchanged, and each value's shape: the engine keeps only operations, the arithmetic is told
    in layers."""

    def __init__(self, engine: Engine):
        self.shown = {name: value for value, name in engine.shown.items()}
        self.result = engine.result
        self.layer_of: list[LayerSpec | None] = [None]  # by value index; None: the input, or the app's softmax
        self.first_of_layer: list[bool] = [False]
        self.produced: dict[str, int] = {}
        self.passed: dict[int, tuple[LayerSpec, ...]] = {}  # a layer's first value: the layers without operations just before it
        self.reads: dict[str, tuple[str, ...]] = {}
        specs = {spec.name: spec for spec in engine.specs}
        previous, previous_name = 0, None
        for spec in engine.specs:  # as Engine._build goes, counting each layer's operations
            reads = (() if previous_name is None else (previous_name,)) if spec.inputs is None else spec.inputs
            self.reads[spec.name] = reads
            sources = (previous,) if spec.inputs is None else tuple(self.produced[name] for name in spec.inputs) or (0,)
            count = len(layer_ops(spec.class_name, spec.config, spec.weights))
            if count:
                self.passed[len(self.layer_of)] = self._pass_through(reads[0], specs) if len(reads) == 1 else ()
                self.layer_of += [spec] * count
                self.first_of_layer += [True] + [False] * (count - 1)
            self.produced[spec.name] = previous = len(self.layer_of) - 1 if count else sources[0]
            previous_name = spec.name
        appended = len(engine.nodes) + 1 - len(self.layer_of)  # the softmax the app adds to a model that outputs logits
        self.layer_of += [None] * appended
        self.first_of_layer += [True] * appended
        self.shapes = [value.shape[1:] for value in engine.trace(np.zeros((1, 28, 28), np.float32))]

    def _pass_through(self, name: str, specs: dict[str, LayerSpec]) -> tuple[LayerSpec, ...]:
        """The layers without operations (dropout, noise, a linear activation) from ``name`` back
        to the layer that made the value, in the order they run."""
        chain: list[LayerSpec] = []
        while name in specs and not layer_ops(specs[name].class_name, specs[name].config, specs[name].weights):
            if specs[name].class_name != "InputLayer":
                chain.insert(0, specs[name])
            if len(self.reads[name]) != 1:
                break
            name = self.reads[name][0]
        return tuple(chain)

    def value_of(self, layer: str | None) -> int | None:
        if layer is None:
            return self.result
        return self.shown.get(layer, self.produced.get(layer))

    def locate(self, unit: Unit) -> tuple[int, tuple[int, ...]] | None:
        """The value a unit is in and its position there; None when this model has no such unit."""
        value = self.value_of(unit.layer)
        if value is None:
            return None
        shape = self.shapes[value]
        index = tuple(int(i) for i in unit.index)
        if len(shape) != 3 and len(index) == 1:  # numbers other than maps are picked flattened
            if not 0 <= index[0] < math.prod(shape):
                return None
            index = tuple(int(i) for i in np.unravel_index(index[0], shape))
        if len(index) != len(shape) or not all(0 <= i < n for i, n in zip(index, shape)):
            return None
        return value, index

    def name_of(self, value: int) -> tuple[str, str | None]:
        """What to call a value, and the layer name a :class:`Unit` selects it by (None: it has none)."""
        for name, index in list(self.shown.items()) + list(self.produced.items()):
            if index == value and self.value_of(name) == value:
                return name, name
        spec = self.layer_of[value]
        return (f"a step inside {spec.name}", None) if spec is not None else ("the model's output", None)

    def describe(self, value: int, position: tuple[int, ...]) -> str:
        """A number's place in its value, in words: "map 3 at row 4, col 5", "unit 17"."""
        if value == 0:
            row, col = divmod(int(np.ravel_multi_index(position, self.shapes[0])), 28)
            return f"pixel at row {row}, col {col}"
        if value == self.result:
            return f"class {position[-1]}"
        if len(position) == 3:
            return f"map {position[2]} at row {position[0]}, col {position[1]}"
        if len(position) == 1:
            return f"unit {position[0]}"
        return f"number {position}"

    def title(self, unit: Unit, value: int, position: tuple[int, ...]) -> str:
        """The panel's heading for a unit: its layer and its place there in words."""
        return _unit_title(unit) if unit.layer is None else f"{unit.layer} · {self.describe(value, position)}"


_graphs: weakref.WeakKeyDictionary[Engine, _Graph] = weakref.WeakKeyDictionary()


def _graph(engine: Engine) -> _Graph:
    """The engine's graph in layers, made once per engine (a training run makes a new one per snapshot)."""
    graph = _graphs.get(engine)
    if graph is None:
        graph = _graphs[engine] = _Graph(engine)
    return graph


# -- walking back from the number to the sum that made it ------------------------------------
class _Walk:
    """One unit's way back through the traced values to the operation that combined several
    numbers into it; every step on the way is told in one line."""

    def __init__(self, engine: Engine, graph: _Graph, values: list[np.ndarray]):
        self.engine, self.graph, self.values = engine, graph, values

    def explain(self, unit: Unit, value: int, position: tuple[int, ...]) -> Arithmetic:
        """From the unit's value back to the operation that made it; the steps on the way, in the order they ran."""
        here = float(self.values[value][0][position])
        title = self.graph.title(unit, value, position)
        steps: list[Step] = []  # from the unit back: reversed at the end
        curve = view = None
        while value > 0:
            node = self.engine.nodes[value - 1]
            spec = self.graph.layer_of[value]
            name = spec.name if spec is not None else "softmax"
            view = self._main_view(node.op, name, value, position)
            if view is not None:
                break
            if isinstance(node.op, Elementwise):
                curve = self._curve(node.op, spec, node.inputs[0], value, position)
                step, back = Step(name, f"{name}: {curve.name}({number(curve.z)}) = {number(curve.value)}", curve.value), (node.inputs[0], position)
            else:
                step, back = self._pass_back(node.op, name, spec, node.inputs, value, position)
            steps.append(step)
            if back is None:
                break
            passed = float(self.values[back[0]][0][back[1]])
            steps += [_pass_through_step(layer, passed) for layer in reversed(self._passed(value))]
            value, position = back
        if value == 0:
            pixel = float(self.values[0][0][position])
            steps.append(Step("input", f"the drawing's {self._describe(0, position)}: {number(pixel)}", pixel))
        return Arithmetic(unit, title, here, view, curve, tuple(reversed(steps)))

    # -- the operations that combine many numbers into one: each has its own view
    def _main_view(self, op: Op, name: str, value: int, position: tuple[int, ...]) -> DenseView | ConvView | PoolView | SoftmaxView | None:
        source = self.engine.nodes[value - 1].inputs[0]
        if isinstance(op, MatMul):
            return self._dense(op, name, source, value, position)
        if isinstance(op, (Conv, DepthwiseConv)):
            return self._conv(op, name, source, value, position)
        if isinstance(op, (Pool, GlobalPool)):
            return self._pool(op, name, source, value, position)
        if isinstance(op, Softmax) and op.axis in (-1, len(self.graph.shapes[value])):
            return self._softmax(op, name, source, value, position)
        return None

    def _dense(self, op: MatMul, name: str, source: int, value: int, position: tuple[int, ...]) -> DenseView:
        reads = self.values[source][0]
        x = reads[position[:-1]]
        unit = position[-1]
        w = op.kernel[:, unit]
        products = x * w
        origin, via = self._unreshaped(source, value)
        where = self._source(origin, via)
        first = int(np.ravel_multi_index(position[:-1] + (0,), reads.shape))  # x[0]'s place among the numbers read (flatten keeps their order)
        in_place = np.zeros(math.prod(self.graph.shapes[origin]), np.float32)
        in_place[first : first + len(products)] = products
        order = np.argsort(-np.abs(products), kind="stable")
        top = tuple(Contribution(self._position(origin, first + int(k)), float(x[k]), float(w[k]), float(products[k])) for k in order[:TOP_CONTRIBUTIONS])
        rest = order[TOP_CONTRIBUTIONS:]
        z = float(self.values[value][0][position])
        return DenseView(name, where, top, float(products[rest].sum()), len(rest), _at(op.bias, (unit,)), z, in_place.reshape(where.shape))

    def _conv(self, op: Conv | DepthwiseConv, name: str, source: int, value: int, position: tuple[int, ...]) -> ConvView:
        row, col, channel = position
        maps = self.values[source]
        windows = op.window.windows(maps)[0, row, col]  # (channels, kh, kw)
        if isinstance(op, Conv):
            patch = windows.transpose(1, 2, 0)
            kernel = op.matrix[:, channel].reshape(windows.shape).transpose(1, 2, 0)
            channels = tuple(range(maps.shape[3]))
        else:  # each input channel has its own kernels: output channel c·M + m reads channel c
            read, multiple = divmod(channel, op.kernel.shape[3])
            patch, kernel, channels = windows[read][:, :, None], op.kernel[:, :, read, multiple][:, :, None], (read,)
        products = patch * kernel
        rows, cols = _field(op.window, maps.shape, row, col)
        z = float(self.values[value][0][position])
        return ConvView(name, self._source_maps(source, value), rows, cols, channels, patch, kernel, products, products.sum(axis=(0, 1)), _at(op.bias, (channel,)), z, maps[0])

    def _pool(self, op: Pool | GlobalPool, name: str, source: int, value: int, position: tuple[int, ...]) -> PoolView:
        maps = self.values[source]
        channel = position[-1]
        if isinstance(op, Pool):
            window = op.window.windows(maps, np.nan)[0, position[0], position[1], channel]
            rows, cols = _field(op.window, maps.shape, position[0], position[1])
        else:
            window = maps[0, :, :, channel]
            rows, cols = tuple(range(maps.shape[1])), tuple(range(maps.shape[2]))
        kept = tuple(int(i) for i in np.unravel_index(int(np.nanargmax(window)), window.shape)) if op.kind == "max" else None
        count = int((~np.isnan(window)).sum())
        return PoolView(name, self._source_maps(source, value), op.kind, rows, cols, channel, window, kept, count, float(self.values[value][0][position]), maps[0])

    def _softmax(self, op: Softmax, name: str, source: int, value: int, position: tuple[int, ...]) -> SoftmaxView:
        logits = self.values[source][0][position[:-1]]
        shifted = logits - logits.max()
        exps = np.exp(shifted)
        total = exps.sum()
        plain_exps = np.exp(logits)
        scaled = logits * np.float32(LARGE_LOGIT_FACTOR)
        scaled_exps = np.exp(scaled)
        added = self.graph.layer_of[value] is None
        return SoftmaxView(
            "softmax, added by the app" if added else name, position[-1], logits, shifted, exps, float(total), exps / total, plain_exps, plain_exps / plain_exps.sum(),
            LARGE_LOGIT_FACTOR, scaled_exps / scaled_exps.sum(), Softmax().forward(scaled), op.log, added,
        )  # fmt: skip

    # -- the operations that pass one number on: one line each, then on to the number they read
    def _pass_back(self, op: Op, name: str, spec: LayerSpec | None, inputs: tuple[int, ...], value: int, position: tuple[int, ...]) -> tuple[Step, tuple[int, tuple[int, ...]] | None]:
        """One line for what ``op`` did, and the number it read (None: none to follow)."""
        after = float(self.values[value][0][position])
        source, shape = inputs[0], self.graph.shapes[value]
        if isinstance(op, Affine):
            x, factor, shift = float(self.values[source][0][position]), _at(op.factor, position, shape), _at(op.shift, position, shape)
            what = "batch norm at prediction, a fixed scale and shift per channel" if spec is not None and spec.class_name == "BatchNormalization" else "a fixed scale and shift"
            return Step(name, f"{name}: {what}: {number(x)} × {number(factor)} + {number(shift)} = {number(after)}", after), (source, position)
        if isinstance(op, LayerNorm):
            return self._layer_norm(op, name, source, value, position), (source, position)
        if isinstance(op, Reshape):
            back = tuple(int(i) for i in np.unravel_index(int(np.ravel_multi_index(position, shape)), self.graph.shapes[source]))
            return Step(name, f"{name}: the {self._describe(source, back)} becomes {self._describe(value, position)} of {math.prod(shape)}", after), (source, back)
        if isinstance(op, Crop):
            (top, _), (left, _) = op.margins
            back = (position[0] - top, position[1] - left, *position[2:]) if op.pad else (position[0] + top, position[1] + left, *position[2:])
            height, width = self.graph.shapes[source][:2]
            if not (0 <= back[0] < height and 0 <= back[1] < width):
                return Step(name, f"{name}: this number is padding added around the maps: 0", after), None
            return Step(name, f"{name}: the {self._describe(source, back)}, moved to {self._describe(value, position)}", after), (source, back)
        if isinstance(op, Concatenate):
            axis = (op.axis if op.axis >= 0 else len(shape) + 1 + op.axis) - 1
            offset = position[axis]
            for piece in inputs:
                if offset < self.graph.shapes[piece][axis]:
                    back = position[:axis] + (offset,) + position[axis + 1 :]
                    return Step(name, f"{name}: joins its inputs; this is {self.graph.name_of(piece)[0]}'s {self._describe(piece, back)}", after), (piece, back)
                offset -= self.graph.shapes[piece][axis]
        if isinstance(op, Merge):
            return Step(name, f"{name}: {self._merge_text(op, inputs, position)} = {number(after)}", after), None
        kind = spec.class_name if spec is not None else type(op).__name__
        return Step(name, f"{name}: no arithmetic view for {kind}", after), None

    def _merge_text(self, op: Merge, inputs: tuple[int, ...], position: tuple[int, ...]) -> str:
        terms = [f"{number(float(self.values[i][0][position]))} ({self.graph.name_of(i)[0]})" for i in inputs]
        if op.kind in MERGE_SIGNS:
            return MERGE_SIGNS[op.kind].join(terms)
        if op.kind == "Average":
            return f"({' + '.join(terms)}) / {len(terms)}"
        return f"{op.kind.lower()[:3]}({', '.join(terms)})"  # max(…), min(…)

    def _layer_norm(self, op: LayerNorm, name: str, source: int, value: int, position: tuple[int, ...]) -> Step:
        x = self.values[source]
        centre = np.zeros_like(x) if op.rms else np.broadcast_to(x.mean(axis=op.axes, keepdims=True), x.shape)
        spread = np.broadcast_to(np.sqrt(((x - centre) ** 2).mean(axis=op.axes, keepdims=True) + op.epsilon), x.shape)
        shape = self.graph.shapes[value]
        after = float(self.values[value][0][position])
        text = (
            f"{name}: layer norm over this digit's numbers: ({number(float(x[0][position]))} − {number(float(centre[0][position]))}) / {number(float(spread[0][position]))}"
            f" × {number(_at(op.gamma, position, shape))} + {number(_at(op.beta, position, shape))} = {number(after)}"
        )
        return Step(name, text, after)

    def _curve(self, op: Elementwise, spec: LayerSpec | None, source: int, value: int, position: tuple[int, ...]) -> Curve:
        z, fz = float(self.values[source][0][position]), float(self.values[value][0][position])
        span = max(3.0, 1.25 * abs(z)) if math.isfinite(z) else 3.0
        xs = np.linspace(-span, span, CURVE_POINTS, dtype=np.float32)
        if spec is not None and spec.class_name == "PReLU":  # its slope differs by position: the curve at this one's
            alpha = _at(spec.weights[0], position, self.graph.shapes[value])
            ys = np.where(xs >= 0, xs, alpha * xs).astype(np.float32)
        else:
            ys = np.asarray(op.forward(xs), np.float32)
        return Curve(_activation_label(spec), z, fz, xs, ys)

    # -- where numbers are
    def _passed(self, value: int) -> tuple[LayerSpec, ...]:
        """The layers without operations (dropout) that ran just before ``value``'s layer."""
        return self.graph.passed.get(value, ()) if self.graph.first_of_layer[value] else ()

    def _unreshaped(self, value: int, reader: int) -> tuple[int, tuple[str, ...]]:
        """The value that ``value`` is a reshape of (flatten keeps the numbers' order), and the
        layers from it to ``reader`` that passed the numbers on (flatten, dropout), in order."""
        via = [spec.name for spec in self._passed(reader)]
        while value > 0 and isinstance(self.engine.nodes[value - 1].op, Reshape):
            via = [spec.name for spec in self._passed(value)] + [self.graph.layer_of[value].name] + via
            value = self.engine.nodes[value - 1].inputs[0]
        return value, tuple(via)

    def _source(self, value: int, via: tuple[str, ...]) -> Source:
        if value == 0:
            return Source("the drawing", None, (28, 28), True, via)
        label, layer = self.graph.name_of(value)
        return Source(label, layer, self.graph.shapes[value], False, via)

    def _source_maps(self, value: int, reader: int) -> Source:
        """The maps a convolution or pooling reads: the drawing itself when they are just it reshaped."""
        origin, via = self._unreshaped(value, reader)
        if origin == 0 and self.graph.shapes[value][:2] == (28, 28):
            return Source("the drawing", None, (28, 28), True, via)
        return self._source(value, tuple(spec.name for spec in self._passed(reader)))

    def _position(self, value: int, flat: int) -> tuple[int, ...]:
        if value == 0:
            return divmod(flat, 28)
        return tuple(int(i) for i in np.unravel_index(flat, self.graph.shapes[value]))

    def _describe(self, value: int, position: tuple[int, ...]) -> str:
        return self.graph.describe(value, position)


def _pass_through_step(spec: LayerSpec, value: float) -> Step:
    if spec.class_name in IDENTITY_LAYERS:
        why = "it drops numbers only while training" if "Dropout" in spec.class_name else "it acts only while training"
        return Step(spec.name, f"{spec.name}: passes the number on unchanged at prediction ({why})", value)
    return Step(spec.name, f"{spec.name}: passes the number on unchanged", value)


def _field(window: Window, shape: tuple[int, ...], row: int, col: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The rows and columns of the input an output position reads (outside the input: padding)."""
    (top, _), (left, _) = window.pads(shape)
    (stride_rows, stride_cols), (dilation_rows, dilation_cols) = window.strides, window.dilation
    rows = tuple(row * stride_rows - top + i * dilation_rows for i in range(window.kernel[0]))
    cols = tuple(col * stride_cols - left + j * dilation_cols for j in range(window.kernel[1]))
    return rows, cols


def _at(parameter: np.ndarray | float, position: tuple[int, ...], shape: tuple[int, ...] | None = None) -> float:
    """A parameter's value for the number at ``position``: one for all, one per unit (the last
    axis), or broadcast over ``shape`` as the operation broadcasts it."""
    array = np.asarray(parameter, np.float32)
    if shape is not None:
        return float(np.broadcast_to(array, shape)[position])
    return float(array) if array.ndim == 0 else float(array[position[-1]])


#: Activation layers without an ``activation`` setting, by the name their function goes by.
ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "ELU": "elu"}


def _activation_label(spec: LayerSpec | None) -> str:
    if spec is None:
        return "f"
    if "activation" in spec.config:
        return activation_name(spec.config["activation"])
    return ACTIVATION_LAYERS.get(spec.class_name, spec.class_name.lower())


def _unit_title(unit: Unit) -> str:
    """A unit's heading without the model's graph (a model that runs through Keras)."""
    if unit.layer is None:
        return f"Prediction · class {unit.index[0]}"
    if len(unit.index) == 3:
        return f"{unit.layer} · map {unit.index[2]} at row {unit.index[0]}, col {unit.index[1]}"
    if len(unit.index) == 1:
        return f"{unit.layer} · unit {unit.index[0]}"
    return f"{unit.layer} · number {unit.index}"
