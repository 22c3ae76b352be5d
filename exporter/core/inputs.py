"""Inputs for checks: generated from a signature with a fixed seed, or read from an .npz file.
Pure numpy: no TensorFlow import."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from exporter.core import dtypes, example
from exporter.core.model import Signature, TensorInfo
from exporter.errors import ModelError, UsageError

DEFAULT_BATCH = 2
DEFAULT_DIM = 4  # for unknown dimensions other than the first
# Generated integers lie in [0, INT_HIGH): safe for masks, ids and small tables; an input known
# to index a table (`TensorInfo.indexes`) takes any of its rows instead.
INT_HIGH = 2


def concrete_shape(info: TensorInfo, batch: int) -> tuple[int, ...]:
    if info.shape is None:
        raise UsageError(
            f"input '{info.key}' has unknown rank, so no inputs can be generated for it; "
            f"declare its shape with --shape {info.key}=DIMS (e.g. --shape {info.key}=-1,784) "
            "or give the inputs with --inputs FILE.npz"
        )
    return tuple(
        (batch if i == 0 else DEFAULT_DIM) if d < 0 else d for i, d in enumerate(info.shape)
    )


def generate(sig: Signature, batch: int = DEFAULT_BATCH, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = {}
    for info in sig.inputs:
        shape = concrete_shape(info, batch)
        dtype = dtypes.get(info.dtype)
        if info.example is not None:  # serialized tf.train.Example protos its parse op reads
            records = example.generate(info.example, int(np.prod(shape)), rng, INT_HIGH)
            flat = np.empty(len(records), dtype=object)
            flat[:] = records
            values[info.key] = flat.reshape(shape)
        elif dtype.kind == "string":
            words = rng.integers(0, 26, size=(int(np.prod(shape)), 5)) + ord("a")
            flat = np.array([bytes(w.astype(np.uint8)) for w in words], dtype=object)
            values[info.key] = flat.reshape(shape)
        elif dtype.kind == "bool":
            values[info.key] = rng.integers(0, 2, size=shape).astype(bool)
        elif dtype.kind == "int":
            high = info.indexes["rows"] if info.indexes else INT_HIGH
            values[info.key] = rng.integers(0, high, size=shape).astype(dtype.numpy)
        elif dtype.kind == "complex":
            parts = rng.standard_normal(size=(2, *shape))
            values[info.key] = (parts[0] + 1j * parts[1]).astype(dtype.numpy)
        else:
            values[info.key] = rng.standard_normal(size=shape).astype(dtype.numpy)
    return values


# An .npz member may expand to this much before its compression ratio is questioned...
NPZ_PLAIN_BYTES = 64 * 2**20
NPZ_MAX_RATIO = 100  # ...and beyond it, to at most this many times its compressed size


def read_arrays(path: Path) -> dict[str, np.ndarray] | np.ndarray:
    """An .npy file's array, or an .npz file's arrays by name. Never unpickles, and checks
    what each header claims against the bytes that are there before reading anything: a
    header that claims more elements than the file holds, or a compressed member that would
    expand beyond a bound, is refused with one line instead of exhausting memory."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [i.filename for i in archive.infolist()]
                arrays = {}
                for info in archive.infolist():
                    _check_member(path, info)
                    with archive.open(info) as member:
                        _check_header(path, member, info.file_size, info.filename)
                    name = info.filename.removesuffix(".npy")
                    with archive.open(info) as member:
                        arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                if not names:
                    raise ModelError(f"{path}: an empty .npz; it holds no arrays")
                return arrays
        with path.open("rb") as f:
            _check_header(path, f, path.stat().st_size, path.name)
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False)
    except ModelError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, MemoryError) as exc:
        raise ModelError(f"{path}: not a readable .npy/.npz of plain arrays ({exc})") from None


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    if info.file_size > NPZ_PLAIN_BYTES and info.file_size > NPZ_MAX_RATIO * max(
        info.compress_size, 1
    ):
        raise ModelError(
            f"{path}: member {info.filename} would expand from {info.compress_size} to "
            f"{info.file_size} bytes, beyond what tf2java reads from a compressed .npz; save "
            "it with np.savez (uncompressed)"
        )


def _check_header(path: Path, f, size: int, name: str) -> None:
    """The .npy header's dtype must be plain and its shape must fit the bytes there are."""
    version = np.lib.format.read_magic(f)
    shape, _, dtype = np.lib.format._read_array_header(f, version, max_header_size=10000)
    if dtype.hasobject:
        raise ModelError(
            f"{path}: {name} holds Python objects (a pickle); save strings as bytes "
            "(array.astype(bytes)) or numbers"
        )
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if needed > size:
        raise ModelError(
            f"{path}: {name} claims shape {tuple(shape)} of {dtype} ({needed} bytes), but the "
            f"file holds {size} bytes; it is truncated or forged"
        )


def load_npz(path: Path, sig: Signature, known: set[str] | None = None) -> dict[str, np.ndarray]:
    """Reads inputs keyed by the signature's input keys; never unpickles. An array whose key
    is no input of the signatures being checked (`known`, else `sig`'s) is an error: a typo
    would otherwise leave an input generated, or a check silently narrower."""
    arrays = read_arrays(path)
    if isinstance(arrays, np.ndarray):
        raise ModelError(f"{path}: one array (.npy); give an .npz keyed by input keys")
    known = known if known is not None else {t.key for t in sig.inputs}
    unknown = sorted(set(arrays) - known)
    if unknown:
        raise ModelError(
            f"{path}: array(s) {', '.join(unknown)} name no input of the model; its inputs: "
            f"{', '.join(sorted(known)) or 'none'}. Rename or remove them"
        )
    missing = [t.key for t in sig.inputs if t.key not in arrays]
    if missing:
        raise ModelError(
            f"{path}: no array for input(s) {', '.join(missing)}; "
            f"it holds {', '.join(sorted(arrays)) or 'nothing'}"
        )
    return {t.key: check_input(t, arrays[t.key], str(path)) for t in sig.inputs}


def check_input(info: TensorInfo, value: np.ndarray, where: str) -> np.ndarray:
    if info.dtype == "string":
        if value.dtype.kind not in "SUO":
            raise ModelError(f"{where}: input '{info.key}' must hold strings, got {value.dtype}")
        value = (
            np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])(value)
            if value.size
            else value.astype(object)
        )
    elif value.dtype != np.dtype(dtypes.get(info.dtype).numpy):
        raise ModelError(f"{where}: input '{info.key}' must be {info.dtype}, got {value.dtype}")
    if info.shape is not None:
        ok = len(value.shape) == len(info.shape) and all(
            d < 0 or d == v for d, v in zip(info.shape, value.shape)
        )
        if not ok:
            raise ModelError(
                f"{where}: input '{info.key}' must have shape "
                f"{format_shape(info.shape)}, got {format_shape(value.shape)}"
            )
    return value


def format_shape(shape) -> str:
    if shape is None:
        return "(unknown rank)"
    return "(" + ", ".join("?" if d < 0 else str(d) for d in shape) + ")"
