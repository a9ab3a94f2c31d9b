"""The networks the learner builds: the editor behind *Network → Custom…* and *Edit…*, the
custom networks remembered by name (settings), the one a reopened model was built with, and
*Training → Show as Keras code*. The Train panel's Network box holds them; this decides."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QDialog, QWidget

from mnistdesk import __version__
from mnistdesk.gui.network_editor import CodeDialog, NetworkEditor
from mnistdesk.gui.training_panels import TrainPanel
from mnistdesk.net.models import ARCHITECTURES
from mnistdesk.net.networks import BUILT_IN_NETWORKS, keras_code, machine_speed, read_description

SETTINGS_KEY = "train/networks"
#: Training digits of each built-in dataset, for the editor's estimate of one epoch.
TRAIN_DIGITS = {"sample": 4000, "pen": 27470, "sample+pen": 31470, "mnist": 60000, "fashion_mnist": 60000}


class NetworkController(QObject):
    """Edits, remembers and shows as code the networks of the Train panel's Network box."""

    message = Signal(str)

    def __init__(self, window: QWidget, settings: QSettings, panel: TrainPanel):
        super().__init__(window)
        self.window, self.settings, self.panel = window, settings, panel
        self._speed: float | None = None
        panel.edit_network_requested.connect(self.edit)
        self._restore()
        chosen = settings.value("train/architecture")
        if isinstance(chosen, str) and chosen not in ARCHITECTURES:
            panel.choose_network(chosen)  # the Train panel restored only the built-in ones

    def current_description(self) -> dict[str, Any]:
        """The chosen network as a description: a custom one, or a built-in one's equivalent."""
        return self.panel.chosen_network() or BUILT_IN_NETWORKS[self.panel.network_name()]

    def edit(self) -> bool:
        """The editor on the chosen network (a built-in one starts a copy named "my …")."""
        start = self.current_description()
        if self.panel.chosen_network() is None:
            start = {**start, "name": f"my {start['name']}"}
        if self._speed is None:
            self._speed = machine_speed()  # a few milliseconds, once
        editor = NetworkEditor(start, self._training_digits(), self._speed, self.window)
        if editor.exec() != QDialog.DialogCode.Accepted:
            return False
        description = editor.description()
        self.panel.add_custom_network(description)
        self._save()
        self.message.emit(f"Network {description['name']} chosen: Train new builds it")
        return True

    def show_code(self) -> None:
        """The chosen network, with the panel's settings, as a Keras script to copy or save."""
        panel = self.panel
        description = dict(self.current_description())
        if panel.chosen_optimizer():
            description.update(optimizer=panel.chosen_optimizer(), learning_rate=panel.chosen_learning_rate())
        elif panel.chosen_learning_rate():
            description["learning_rate"] = panel.chosen_learning_rate()
        code = keras_code(description, panel.epochs.value(), panel.batch_size.value(), panel.validation_fraction(), str(panel.dataset.currentData()), panel.augment.isChecked(), __version__)
        dialog = CodeDialog(f"{description['name']} as Keras code", code, f"{description['name'].replace(' ', '_')}.py", self.window)
        dialog.saved.connect(lambda path: self.message.emit(f"Saved the Keras script as {path}"))
        dialog.exec()

    def adopt(self, metadata: dict) -> None:
        """A model built in the editor was opened: its network joins the Network box, editable."""
        if "network" not in metadata:
            return
        try:
            description = read_description(json.dumps(metadata["network"]), "its network")
        except ValueError as error:
            self.message.emit(f"The model's network cannot be edited: {error}")
            return
        if description["name"] in ARCHITECTURES:
            return
        self.panel.add_custom_network(description)
        self._save()

    def _training_digits(self) -> int:
        digits = TRAIN_DIGITS.get(str(self.panel.dataset.currentData()), 4000)
        return round(digits * (1 - self.panel.validation_fraction()))

    # -- settings --------------------------------------------------------------------------------
    def _save(self) -> None:
        self.settings.setValue(SETTINGS_KEY, json.dumps(list(self.panel.custom_networks.values())))

    def _restore(self) -> None:
        """The networks remembered from earlier sessions; one a hand-edited file broke is left out."""
        raw = self.settings.value(SETTINGS_KEY)
        try:
            stored = json.loads(raw) if isinstance(raw, str) and len(raw) <= 1 << 20 else []
        except (ValueError, RecursionError):
            stored = []
        for item in stored if isinstance(stored, list) else []:
            try:
                description = read_description(json.dumps(item), "a remembered network")
            except ValueError:
                continue
            if description["name"] not in ARCHITECTURES:
                self.panel.add_custom_network(description, select=False)
