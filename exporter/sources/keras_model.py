"""Keras sources: a v3 `.keras` file, a whole-model HDF5 `.h5`, and a weights-only `.h5`
(legacy `save_weights` or `.weights.h5`) given with its architecture (`--architecture
model.json|model.keras`, `--by-name` for partial loading). `--custom-objects module.path`
imports a module whose public names the loader may deserialize."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import os
import re
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from exporter.core.tfproto import init_ops
from exporter.errors import ModelError, UsageError, first_line
from exporter.graph.graphs import select_meta_graph, signatures_of
from exporter.sources import Loader, LoadOptions, Source, register
from exporter.sources.keras_code import carried_code, refuse_carried


def custom_objects(module_path: str | None) -> dict[str, object]:
    """The classes and functions of the module at `module_path` that Keras may deserialize ({} for
    None). Raises UsageError when it cannot be imported."""
    if not module_path:
        return {}
    if os.getcwd() not in sys.path:  # as `python -m` would: modules beside the user come first
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise UsageError(f"--custom-objects {module_path}: cannot import it ({exc})") from exc
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    return {
        n: getattr(module, n)
        for n in names
        if inspect.isclass(getattr(module, n)) or inspect.isfunction(getattr(module, n))
    }


def h5_kind(path: Path) -> str:
    """'model' (whole model), 'weights' (weights only), or 'other'."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "model_config" in f.attrs:
                return "model"
            if "layer_names" in f.attrs or "model_weights" in f or "layers" in f or "vars" in f:
                return "weights"
    except OSError:
        return "other"
    return "other"


def written_by(path: Path) -> str | None:
    """The Keras version that wrote a .keras, .h5 or architecture .json file, as the file says
    it (None: it does not say, as Keras 1 and early Keras 2 files do not)."""
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as zf:
                version = json.loads(zf.read("metadata.json")).get("keras_version")
        elif path.suffix == ".json":
            version = json.loads(path.read_text()).get("keras_version")
        else:
            import h5py

            with h5py.File(path, "r") as f:
                version = f.attrs.get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, AttributeError):
        return None
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    return str(version) if version else None


def keras_2(path: Path) -> bool:
    """Whether Keras 2 (or 1) wrote the file: tf_keras reads it as it was written."""
    version = written_by(path)
    if path.suffix == ".keras" or (version or "").startswith("3"):
        return False
    if version is None and path.suffix == ".json":  # Keras 3's to_json names no version,
        try:  # but each object's module
            return "module" not in json.loads(path.read_text())
        except (OSError, ValueError):
            return False
    return True


def load_keras_model(path: Path, options: LoadOptions):
    """The Keras model of a .keras or .h5 file (an .h5 of weights with `options.architecture`),
    compile=False: with tf_keras (Keras 2) for a file Keras 2 wrote, or one Keras 3 cannot
    read, else with Keras 3. Raises UsageError (architecture missing or misplaced, or code the
    file carries that the user did not trust) or ModelError naming what Keras refused."""
    objects = custom_objects(options.custom_objects)
    refuse_carried(path, carried_code(path, objects), options.trust_code)
    if path.suffix in (".h5", ".hdf5") and h5_kind(path) == "weights":
        if options.architecture is None:
            raise UsageError(
                f"{path}: holds weights only, no model; give the architecture with "
                "--architecture model.json|model.keras"
            )
        model = _architecture(options.architecture, objects, options.trust_code)
        try:
            if options.by_name:
                model.load_weights(path, by_name=True, skip_mismatch=False)
            else:
                model.load_weights(path)
        except Exception as exc:  # shape and layer-count mismatches
            raise ModelError(
                f"{path}: the weights do not fit {options.architecture} ({first_line(exc)}); "
                "--by-name loads the layers whose names match"
            ) from exc
        return model
    if options.architecture is not None:
        raise UsageError(f"{path}: --architecture goes with a weights-only .h5 file")
    if keras_2(path):
        return _load_legacy(path, objects, options.trust_code)
    import keras

    try:
        with _safe_mode(options.trust_code):
            return keras.models.load_model(
                path, compile=False, custom_objects=objects, safe_mode=not options.trust_code
            )
    except Exception as exc:  # zip, json and deserialization errors alike
        if path.suffix != ".keras" and tf_keras_available():
            try:  # an .h5 that Keras 3 cannot read: Keras 2 may
                return _load_legacy(path, objects, options.trust_code)
            except ModelError:
                pass
        raise ModelError(
            f"{path}: cannot load the Keras model ({first_line(exc)}){_hint(exc)}"
        ) from exc


def tf_keras_available() -> bool:
    return importlib.util.find_spec("tf_keras") is not None


def _load_legacy(path: Path, objects: dict[str, object], trusted: bool):
    """A Keras 2 file, read by tf_keras as Keras 2 wrote it (input shapes included)."""
    if not tf_keras_available():
        raise ModelError(
            f"{path}: written by Keras {written_by(path) or '2 or older'}, which tf_keras reads; "
            "install it (`make setup` does: pip install --no-deps tf_keras, see pyproject.toml)"
        )
    import tf_keras

    try:
        if path.suffix == ".json":
            return tf_keras.models.model_from_json(path.read_text(), custom_objects=objects)
        return tf_keras.models.load_model(
            path, compile=False, custom_objects=objects, safe_mode=not trusted
        )
    except Exception as exc:  # h5py, json and deserialization errors alike
        raise ModelError(
            f"{path}: cannot load the Keras 2 model with tf_keras ({first_line(exc)}){_hint(exc)}"
        ) from exc


_UNKNOWN = re.compile(r"(?:Could not locate (?:class|function)|Unknown \w+:?) '?([\w.>]+)'?")


def _hint(exc: Exception) -> str:
    """The fix for a class or function Keras could not find: --custom-objects, unless the
    name is built into Keras 3 or Keras 2 (then the file is of the other Keras)."""
    match = _UNKNOWN.search(str(exc))
    if not match:
        return ""
    name = match.group(1).split(">")[-1].split(".")[-1]
    if _built_in(name):
        return f"; '{name}' is built into Keras: the file may be of another Keras version"
    return f"; '{name}' is a custom layer or function? name its module with --custom-objects"


def _built_in(name: str) -> bool:
    import keras

    families = [keras.layers, keras.models, keras.activations, keras.initializers]
    if tf_keras_available():
        import tf_keras

        families += [tf_keras.layers, tf_keras.models, tf_keras.activations]
    return any(hasattr(f, name) for f in families)


def _safe_mode(trusted: bool):
    """Keras' safe mode for everything it deserializes, the legacy HDF5 path included (which
    otherwise runs a Lambda's bytecode whatever `load_model` is told)."""
    from keras.src.saving.serialization_lib import SafeModeScope

    return SafeModeScope(not trusted)


def _architecture(path: Path, objects: dict[str, object], trusted: bool):
    import keras

    if not path.is_file():
        raise UsageError(f"--architecture {path}: no such file")
    refuse_carried(path, carried_code(path, objects), trusted)
    if keras_2(path):
        return _load_legacy(path, objects, trusted)
    try:
        with _safe_mode(trusted):
            if path.suffix == ".json":
                return keras.models.model_from_json(path.read_text(), custom_objects=objects)
            return keras.models.load_model(
                path, compile=False, custom_objects=objects, safe_mode=not trusted
            )
    except Exception as exc:
        raise ModelError(
            f"--architecture {path}: cannot build the model ({first_line(exc)})"
        ) from exc


def h5_weights(path: Path) -> list[dict]:
    """Layer name and weight shapes of a weights-only .h5, read without a model."""
    import h5py

    rows = []
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        names = [
            n.decode() if isinstance(n, bytes) else n for n in root.attrs.get("layer_names", [])
        ]
        for name in names or list(root.keys()):
            rows.append({"layer": name, "weights": _weight_shapes(root[name])})
    return rows


def _weight_shapes(group) -> list[list[int]]:
    shapes: list[list[int]] = []
    group.visititems(
        lambda _, obj: shapes.append(list(obj.shape)) if hasattr(obj, "shape") else None
    )
    return shapes


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    """Loads a Keras file into a Source whose SavedModel (each weight once) is staged in `workdir`;
    outputs carry the Keras layer that made them."""
    if (
        not options.stage
        and options.architecture is None
        and path.suffix in (".h5", ".hdf5")
        and h5_kind(path) == "weights"
    ):  # inspect: describe the weights; anything more needs the architecture

        def needs_architecture(key, feed):
            load_keras_model(path, options)

        details = {"weights_only": True, "layers": h5_weights(path)}
        return Source(path, "h5", [], needs_architecture, None, details=details)
    model = load_keras_model(path, options)
    staged = workdir / "keras_saved_model"
    export_saved_model(model, staged)
    meta = select_meta_graph(staged, ["serve"])
    layers = _output_layers(model)
    signatures = [
        replace(s, outputs=tuple(replace(t, keras_layer=layers.get(t.key)) for t in s.outputs))
        for s in signatures_of(meta)
    ]

    def run(key: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sig = next(s for s in signatures if s.key == key)
        if len(sig.inputs) == 1:
            feed = inputs[sig.inputs[0].key]
        else:  # a functional model matches a dict to its inputs by name
            feed = {t.key: inputs[t.key] for t in sig.inputs}
        outputs = model(feed, training=False)
        if isinstance(outputs, dict):
            return {k: np.asarray(v) for k, v in outputs.items()}
        return {f"output_{i}": np.asarray(v) for i, v in enumerate(tf.nest.flatten(outputs))}

    fmt = "keras" if path.suffix == ".keras" else "h5"
    details = {
        "layers": [
            {"name": layer.name, "class": type(layer).__name__, "params": int(layer.count_params())}
            for layer in model.layers
        ],
        "inputs": [f"{t.name} {tuple(t.shape)} {t.dtype}" for t in model.inputs],
        "outputs": [f"{t.name} {tuple(t.shape)} {t.dtype}" for t in model.outputs],
        "weights_only": fmt == "h5" and h5_kind(path) == "weights",
        "keras": {"read_by": read_by(model), "written_by": written_by(path)},
    }
    return Source(
        path=path,
        format=fmt,
        signatures=signatures,
        run=run,
        saved_model_dir=staged,
        details=details,
        graph_def=meta.graph_def,
        init_ops=init_ops(meta),
    )


def read_by(model) -> str:
    """Which Keras holds the model: 'keras 3.8.0' or 'tf_keras 2.18.0'."""
    package = type(model).__module__.split(".")[0]
    return f"{package} {importlib.import_module(package).__version__}"


def export_saved_model(model, path: Path) -> None:
    """A SavedModel of the model's forward pass, `serving_default` with outputs output_0,
    output_1, ... whichever Keras holds it."""
    if type(model).__module__.startswith("tf_keras"):
        _export_tf_keras(model, path)
    else:
        _export_keras_3(model, path)


def _export_tf_keras(model, path: Path) -> None:
    """A Keras 2 model's forward pass, with the inputs as the file declared them."""
    specs = [tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in model.inputs]

    @tf.function(input_signature=specs)
    def serve(*inputs):
        outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
        return {f"output_{i}": v for i, v in enumerate(tf.nest.flatten(outputs))}

    module = tf.Module()
    module.model, module.serve = model, serve
    tf.saved_model.save(module, str(path), signatures={"serving_default": serve})


def _export_keras_3(model, path: Path) -> None:
    """What `model.export(path, format="tf_saved_model")` writes, with each weight once.

    On the TensorFlow backend, Keras tracks its Variable wrappers under `variables` while the
    `serve` endpoint captures the tf.Variables inside them: two trackables per weight, so the
    checkpoint stores every weight twice and every loader restores both, in Python, TensorFlow
    Serving and TensorFlow Java alike (keras-team/keras#23553). Tracking the tf.Variables
    themselves lets the checkpoint's object graph keep one of each."""
    import keras
    from keras.src.export.export_utils import get_input_signature

    archive = keras.export.ExportArchive()
    archive.track_and_add_endpoint("serve", model, get_input_signature(model))
    tracked = archive._tf_trackable
    for name in ("variables", "trainable_variables", "non_trainable_variables"):
        setattr(tracked, name, [_backing(v) for v in getattr(tracked, name)])
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the endpoints it wrote
        archive.write_out(str(path), verbose=False)


def _backing(variable):
    """The tf.Variable a Keras Variable keeps its value in (itself when it is one)."""
    inner = getattr(variable, "_value", None)
    return inner if isinstance(inner, tf.Variable) else variable


def _output_layers(model) -> dict[str, str]:
    """Signature output key -> the Keras layer that produced it (model.export names list
    outputs output_0, output_1, ...)."""
    try:
        histories = [t._keras_history for t in model.outputs]
        names = [getattr(h, "operation", None) or h.layer for h in histories]  # Keras 3, 2
        names = [n.name for n in names]
    except (AttributeError, TypeError):
        return {}
    return {f"output_{i}": name for i, name in enumerate(names)}


def is_keras(path: Path) -> bool:
    """Whether `path` is a Keras v3 .keras file."""
    return path.is_file() and path.suffix == ".keras"


def is_h5(path: Path) -> bool:
    """Whether `path` is a Keras HDF5 .h5 file."""
    return path.is_file() and path.suffix in (".h5", ".hdf5")


register(Loader("keras", "a Keras v3 .keras file", is_keras, load))
register(
    Loader("h5", "a Keras HDF5 .h5 file (whole model, or weights with --architecture)", is_h5, load)
)
