"""Shared by the graph-based sources (checkpoints, frozen GraphDefs): naming feeds and fetches
by tensor name, running a TF1 session, and staging a SavedModel with SavedModelBuilder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from exporter.core.graphwalk import GraphIndex
from exporter.core.model import Signature, TensorInfo, split_tensor_name
from exporter.errors import UsageError
from exporter.graph.graphs import (
    DEFAULT_SIGNATURE,
    INDEX_DTYPES,
    drop_dangling_colocation,
    fold_constant_conds,
    placeholder_text,
    unfed_placeholders,
    with_graph_facts,
)
from exporter.sources import LoadOptions, Runner, unfed_message

PREDICT = "tensorflow/serving/predict"
# Nodes that consume nothing downstream but are not model outputs.
_NOT_OUTPUTS = {
    "NoOp",
    "Const",
    "Assign",
    "AssignVariableOp",
    "SaveV2",
    "RestoreV2",
    "Save",
    "Restore",
    "MergeV2Checkpoints",
    "VariableV2",
    "VarHandleOp",
    "VarIsInitializedOp",
    "Placeholder",
    "PlaceholderWithDefault",
    "ShardedFilename",
    "StringJoin",
    "Identity",
}


def candidates(graph_def: graph_pb2.GraphDef) -> tuple[list[str], list[str]]:
    """(placeholders with dtype and shape, unconsumed nodes that look like outputs)."""
    consumed = {ref.lstrip("^").split(":")[0] for n in graph_def.node for ref in n.input}
    placeholders = []
    for node in graph_def.node:
        if node.op in ("Placeholder", "PlaceholderWithDefault") and not node.name.startswith(
            "save/"
        ):
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).name
            shape = node.attr["shape"].shape
            dims = "?" if shape.unknown_rank else [d.size for d in shape.dim]
            placeholders.append(f"{node.name} ({dtype} {dims})")
    outputs = [
        n.name
        for n in graph_def.node
        if n.name not in consumed
        and n.op not in _NOT_OUTPUTS
        and not n.name.startswith(("save/", "init", "report_uninitialized"))
    ]
    identity_leaves = [
        n.name for n in graph_def.node if n.op == "Identity" and n.name not in consumed
    ]
    return placeholders, outputs + identity_leaves


def require_io(options: LoadOptions, graph_def: graph_pb2.GraphDef, where: str) -> None:
    """Refuses a graph without signatures when `--input`/`--output` do not name its feeds and
    fetches, naming its placeholders."""
    if options.inputs and options.outputs:
        return
    placeholders, outputs = candidates(graph_def)
    raise UsageError(
        f"{where}: name the feeds and fetches with --input KEY=TENSOR and --output KEY=TENSOR; "
        f"placeholders: {', '.join(placeholders) or 'none'}; nodes that look like outputs: "
        f"{', '.join(outputs[:12]) or 'none'}"
    )


def resolve(graph: tf.Graph, names: dict[str, str], what: str) -> dict[str, tf.Tensor]:
    """The tensors `names` (key -> tensor name) names in `graph`. Raises UsageError naming a
    missing one."""
    tensors = {}
    for key, name in names.items():
        op, index = split_tensor_name(name)
        try:
            tensors[key] = graph.get_tensor_by_name(f"{op}:{index}")
        except (KeyError, ValueError) as exc:
            raise UsageError(
                f"--{what} {key}={name}: the graph has no tensor {op}:{index}"
            ) from exc
    return tensors


def signature(key: str, inputs: dict[str, tf.Tensor], outputs: dict[str, tf.Tensor]) -> Signature:
    """The Signature of a TF1 graph's feeds and fetches, keyed as the user named them."""

    def info(k: str, t: tf.Tensor) -> TensorInfo:
        name, index = split_tensor_name(t.name)
        shape = None if t.shape.rank is None else tuple(-1 if d is None else d for d in t.shape)
        return TensorInfo(k, name, index, t.dtype.name, shape)

    graph = None
    feeds = []
    for k in sorted(inputs):
        tensor = info(k, inputs[k])
        if tensor.dtype in ("string", *INDEX_DTYPES):  # what the graph may say more of
            graph = graph or GraphIndex(inputs[k].graph.as_graph_def())
            tensor = with_graph_facts(tensor, graph)
        feeds.append(tensor)
    return Signature(
        key, PREDICT, tuple(feeds), tuple(info(k, outputs[k]) for k in sorted(outputs))
    )


def prepare(
    graph_def: graph_pb2.GraphDef, options: LoadOptions, where: str
) -> tuple[list[str], dict[str, Any]]:
    """Readies a TF1 graph for import, in place: drops colocation constraints naming nodes
    it does not have (TensorFlow refuses them), pins the `--set` placeholders, and refuses
    outputs that need a placeholder nobody feeds. Returns (notes, pinned values)."""
    notes = []
    dropped = drop_dangling_colocation(graph_def)
    if dropped:
        notes.append(
            f"dropped {dropped} colocation constraint(s) naming nodes the graph does not have "
            "(left by freeze_graph or a graph transform); TensorFlow refuses to import them"
        )
    pinned = pin(graph_def, options.pins, where)
    require_fed(graph_def, list(options.inputs.values()), list(options.outputs.values()), where)
    return notes, pinned


def require_fed(graph_def: graph_pb2.GraphDef, feeds: list[str], fetches: list[str], where: str):
    """Refuses, before anything runs, outputs that depend on a placeholder nobody feeds."""
    unfed = unfed_placeholders(graph_def, feeds, fetches)
    if unfed:
        raise UsageError(unfed_message(where, [placeholder_text(n) for n in unfed]))


def pin(graph_def: graph_pb2.GraphDef, pins: dict[str, str], where: str) -> dict[str, Any]:
    """Turns each named placeholder into a constant of the given value, in place; returns
    node name -> value. Only scalars: the values TF1 graphs take this way (keep_prob,
    is_training, a learning phase) are."""
    nodes = {node.name: node for node in graph_def.node}
    pinned: dict[str, Any] = {}
    for name, text in pins.items():
        node_name = split_tensor_name(name)[0]
        node = nodes.get(node_name)
        if node is None or node.op not in ("Placeholder", "PlaceholderWithDefault"):
            known = [n for n, x in nodes.items() if x.op.startswith("Placeholder")]
            raise UsageError(
                f"--set {name}={text}: {where} has no placeholder '{node_name}'; placeholders: "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        shape = node.attr["shape"].shape if "shape" in node.attr else None
        if shape is not None and not shape.unknown_rank and len(shape.dim) > 0:
            raise UsageError(
                f"--set {name}={text}: placeholder '{node_name}' has shape "
                f"{[d.size for d in shape.dim]}; --set pins scalar placeholders only"
            )
        value = parse_value(text, dtype, f"--set {name}")
        node.op = "Const"
        del node.input[:]
        for attr in list(node.attr):
            if attr != "_class":
                del node.attr[attr]
        node.attr["dtype"].type = dtype.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype, []))
        pinned[node_name] = value
    fold_constant_conds(graph_def)  # a pinned is_training leaves one branch of each cond
    return pinned


def prune_collections(meta) -> None:
    """A MetaGraph's collections without the nodes its graph no longer has (a folded cond's
    branch, its update ops): importing it would look them up. The cond contexts go whole once
    a cond was folded; running the graph does not need them, only building on it in Python."""
    names = {node.name for node in meta.graph_def.node}
    for key in list(meta.collection_def):
        collection = meta.collection_def[key]
        if key == "cond_context":
            contexts = [c for c in collection.bytes_list.value if not _context_lost(c, names)]
            if len(contexts) != len(collection.bytes_list.value):
                del meta.collection_def[key]
        elif collection.HasField("node_list"):
            kept = [v for v in collection.node_list.value if v.split(":")[0] in names]
            del collection.node_list.value[:]
            collection.node_list.value.extend(kept)


def _context_lost(serialized: bytes, names: set[str]) -> bool:
    from tensorflow.core.protobuf import control_flow_pb2

    context = control_flow_pb2.CondContextDef.FromString(serialized)
    return context.pivot_name.split(":")[0] not in names


def parse_value(text: str, dtype: tf.DType, where: str) -> Any:
    """A scalar of `dtype` from its text: true/false for bool, numbers, strings as given."""
    try:
        if dtype == tf.bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return lowered in ("true", "1")
        if dtype.is_integer:
            return int(text)
        if dtype.is_floating:
            return float(text)
        if dtype == tf.string:
            return text
    except ValueError:
        raise UsageError(f"{where}: '{text}' is not a {dtype.name} value") from None
    raise UsageError(f"{where}: a {dtype.name} placeholder cannot be pinned; feed it instead")


def session_runner(sess: tf.compat.v1.Session, sig: Signature) -> Runner:
    """Runs `sig` in a TF1 session by its tensor names."""
    graph = sess.graph

    def run(key: str, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {graph.get_tensor_by_name(t.tensor_name): feed[t.key] for t in sig.inputs}
        fetches = [graph.get_tensor_by_name(t.tensor_name) for t in sig.outputs]
        return dict(zip([t.key for t in sig.outputs], sess.run(fetches, feeds)))

    return run


def build_saved_model(
    sess: tf.compat.v1.Session,
    inputs: dict[str, tf.Tensor],
    outputs: dict[str, tf.Tensor],
    target: Path,
    tags: list[str],
    main_op: tf.Operation | None = None,
) -> Path:
    """A TF1 SavedModel of the session's graph (and its variables) with one predict
    signature, as SavedModelBuilder writes it; `main_op` runs on every load."""
    with sess.graph.as_default():
        builder = tf.compat.v1.saved_model.Builder(str(target))
        sig_def = tf.compat.v1.saved_model.predict_signature_def(inputs, outputs)
        builder.add_meta_graph_and_variables(
            sess,
            tags,
            signature_def_map={DEFAULT_SIGNATURE: sig_def},
            strip_default_attrs=True,
            main_op=main_op,
        )
        builder.save()
    return target
