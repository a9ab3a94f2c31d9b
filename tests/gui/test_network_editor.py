"""The network editor and the networks built in it: presets, impossible choices, training one,
saving and reopening it editable, remembering it, and taking it back as Keras code."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import train_tiny_dense
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow
from mnistdesk.gui.network_editor import CodeDialog, NetworkEditor
from mnistdesk.net.networks import PRESETS, summarize

TIMEOUT_MS = 60_000


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    configure_pyqtgraph()
    made = []

    def make() -> MainWindow:
        window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False, personal_dir=tmp_path / "handwriting")
        qtbot.addWidget(window)
        window.resize(1024, 640)
        window.show()
        qtbot.waitExposed(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.training.shutdown()
        window.inspect.test_scorer.shutdown()


def in_the_editor(act) -> None:
    """Run ``act(editor)`` on the editor once it is open (it is modal)."""

    def find() -> None:
        editor = QApplication.activeModalWidget()
        if not isinstance(editor, NetworkEditor):
            QTimer.singleShot(20, find)
            return
        act(editor)

    QTimer.singleShot(0, find)


def choose_preset(editor: NetworkEditor, name: str) -> None:
    editor.preset.setCurrentIndex(editor.preset.findData(name))
    editor.preset.activated.emit(editor.preset.currentIndex())


def test_a_network_built_in_the_editor_trains_saves_and_reopens_editable(make_window, qtbot, tmp_path, tiny_npz):
    window = make_window()
    panel = window.training.panel
    train_tiny_dense(panel, tiny_npz)
    panel.epochs.setValue(1)

    def build(editor: NetworkEditor) -> None:
        choose_preset(editor, "lesson CNN")
        editor.name.setText("my lesson CNN")
        editor.layers.setCurrentRow(6)  # Dense 1000
        editor.settings_form.itemAt(0, editor.settings_form.ItemRole.FieldRole).widget().setValue(64)
        editor.ok_button.click()

    in_the_editor(build)
    panel.architecture.setCurrentIndex(panel.architecture.findData("edit…"))  # Network → Custom…
    assert panel.network_name() == "my lesson CNN" and panel.architecture.currentText() == "my lesson CNN"
    assert panel.chosen_network()["layers"][6]["units"] == 64
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    model, metadata = trained.args
    assert metadata["architecture"] == "my lesson CNN" and metadata["network"]["layers"][6]["units"] == 64
    assert model.count_params() == summarize(metadata["network"]).parameters
    assert "my lesson CNN (your network)" not in window.models.label.text()  # not saved yet: no path
    assert window.models.save_to(tmp_path / "mine.keras")
    assert "my lesson CNN (your network)" in window.models.label.text()

    fresh = make_window()  # another session, which has never seen the network... 
    fresh.settings.remove("train/networks")
    fresh.training.panel.custom_networks.clear()
    assert fresh.models.open(tmp_path / "mine.keras", wait_ms=10_000)
    assert fresh.training.panel.network_name() == "my lesson CNN", "the model's network reopens editable"
    assert fresh.training.panel.chosen_network()["layers"][6]["units"] == 64


def test_the_editor_explains_an_impossible_choice_and_keeps_use_off(qtbot):
    editor = NetworkEditor(PRESETS["lesson CNN"], 3600, 1.0)
    qtbot.addWidget(editor)
    assert editor.ok_button.isEnabled() and editor.problem.text() == ""
    editor.layers.setCurrentRow(2)  # Conv 64@2×2 on the 12×12 maps
    kernel = next(editor.settings_form.itemAt(row, editor.settings_form.ItemRole.FieldRole).widget() for row in range(editor.settings_form.rowCount()) if editor.settings_form.itemAt(row, editor.settings_form.ItemRole.LabelRole).widget().text() == "Kernel")
    kernel.setValue(13)
    assert not editor.ok_button.isEnabled()
    assert "a 13×13 kernel on a 12×12 map" in editor.problem.text() and "a 13×13 kernel" in editor.ok_button.toolTip()
    last = editor.summary.rowCount() - 1
    assert "13×13" in editor.summary.item(last, 0).toolTip(), "the reason sits on the row of the choice"
    kernel.setValue(2)
    assert editor.ok_button.isEnabled()
    while editor.network["layers"]:
        editor.remove_button.click()
    assert not editor.ok_button.isEnabled() and "no layer left" in editor.problem.text()


def test_the_editor_summary_is_the_one_keras_prints(qtbot):
    editor = NetworkEditor(PRESETS["small residual CNN"], 3600, 1.0)
    qtbot.addWidget(editor)
    summary = summarize(PRESETS["small residual CNN"])
    assert editor.summary.rowCount() == len(summary.rows)
    assert [editor.summary.item(row, 2).text() for row in range(editor.summary.rowCount())] == [f"{row.parameters:,}" for row in summary.rows]
    assert f"{summary.parameters:,} parameters" in editor.totals.text() and "one epoch of 3,600 digits" in editor.totals.text()


def test_custom_networks_are_remembered_by_name(make_window, qtbot):
    window = make_window()
    window.training.panel.add_custom_network({**PRESETS["textbook 784-50-100-10"], "name": "sigmoid one"})
    window.networks._save()
    window.training._save_options()
    window.settings.sync()  # as closing the window does: another QSettings reads the file
    again = make_window()
    panel = again.training.panel
    assert panel.network_name() == "lean", "at start the box shows the network of the model in use (the shipped lean)"
    assert panel.architecture.findData("custom:sigmoid one") >= 0, "the network is remembered in the box"
    assert panel.choose_network("sigmoid one") and panel.chosen_network()["input"] == "flat"


def test_show_as_keras_code_gives_the_chosen_network_with_the_panels_settings(make_window, qtbot, monkeypatch):
    window = make_window()
    shown = []
    monkeypatch.setattr(CodeDialog, "exec", lambda dialog: shown.append(dialog.code) or 0)
    window.training.panel.add_custom_network({**PRESETS["lesson CNN"], "name": "code test"})
    window.training.panel.epochs.setValue(7)
    window.training.panel.batch_size.setValue(64)
    window.networks.show_code()
    code = shown[0]
    assert "keras.datasets.mnist.load_data()" in code and "layers.Conv2D(32, 5, padding=\"valid\", activation=\"relu\")" in code
    assert "model.fit(x_train, y_train, batch_size=64, epochs=7, validation_split=0.1)" in code
    compile(code, "generated.py", "exec")  # valid Python


def test_the_editor_fits_a_1024_by_640_screen(make_window, qtbot):
    window = make_window()
    editor = NetworkEditor(PRESETS["small residual CNN"], 3600, 1.0, window)
    qtbot.addWidget(editor)
    editor.show()
    qtbot.waitExposed(editor)
    assert editor.width() <= 1024 and editor.height() <= 640
    assert editor.minimumSizeHint().width() <= 1024 and editor.minimumSizeHint().height() <= 640
    assert np.all([editor.summary.columnWidth(column) > 40 for column in range(4)])


def test_a_custom_networks_own_optimizer_and_rate_are_the_panels_defaults(make_window):
    panel = make_window().training.panel
    panel.add_custom_network({**PRESETS["textbook 784-50-100-10"], "name": "sgd at 0.1"})
    assert panel.optimizer.itemText(0) == "Default (sgd)" and panel.learning_rate.specialValueText() == "Default (0.1)"
    assert panel.effective_learning_rate() == 0.1, "a rate reset to Default mid-run must go back to the network's own"
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    assert panel.effective_learning_rate() == 0.001


def test_the_network_box_shows_the_network_of_the_model_opened(make_window, qtbot, tmp_path):
    """The box said "cnn" while the shipped lean model was in use: it shows what Continue trains."""
    from mnistdesk.net.models import build_model, save_model

    window = make_window()
    panel = window.training.panel
    panel.choose_network("cnn")
    save_model(build_model("dense"), tmp_path / "dense.keras", {"architecture": "dense", "dataset": "sample"})
    assert window.models.open(tmp_path / "dense.keras", wait_ms=10_000)
    assert panel.network_name() == "dense" and panel.architecture.currentText() == "dense"


def test_the_learning_rate_goes_back_to_default_by_clearing_it(make_window, qtbot):
    """Only typing 0 brought back "Default (…)": the adaptive steps never reach it."""
    from PySide6.QtCore import Qt

    panel = make_window().training.panel
    box = panel.learning_rate
    box.setValue(0.01)
    assert panel.chosen_learning_rate() == 0.01
    box.lineEdit().selectAll()
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Delete)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert panel.chosen_learning_rate() is None and box.text().startswith("Default")
    box.setValue(0.02)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "default")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert panel.chosen_learning_rate() is None
