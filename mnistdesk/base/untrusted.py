"""Guards for files from anywhere (models, datasets, images). No Qt, no TensorFlow.

Every reader of an untrusted file goes through these before it parses anything big: a path is
classified before it is opened (a directory, a FIFO or an unreadable folder gets its real name,
never a traceback), and every size a file *declares* — a zip member's unpacked size, an HDF5
dataset's shape, a ``.npy`` header — is checked against a cap before a byte of it is read, so
no file can make a load cost more than a few hundred MB or a few seconds.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import zipfile
from collections.abc import Iterable
from typing import IO, Any

import numpy as np

#: ``config.json`` of a ``.keras`` model (ours are ~5 KB; a big Functional model's ~0.5 MB).
MAX_CONFIG_BYTES = 4 << 20
#: ``mnistdesk.json``, the metadata mnistdesk stores in a model (a 500-epoch history is ~50 KB).
MAX_METADATA_BYTES = 4 << 20
#: All weight arrays a model declares (the ``cnn`` model with its optimizer state is ~38 MB).
MAX_WEIGHT_BYTES = 256 << 20
#: Arrays (datasets) an HDF5 weights file may hold; a real model has a few dozen.
MAX_WEIGHT_ARRAYS = 10_000
#: The four arrays of a dataset ``.npz`` together (MNIST is 55 MB; this is ~680,000 digits).
MAX_DATASET_BYTES = 512 << 20
#: Entries in a zip archive (a model or a dataset has 4): zipfile parses its whole directory
#: into memory when it opens an archive, ~0.5 KB per entry.
MAX_ZIP_ENTRIES = 1000
#: Pixels of an image after decoding (JPEGs are decoded at up to 1/8 scale first).
MAX_IMAGE_PIXELS = 40_000_000


class FileRefused(Exception):
    """A file is unreadable, or declares more than a cap allows; the message is the reason
    (without the file's name, which the caller adds)."""


def file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a regular file, in words; ``None`` when it can.

    ``Path.is_file()`` raises on a name over 255 bytes or a folder that cannot be entered, and
    says "no such file" for a directory or a FIFO; this names the real reason instead.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except NotADirectoryError:
        return "no such file (a part of its path is a file, not a folder)"
    except PermissionError:
        return "permission denied (a folder on its path cannot be entered)"
    except ValueError:
        return "not a valid file name (it contains a null byte)"
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            return "the name is too long for the file system (over 255 bytes in one part)"
        return f"cannot be read ({error.strerror or error})"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a pipe, socket or device)"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def terminal_text(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (ESC and its colour, title and
    cursor sequences, CR, LF, BEL…) shown as escapes like ``\\x1b``, never acted on. A file name
    may hold any of them."""
    return "".join(character if character.isprintable() else character.encode("unicode_escape").decode("ascii") for character in text)


def format_bytes(count: float) -> str:
    """``1.5 GiB``, ``300 MiB``, ``12 KiB``: sizes in messages."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "bytes" or count >= 10 else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def check_zip_directory(path: str | os.PathLike) -> None:
    """Refuse a zip archive whose directory lists more than :data:`MAX_ZIP_ENTRIES` entries,
    reading only its end record — before ``zipfile`` parses the directory."""
    with open(path, "rb") as stream:
        end = zipfile._EndRecData(stream)  # the standard library's own reader of that record
    if end is None:
        raise FileRefused("not a zip archive")
    if end[zipfile._ECD_ENTRIES_TOTAL] > MAX_ZIP_ENTRIES:
        raise FileRefused(f"refused: the archive lists {end[zipfile._ECD_ENTRIES_TOTAL]} entries, over the limit of {MAX_ZIP_ENTRIES}")


def read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A zip member's bytes, refused if it declares (or turns out to unpack to) more than ``limit``.

    Raises ``KeyError`` when the member is missing, as ``ZipFile.read`` does.
    """
    info = archive.getinfo(name)
    check_size(name, info.file_size, limit, "unpacks to")
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    check_size(name, len(data), limit, "unpacks to")
    return data


def check_size(what: str, size: int, limit: int, verb: str = "is") -> None:
    """Refuse ``what`` when its (declared) ``size`` exceeds ``limit``."""
    if size > limit:
        raise FileRefused(f"refused: {what} {verb} {format_bytes(size)}, over the limit of {format_bytes(limit)}")


def array_bytes(shape: Iterable[int], dtype: np.dtype) -> int:
    """Bytes an array of ``shape`` and ``dtype`` needs (Python ints: no overflow)."""
    return math.prod(int(side) for side in shape) * np.dtype(dtype).itemsize


def check_npz_members(archive: zipfile.ZipFile, names: Iterable[str], limit: int = MAX_DATASET_BYTES) -> None:
    """Read only the ``.npy`` headers of ``names`` (members of an ``.npz``) and refuse the file if
    the arrays they declare would need more than ``limit`` bytes together, hold Python objects, or
    claim more data than the archive holds — before ``np.load`` allocates anything."""
    total = 0
    for name in names:
        info = archive.getinfo(f"{name}.npy")
        with archive.open(info) as stream:
            shape, dtype = _npy_header(stream, name)
        if dtype.hasobject:
            raise FileRefused(f"{name} holds Python objects, which are never loaded; store plain numeric arrays")
        size = array_bytes(shape, dtype)
        total += size
        check_size(f"the arrays ({', '.join(str(side) for side in shape)} in {name})", total, limit, "need")
        if size > info.file_size:
            raise FileRefused(f"{name} declares shape {shape} ({format_bytes(size)}) but the file holds less; it is damaged")


def _npy_header(stream: IO[bytes], name: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(stream)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(stream)
    except (ValueError, OSError, EOFError) as error:
        raise FileRefused(f"{name} is not a readable .npy array ({error})") from None
    return tuple(shape), np.dtype(dtype)


#: Names (links) an HDF5 weights file may hold: its arrays and the groups above them (a Keras
#: file has about two per array).
MAX_HDF5_LINKS = 4 * MAX_WEIGHT_ARRAYS
#: How deep groups may nest in an HDF5 weights file: Keras puts a weight 3 to 6 deep, a few more
#: in a model inside a model. HDF5's own walks recurse: 5,000 nested groups took 40 s, 20,000
#: crashed the process.
MAX_HDF5_DEPTH = 64
OUTSIDE_REFUSED = "mnistdesk reads only what the model file itself holds"


def check_hdf5_arrays(weights: Any, limit: int = MAX_WEIGHT_BYTES) -> None:
    """Refuse an open ``h5py.File`` whose datasets declare more than ``limit`` bytes together (or
    more than :data:`MAX_WEIGHT_ARRAYS` of them), or that reaches outside itself: an external
    link (h5py follows one into another file when the data is read: a 1.6 KB file elsewhere
    declared 8 GB, another link pointed at /etc/passwd), a soft link (it can lead to one, or
    loop), data kept in other files; or names an object twice (counted once, read twice). Keras
    writes none of these. Reads names and shapes only, never the data, and follows no link;
    walks the file itself, a group at a time, within :data:`MAX_HDF5_LINKS` and
    :data:`MAX_HDF5_DEPTH`."""
    import h5py

    total, arrays, names = 0, 0, 0
    if h5py.h5o.get_info(weights.id).rc > 1:
        raise FileRefused("refused: the weights file's root group has more than one name (a hard link loop); Keras never writes that")
    pending = [("", weights, iter(_hdf5_links(weights)))]  # a group, its path and its links still to see, down to the one being read
    while pending:
        prefix, group, links = pending[-1]
        link = next(links, None)
        if link is None:
            pending.pop()
            continue
        name, kind = link
        path = prefix + name.decode("utf-8", "replace")
        names += 1
        if names > MAX_HDF5_LINKS:
            raise FileRefused(f"refused: the weights file holds over {MAX_HDF5_LINKS} names (arrays and groups)")
        if kind == h5py.h5l.TYPE_EXTERNAL:
            raise FileRefused(f"refused: {_shown(path)} in the weights file is a link to another file; {OUTSIDE_REFUSED}")
        if kind != h5py.h5l.TYPE_HARD:
            what = "a soft link" if kind == h5py.h5l.TYPE_SOFT else f"a link of type {kind}"
            raise FileRefused(f"refused: {_shown(path)} in the weights file is {what}, which can lead outside the file or loop; Keras never writes one")
        item = group[name]
        if h5py.h5o.get_info(item.id).rc > 1:
            raise FileRefused(f"refused: {_shown(path)} in the weights file has more than one name (a hard link), so it would be read more than once; Keras never writes that")
        if isinstance(item, h5py.Group):
            if len(pending) >= MAX_HDF5_DEPTH:
                raise FileRefused(f"refused: the weights file nests groups over {MAX_HDF5_DEPTH} deep")
            pending.append((path + "/", item, iter(_hdf5_links(item))))
        elif isinstance(item, h5py.Dataset):
            arrays += 1
            if arrays > MAX_WEIGHT_ARRAYS:
                raise FileRefused(f"refused: the weights file holds over {MAX_WEIGHT_ARRAYS} arrays")
            if item.external or item.is_virtual:
                raise FileRefused(f"refused: weight {_shown(path)} keeps its data in other files; {OUTSIDE_REFUSED}")
            if item.dtype.kind not in "biuf":
                raise FileRefused(f"refused: weight {path} is not numeric ({item.dtype})")
            total += array_bytes(item.shape or (), item.dtype)
            check_size(f"the weights (with {path} of shape {item.shape})", total, limit, "declare")


def _hdf5_links(group: Any) -> list[tuple[bytes, int]]:
    """The names in one HDF5 group and their link types, in name order, without following any;
    at most :data:`MAX_HDF5_LINKS` + 1 (the caller refuses more)."""
    found: list[tuple[bytes, int]] = []
    # An exception raised in this callback would not come out of HDF5 whole: a true result stops the walk instead.
    group.id.links.iterate(lambda name, info: found.append((name, info.type)) or len(found) > MAX_HDF5_LINKS, info=True)
    return found


def _shown(path: str) -> str:
    """An HDF5 path for a message: at most 80 characters."""
    return path if len(path) <= 80 else path[:77] + "…"


def check_declared_layers(config: Any, limit: int = MAX_WEIGHT_BYTES) -> None:
    """Refuse a Keras ``config.json`` whose layers declare more weights than ``limit`` bytes:
    Keras allocates a layer's weights from its config before it reads the weights file, so a
    ``Dense(10**6)`` in a tiny file would cost gigabytes. Estimates the big layer kinds
    (dense, convolution, embedding) from ``units``/``filters``/``kernel_size``/``input_dim``
    and the ``build_config`` input shape Keras saves with each layer."""
    parameters = 0
    for layer in _layer_configs(config):
        settings, built = layer["config"], layer.get("build_config") or {}
        shape = built.get("input_shape") if isinstance(built, dict) else None
        inputs = shape[-1] if isinstance(shape, list) and shape and isinstance(shape[-1], int) else 1
        kernel = settings.get("kernel_size", 1)
        cells = math.prod(kernel) if isinstance(kernel, list) and all(isinstance(k, int) for k in kernel) else kernel
        for width in (settings.get("units"), settings.get("filters")):
            if isinstance(width, int) and isinstance(cells, int):
                parameters += abs(width) * abs(inputs) * abs(cells)
        if isinstance(settings.get("input_dim"), int) and isinstance(settings.get("output_dim"), int):
            parameters += abs(settings["input_dim"]) * abs(settings["output_dim"])
    check_size("the layers in config.json", parameters * 4, limit, "declare")


CODE_REFUSED = "refused: the model contains Python code (e.g. a Lambda layer), which mnistdesk never runs from a file"


def check_code_free(config: Any) -> None:
    """Refuse a Keras config holding Python code (a Lambda layer, a function serialized as
    bytecode) or classes from outside Keras (custom layers need their author's code)."""
    for layer in _layer_configs(config):
        module, registered = layer.get("module"), layer.get("registered_name")
        if layer["class_name"] in ("Lambda", "TFOpLambda", "SlicingOpLambda") or "function" in layer["config"] and layer["class_name"] != "function":
            raise FileRefused(CODE_REFUSED)
        if isinstance(module, str) and not module.startswith("keras") or isinstance(registered, str) and registered.split(">")[0] not in ("keras", "function") and registered != layer["class_name"]:
            raise FileRefused(f"refused: layer {layer['class_name']!r} is a custom class from {module or registered!r}; mnistdesk loads only Keras's own layers (custom ones need their author's Python code)")


def _layer_configs(node: Any, depth: int = 0) -> Iterable[dict]:
    """Every ``{"class_name": …, "config": {…}}`` in a Keras config, nested models included."""
    if depth > 64:
        raise FileRefused("refused: config.json is nested too deeply")
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str) and isinstance(node.get("config"), dict):
            yield node
        for value in node.values():
            yield from _layer_configs(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _layer_configs(value, depth + 1)
