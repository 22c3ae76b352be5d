"""One loader per source format. Each turns a source into a `Source`: a SavedModel on disk
(the source itself, or one staged from it) plus a way to run the source as it was given."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from exporter.errors import ModelError, UsageError
from exporter.graphs import select_meta_graph, signatures_of
from exporter.model import Signature


@dataclass
class Source:
    path: Path
    format: str
    saved_model_dir: Path
    tags: list[str]
    signatures: list[Signature]
    run: Callable[[str, dict[str, np.ndarray]], dict[str, np.ndarray]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Loader:
    format: str
    description: str
    detect: Callable[[Path], bool]
    load: Callable[[Path, list[str], Path], Source]


LOADERS: dict[str, Loader] = {}


def register(loader: Loader) -> Loader:
    LOADERS[loader.format] = loader
    return loader


def load_source(path: Path, tags: list[str], workdir: Path) -> Source:
    """Detects the format of `path` and loads it; `workdir` is scratch space for staging."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    for loader in LOADERS.values():
        if loader.detect(path):
            return loader.load(path, tags, workdir)
    known = "; ".join(f"{x.format} ({x.description})" for x in LOADERS.values())
    raise ModelError(f"{path}: not a model tf2java can read; expected one of: {known}")


def _run_signature(saved_model_dir: Path, tags: list[str]):
    cache: dict[str, object] = {}

    def run(key: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "model" not in cache:
            cache["model"] = tf.saved_model.load(str(saved_model_dir), tags=tags)
        fn = cache["model"].signatures[key]
        outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    return run


# --- SavedModel (TF2 tf.saved_model.save, Keras model.export) -------------------------------


def _is_saved_model(path: Path) -> bool:
    return path.is_dir() and (
        (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()
    )


def _load_saved_model(path: Path, tags: list[str], workdir: Path) -> Source:
    meta = select_meta_graph(path, tags)
    return Source(
        path=path,
        format="savedmodel",
        saved_model_dir=path,
        tags=tags,
        signatures=signatures_of(meta),
        run=_run_signature(path, tags),
    )


register(
    Loader("savedmodel", "a directory with saved_model.pb", _is_saved_model, _load_saved_model)
)


# --- Keras v3 (.keras) ------------------------------------------------------------------------


def _is_keras(path: Path) -> bool:
    return path.is_file() and path.suffix == ".keras"


def _load_keras(path: Path, tags: list[str], workdir: Path) -> Source:
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # zip, json and deserialization errors alike
        raise ModelError(f"{path}: cannot load the Keras model ({exc})") from exc
    staged = workdir / "keras_saved_model"
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the endpoints it wrote
        model.export(str(staged), format="tf_saved_model", verbose=False)
    meta = select_meta_graph(staged, ["serve"])
    layers = _keras_output_layers(model)
    signatures = [
        Signature(
            s.key,
            s.method_name,
            s.inputs,
            tuple(_with_layer(t, layers.get(t.key)) for t in s.outputs),
        )
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
        flat = tf.nest.flatten(outputs)
        return {f"output_{i}": np.asarray(v) for i, v in enumerate(flat)}

    return Source(
        path=path,
        format="keras",
        saved_model_dir=staged,
        tags=["serve"],
        signatures=signatures,
        run=run,
    )


def _keras_output_layers(model) -> dict[str, str]:
    """Signature output key -> the Keras layer that produced it (model.export names list
    outputs output_0, output_1, ...)."""
    try:
        names = [t._keras_history.operation.name for t in model.outputs]
    except (AttributeError, TypeError):
        return {}
    return {f"output_{i}": name for i, name in enumerate(names)}


def _with_layer(info, layer):
    from dataclasses import replace

    return replace(info, keras_layer=layer) if layer else info


register(Loader("keras", "a Keras v3 .keras file", _is_keras, _load_keras))
