"""Freezing one signature of a SavedModel into a GraphDef whose feeds and fetches carry the
signature's own keys, and running a frozen GraphDef in Python."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from exporter.errors import ModelError
from exporter.graphs import rename_node, unique_name, valid_node_name
from exporter.model import Signature, TensorInfo, split_tensor_name


def freeze_signature(
    saved_model_dir: Path, tags: list[str], sig: Signature
) -> tuple[graph_pb2.GraphDef, Signature]:
    """Variables become constants; input placeholders are renamed to the input keys and each
    output gets an Identity node named after its key. Returns the graph and its signature."""
    loaded = tf.saved_model.load(str(saved_model_dir), tags=tags)
    fn = loaded.signatures[sig.key]
    try:
        frozen = convert_variables_to_constants_v2(fn)
    except Exception as exc:  # TensorFlow raises a variety of types here
        raise ModelError(f"cannot freeze signature '{sig.key}': {exc}") from exc
    graph_def = frozen.graph.as_graph_def()

    # Signature functions take keyword arguments only; their flat order is the sorted keys.
    keys = sorted(fn.structured_input_signature[1])
    placeholders = {key: tensor.op.name for key, tensor in zip(keys, frozen.inputs)}
    fetches = {key: t.name for key, t in zip(sorted(fn.structured_outputs), frozen.outputs)}

    inputs = []
    for info in sig.inputs:
        old = placeholders.get(info.key)
        if old is None:
            raise ModelError(
                f"signature '{sig.key}': cannot find the placeholder of input "
                f"'{info.key}' in the frozen graph"
            )
        new = valid_node_name(info.key)
        if new != old:
            if any(n.name == new for n in graph_def.node):
                rename_node(graph_def, new, unique_name(graph_def, new + "_orig"))
                fetches = {k: _renamed(v, new, new + "_orig") for k, v in fetches.items()}
            rename_node(graph_def, old, new)
            fetches = {k: _renamed(v, old, new) for k, v in fetches.items()}
        inputs.append(TensorInfo(info.key, new, 0, info.dtype, info.shape))

    input_names = {t.name for t in inputs}
    outputs = []
    for info in sig.outputs:
        source = fetches[info.key]
        wanted = valid_node_name(info.key)
        if wanted in input_names:  # an input already holds this name
            wanted = unique_name(graph_def, wanted + "_output")
        elif any(n.name == wanted for n in graph_def.node):
            rename_node(graph_def, wanted, unique_name(graph_def, wanted + "_orig"))
            source = fetches[info.key] = _renamed(source, wanted, wanted + "_orig")
        node = graph_def.node.add()
        node.name = wanted
        node.op = "Identity"
        name, index = split_tensor_name(source)
        node.input.append(name if index == 0 else f"{name}:{index}")
        node.attr["T"].type = tf.dtypes.as_dtype(info.dtype).as_datatype_enum
        outputs.append(TensorInfo(info.key, wanted, 0, info.dtype, info.shape, info.keras_layer))
    frozen_sig = Signature(sig.key, sig.method_name, tuple(inputs), tuple(outputs))
    return graph_def, frozen_sig


def _renamed(tensor_name: str, old: str, new: str) -> str:
    name, index = split_tensor_name(tensor_name)
    return f"{new if name == old else name}:{index}"


def run_graph_def(
    graph_def: graph_pb2.GraphDef, sig: Signature, inputs: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Runs a frozen graph in Python, feeding and fetching by the signature's tensor names."""
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph_def, name=""), []
    )
    graph = wrapped.graph
    fn = wrapped.prune(
        [graph.get_tensor_by_name(t.tensor_name) for t in sig.inputs],
        [graph.get_tensor_by_name(t.tensor_name) for t in sig.outputs],
    )
    values = fn(*[tf.constant(inputs[t.key]) for t in sig.inputs])
    return {t.key: v.numpy() for t, v in zip(sig.outputs, values)}


def read_graph_def(path: Path) -> graph_pb2.GraphDef:
    """A GraphDef file (binary, or text for .pbtxt), with the frozen-graph source's checks."""
    from exporter.sources.graphdef import read

    return read(path)


def optimize_for_inference(graph_def: graph_pb2.GraphDef, sig: Signature) -> graph_pb2.GraphDef:
    """What optimize_for_inference does: strip nodes the outputs do not need and training-only
    nodes, fold batch norms into convolutions, fuse resize and pad into them."""
    from tensorflow.python.tools import optimize_for_inference_lib

    return optimize_for_inference_lib.optimize_for_inference(
        graph_def,
        [t.name for t in sig.inputs],
        [t.name for t in sig.outputs],
        [tf.dtypes.as_dtype(t.dtype).as_datatype_enum for t in sig.inputs],
    )
