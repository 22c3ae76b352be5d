"""Reading TensorFlow graphs: SavedModel meta graphs, signatures, op lists and GraphDef edits."""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.python.saved_model import loader_impl

from exporter.errors import ModelError, UsageError, first_line
from exporter.model import Signature, TensorInfo, split_tensor_name

DEFAULT_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
_NODE_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")


def dtype_name(enum: int) -> str:
    return tf.dtypes.as_dtype(enum).name


def shape_of(proto) -> tuple[int, ...] | None:
    if proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in proto.dim)


def read_meta_graphs(saved_model_dir: Path) -> list[meta_graph_pb2.MetaGraphDef]:
    try:
        return list(loader_impl.parse_saved_model(str(saved_model_dir)).meta_graphs)
    except (OSError, ValueError) as exc:  # IOError: no saved_model.pb; DecodeError: bad proto
        raise ModelError(
            f"{saved_model_dir}: not a readable SavedModel ({first_line(exc)})"
        ) from exc


def select_meta_graph(saved_model_dir: Path, tags: list[str]) -> meta_graph_pb2.MetaGraphDef:
    metas = read_meta_graphs(saved_model_dir)
    for meta in metas:
        if set(meta.meta_info_def.tags) == set(tags):
            return meta
    valid = "; ".join(",".join(m.meta_info_def.tags) for m in metas)
    raise UsageError(
        f"{saved_model_dir}: no MetaGraph with tag set '{','.join(tags)}'; "
        f"valid tag sets: {valid} (choose one with --tag)"
    )


def signatures_of(meta: meta_graph_pb2.MetaGraphDef) -> list[Signature]:
    """Every SignatureDef of a meta graph, inputs and outputs sorted by key, init op left out."""
    result = []
    for key in sorted(meta.signature_def):
        if key == "__saved_model_init_op":
            continue
        sig = meta.signature_def[key]
        result.append(
            Signature(
                key=key,
                method_name=sig.method_name,
                inputs=tuple(_tensor_info(k, sig.inputs[k]) for k in sorted(sig.inputs)),
                outputs=tuple(_tensor_info(k, sig.outputs[k]) for k in sorted(sig.outputs)),
            )
        )
    return result


def _tensor_info(key: str, info: meta_graph_pb2.TensorInfo) -> TensorInfo:
    if info.WhichOneof("encoding") != "name":
        raise ModelError(
            f"signature tensor '{key}' is a composite (sparse or ragged) tensor; "
            "export a signature with dense tensors only"
        )
    name, index = split_tensor_name(info.name)
    return TensorInfo(
        key=key,
        name=name,
        index=index,
        dtype=dtype_name(info.dtype),
        shape=shape_of(info.tensor_shape),
    )


def select_signature(signatures: list[Signature], key: str | None, where: str) -> Signature:
    keys = [s.key for s in signatures]
    if not signatures:
        raise ModelError(
            f"{where}: the model has no signatures; export one with "
            "tf.saved_model.save(..., signatures=...) or model.export()"
        )
    if key is None:
        key = DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in keys or len(keys) != 1 else keys[0]
    for sig in signatures:
        if sig.key == key:
            return sig
    raise UsageError(
        f"{where}: no signature '{key}'; valid signatures: {', '.join(keys)} "
        "(choose one with --signature)"
    )


def ops_of(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Op types used by the graph and every function in its library, sorted."""
    ops = {node.op for node in graph_def.node}
    for func in graph_def.library.function:
        ops.update(node.op for node in func.node_def)
    functions = {f.signature.name for f in graph_def.library.function}
    return sorted(ops - functions)


def valid_node_name(name: str) -> str:
    """A node name TensorFlow accepts, as close to `name` as it can be."""
    if _NODE_NAME.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_.\-/>]", "_", name)
    if not cleaned or not re.match(r"[A-Za-z0-9.]", cleaned[0]):
        cleaned = "t" + cleaned
    return cleaned


def rename_node(graph_def: graph_pb2.GraphDef, old: str, new: str) -> None:
    """Renames a node of the main graph and every reference to it."""
    for node in graph_def.node:
        if node.name == old:
            node.name = new
        for i, ref in enumerate(node.input):
            control = ref.startswith("^")
            base = ref[1:] if control else ref
            name, sep, port = base.partition(":")
            if name == old:
                node.input[i] = ("^" if control else "") + new + (sep + port if sep else "")


def unique_name(graph_def: graph_pb2.GraphDef, base: str) -> str:
    taken = {node.name for node in graph_def.node}
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"
