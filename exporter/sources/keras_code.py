"""What a Keras file carries that would run as Python when Keras opened it, found by reading the
file itself, before Keras (or tf_keras) sees it: pickled arrays in an `.npz`, Lambda layers
holding marshaled bytecode, config entries that name a function or class outside Keras (Keras
imports whatever module a config names), and archive entries that repeat or point outside the
archive. A model file is untrusted input: loaders refuse such a file unless the user passes
--trust-model-code, and `scan` lists what it found without opening the model in Keras."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from exporter.core.report import Record
from exporter.errors import ModelError, UsageError

TRUST_FLAG = "--trust-model-code"

# Modules of Keras' own functions a config may name (activations, losses, ...): anything else
# a config names as a function is code the file chooses to run.
_FUNCTION_MODULES = re.compile(
    r"^keras(\.src)?\.(activations|losses|metrics|initializers|regularizers|constraints|ops)"
    r"(\.|$)"
)
_BUILTIN_FAMILIES = (
    "activations",
    "losses",
    "metrics",
    "initializers",
    "regularizers",
    "constraints",
)


@dataclass(frozen=True)
class Carried(Record):
    """One thing a model file carries that would run as code: where it is, and what it is."""

    kind: str  # bytecode | pickle | import | archive
    where: str
    what: str
    category: str = "model code"

    def line(self) -> str:
        return f"[{self.category}] {self.where}: {self.what}"


def carried_code(path: Path, custom: Iterable[str] = ()) -> list[Carried]:
    """Everything in the Keras file at `path` (a `.keras` archive, an HDF5 `.h5`, or an
    architecture `.json`) that would run as code when Keras opened it. `custom`: the names the
    user's --custom-objects module provides, which Keras takes from there instead. Raises
    ModelError for a file that cannot be read as what its name says."""
    custom = frozenset(custom)
    if path.suffix == ".keras":
        return list(_archive(path, custom))
    if path.suffix == ".json":
        return list(_config(_json(path.read_bytes(), str(path)), "config", custom))
    if path.suffix in (".h5", ".hdf5"):
        return list(_h5(path, custom))
    return []


def refuse_carried(path: Path, found: list[Carried], trusted: bool) -> None:
    """Stops before Keras opens `path` when it carries code and the user did not trust it."""
    if not found or trusted:
        return
    listed = "; ".join(f"{c.where}: {c.what}" for c in found[:3])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    raise UsageError(
        f"{path}: the file carries code that would run when it is opened ({listed}{more}); "
        f"nothing was run. Look with `tf2java scan`, and pass {TRUST_FLAG} only for a file "
        "you trust"
    )


def _json(data: bytes, where: str):
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{where}: not a Keras config ({exc})") from exc


# --- the .keras archive ------------------------------------------------------------------------


def _archive(path: Path, custom: frozenset[str]) -> Iterator[Carried]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{path}: not a Keras archive ({exc})") from exc
    with zf:
        seen: set[str] = set()
        for info in zf.infolist():
            name = info.filename
            if name in seen:
                yield Carried("archive", name, "the archive holds this entry twice")
            seen.add(name)
            if _escapes(name):
                yield Carried("archive", name, "the entry's name points outside the archive")
        for info in zf.infolist():
            if info.filename.endswith(".npz") and not _escapes(info.filename):
                with zf.open(info) as member:
                    yield from _npz(member, info.filename)
            elif info.filename.endswith(".npy") and not _escapes(info.filename):
                with zf.open(info) as member:
                    yield from _npy(member, info.filename)
        if "config.json" not in seen:
            raise ModelError(f"{path}: not a Keras archive (no config.json)")
        config = _json(zf.read("config.json"), f"{path}: config.json")
        config.pop("compile_config", None)  # not read: tf2java loads with compile=False
        yield from _config(config, "config.json", custom)


def _escapes(name: str) -> bool:
    """Whether an archive entry's name is absolute or climbs out of the archive."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name:
        return True
    return ".." in PurePosixPath(name).parts


def _npz(member, where: str) -> Iterator[Carried]:
    try:
        inner = zipfile.ZipFile(member)
    except zipfile.BadZipFile:
        yield Carried("pickle", where, "not an npz archive: numpy would read it as a pickle")
        return
    with inner:
        found = []
        for info in inner.infolist():
            with inner.open(info) as array:
                found.extend(_npy(array, f"{where}/{info.filename}"))
    if len(found) > 1:
        names = ", ".join(c.where.removeprefix(f"{where}/") for c in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        found = [
            Carried(
                "pickle",
                where,
                f"{len(found)} pickled arrays ({names}{more}): unpickling runs code",
            )
        ]
    yield from found


def _npy(stream, where: str) -> Iterator[Carried]:
    """A pickled array: object dtype in the `.npy` header (or no header: numpy unpickles)."""
    try:
        version = np.lib.format.read_magic(stream)
        reader = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if reader is None:
            raise ValueError(f"unknown .npy version {version}")
        _, _, dtype = reader(stream)
    except ValueError:
        yield Carried("pickle", where, "not an .npy array: numpy would read it as a pickle")
        return
    if dtype.hasobject:
        yield Carried("pickle", where, "a pickled array (object dtype): unpickling runs code")


# --- HDF5 --------------------------------------------------------------------------------------


def _h5(path: Path, custom: frozenset[str]) -> Iterator[Carried]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as exc:
        raise ModelError(f"{path}: not an HDF5 file ({exc})") from exc
    if raw is None:  # weights only: arrays, no code
        return
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    yield from _config(_json(str(raw).encode(), f"{path}: model_config"), "model_config", custom)


# --- configs -----------------------------------------------------------------------------------


def _config(node, where: str, custom: frozenset[str]) -> Iterator[Carried]:
    """Walks a Keras config (v3 or legacy Keras 2) for code: lambdas, and names Keras would
    import from outside itself."""
    if isinstance(node, list):
        for item in node:
            yield from _config(item, where, custom)
        return
    if not isinstance(node, dict):
        return
    if "class_name" in node:
        where = _label(node, where)
        found = _entry(node, custom)
        if found is not None:
            yield Carried(found[0], where, found[1])
        if node["class_name"] == "Lambda" and isinstance(node.get("config"), dict):
            yield from _legacy_lambda(node["config"], where)
    for value in node.values():
        yield from _config(value, where, custom)


def _label(node: dict, where: str) -> str:
    """Where a config entry is, for a layer or a model: by its name."""
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    module = node.get("module")
    layer = module is None or (isinstance(module, str) and re.search(r"layers|models", module))
    if not isinstance(name, str) or not layer:
        return where
    return f"{'Lambda layer' if node['class_name'] == 'Lambda' else 'layer'} '{name}'"


def _entry(node: dict, custom: frozenset[str]) -> tuple[str, str] | None:
    """(kind, what) when Keras would run code of the file's choosing to deserialize `node`."""
    class_name = node.get("class_name")
    if class_name == "__lambda__":
        return "bytecode", "holds marshaled Python bytecode (a lambda), which Keras would run"
    if not isinstance(class_name, str) or "module" not in node or node["module"] is None:
        return None  # resolved by Keras' registry and the user's custom objects only
    module = node["module"]
    if class_name == "function":
        name = node.get("config")
    elif class_name == "__typespec__":
        name = node.get("spec_name")
    else:
        name = class_name
    if not isinstance(module, str) or not isinstance(name, str):
        return "import", f"names an object Keras cannot check ({module!r}, {name!r})"
    if name in custom or node.get("registered_name") in custom:
        return None  # Keras takes it from the user's --custom-objects module
    if class_name == "function":
        if _FUNCTION_MODULES.match(module) or (module == "builtins" and _builtin(name)):
            return None
        what = f"names the function {module}.{name}, which Keras would import and call"
    elif module == "keras" or module.startswith("keras."):
        return None  # a class of Keras' own
    else:
        what = f"names the class {module}.{name}, which Keras would import and build"
    if module not in ("builtins", "__main__") and not module.startswith("keras"):
        what += f" (your own code? give its module with --custom-objects {module})"
    return "import", what


def _builtin(name: str) -> bool:
    """Whether Keras finds `name` among its built-in functions (activations, losses, ...)."""
    import keras

    return any(callable(getattr(getattr(keras, f), name, None)) for f in _BUILTIN_FAMILIES)


def _legacy_lambda(config: dict, where: str) -> Iterator[Carried]:
    """Keras 2 wrote a Lambda's function as [base64 bytecode, defaults, closure]."""
    for key, kind_key in (("function", "function_type"), ("output_shape", "output_shape_type")):
        value = config.get(key)
        if isinstance(value, list) and (config.get(kind_key) in (None, "lambda")):
            if value and isinstance(value[0], str):
                yield Carried(
                    "bytecode",
                    where,
                    f"its {key} is marshaled Python bytecode, which must not run from a file "
                    "you do not trust",
                )
