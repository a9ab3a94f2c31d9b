"""Networks described in the editor: their summary is Keras's own, impossible choices are named
where they are made, descriptions from files are checked, and the Keras code they give back
runs and builds the same network."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mnistdesk.net.engine import Engine
from mnistdesk.net.networks import MAX_LAYERS, PRESETS, build, keras_code, new_layer, problems, read_description, summarize


def keras_rows(model):
    """(class name, output shape, parameters) per layer, as model.summary() lists them."""
    return [(type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers if type(layer).__name__ != "InputLayer"]


@pytest.mark.parametrize("preset", PRESETS)
def test_the_summary_of_every_preset_is_keras_own(preset):
    summary = summarize(PRESETS[preset])
    model = build(PRESETS[preset])
    rows = [row for row in summary.rows if row.layer >= 0]
    assert [(row.shape, row.parameters) for row in rows] == [(shape, parameters) for _, shape, parameters in keras_rows(model)]
    assert summary.parameters == model.count_params() and not summary.problems


def test_multiply_adds_are_counted_per_layer():
    rows = summarize(PRESETS["lesson CNN"]).rows
    assert rows[1].macs == 24 * 24 * 5 * 5 * 1 * 32  # Conv 32@5×5 valid on 28×28
    assert rows[3].macs == 11 * 11 * 2 * 2 * 32 * 64
    assert rows[-2].macs == 1600 * 1000 and rows[-1].macs == 1000 * 10


@pytest.mark.parametrize(
    ("layers", "input", "reason"),
    [
        ([{"type": "conv", "filters": 8, "kernel": 3, "padding": "valid"}] * 2 + [{"type": "pool", "size": 8}, {"type": "conv", "kernel": 5, "padding": "valid"}], "image", "a 5×5 kernel on a 3×3 map"),
        ([], "image", "no layer left"),
        ([{"type": "dense", "units": 10}], "image", "add Flatten or Global pooling before it"),
        ([{"type": "conv"}], "flat", "needs 28×28 maps"),
        ([{"type": "pool", "size": 8}, {"type": "pool", "size": 8}], "image", "a 8×8 window on a 3×3 map"),
        ([{"type": "conv", "filters": 32}], "image", "add Flatten or Global pooling before it"),
    ],
    ids=["kernel-too-big", "no-layer", "dense-on-maps", "conv-on-flat", "pool-too-big", "output-on-maps"],
)
def test_an_impossible_choice_is_named_on_its_row(layers, input, reason):
    summary = summarize({"name": "x", "input": input, "layers": [{**new_layer(layer["type"]), **layer} for layer in layers]})
    assert any(reason in problem for problem in summary.problems), summary.problems
    assert summary.rows[-1].problem is not None, "the reason sits on the row where the choice is made"
    with pytest.raises(ValueError, match=reason.split(":")[0]):
        build({"name": "x", "input": input, "layers": layers})


@pytest.mark.parametrize(
    ("description", "reason"),
    [
        ({"name": "x", "layers": [{"type": "dense", "units": 10**9}]}, "units must be a whole number from 1 to 8192"),
        ({"name": "x", "layers": [{"type": "flatten"}] * (MAX_LAYERS + 1)}, "over the limit of 64"),
        ({"name": "x", "layers": [{"type": "conv", "filters": 1024, "kernel": 28}, {"type": "conv", "filters": 1024, "kernel": 28}, {"type": "flatten"}]}, "over the limit of 64,000,000"),
        ({"name": "x", "layers": [{"type": "lambda", "function": "os.system"}]}, "type must be one of"),
        ({"name": "x", "layers": [{"type": "dense", "activation": "exec"}]}, "activation must be one of"),
        ({"name": "x", "layers": [{"type": "dense", "code": "print()"}]}, "unknown setting 'code'"),
        ({"name": "\x1b]0;pwned\x07", "layers": [{"type": "flatten"}]}, "printable"),
        ({"name": "x", "optimizer": "adamw", "layers": []}, "optimizer must be one of"),
        ([1, 2], "a JSON object"),
    ],
    ids=["huge-units", "too-many-layers", "too-many-weights", "unknown-type", "bad-activation", "unknown-setting", "control-characters", "bad-optimizer", "not-an-object"],
)
def test_a_description_from_a_file_is_refused_in_one_line(tmp_path, description, reason):
    with pytest.raises(ValueError, match=reason) as refused:
        read_description(json.dumps(description), "net.json")
    assert str(refused.value).startswith("net.json: ") and "\n" not in str(refused.value)


def test_a_description_that_is_not_json_or_too_big_is_refused():
    with pytest.raises(ValueError, match="not a network description"):
        read_description("{layers: [", "net.json")
    with pytest.raises(ValueError, match="too big"):
        read_description(" " * (1 << 20), "net.json")


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_trains_saves_and_reopens_in_the_engine(preset, tmp_path, tiny):
    model = build(PRESETS[preset])
    shape = model.input_shape[1:]
    model.fit(tiny.x_train.reshape((-1, *shape)) / 255.0, tiny.y_train, epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "net.keras")
    engine = Engine.from_keras_file(tmp_path / "net.keras")
    np.testing.assert_allclose(engine.predict(tiny.x_test[:20] / 255.0), model.predict(tiny.x_test[:20].reshape((-1, *shape)) / 255.0, verbose=0), atol=1e-5)


def test_the_keras_code_of_every_preset_runs_and_builds_the_same_network(tmp_path, sample):
    """Each preset's script, run outside the app for one epoch on the bundled sample (its data
    line pointed at the sample instead of the download), builds the layers, shapes and
    parameter count the app builds."""
    np.savez(tmp_path / "sample.npz", x_train=sample.x_train, y_train=sample.y_train, x_test=sample.x_test, y_test=sample.y_test)
    runner = tmp_path / "run_all.py"
    scripts = {}
    for index, (name, description) in enumerate(PRESETS.items()):
        code = keras_code(description, epochs=1, batch_size=128, validation_fraction=0.1)
        assert "keras.datasets.mnist.load_data()" in code and "model.fit(x_train, y_train, batch_size=128, epochs=1, validation_split=0.1)" in code
        local = code.replace("keras.datasets.mnist.load_data()", f"(lambda d: ((d['x_train'], d['y_train']), (d['x_test'], d['y_test'])))(__import__('numpy').load({str(tmp_path / 'sample.npz')!r}))")
        path = tmp_path / f"preset_{index}.py"
        path.write_text(local)
        scripts[name] = path
    runner.write_text(
        textwrap.dedent(
            f"""
            import json, runpy
            out = {{}}
            for name, path in {json.dumps({name: str(path) for name, path in scripts.items()})}.items():
                model = runpy.run_path(path)["model"]
                out[name] = [[type(layer).__name__, list(layer.output.shape[1:]), layer.count_params()] for layer in model.layers if type(layer).__name__ != "InputLayer"]
            print(json.dumps(out))
            """
        )
    )
    result = subprocess.run([sys.executable, str(runner)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test accuracy" in result.stdout
    built = json.loads(result.stdout.strip().splitlines()[-1])
    for name, description in PRESETS.items():
        expected = [[kind, list(shape), parameters] for kind, shape, parameters in keras_rows(build(description))]
        assert built[name] == expected, name


def test_problems_is_empty_for_every_preset():
    assert all(problems(description) == [] for description in PRESETS.values())
