"""`tf2java inspect` and `tf2java run`: what a model needs to be fed and fetched, in any format,
and running it in Python TensorFlow like `saved_model_cli run`."""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exporter.core import dtypes
from exporter.core import manifest as manifest_mod
from exporter.core.fsutil import staged_dir
from exporter.core.inputs import check_input, format_shape, load_npz, read_arrays
from exporter.core.model import Signature
from exporter.errors import ModelError, UsageError

if TYPE_CHECKING:
    from exporter.sources import LoadOptions, Source

# TensorFlow comes with the loaders (exporter.sources, exporter.graph, exporter.checks.scan):
# they are imported where a model is read, so that `inspect OUT` of an export folder, which
# reads only its manifest, starts without it.


def inspect(src: Path, options: LoadOptions, show_all: bool = False) -> dict[str, Any]:
    """What `tf2java inspect` shows of `src` (any source format, read as `options` says, never
    staged): path, format, signatures, format details and notes; with `show_all`, every
    MetaGraph and its ops. Raises UsageError or ModelError when `src` cannot be read."""
    if manifest_mod.is_export_dir(src) and not show_all:
        return inspect_export(src)
    from exporter.graph.graphs import random_ops_behind
    from exporter.sources import LOADERS, load_source

    options.stage = False
    with tempfile.TemporaryDirectory() as work:
        source = load_source(src, options, Path(work))
        data: dict[str, Any] = {
            "path": str(src),
            "format": source.format,
            "signatures": [s.to_json() for s in source.signatures],
            "details": source.details,
        }
        notes = list(source.notes)
        if source.graph_def is not None:
            for sig in source.signatures:
                for key, ops in random_ops_behind(source.graph_def, sig).items():
                    notes.append(
                        f"signature '{sig.key}' output '{key}' depends on unseeded random op(s) "
                        f"{', '.join(ops)}: two runs differ, so export and parity compare its "
                        "dtype and shape only"
                    )
        if notes:
            data["notes"] = notes
        if show_all and LOADERS[source.format].meta_graphs:
            data["meta_graphs"] = _every_meta_graph(src)
    return data


def inspect_export(path: Path) -> dict[str, Any]:
    """`inspect` of a tf2java export folder, from its manifest (its files verified against
    their sha256), without TensorFlow: the signatures of its first artifact (the SavedModel's
    where there is one), and what the manifest says of the export."""
    manifest, sha = manifest_mod.read(path)
    manifest_mod.verify_files(path, manifest)
    formats = {art.format: art for art in manifest.artifacts}
    art = formats.get("savedmodel") or formats.get("frozen") or manifest.artifacts[0]
    data = {
        "path": str(path),
        "format": "export",
        "signatures": [s.to_json() for s in art.signatures],
        "details": manifest_mod.details(manifest, sha),
    }
    notes = [f"{a.path}: {note}" for a in manifest.artifacts for note in a.notes]
    if notes:
        data["notes"] = notes
    return data


def _every_meta_graph(src: Path) -> list[dict[str, Any]]:
    from exporter.graph.graphs import ops_of, read_meta_graphs, signatures_of

    return [
        {
            "tags": sorted(meta.meta_info_def.tags),
            "signatures": [s.to_json() for s in signatures_of(meta)],
            "ops": ops_of(meta.graph_def),
        }
        for meta in read_meta_graphs(src)
    ]


@dataclass
class InspectReport:
    """What `inspect` found: the data of `inspect()`."""

    data: dict[str, Any]
    ok = True

    def lines(self) -> list[str]:
        return inspect_lines(self.data)

    def to_json(self) -> dict[str, Any]:
        return self.data


@dataclass
class RunReport:
    """The outputs of one `run`, in the signature's order."""

    signature: Signature
    outputs: dict[str, np.ndarray]
    ok = True

    def lines(self) -> list[str]:
        out = []
        for key in [t.key for t in self.signature.outputs]:
            value = np.asarray(self.outputs[key])
            out.append(f"{key}: {value.dtype} {list(value.shape)}")
            out.append(np.array2string(value, threshold=200, precision=6))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "signature": self.signature.key,
            "outputs": {
                t.key: {
                    "dtype": t.dtype,
                    "shape": list(np.shape(self.outputs[t.key])),
                    "value": _jsonable(np.asarray(self.outputs[t.key])),
                }
                for t in self.signature.outputs
            },
        }


def _jsonable(value: np.ndarray):
    if value.dtype == object:  # strings: text where it decodes, else latin-1 as JSON can carry
        return np.vectorize(_text, otypes=[object])(value).tolist() if value.size else []
    if value.dtype.kind == "V":  # bfloat16
        return value.astype(np.float32).tolist()
    return value.tolist()


def _text(v) -> str:
    if isinstance(v, bytes):
        try:
            return v.decode()
        except UnicodeDecodeError:
            return v.decode("latin-1")
    return str(v)


def inspect_lines(data: dict[str, Any]) -> list[str]:
    """The lines `inspect` prints for the data `inspect()` returns."""
    out = [f"{data['path']}: {data['format']}"]
    for sig in data["signatures"]:
        out.extend(signature_lines(Signature.from_json(sig)))
    for key, value in data["details"].items():
        out.extend(_value_lines(key, value, "  "))
    for note in data.get("notes", []):
        out.append(f"note: {note}")
    for meta in data.get("meta_graphs", []):
        out.append(f"MetaGraph with tags {','.join(meta['tags'])}:")
        for sig in meta["signatures"]:
            out.extend("  " + line for line in signature_lines(Signature.from_json(sig)))
        out.append(f"  ops ({len(meta['ops'])}): {', '.join(meta['ops'])}")
    return out


def signature_lines(sig: Signature) -> list[str]:
    """One signature as lines: its key and method, then each input and output with dtype, shape,
    graph name and where its shape came from."""
    state = ", stateful: it assigns a variable" if sig.stateful else ""
    if sig.same_as:
        state += f", the same function as '{sig.same_as}'"
    method = f" ({sig.method_name}{state})" if sig.method_name or state else ""
    out = [f"signature '{sig.key}'{method}:"]
    for title, tensors in (("inputs", sig.inputs), ("outputs", sig.outputs)):
        out.append(f"  {title}:")
        for t in tensors:
            layer = f", Keras layer {t.keras_layer}" if t.keras_layer else ""
            shape_from = f" (shape from {t.shape_from})" if t.shape_from else ""
            out.append(
                f"    {t.key}: {t.dtype} {format_shape(t.shape)}{shape_from}, tensor "
                f"{t.name}:{t.index}{layer}"
            )
            if t.values_text:
                out.append(f"      {t.values_text}")
            if t.example is not None:
                dense = ", ".join(
                    f"{d['key']} {d['dtype']} {format_shape(tuple(d['shape']))}"
                    for d in t.example["dense"]
                )
                sparse = ", ".join(f"{d['key']} {d['dtype']}" for d in t.example["sparse"])
                out.append(
                    f"      serialized tf.train.Example: dense {dense or '-'}; "
                    f"sparse {sparse or '-'}"
                )
    return out


def _value_lines(key: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, dict):
        if not value:
            return [f"{indent}{key}: -"]
        out = [f"{indent}{key}:"]
        for k, v in value.items():
            out.extend(_value_lines(str(k), v, indent + "  "))
        return out
    if isinstance(value, list) and value and isinstance(value[0], dict):
        out = [f"{indent}{key}:"]
        out.extend(f"{indent}  " + ", ".join(f"{k}={v}" for k, v in item.items()) for item in value)
        return out
    if isinstance(value, list):
        return [f"{indent}{key}: {', '.join(map(str, value)) or '-'}"]
    return [f"{indent}{key}: {value}"]


def parse_inputs(
    specs: tuple[str, ...], json_specs: tuple[str, ...], sig: Signature
) -> dict[str, np.ndarray]:
    """`KEY=FILE.npy`, `KEY=FILE.npz:array` (comma-separated or repeated), `FILE.npz` keyed
    by input keys (as `export` and `parity` take it) and `KEY=JSON`. Files are read without
    unpickling; JSON is parsed as data only."""
    by_key = {t.key: t for t in sig.inputs}
    values: dict[str, np.ndarray] = {}
    for spec in (s for group in specs for s in group.split(",") if s):
        bracket = re.fullmatch(r"(.*)\[([^\]]+)\]", spec)
        if bracket:  # saved_model_cli's KEY=FILE.npz[ARRAY]
            path, array = bracket.groups()
            raise UsageError(f"--inputs {spec}: name the array after a colon: {path}:{array}")
        if "=" not in spec and spec.endswith(".npz"):
            values.update(load_npz(Path(spec), sig))
            continue
        key, _, ref = spec.partition("=")
        if key not in by_key or not ref:
            raise UsageError(
                f"--inputs {spec}: expected KEY=FILE with KEY one of {', '.join(by_key)}"
            )
        path, _, array = ref.rpartition(":") if ".npz:" in ref else (ref, "", "")
        values[key] = _read_array(Path(path), array, spec)
    for spec in json_specs:
        key, _, text = spec.partition("=")
        if key not in by_key:
            raise UsageError(f"--input-json {spec}: KEY must be one of {', '.join(by_key)}")
        values[key] = json_array(text, by_key[key].dtype, f"--input-json {key}")
    missing = [k for k in by_key if k not in values]
    if missing:
        raise UsageError(
            f"no value for input(s) {', '.join(missing)}; give them with --inputs or --input-json"
        )
    return {k: check_input(by_key[k], v, "--inputs") for k, v in values.items()}


def json_array(text: str, dtype: str, where: str) -> np.ndarray:
    """JSON data as an array of the input's dtype; parsed as data only, never evaluated.
    Deep, ragged, non-list or out-of-range data is one line (exit 3)."""
    if len(text) > 64 * 2**20:
        raise ModelError(f"{where}: {len(text)} characters of JSON; give large inputs as .npy")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ModelError(f"{where}: JSON nested too deep for a tensor") from None
    except ValueError as exc:
        raise ModelError(f"{where}: not valid JSON ({exc})") from None
    if isinstance(data, dict) or data is None:
        raise ModelError(f"{where}: a JSON {type(data).__name__}; give a number, string or list")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns on out-of-range conversions
            if dtype == "string":
                value = np.array(data, dtype=object)
                if value.dtype != object or any(isinstance(v, (list, dict)) for v in value.flat):
                    raise ValueError("ragged or nested data")
                return np.vectorize(lambda s: str(s).encode(), otypes=[object])(value)
            value = np.array(data, dtype=dtypes.get(dtype).numpy)
            if value.dtype.kind in "iu" and np.array(data).dtype.kind == "f":
                raise ValueError("fractional values for an integer input")
            return value
    except (ValueError, TypeError, OverflowError, RuntimeWarning, DeprecationWarning) as exc:
        raise ModelError(f"{where}: the JSON is not a {dtype} tensor ({exc})") from None


def _read_array(path: Path, array: str, spec: str) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"--inputs {spec}: no file {path}")
    loaded = read_arrays(path)
    if isinstance(loaded, np.ndarray):
        return loaded
    name = array or (next(iter(loaded)) if len(loaded) == 1 else "")
    if name not in loaded:
        raise UsageError(
            f"--inputs {spec}: name the array as FILE.npz:NAME; it holds {', '.join(loaded)}"
        )
    return loaded[name]


def run(
    src: Path,
    options: LoadOptions,
    signature: str | None,
    specs: tuple[str, ...],
    json_specs: tuple[str, ...],
    allow_side_effects: bool = False,
    echo=lambda s: None,
) -> tuple[Source, Signature, dict[str, np.ndarray]]:
    """Runs one signature of `src` (any format) on the given inputs, like `saved_model_cli
    run`: (the source, the signature, its outputs). Refuses a signature whose outputs need an
    unfed placeholder, and one that reaches outside the model unless `allow_side_effects`."""
    from exporter.checks.scan import require_consent, source_side_effects
    from exporter.graph.graphs import select_signature
    from exporter.sources import detect, load_source

    options.stage = False
    detect(src)
    with tempfile.TemporaryDirectory() as work:
        source = load_source(src, options, Path(work))
        if not source.signatures:
            source.run("", {})  # raises the format's own explanation (missing --input, ...)
        sig = select_signature(source.signatures, signature, str(src))
        source.require_runnable(sig)
        require_consent(
            source_side_effects(source, [sig]), allow_side_effects, echo, f"running {src}"
        )
        feed = parse_inputs(specs, json_specs, sig)
        return source, sig, source.run(sig.key, feed)


def save_outputs(outputs: dict[str, np.ndarray], outdir: Path, force: bool) -> list[Path]:
    """Writes each output as OUTDIR/KEY.npy (strings as bytes, never pickled) through a staged
    folder; returns the paths. Raises OutputExistsError when `outdir` exists and not
    `force`."""
    with staged_dir(outdir, force) as stage:
        names = []
        for key, value in outputs.items():
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".npy"
            if value.dtype == object:
                value = value.astype(bytes)
            np.save(stage / name, value)
            names.append(outdir / name)
    return names
