"""A numpy forward pass built from a Keras model's weights, for instant, thread-safe prediction.

``model.predict`` costs ~50 ms per call in per-call overhead, needs TensorFlow imported (2-4 s)
and is not thread-safe; the same forward pass in numpy takes well under a millisecond for our
models. :func:`load_predictor` reads a ``.keras`` file (a zip of ``config.json`` and
``model.weights.h5``) without importing TensorFlow, and falls back to Keras only for a model
with layers this module does not know.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mnistdesk.base.untrusted import MAX_CONFIG_BYTES, MAX_WEIGHT_BYTES, FileRefused, array_bytes, check_size, read_member
from mnistdesk.net.layers import ELEMENTWISE_LAYERS, MERGE_LAYERS, WEIGHTED_LAYERS, Op, Softmax, UnsupportedModel, layer_ops, softmax
from mnistdesk.net.models import CONFIG_MEMBER, ModelFileError, check_model_file, input_problem, is_legacy_h5, legacy_config, legacy_layer_weights, opened_weights, output_problem

#: The inputs the app can feed: its 28×28 digit as it is, with a channel, or flattened.
FLAT_INPUT = (784,)
INPUT_SHAPES = ((28, 28), (28, 28, 1), FLAT_INPUT)
#: How far a model's outputs may be from a probability distribution and still count as one.
PROBABILITY_TOLERANCE = 1e-3
SOFTMAX_NOTE = "its outputs are not probabilities (the last layer has no softmax), so softmax is applied to them"
FLATTEN_NOTE = "it reads 784 numbers: the 28×28 input is flattened for it"


class Predictor(Protocol):
    """Anything that maps a batch of 28×28 inputs in [0, 1] to class probabilities.
    ``note`` says, in one line, what was done to make a model's outputs probabilities."""

    note: str | None

    def predict(self, images: np.ndarray) -> np.ndarray: ...


#: A batch goes through the layers this many images at a time. A convolution copies its input's
#: windows into one matrix (lean's second layer: 170 KB an image, cnn's ~100 KB): the 500 test
#: digits scored at once after each run held ~150 MB for a moment, the top of a session's peak.
PREDICT_CHUNK = 64
#: A fixed noisy input: a model's outputs for it show whether it gives finite probabilities at
#: all. One image, not a batch: a batch makes BLAS start its threads (10+ ms on a busy laptop).
PROBE_IMAGE = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)


def needs_softmax(outputs: np.ndarray) -> bool:
    """Whether probe ``outputs`` are logits (finite, but not rows of probabilities); refuses a
    model with the wrong output shape or non-finite outputs (NaN or infinite weights)."""
    problem = output_problem(outputs.shape[1:])
    if problem is not None:
        raise ModelFileError(problem)
    if not np.isfinite(outputs).all():
        raise ModelFileError("refused: the model's outputs are not finite numbers (its weights hold NaN or infinity)")
    in_range = outputs.min() >= -PROBABILITY_TOLERANCE and outputs.max() <= 1 + PROBABILITY_TOLERANCE
    return not (in_range and np.allclose(outputs.sum(axis=1), 1, atol=PROBABILITY_TOLERANCE))


@dataclass(frozen=True)
class LayerSpec:
    """One layer as Keras describes it: class name, ``get_config()`` dict, weight arrays, and
    (in a Functional model) the names of the layers it reads; ``None``: the layer before it."""

    class_name: str
    config: dict[str, Any]
    weights: tuple[np.ndarray, ...] = ()
    inputs: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return str(self.config.get("name", self.class_name))


@dataclass(frozen=True)
class Node:
    """One operation of the graph and the indices of the values it reads (0: the model's input)."""

    op: Op
    inputs: tuple[int, ...]


class Engine:
    """A Keras model (Sequential or Functional) as a graph of numpy operations, in inference."""

    def __init__(self, specs: Sequence[LayerSpec], input_shape: tuple[int, ...] | None = None, output: str | None = None):
        self.specs = tuple(specs)
        self.input_shape = input_shape or _input_shape([{"config": spec.config} for spec in self.specs])
        self.nodes: list[Node] = []
        self._build(output)
        self.note: str | None = FLATTEN_NOTE if self.input_shape == FLAT_INPUT else None
        self._dropped = self._values_done()
        self.logits = needs_softmax(self.predict(PROBE_IMAGE))  # the model ends without a softmax
        if self.logits:
            self.nodes.append(Node(Softmax(), (self.result,)))
            self.result = len(self.nodes)
            self._dropped = self._values_done()
            self.note = "; ".join(filter(None, (self.note, SOFTMAX_NOTE)))

    def _build(self, output: str | None) -> None:
        """Each layer's operations as nodes, in order; which layers' outputs the Activations panel shows."""
        produced: dict[str, int] = {}  # layer name: index of the value it outputs
        consumers: dict[int, list[str]] = {}
        previous = 0
        for spec in self.specs:
            if spec.inputs is None:
                sources = (previous,)
            else:
                missing = [name for name in spec.inputs if name not in produced]
                if missing:
                    raise UnsupportedModel(f"layer {spec.name} reads {missing[0]}, which comes later (the graph is not in order)")
                sources = tuple(produced[name] for name in spec.inputs) or (0,)
            ops = layer_ops(spec.class_name, spec.config, spec.weights)
            for source in sources if ops else ():  # a layer that changes nothing (dropout) passes its readers on
                consumers.setdefault(source, []).append(spec.name)
            for op in ops:
                self.nodes.append(Node(op, sources))
                sources = (len(self.nodes),)
            produced[spec.name] = previous = sources[0]
        self._output_name = output
        self.result = produced[output] if output is not None else previous  # the index of the model's output
        kinds = {spec.name: spec.class_name for spec in self.specs}
        self.shown: dict[int, str] = {}
        for spec in self.specs:
            if spec.class_name not in WEIGHTED_LAYERS | MERGE_LAYERS:
                continue
            value = produced[spec.name]
            # after the activation, normalisation or dropout that only it feeds
            while len(consumers.get(value, [])) == 1 and kinds[consumers[value][0]] in ELEMENTWISE_LAYERS:
                value = produced[consumers[value][0]]
            if value != self.result:
                self.shown[value] = spec.name

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for images (N, 28, 28) or (N, 28, 28, 1), or one (28, 28) image,
        :data:`PREDICT_CHUNK` images at a time (see there)."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if len(x) <= PREDICT_CHUNK:
            return self.activations(x, hidden=False)[0]
        return np.concatenate([self.activations(x[start : start + PREDICT_CHUNK], hidden=False)[0] for start in range(0, len(x), PREDICT_CHUNK)])

    def activations(self, images: np.ndarray, hidden: bool = True) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
        """Probabilities, and (in the same pass) the hidden layers' outputs by layer name: every
        weighted layer but the last and every merge (a branch joining), after the activation or
        normalisation that follows it; maps as (N, h, w, c), anything else flattened to (N, units)."""
        values = self.trace(images, keep=False)
        shown = [(name, values[index]) for index, name in self.shown.items()] if hidden else []
        return values[self.result], [(name, v if v.ndim == 4 else v.reshape(len(v), -1)) for name, v in shown]

    def trace(self, images: np.ndarray, keep: bool = True) -> list[np.ndarray | None]:
        """Every node's output for ``images`` (index 0: the input as the model reads it); with
        ``keep=False`` a value no later node reads is dropped (None) unless it is shown."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        values: list[np.ndarray | None] = [x.reshape((x.shape[0], *self.input_shape))]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a crafted model's overflow is caught by the caller, not printed
            for node, done in zip(self.nodes, self._dropped):
                values.append(node.op.forward(*[values[i] for i in node.inputs]))
                if not keep:
                    for i in done:
                        values[i] = None
        return values

    def _values_done(self) -> list[tuple[int, ...]]:
        """For each node, the values no later node reads (nor the Activations panel shows): a
        prediction lets go of them as it goes, so a batch of test digits keeps one layer at a time."""
        last_use = {source: index for index, node in enumerate(self.nodes, start=1) for source in node.inputs}
        return [tuple(i for i in set(node.inputs) if last_use[i] == index and i not in self.shown) for index, node in enumerate(self.nodes, start=1)]

    def with_weights(self, weights: Sequence[Sequence[np.ndarray]]) -> Engine:
        """The same architecture with new weights (one list per layer), e.g. a training snapshot."""
        specs = [LayerSpec(s.class_name, s.config, tuple(w), s.inputs) for s, w in zip(self.specs, weights, strict=True)]
        return Engine(specs, self.input_shape, self._output_name)

    @property
    def nbytes(self) -> int:
        """The memory its arrays hold: the weights, and what its operations made of them (a
        convolution keeps its kernel a second time, laid out as one matrix)."""
        roots: dict[int, np.ndarray] = {}
        arrays = [w for spec in self.specs for w in spec.weights] + [v for node in self.nodes for v in vars(node.op).values() if isinstance(v, np.ndarray)]
        for array in arrays:
            while isinstance(array.base, np.ndarray):  # a view: its memory is its base's
                array = array.base
            roots[id(array)] = array
        return sum(array.nbytes for array in roots.values())

    def first_layer_weights(self) -> np.ndarray | None:
        """The kernel of the first Dense or convolution layer, for the weight-image panel."""
        return next((s.weights[0] for s in self.specs if s.class_name in WEIGHTED_LAYERS and s.weights), None)

    @classmethod
    def from_keras_model(cls, model: Any) -> Engine:
        """Build from a live Keras model (Sequential or Functional): its config and a copy of its
        weights, one spec per entry of ``model.layers`` (so training snapshots line up)."""
        kind = type(model).__name__
        if kind == "Sequential":
            specs = [LayerSpec(type(layer).__name__, layer.get_config(), tuple(layer.get_weights())) for layer in model.layers]
            return cls(specs, _checked_input(model.input_shape[1:]))
        if kind not in ("Functional", "Model"):
            raise UnsupportedModel(f"a {kind} model (subclassed models keep their forward pass in Python code)")
        graph = model.get_config()
        _single(graph, "input_layers")
        inputs = {layer["name"]: _layer_inputs(layer) for layer in graph["layers"]}
        specs = [LayerSpec(type(layer).__name__, layer.get_config(), tuple(layer.get_weights()), inputs[layer.name]) for layer in model.layers]
        return cls(specs, _checked_input(model.input_shape[1:]), _single(graph, "output_layers"))

    @classmethod
    def from_config(cls, config: dict[str, Any], weights: Callable[[int, dict[str, Any]], tuple[np.ndarray, ...]]) -> Engine:
        """Build from a saved model's config (``{"class_name": …, "config": …}``); ``weights(i,
        layer)`` reads the weights of the i-th layer of the config."""
        kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        if kind not in ("Sequential", "Functional", "Model"):
            raise UnsupportedModel(f"a {kind} model")
        body = config["config"]
        functional = kind != "Sequential"
        specs = []
        for index, layer in enumerate(body["layers"]):
            if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
                raise ModelFileError("its config.json lists a layer that is not an object")
            if layer.get("class_name") in ("Sequential", "Functional", "Model"):
                raise UnsupportedModel(f"a model nested inside the model ({layer['config'].get('name')})")
            name = layer.get("name", layer["config"].get("name"))
            config_with_name = {**layer["config"], "name": name}
            if not functional and layer.get("class_name") == "InputLayer":
                continue  # Keras's Sequential.layers leaves it out
            specs.append(LayerSpec(str(layer.get("class_name")), config_with_name, weights(index, layer), _layer_inputs(layer) if functional else None))
        if functional:
            _single(body, "input_layers")
        output = _single(body, "output_layers") if functional else None
        return cls(specs, _input_shape(body["layers"]), output)

    @classmethod
    def from_keras_file(cls, path: str | os.PathLike) -> Engine:
        """Build from a ``.keras`` or ``.h5`` file without importing TensorFlow. What it reads is
        counted against :data:`MAX_WEIGHT_BYTES` too: the check counts each array once, and a
        config may name one layer many times (an 8 KB file read one 196 MB array 12 times)."""
        import h5py

        check_model_file(path)  # declared sizes are capped before anything is read
        total = 0

        def read(datasets: Sequence[Any]) -> tuple[np.ndarray, ...]:
            nonlocal total
            for dataset in datasets:
                if not isinstance(dataset, h5py.Dataset):
                    raise ModelFileError(f"its weight {dataset.name} is not an array")
                total += array_bytes(dataset.shape or (), dataset.dtype)
                check_size(f"the weights its layers read (with {dataset.name} of shape {dataset.shape})", total, MAX_WEIGHT_BYTES, "come to")
            return tuple(np.array(dataset) for dataset in datasets)

        try:
            if is_legacy_h5(path):
                with h5py.File(path, "r") as file:
                    return cls.from_config(legacy_config(file), lambda index, layer: read(legacy_layer_weights(file, layer)))
            with zipfile.ZipFile(path) as archive:
                config = json.loads(read_member(archive, CONFIG_MEMBER, MAX_CONFIG_BYTES))  # checked above
                layers = config.get("config", {}).get("layers", []) if isinstance(config, dict) else []
                keys = _weight_keys(layers)
                with opened_weights(archive) as weights:  # a copy: a seek in a zip member unpacks it again

                    def layer_weights(index: int, layer: dict[str, Any]) -> tuple[np.ndarray, ...]:
                        group = weights.get(f"layers/{keys[index]}/vars")
                        return () if group is None else read([group[k] for k in sorted(group, key=int)])

                    return cls.from_config(config, layer_weights)
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from None
        except FileRefused as reason:  # read more than the caps, or the weights could not be unpacked
            raise ModelFileError(f"{path}: {reason}") from None


class KerasPredictor:
    """Fallback for models the numpy engine cannot run: Keras's own ``predict`` (slow, imports
    TF). ``reason``: what the engine lacks, e.g. "layer Conv3D", for the status bar."""

    def __init__(self, model: Any, reason: str | None = None):
        self.model = model
        self.softmax = False
        self.reason = reason
        notes = [f"runs through Keras (slower, no saliency or activations): the fast preview has no {reason}" if reason else None]
        notes.append(FLATTEN_NOTE if tuple(model.input_shape[1:]) == FLAT_INPUT else None)
        if needs_softmax(self.predict(PROBE_IMAGE)):
            self.softmax = True
            notes.append(SOFTMAX_NOTE)
        self.logits = self.softmax
        self.note: str | None = "; ".join(filter(None, notes)) or None

    def predict(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        x = x.reshape((x.shape[0], *self.model.input_shape[1:]))
        outputs = np.asarray(self.model.predict(x, verbose=0))
        return softmax(outputs) if self.softmax else outputs


def predictor_for(model: Any) -> Predictor:
    """The numpy engine for a live Keras model, or Keras's own predict for one it cannot run."""
    try:
        return Engine.from_keras_model(model)
    except UnsupportedModel as reason:
        return KerasPredictor(model, str(reason))


def load_predictor(path: str | os.PathLike) -> Predictor:
    """The fastest predictor for a model file: numpy when it can, Keras (``safe_mode=True``) if not."""
    try:
        return Engine.from_keras_file(path)
    except ModelFileError:
        raise
    except Exception as error:  # unsupported, or a config the numpy engine cannot make sense of: Keras judges it
        from mnistdesk.net.models import load_model

        reason = str(error) if isinstance(error, UnsupportedModel) else None
        model = load_model(path)
        try:
            return KerasPredictor(model, reason)
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from None


def _layer_inputs(layer: dict[str, Any]) -> tuple[str, ...]:
    """The names of the layers a Functional config's layer reads, from its one inbound node
    (Keras 3's ``keras_history`` tensors, or Keras 2's ``[name, node, tensor, kwargs]`` lists)."""
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise UnsupportedModel(f"layer {layer.get('name')} used more than once (a shared layer)")
    if not nodes:
        return ()
    node = nodes[0]
    names: list[str] = []

    def visit(item: Any) -> None:
        if isinstance(item, dict):
            history = item.get("config", {}).get("keras_history") if item.get("class_name") == "__keras_tensor__" else None
            if history:
                names.append(str(history[0]))
            else:
                for value in item.values():
                    visit(value)
        elif isinstance(item, (list, tuple)):  # a live model's config holds tuples, a saved one lists
            if len(item) >= 3 and isinstance(item[0], str) and isinstance(item[1], int):
                names.append(item[0])  # Keras 2: [layer name, node index, tensor index, kwargs]
            else:
                for value in item:
                    visit(value)

    visit(node.get("args", []) if isinstance(node, dict) else node)
    return tuple(names)


def _single(body: dict[str, Any], key: str) -> str:
    """The one input or output layer of a Functional config (Keras 2 and 3 spell it alike)."""
    entries = body.get(key)
    if isinstance(entries, list) and entries and isinstance(entries[0], str):
        entries = [entries]  # a single [name, 0, 0]
    if not isinstance(entries, list) or len(entries) != 1:
        raise UnsupportedModel(f"a model with {len(entries) if isinstance(entries, list) else 'no'} {key.split('_')[0]}s (the app feeds one digit and reads one answer)")
    return str(entries[0][0])


def _checked_input(shape: Sequence[Any]) -> tuple[int, ...]:
    problem = input_problem(tuple(shape))
    if problem is not None:
        raise ModelFileError(problem)
    return tuple(shape)


def _weight_keys(layers: list[dict[str, Any]]) -> list[str]:
    """Keras 3 stores each layer's weights under its class name in snake case, numbered per class
    (``conv2d``, ``conv2d_1``, …), not under the layer's own name; the input layer has none."""
    seen: dict[str, int] = {}
    keys = []
    for layer in layers:
        base = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", layer["class_name"])).lower()
        count = seen.get(base, 0) if layer["class_name"] != "InputLayer" else 0
        seen[base] = count + 1
        keys.append(base if count == 0 else f"{base}_{count}")
    return keys


def _input_shape(layers: Sequence[dict[str, Any]]) -> tuple[int, ...]:
    """The input shape a saved config declares: on its input layer, as Keras 2's first layer's
    ``batch_input_shape``, or in the first layer's ``build_config``."""
    for layer in layers:
        config = layer.get("config", {})
        built = layer.get("build_config")
        shape = config.get("batch_shape") or config.get("batch_input_shape") or (built.get("input_shape") if isinstance(built, dict) else None)
        if isinstance(shape, list) and shape:
            return _checked_input(shape[1:])
    return (28, 28, 1)
