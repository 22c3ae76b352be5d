"""One loader per source format, each behind the same `Loader` record in one registry. A
loader turns its source into a `Source`: signatures, a way to run the source as it was given,
and (for every format a model can be exported from) a SavedModel on disk that the writers
start from: the source itself, or one staged from it."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import message as protobuf_message
from tensorflow.python.framework import op_def_registry

from exporter.core.model import Signature
from exporter.core.tables import register_once
from exporter.errors import ModelError, UsageError, first_line
from exporter.graph.graphs import ops_of

Runner = Callable[[str, dict[str, np.ndarray]], dict[str, np.ndarray]]
# What TensorFlow and protobuf raise about a model they cannot load or run.
LIBRARY_ERRORS = (tf.errors.OpError, protobuf_message.Error)


@dataclass
class LoadOptions:
    """What a source may need besides its path; each loader reads the fields it knows."""

    tags: list[str] = field(default_factory=lambda: ["serve"])
    inputs: dict[str, str] = field(default_factory=dict)  # signature key -> tensor name
    outputs: dict[str, str] = field(default_factory=dict)
    step: int | None = None  # checkpoint step
    architecture: Path | None = None  # for weights-only .h5
    by_name: bool = False
    custom_objects: str | None = None  # a module whose names Keras may deserialize
    trust_code: bool = False  # run code the model file carries (Lambda bytecode, pickles)
    op_libraries: list[Path] = field(default_factory=list)  # custom op libraries to load first
    stage: bool = True  # False: only describe and run the source (inspect, run), no SavedModel
    version: int | None = None  # TensorFlow Serving layout: the numbered version to load
    pins: dict[str, str] = field(default_factory=dict)  # placeholder -> value text (--set)


@dataclass
class Source:
    """A model as a loader read it: its signatures, a way to run it as it was given, and the
    SavedModel on disk the writers start from (None for a format nothing is exported from)."""

    path: Path
    format: str
    signatures: list[Signature]
    run: Runner
    saved_model_dir: Path | None  # None: nothing can be exported from this format
    tags: list[str] = field(default_factory=lambda: ["serve"])
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # what `inspect` shows beyond signatures
    pinned: dict = field(default_factory=dict)  # placeholders made constants, with their values
    name: str | None = None  # the model's name when the path does not say it (a version folder)
    unfed: dict[str, list[str]] = field(default_factory=dict)  # signature -> unfed placeholders
    broken: dict[str, str] = field(default_factory=dict)  # signature -> why it cannot run
    # The graph running the source executes (None where there is none to read: TFLite), and
    # the ops that run when it loads.
    graph_def: object | None = None
    init_ops: list[str] = field(default_factory=list)

    def require_runnable(self, sig: Signature) -> None:
        """Refuses, before anything runs, a signature that cannot run as the model stands."""
        where = f"{self.path}: signature '{sig.key}'"
        if sig.key in self.broken:
            raise ModelError(f"{where} {self.broken[sig.key]}; export another signature")
        if sig.key in self.unfed:
            raise UsageError(unfed_message(where, self.unfed[sig.key]))

    def release(self) -> None:
        """Lets go of what running the source holds (a loaded model, a session), so that the
        memory is there for the export; `run` refuses afterwards."""
        self.run = _released
        gc.collect()  # loaded models sit in reference cycles


def _released(key: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    raise RuntimeError("the source was released; load it again to run it")


def unfed_message(where: str, placeholders: list[str]) -> str:
    """The one line that names placeholders a signature needs but does not feed, and the fix."""
    return (
        f"{where}: the outputs depend on placeholder(s) {', '.join(placeholders)} that are not "
        "inputs; pin each to a value with --set NAME=VALUE (dropout: keep_prob=1.0, "
        "is_training=false) or make it an input"
    )


@dataclass(frozen=True)
class Loader:
    """One source format: how to recognise it (`detect`) and load it into a `Source`.
    `graph(path, tags)`, where the format is a graph on disk, reads the GraphDef that `scan`,
    `ops` and the op check look at without loading the model; `own_saver` says whether that
    graph carries a saver of its own (a checkpoint's, a SavedModel's), whose Save/Restore ops
    are not the model's. `meta_graphs`: the source holds MetaGraphs that `inspect --all` lists."""

    format: str
    description: str
    detect: Callable[[Path], bool]
    load: Callable[[Path, LoadOptions, Path], Source]
    graph: Callable[[Path, list[str]], object] | None = None
    own_saver: bool = True
    meta_graphs: bool = False


LOADERS: dict[str, Loader] = {}


def register(loader: Loader) -> Loader:
    """Adds a loader; a format is registered once."""
    return register_once(LOADERS, loader.format, loader, "source")


def detect(path: Path) -> Loader:
    """The loader whose format `path` is, tried in registration order. Raises UsageError when
    `path` does not exist, ModelError when no loader knows it."""
    for loader in LOADERS.values():  # a checkpoint prefix names files that share it
        if loader.detect(path):
            return loader
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    known = "; ".join(f"{x.format} ({x.description})" for x in LOADERS.values())
    raise ModelError(f"{path}: not a model tf2java can read; expected one of: {known}")


def load_source(path: Path, options: LoadOptions | list[str], workdir: Path) -> Source:
    """Detects the format of `path` and loads it; `workdir` is scratch space for staging.
    A list of tags may stand for the options."""
    if isinstance(options, list):
        options = LoadOptions(tags=options)
    loader = detect(path)
    load_op_libraries(options.op_libraries)
    require_registered(path, loader, options.tags)
    try:
        source = loader.load(path, options, workdir)
    except (ModelError, *LIBRARY_ERRORS) as exc:
        missing = _UNREGISTERED.findall(f"{exc} {exc.__cause__ or ''}")
        if missing:
            raise ModelError(_custom_ops_line(path, missing)) from exc
        if isinstance(exc, ModelError):
            raise
        raise ModelError(f"{path}: TensorFlow cannot load it: {first_line(exc)}") from exc
    source.run = guarded(source.run, str(path))
    return source


_UNREGISTERED = re.compile(r"Op type not registered '([^']+)'")


def load_op_libraries(libraries: list[Path]) -> None:
    """Loads custom op libraries (.so) into this process's TensorFlow."""
    for library in libraries:
        try:
            tf.load_op_library(str(library))
        except Exception as exc:  # NotFoundError and friends: a missing or wrong file
            raise ModelError(f"--op-library {library}: cannot load it ({first_line(exc)})") from exc


def require_registered(path: Path, loader: Loader, tags: list[str]) -> None:
    """Refuses, before TensorFlow loads anything, a graph with ops this TensorFlow does not
    register (custom ops), naming them all; `tf2java ops` lists them against Java's too."""
    if loader.graph is None:
        return
    try:
        graph_def = loader.graph(path, tags)
    except (ModelError, UsageError, *LIBRARY_ERRORS):
        return  # the load says what is wrong with the file, in its own words
    missing = [op for op in ops_of(graph_def) if op_def_registry.get(op) is None]
    if missing:
        raise ModelError(_custom_ops_line(path, missing))


def _custom_ops_line(path: Path, missing: list[str]) -> str:
    """One line naming the ops this TensorFlow does not register, and the fix."""
    ops = set(missing)
    return (
        f"{path}: uses op(s) {', '.join(sorted(ops))} that this TensorFlow does not register: "
        "custom ops (TensorFlow Text, Decision Forests...); load their library with "
        "--op-library PATH.so"
    )


def guarded(run: Runner, where: str) -> Runner:
    """`run`, with what TensorFlow or protobuf raise while running the model turned into a
    ModelError naming `where` and the signature."""

    def run_guarded(key: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return run(key, inputs)
        except LIBRARY_ERRORS as exc:
            raise ModelError(f"{where}: signature '{key}' failed: {first_line(exc)}") from exc
        except UnicodeDecodeError as exc:  # TensorFlow's message quoted binary input
            raise ModelError(
                f"{where}: signature '{key}' failed on its inputs with a message quoting binary "
                "strings (serialized protos?); numpy's fixed-width bytes ('S') drop their "
                "trailing NUL bytes: keep them whole, or give tf.Example records as a TFRecord"
            ) from exc

    return run_guarded


# The loaders register themselves on import, in the order detection tries them.
from exporter.sources import (  # noqa: E402, F401
    checkpoint,
    export_dir,
    graphdef,
    keras_model,
    saved_model,
    tflite,
)
