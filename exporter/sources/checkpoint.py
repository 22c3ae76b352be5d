"""TF1 checkpoint sources: a prefix (`model.ckpt-16329`) or a directory whose `checkpoint`
state file names the latest (`--step N` picks another). The graph comes from the prefix's
`.meta`; `--input`/`--output` name the feeds and fetches.

A `.meta` whose collection_def lists no variables (written with export_meta_graph and an
empty collection list, or stripped) restores nothing through tf.train.Saver: the graph still
holds the variable nodes, but no Python Variable objects are rebuilt from it. tf2java then
restores each variable node from the checkpoint's own index by name, and says so."""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from exporter.errors import ModelError, UsageError
from exporter.sources import Loader, LoadOptions, Source, register, tf1

_VARIABLE_OPS = {"VariableV2", "Variable", "VarHandleOp"}
EMPTY_COLLECTIONS_NOTE = (
    "the .meta graph lists no variables in its collection_def, so tf.train.Saver would "
    "restore nothing from it; tf2java restored each variable node from the checkpoint's own "
    "index by name instead, and exports the weights as constants (variables/ stays empty)"
)


def is_checkpoint(path: Path) -> bool:
    """Whether `path` is a TF1 checkpoint: its prefix, one of its files, or a folder with a
    `checkpoint` file."""
    if path.is_dir():
        return (path / "checkpoint").is_file()
    return Path(f"{path}.index").is_file() or path.suffix in (".meta", ".index")


def state(directory: Path) -> tuple[str, list[str]]:
    """(latest prefix, every prefix) from a `checkpoint` state file; paths in it may come
    from another machine, so they are taken relative to this directory."""
    text = (directory / "checkpoint").read_text()
    latest = re.search(r'^model_checkpoint_path:\s*"(.*)"', text, re.M)
    every = re.findall(r'^all_model_checkpoint_paths:\s*"(.*)"', text, re.M)
    if latest is None:
        raise ModelError(f"{directory / 'checkpoint'}: no model_checkpoint_path line")
    local = [str(directory / Path(p).name) for p in every or [latest.group(1)]]
    return str(directory / Path(latest.group(1)).name), list(dict.fromkeys(local))


def prefix_of(path: Path, step: int | None) -> tuple[str, list[str]]:
    """The checkpoint prefix `path` names (the `step` one, else the latest) and every prefix there.
    Raises UsageError for a missing step."""
    if path.is_dir():
        latest, every = state(path)
        if step is None:
            return latest, every
        chosen = [p for p in every if p.endswith(f"-{step}")]
        if not chosen:
            steps = ", ".join(p.rsplit("-", 1)[-1] for p in every)
            raise UsageError(f"{path}: no checkpoint of step {step}; steps: {steps}")
        return chosen[0], every
    prefix = str(path)
    for suffix in (".meta", ".index"):
        prefix = prefix.removesuffix(suffix)
    prefix = re.sub(r"\.data-\d+-of-\d+$", "", prefix)
    return prefix, [prefix]


def diagnose(meta: meta_graph_pb2.MetaGraphDef) -> dict:
    """What `inspect` says of a checkpoint's MetaGraph: its collections, whether they list
    the variables, whether it has a saver, and its variable nodes."""
    collections = sorted(meta.collection_def)
    variables = [c for c in collections if c in ("variables", "trainable_variables")]
    return {
        "collections": collections,
        "lists_variables": bool(variables),
        "has_saver": meta.HasField("saver_def"),
        "variable_nodes": sorted(n.name for n in meta.graph_def.node if n.op in _VARIABLE_OPS),
    }


def describe(prefix: str, every: list[str], meta: meta_graph_pb2.MetaGraphDef | None) -> dict:
    """The details `inspect` shows of a checkpoint: prefix, every checkpoint listed,
    variables with shape and dtype, global step, and its MetaGraph's facts (`diagnose`)."""
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    details = {
        "checkpoint": prefix,
        "all_checkpoints": [
            p if Path(f"{p}.index").is_file() else f"{p} (listed, but its files are missing)"
            for p in every
        ],
        "variables": [
            {"name": n, "shape": list(shapes[n]), "dtype": dtypes[n].name} for n in sorted(shapes)
        ],
        "global_step": int(reader.get_tensor("global_step")) if "global_step" in shapes else None,
    }
    if meta is not None:
        details["meta"] = diagnose(meta)
    return details


def read_meta(path: Path, step: int | None = None) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef of a checkpoint (its `.meta`)."""
    prefix, _ = prefix_of(path, step)
    meta_path = Path(f"{prefix}.meta")
    if not meta_path.is_file():
        raise ModelError(f"{prefix}: no .meta graph beside the checkpoint")
    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString(meta_path.read_bytes())
    return meta


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    """Loads a TF1 checkpoint (`--input`/`--output` name the feeds and fetches when its MetaGraph
    has no signature) into a Source whose SavedModel is staged in `workdir`. Raises
    UsageError (missing feeds or fetches, unfed placeholders) or ModelError."""
    prefix, every = prefix_of(path, options.step)
    if not Path(f"{prefix}.index").is_file():
        raise ModelError(f"{prefix}: no {Path(prefix).name}.index beside it; not a checkpoint")
    data = sorted(Path(prefix).parent.glob(f"{Path(prefix).name}.data-*"))
    if not data:
        raise ModelError(f"{prefix}: its .data-*-of-* shard is missing")
    meta_path = Path(f"{prefix}.meta")
    meta = None
    if meta_path.is_file():
        meta = meta_graph_pb2.MetaGraphDef()
        meta.ParseFromString(meta_path.read_bytes())
    details = describe(prefix, every, meta)
    if meta is None:
        if options.stage:
            raise ModelError(
                f"{prefix}: no .meta graph beside the checkpoint; a checkpoint holds only "
                "weights: rebuild the model in Python and export it, or keep the .meta"
            )
        return Source(path, "checkpoint", [], _no_graph(prefix), None, details=details)
    if not (options.inputs and options.outputs):
        if options.stage:
            tf1.require_io(options, meta.graph_def, str(meta_path))
        return Source(
            path, "checkpoint", [], _no_io(options, meta, meta_path), None, details=details
        )

    notes, pinned = tf1.prepare(meta.graph_def, options, str(meta_path))
    tf1.prune_collections(meta)
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        sess = tf.compat.v1.Session(graph=graph)
        diagnosis = details["meta"]
        if saver is not None and diagnosis["lists_variables"]:
            saver.restore(sess, prefix)
        else:
            _restore_by_index(sess, prefix)
            notes.append(EMPTY_COLLECTIONS_NOTE)
        frozen_weights = EMPTY_COLLECTIONS_NOTE in notes
        inputs = tf1.resolve(graph, options.inputs, "input")
        outputs = tf1.resolve(graph, options.outputs, "output")
        sig = tf1.signature("serving_default", inputs, outputs)
        staged = None
        if options.stage:
            staged = workdir / "checkpoint_saved_model"
            if frozen_weights:  # nothing to hand SavedModelBuilder's Saver: freeze them in
                staged = _frozen_saved_model(sess, inputs, outputs, staged, options.tags)
            else:
                tf1.build_saved_model(sess, inputs, outputs, staged, options.tags)
    return Source(
        path,
        "checkpoint",
        [sig],
        tf1.session_runner(sess, sig),
        staged,
        tags=list(options.tags),
        notes=notes,
        details=details,
        pinned=pinned,
        graph_def=meta.graph_def,
    )


def _restore_by_index(sess: tf.compat.v1.Session, prefix: str) -> None:
    """Assigns every variable node of the graph its value from the checkpoint, by name."""
    reader = tf.train.load_checkpoint(prefix)
    stored = reader.get_variable_to_shape_map()
    graph = sess.graph
    nodes = [op for op in graph.get_operations() if op.type in _VARIABLE_OPS]
    missing = [op.name for op in nodes if op.name not in stored]
    if missing:
        raise ModelError(
            f"{prefix}: the checkpoint holds no value for variable node(s) {', '.join(missing)}"
        )
    with graph.as_default():
        assigns = []
        for op in nodes:
            value = tf.constant(reader.get_tensor(op.name))
            if op.type == "VarHandleOp":
                assigns.append(tf.raw_ops.AssignVariableOp(resource=op.outputs[0], value=value))
            else:
                assigns.append(tf.compat.v1.assign(op.outputs[0], value))
    sess.run(assigns)


def _frozen_saved_model(sess, inputs, outputs, target: Path, tags: list[str]) -> Path:
    graph_def = tf.compat.v1.graph_util.convert_variables_to_constants(
        sess, sess.graph.as_graph_def(), [t.op.name for t in outputs.values()]
    )
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        frozen_inputs = {k: graph.get_tensor_by_name(t.name) for k, t in inputs.items()}
        frozen_outputs = {k: graph.get_tensor_by_name(t.name) for k, t in outputs.items()}
        with tf.compat.v1.Session(graph=graph) as frozen:
            return tf1.build_saved_model(frozen, frozen_inputs, frozen_outputs, target, tags)


def _no_graph(prefix):
    def run(key, feed):
        raise ModelError(f"{prefix}: no .meta graph beside the checkpoint; nothing to run")

    return run


def _no_io(options, meta, meta_path):
    def run(key, feed):
        tf1.require_io(options, meta.graph_def, str(meta_path))

    return run


register(
    Loader(
        "checkpoint",
        "a TF1 checkpoint prefix, or a directory with a checkpoint file",
        is_checkpoint,
        load,
        graph=lambda path, tags: read_meta(path).graph_def,
    )
)
