"""The epoch scrubber's store, without Qt: for each epoch of the current training run, the exact
weights the model had at its end, its validation probabilities and its metrics.

Memory stays bounded whatever the architecture and the number of epochs: the newest epochs are
kept in memory within :data:`MEMORY_BUDGET_BYTES`, older ones are spilled to ``.npz`` files in a
private temporary folder (read back with ``allow_pickle=False``), deleted when the run is
replaced or the app exits. Every epoch stays reachable, unless the spilled files outgrow
:data:`DISK_BUDGET_BYTES` (a few hundred epochs of the 3.2M-weight cnn): then every other spilled
epoch is dropped, the run's start, its first epoch and the newest kept. When an epoch cannot be
written (a full disk), it is dropped and counted (:attr:`EpochStore.lost`), for the window to say
so; the run's start, its first epoch and the newest stay in memory instead, over the budget.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistdesk.net.engine import Engine

#: The epochs kept in memory (the newest): well inside the scrubber's 200 MB and small beside the
#: window's own footprint, so a long run's memory stays flat (at 128 MB, 300 dense epochs grew the
#: window by 98 MB). Older epochs read back from disk as fast (the page cache): 15 ms a scrub.
MEMORY_BUDGET_BYTES = 24 << 20
#: The spilled epochs' files; past it they are thinned (a cnn epoch is 13 MB: ~150 epochs).
DISK_BUDGET_BYTES = 2 << 30
#: Epochs never thinned away nor dropped: the run's start and its first epoch.
KEPT_FIRST = 2
FOLDER_PREFIX = "mnistdesk-epochs-"


@dataclass(frozen=True)
class EpochState:
    """The model as it was at the end of ``epoch`` (the run's first epoch number: its start)."""

    epoch: int
    predictor: Engine
    probabilities: np.ndarray | None  # (N, classes) on the run's validation split, if it validated
    metrics: dict[str, float]  # the epoch's loss, accuracy, val_loss, val_accuracy, progress (epochs)

    def layer_weights(self) -> list[list[np.ndarray]]:
        """One list of arrays per layer, as Keras's ``layer.set_weights`` takes them."""
        return [list(spec.weights) for spec in self.predictor.specs]


@dataclass(frozen=True)
class ScrubPosition:
    """What the scrubber shows: the run's recorded epochs and the one on show."""

    epochs: tuple[int, ...] = ()  # oldest first; the first holds the run's start weights
    shown: int | None = None  # None: live (the newest weights, or the model in use)
    metrics: dict[str, float] = field(default_factory=dict)  # the shown epoch's
    training: bool = False  # a run is going on: the live model moves on without the view


@dataclass(eq=False)  # compared by identity
class _Entry:
    epoch: int
    metrics: dict[str, float]
    layer_sizes: tuple[int, ...]  # how many arrays each layer has
    nbytes: int
    arrays: list[np.ndarray] | None  # the layers' arrays in order, then the probabilities; None once spilled
    has_probabilities: bool
    path: Path | None = None  # the spilled file


class EpochStore:
    """Each recorded epoch's exact weights, validation probabilities and metrics; see the module
    docstring for how memory and disk stay bounded."""

    def __init__(self, memory_budget: int = MEMORY_BUDGET_BYTES, disk_budget: int = DISK_BUDGET_BYTES, parent: str | os.PathLike | None = None):
        self.memory_budget, self.disk_budget = memory_budget, disk_budget
        self.parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        self.entries: list[_Entry] = []
        self.template: Engine | None = None  # the run's architecture, to rebuild spilled epochs
        self.folder: Path | None = None
        self._remove_folder: weakref.finalize | None = None
        self.lost = 0  # epochs dropped because they could not be written to disk
        self.lost_because = ""  # why, as the system said it (e.g. "No space left on device")

    # -- recording -------------------------------------------------------------------------------
    def add(self, epoch: int, predictor: Engine, probabilities: np.ndarray | None, metrics: dict[str, Any]) -> None:
        """Keep ``predictor``'s weights as those at the end of ``epoch`` (replacing any kept for it)."""
        self._drop([entry for entry in self.entries if entry.epoch == epoch])
        self.template = predictor
        arrays = [w for spec in predictor.specs for w in spec.weights] + ([probabilities] if probabilities is not None else [])
        self.entries.append(
            _Entry(
                epoch,
                {key: float(value) for key, value in metrics.items() if isinstance(value, (int, float)) and not isinstance(value, bool)},
                tuple(len(spec.weights) for spec in predictor.specs),
                sum(np.asarray(a).nbytes for a in arrays),
                arrays,
                probabilities is not None,
            )
        )
        self.entries.sort(key=lambda entry: entry.epoch)
        self._spill_to_budget()

    def clear(self) -> None:
        """Forget every epoch and delete the spilled files (a new run, or another model opened)."""
        self.entries, self.template = [], None
        self.lost, self.lost_because = 0, ""
        if self._remove_folder is not None:
            self._remove_folder()
        self.folder = self._remove_folder = None

    # -- reading ---------------------------------------------------------------------------------
    def epochs(self) -> tuple[int, ...]:
        return tuple(entry.epoch for entry in self.entries)

    def get(self, epoch: int) -> EpochState:
        """The model at the end of ``epoch``, read back from disk if it was spilled (KeyError if not kept)."""
        entry = next((entry for entry in self.entries if entry.epoch == epoch), None)
        if entry is None or self.template is None:
            raise KeyError(epoch)
        arrays = entry.arrays if entry.arrays is not None else self._read(entry)
        weights, at = [], 0
        for size in entry.layer_sizes:
            weights.append(arrays[at : at + size])
            at += size
        return EpochState(epoch, self.template.with_weights(weights), arrays[at] if entry.has_probabilities else None, dict(entry.metrics))

    def metrics(self, epoch: int) -> dict[str, float]:
        """``epoch``'s metrics without reading its weights back (empty if it is not kept)."""
        return next((dict(entry.metrics) for entry in self.entries if entry.epoch == epoch), {})

    @property
    def memory_bytes(self) -> int:
        return sum(entry.nbytes for entry in self.entries if entry.arrays is not None)

    @property
    def disk_bytes(self) -> int:
        return sum(entry.nbytes for entry in self.entries if entry.path is not None)

    # -- spilling and thinning -------------------------------------------------------------------
    def keep_until(self, epoch: int) -> None:
        """Forget the epochs after ``epoch``: an earlier epoch became the model in use, the run ends there."""
        self._drop([entry for entry in self.entries if entry.epoch > epoch])

    def _spill_to_budget(self) -> None:
        in_memory = [entry for entry in self.entries if entry.arrays is not None]
        while in_memory and self.memory_bytes > self.memory_budget:
            entry = in_memory.pop(0)  # the oldest
            try:
                self._write(entry)
            except OSError as error:  # a full or unwritable disk: the promised epochs stay in memory, others go
                if entry not in self.entries[:KEPT_FIRST] and entry is not self.entries[-1]:
                    self._drop([entry])
                    self.lost += 1
                    self.lost_because = error.strerror or str(error)
        while self.disk_bytes > self.disk_budget and self._thin_spilled():
            pass

    def _thin_spilled(self) -> bool:
        """Drop every other spilled epoch, keeping the run's first ones and the newest spilled
        (an even overview of the run); False when there was none to drop."""
        spilled = [entry for entry in self.entries if entry.path is not None]
        dropped = spilled[KEPT_FIRST:-1:2]
        self._drop(dropped)
        return bool(dropped)

    def _drop(self, dropped: list[_Entry]) -> None:
        for entry in dropped:
            if entry.path is not None:
                entry.path.unlink(missing_ok=True)
        self.entries = [entry for entry in self.entries if entry not in dropped]

    def _write(self, entry: _Entry) -> None:
        if self.folder is None:
            remove_abandoned_folders(self.parent)
            self.folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=self.parent))
            self._remove_folder = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)  # also at exit
        path = self.folder / f"epoch-{entry.epoch}.npz"
        try:
            with open(path, "wb") as stream:
                np.savez(stream, *entry.arrays)
        except OSError:
            path.unlink(missing_ok=True)
            raise
        entry.arrays, entry.path = None, path

    def _read(self, entry: _Entry) -> list[np.ndarray]:
        with np.load(entry.path, allow_pickle=False) as archive:
            return [archive[f"arr_{i}"] for i in range(len(archive.files))]


def remove_abandoned_folders(parent: Path) -> None:
    """Delete the spill folders of mnistdesk processes that ended without cleaning up (a crash)."""
    for folder in parent.glob(f"{FOLDER_PREFIX}*"):
        pid = folder.name[len(FOLDER_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def epoch_metadata(metadata: dict[str, Any], epoch: int, metrics: dict[str, float]) -> dict[str, Any]:
    """The metadata of a run's model put back to the end of ``epoch``: the epoch recorded, the
    history cut there, the validation scores that epoch's; the test scores, measured on the
    run's final weights, no longer apply and are left out."""
    history = metadata.get("history") if isinstance(metadata.get("history"), dict) else {}
    kept = {key: value for key, value in metadata.items() if not key.startswith(("test_", "validation_accuracy", "validation_loss"))}
    validation = {f"validation_{key[4:]}": metrics[key] for key in ("val_accuracy", "val_loss") if key in metrics}
    return {**kept, "epoch": epoch, "history": {key: list(values[:epoch]) for key, values in history.items()}, **validation}
