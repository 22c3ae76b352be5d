"""Frozen GraphDef sources: binary `.pb` or text `.pbtxt`, with `--input`/`--output` naming
the feeds and fetches (when missing, the error lists the placeholders and likely outputs)."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from google.protobuf import message, text_format
from tensorflow.core.framework import graph_pb2

from exporter import graphfile
from exporter.errors import ModelError, UsageError
from exporter.sources import Loader, LoadOptions, Source, register, tf1

EMPTY_VARIABLES_NOTE = (
    "variables/ is empty, and that is correct: the weights of a frozen graph are constants "
    "inside saved_model.pb"
)


def read(path: Path, *, constants: bool = True) -> graph_pb2.GraphDef:
    """The GraphDef in a .pb or .pbtxt file. With constants=False a binary file's large
    constants come without their bytes: enough to list, check and describe its nodes."""
    if not constants and path.suffix != ".pbtxt":
        return graphfile.read_skeleton(path).graph_def
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
    return path.is_file() and path.suffix in (".pb", ".pbtxt")


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    if path.name in ("saved_model.pb", "saved_model.pbtxt"):
        raise UsageError(f"{path}: part of a SavedModel; pass its directory {path.parent}")
    graph_def = read(path, constants=False)
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
    graph_def = read(path)  # now with its constants: the graph is imported to run
    graph = tf.Graph()
    with graph.as_default():
        try:
            tf.graph_util.import_graph_def(graph_def, name="")
        except (ValueError, tf.errors.OpError) as exc:
            raise ModelError(f"{path}: cannot import the graph ({exc})") from exc
    inputs = tf1.resolve(graph, options.inputs, "input")
    outputs_t = tf1.resolve(graph, options.outputs, "output")
    sess = tf.compat.v1.Session(graph=graph)
    staged = None
    if options.stage:
        staged = tf1.build_saved_model(
            sess, inputs, outputs_t, workdir / "graph_saved_model", options.tags
        )
    sig = tf1.signature("serving_default", inputs, outputs_t)
    return Source(
        path=path,
        format="frozen",
        signatures=[sig],
        run=tf1.session_runner(sess, sig),
        saved_model_dir=staged,
        tags=list(options.tags),
        notes=[EMPTY_VARIABLES_NOTE],
        details=details,
    )


def _op_counts(graph_def: graph_pb2.GraphDef) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in graph_def.node:
        counts[node.op] = counts.get(node.op, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


register(Loader("frozen", "a frozen GraphDef .pb or .pbtxt file", is_graphdef, load))
