"""Binary GraphDef files whose constants may be large.

Building a GraphDef message with a 1 GiB constant, serializing it, parsing it back and
importing it each hold another copy of the weights. Here a file is written node by node, each
large constant's bytes going straight from its array to the file, and read back as a
skeleton: every node, with each large constant's bytes left in the file and only their place
recorded. Running the graph feeds those bytes, read once into memory TensorFlow then uses
without copying. The file is the one protobuf itself would write: `write` produces the bytes
of `GraphDef.SerializeToString(deterministic=True)` of the full graph."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2, node_def_pb2, tensor_pb2

from exporter.core import tfproto, wire
from exporter.core.model import Signature
from exporter.core.tfproto import Skeleton
from exporter.core.wire import (
    ATTR_TENSOR,
    ENTRY_KEY,
    ENTRY_VALUE,
    GRAPH_NODE,
    NODE_ATTR,
    TENSOR_CONTENT,
    Extent,
)
from exporter.errors import ModelError
from exporter.graph.freeze import run_graph_def

CHUNK = 1 << 26  # bytes per write and read call


def write(path: Path, graph_def: graph_pb2.GraphDef, values: Mapping[str, np.ndarray]) -> None:
    """Writes `graph_def` with the Const nodes named in `values` holding those arrays.

    Those nodes carry their dtype and shape but no content in `graph_def`; each array is
    written from its own memory, never copied into a message."""
    pending = dict(values)
    with path.open("wb") as f:
        for node in graph_def.node:
            value = pending.pop(node.name, None)
            if value is None:
                f.write(wire.field(GRAPH_NODE, node.SerializeToString(deterministic=True)))
            else:
                _write_constant(f, node, value)
        rest = graph_pb2.GraphDef()
        rest.CopyFrom(graph_def)
        del rest.node[:]
        # Deterministic serialization orders fields by number; nodes (1) come first.
        f.write(rest.SerializeToString(deterministic=True))
    if pending:
        raise ValueError(f"no Const node for {sorted(pending)[:3]} in the graph")


def _write_constant(f, node: node_def_pb2.NodeDef, value: np.ndarray) -> None:
    tensor = node.attr["value"].tensor
    if node.op != "Const" or tensor.tensor_content or value.size <= 1:
        raise ValueError(f"node '{node.name}' is not a Const waiting for its content")
    if tf.dtypes.as_dtype(value.dtype).as_datatype_enum != tensor.dtype:
        raise ValueError(f"node '{node.name}': array dtype {value.dtype} differs from the node's")
    if list(value.shape) != [d.size for d in tensor.tensor_shape.dim]:
        raise ValueError(f"node '{node.name}': array shape {value.shape} differs from the node's")
    head = node_def_pb2.NodeDef()
    head.CopyFrom(node)
    del head.attr["value"]
    # The "value" entry must be what a serializer writes last: the map is sorted by key and
    # no NodeDef field numbered above attr may be set.
    late = any(field.number > NODE_ATTR for field, _ in head.ListFields())
    if late or any(key > "value" for key in head.attr):
        raise ValueError(f"node '{node.name}' has fields that sort after its value")
    content = np.ascontiguousarray(value).reshape(-1).view(np.uint8)
    n = content.size
    tensor_head = tensor.SerializeToString(deterministic=True) + wire.key(TENSOR_CONTENT)
    tensor_head += wire.varint(n)
    attr_head = wire.key(ATTR_TENSOR) + wire.varint(len(tensor_head) + n)
    entry_head = wire.field(ENTRY_KEY, b"value") + wire.key(ENTRY_VALUE)
    entry_head += wire.varint(len(attr_head) + len(tensor_head) + n)
    heads = entry_head + attr_head + tensor_head  # each message's head, outermost first
    body = (
        head.SerializeToString(deterministic=True)
        + wire.key(NODE_ATTR)
        + wire.varint(len(heads) + n)
    )
    f.write(wire.key(GRAPH_NODE) + wire.varint(len(body) + len(heads) + n) + body + heads)
    view = memoryview(content)
    for start in range(0, n, CHUNK):
        f.write(view[start : start + CHUNK])


def read_skeleton(path: Path) -> Skeleton:
    """The file's skeleton (see `tfproto.read_skeleton`) as TensorFlow's own GraphDef, for a
    graph TensorFlow imports."""
    return tfproto.read_skeleton(path, graph_pb2.GraphDef.FromString)


def run(path: Path, sig: Signature, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs a frozen graph file, feeding and fetching by the signature's tensor names; each
    large constant becomes a placeholder fed with its bytes from the file."""
    skeleton = read_skeleton(path)
    fed = {}
    for node in skeleton.graph_def.node:
        if node.name in skeleton.constants:
            tensor = node.attr["value"].tensor
            fed[node.name] = read_constant(path, skeleton.constants[node.name], tensor)
            node.op = "Placeholder"
            node.attr["shape"].shape.CopyFrom(tensor.tensor_shape)
            del node.attr["value"]
    return run_graph_def(skeleton.graph_def, sig, dict(inputs), fed)


def read_constant(path: Path, extent: Extent, tensor: tensor_pb2.TensorProto) -> tf.Tensor:
    """A constant's bytes (dtype and shape from its TensorProto) as a tensor, read once into
    memory the tensor then owns."""
    dtype, dims = tf.dtypes.as_dtype(tensor.dtype), [d.size for d in tensor.tensor_shape.dim]
    array = read_array(path, extent, dtype, dims)
    try:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    except (BufferError, TypeError, tf.errors.InvalidArgumentError):  # no DLPack for the dtype
        return tf.constant(array)


def read_array(path: Path, extent: Extent, dtype: tf.DType, dims: list[int]) -> np.ndarray:
    """A constant's bytes as an array in 64-byte-aligned memory: the alignment TensorFlow
    needs to take memory over rather than copy it."""
    raw = np.empty(extent.length + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    data = raw[start : start + extent.length]
    view = memoryview(data)
    with path.open("rb") as f:
        f.seek(extent.offset)
        done = 0
        while done < extent.length:
            got = f.readinto(view[done : done + CHUNK])
            if not got:
                raise ModelError(f"{path}: ends inside a constant; the file is truncated")
            done += got
    return data.view(dtype.as_numpy_dtype).reshape(dims)
