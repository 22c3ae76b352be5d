"""Frozen GraphDef sources: binary `.pb` or text `.pbtxt`, with `--input`/`--output` naming
the feeds and fetches (when missing, the error lists the placeholders and likely outputs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
from google.protobuf import message, text_format
from tensorflow.core.framework import graph_pb2, tensor_pb2

from exporter.core import tfproto, wire
from exporter.errors import ModelError, UsageError
from exporter.graph import graphfile
from exporter.graph.freeze import TABLE_FILLERS
from exporter.graph.graphs import rename_node, unique_name
from exporter.sources import Loader, LoadOptions, Source, register, tf1

EMPTY_VARIABLES_NOTE = (
    "variables/ is empty, and that is correct: the weights of a frozen graph are constants "
    "inside saved_model.pb"
)


def read(path: Path) -> graph_pb2.GraphDef:
    """The GraphDef in a .pb or .pbtxt file, whole (`tfproto.read_graph_file` reads one
    without its large constants' bytes)."""
    graph_def = graph_pb2.GraphDef()
    data = path.read_bytes()
    if not data:
        raise ModelError(f"{path}: the file is empty; expected a GraphDef")
    try:
        if path.suffix == ".pbtxt":
            text_format.Parse(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as exc:
        kind = "text" if path.suffix == ".pbtxt" else "binary"
        raise ModelError(f"{path}: not a {kind} GraphDef ({exc})") from exc
    if not graph_def.node:
        raise ModelError(f"{path}: the GraphDef has no nodes")
    return graph_def


def is_graphdef(path: Path) -> bool:
    """Whether `path` is a frozen GraphDef file (.pb or .pbtxt)."""
    return path.is_file() and path.suffix in (".pb", ".pbtxt")


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    """Loads a frozen GraphDef: `--input`/`--output` name its feeds and fetches; the SavedModel
    staged in `workdir` keeps the weights as constants. Raises UsageError or ModelError."""
    if path.name in ("saved_model.pb", "saved_model.pbtxt"):
        raise UsageError(f"{path}: part of a SavedModel; pass its directory {path.parent}")
    if path.suffix == ".pbtxt":
        graph_def, weights = read(path), {}
    else:  # large constants stay in the file until they become variables below
        skeleton = graphfile.read_skeleton(path)
        graph_def, weights = skeleton.graph_def, skeleton.constants
    placeholders, outputs = tf1.candidates(graph_def)
    details = {
        "placeholders": placeholders,
        "candidate_outputs": outputs,
        "nodes": len(graph_def.node),
        "size_bytes": path.stat().st_size,
        "op_counts": _op_counts(graph_def),
    }
    if not (options.inputs and options.outputs):
        if options.stage:
            tf1.require_io(options, graph_def, str(path))

        def needs_io(key, feed):
            tf1.require_io(options, graph_def, str(path))

        return Source(path, "frozen", [], needs_io, None, details=details)
    notes, pinned = tf1.prepare(graph_def, options, str(path))
    graph = tf.Graph()
    with graph.as_default():
        variables = _weights_as_variables(graph_def, weights)
        input_map = {f"{stub}:0": w.var.read_value() for stub, w in variables.items()}
        try:
            tf.graph_util.import_graph_def(graph_def, input_map=input_map, name="")
        except (ValueError, tf.errors.OpError) as exc:
            raise ModelError(f"{path}: cannot import the graph ({exc})") from exc
    inputs = tf1.resolve(graph, options.inputs, "input")
    outputs_t = tf1.resolve(graph, options.outputs, "output")
    sess = tf.compat.v1.Session(graph=graph)
    for weight in variables.values():
        weight.fill(sess, path)
    fillers = [op for op in graph.get_operations() if op.type in TABLE_FILLERS]
    if fillers:  # TF1's tf.tables_initializer(): what its users ran once after import
        sess.run(fillers)
        notes.append(
            f"{len(fillers)} lookup table initializer(s) ran after import; the SavedModel runs "
            "them as its main op"
        )
    staged = None
    if options.stage:
        with graph.as_default():
            main_op = tf.group(*fillers, name="tf2java_init_tables") if fillers else None
        staged = tf1.build_saved_model(
            sess, inputs, outputs_t, workdir / "graph_saved_model", options.tags, main_op
        )
    sig = tf1.signature("serving_default", inputs, outputs_t)
    note = (
        f"{len(variables)} constant(s) of {wire.LARGE // 1024} KiB and up became "
        "variables, saved in variables/; smaller constants stay inside saved_model.pb"
        if variables
        else EMPTY_VARIABLES_NOTE
    )
    return Source(
        path=path,
        format="frozen",
        signatures=[sig],
        run=tf1.session_runner(sess, sig),
        saved_model_dir=staged,
        tags=list(options.tags),
        notes=[*notes, note],
        details=details,
        pinned=pinned,
        graph_def=graph_def,
        init_ops=[op.name for op in fillers],
    )


@dataclass
class _Weight:
    """A large constant of the file as a variable, and the ops that fill it from the file."""

    var: tf.Variable
    rows: tf.Tensor  # a block of rows to write
    start: tf.Tensor  # where the block starts
    write: tf.Operation
    extent: wire.Extent
    dtype: tf.DType
    dims: list[int]

    def fill(self, sess: tf.compat.v1.Session, path: Path) -> None:
        """Fills the variable from the file a block of rows at a time: a session copies what
        it is fed, and one block in flight costs little."""
        sess.run(self.var.initializer)
        row_bytes = self.extent.length // self.dims[0]
        per_block = max(1, graphfile.CHUNK // row_bytes)
        for first in range(0, self.dims[0], per_block):
            count = min(per_block, self.dims[0] - first)
            extent = wire.Extent(self.extent.offset + first * row_bytes, count * row_bytes)
            block = graphfile.read_array(path, extent, self.dtype, [count, *self.dims[1:]])
            sess.run(self.write, {self.rows: block, self.start: first})


def _weights_as_variables(graph_def: graph_pb2.GraphDef, weights: dict) -> dict[str, _Weight]:
    """Each large constant becomes a variable of its own name, filled from the file: a graph
    holding a 1 GiB constant is copied whole by every import, session and SavedModel writer,
    a variable is not. The constant's consumers now read a stub, which the import maps to the
    variable. Returns stub name -> weight."""
    nodes = {node.name: node for node in graph_def.node}
    taken = set(nodes)
    variables = {}
    for name, extent in weights.items():
        tensor = nodes[name].attr["value"].tensor
        dtype = tf.dtypes.as_dtype(tensor.dtype)
        dims = [d.size for d in tensor.tensor_shape.dim]
        stub = unique_name(graph_def, name + "_stub")
        rename_node(graph_def, name, stub)
        taken.discard(name)
        taken.add(stub)
        tensor.CopyFrom(tensor_pb2.TensorProto(dtype=tensor.dtype))  # a scalar nobody reads
        var_name = name
        while var_name in taken or any(n.startswith(var_name + "/") for n in taken):
            var_name = unique_name(graph_def, var_name + "_weight")
        taken.add(var_name)
        var = tf.compat.v1.Variable(  # Empty: a constant start would be copied on first write
            lambda dims=dims, dtype=dtype: tf.raw_ops.Empty(shape=dims, dtype=dtype, init=False),
            name=var_name,
            trainable=False,
            use_resource=True,
        )
        with tf.name_scope(var_name + "/fill/"):  # under the variable: no name of the graph's
            rows = tf.compat.v1.placeholder(dtype, [None, *dims[1:]], name="rows")
            start = tf.compat.v1.placeholder(tf.int64, [], name="start")
            end = start + tf.shape(rows, out_type=tf.int64)[0]
            write = var[start:end].assign(rows).op
        variables[stub] = _Weight(var, rows, start, write, extent, dtype, dims)
    return variables


def _op_counts(graph_def: graph_pb2.GraphDef) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in graph_def.node:
        counts[node.op] = counts.get(node.op, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


register(
    Loader(
        "frozen",
        "a frozen GraphDef .pb or .pbtxt file",
        is_graphdef,
        load,
        graph=lambda path, tags: tfproto.read_graph_file(path),
        own_saver=False,
    )
)
