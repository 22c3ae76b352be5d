"""Shared by the graph-based sources (checkpoints, frozen GraphDefs): naming feeds and fetches
by tensor name, running a TF1 session, and staging a SavedModel with SavedModelBuilder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from exporter.errors import UsageError
from exporter.graphs import DEFAULT_SIGNATURE
from exporter.model import Signature, TensorInfo, split_tensor_name
from exporter.sources import LoadOptions, Runner

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
    if options.inputs and options.outputs:
        return
    placeholders, outputs = candidates(graph_def)
    raise UsageError(
        f"{where}: name the feeds and fetches with --input KEY=TENSOR and --output KEY=TENSOR; "
        f"placeholders: {', '.join(placeholders) or 'none'}; nodes that look like outputs: "
        f"{', '.join(outputs[:12]) or 'none'}"
    )


def resolve(graph: tf.Graph, names: dict[str, str], what: str) -> dict[str, tf.Tensor]:
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
    def info(k: str, t: tf.Tensor) -> TensorInfo:
        name, index = split_tensor_name(t.name)
        shape = None if t.shape.rank is None else tuple(-1 if d is None else d for d in t.shape)
        return TensorInfo(k, name, index, t.dtype.name, shape)

    return Signature(
        key,
        PREDICT,
        tuple(info(k, inputs[k]) for k in sorted(inputs)),
        tuple(info(k, outputs[k]) for k in sorted(outputs)),
    )


def session_runner(sess: tf.compat.v1.Session, sig: Signature) -> Runner:
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
) -> Path:
    """A TF1 SavedModel of the session's graph (and its variables) with one predict
    signature, as SavedModelBuilder writes it."""
    with sess.graph.as_default():
        builder = tf.compat.v1.saved_model.Builder(str(target))
        sig_def = tf.compat.v1.saved_model.predict_signature_def(inputs, outputs)
        builder.add_meta_graph_and_variables(
            sess,
            tags,
            signature_def_map={DEFAULT_SIGNATURE: sig_def},
            strip_default_attrs=True,
        )
        builder.save()
    return target
