"""`tf2java scan`: ops that touch files, the network or the host, found with their node and
function; a SavedModel's own saver is not reported."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf
from click.testing import CliRunner
from tensorflow.core.framework import graph_pb2

from exporter.checks.scan import scan
from exporter.cli import main
from exporter.core import dtypes, tfproto
from exporter.errors import EXIT_MISMATCH, EXIT_USAGE
from exporter.graph import graphfile, graphs
from tests import models
from tests.conftest import EXPORTS
from tools import tensorflow_snapshot


def test_what_is_read_without_tensorflow_is_the_installed_tensorflows(split_export):
    """`ops`, `scan` and `inspect` read TensorFlow's files through a snapshot of its message
    descriptors: it is this TensorFlow's, and reads what TensorFlow's own classes read."""
    assert tfproto.DESCRIPTORS.read_bytes() == tensorflow_snapshot.descriptor_set()
    assert {d.name: d.enum for d in dtypes.DTYPES.values()} == {
        d.name: tf.as_dtype(d.name).as_datatype_enum for d in dtypes.DTYPES.values()
    }
    saved, frozen = split_export / "saved_model", split_export / "frozen.pb"
    ours, theirs = (
        tfproto.select_meta_graph(saved, ["serve"]),
        graphs.select_meta_graph(saved, ["serve"]),
    )
    assert type(ours) is not type(theirs)
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(
        deterministic=True
    )
    assert tfproto.init_ops(ours) == tfproto.init_ops(theirs) != []
    ours, theirs = tfproto.read_skeleton(frozen), graphfile.read_skeleton(frozen)
    assert ours.constants == theirs.constants
    assert ours.graph_def.SerializeToString() == theirs.graph_def.SerializeToString()


def test_file_and_host_ops_are_found_with_their_function(built):
    src = models.save_module(models.Leaky(), built / "leaky")
    (graph,) = scan(src, ["serve"]).values()
    found = {(t.category, t.op) for t in graph}
    assert found == {("file system", "ReadFile"), ("file system", "WriteFile"), ("host", "PrintV2")}
    assert all(t.function and t.function.startswith("__inference_serve") for t in graph)
    result = CliRunner().invoke(main, ["scan", str(src), "--json"])
    assert result.exit_code == EXIT_MISMATCH
    assert json.loads(result.output)["found"] == 3


def test_python_callbacks_and_mapped_files_in_a_frozen_graph(tmp_path):
    graph_def = graph_pb2.GraphDef()
    x = graph_def.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = tf.float32.as_datatype_enum
    graph_def.node.add(name="callback", op="PyFunc", input=["x"])
    graph_def.node.add(name="weights", op="ImmutableConst")
    (tmp_path / "frozen.pb").write_bytes(graph_def.SerializeToString())
    (graph,) = scan(tmp_path / "frozen.pb", ["serve"]).values()
    assert {(t.op, t.node, t.function) for t in graph} == {
        ("PyFunc", "callback", None),
        ("ImmutableConst", "weights", None),
    }
    result = CliRunner().invoke(main, ["scan", str(tmp_path / "frozen.pb")])
    assert "[host] PyFunc: node callback" in result.output
    assert "[file system] ImmutableConst: node weights" in result.output


@pytest.mark.parametrize("fixture", EXPORTS + ["tf1_dir"])
def test_saver_ops_are_not_reported(fixture, request):
    src = request.getfixturevalue(fixture)
    if fixture == "tf1_dir":
        src = src / "ckpt"  # a TF1 graph with its save/ scope
    result = CliRunner().invoke(main, ["scan", str(src)])
    assert result.exit_code == 0, result.output
    assert "op(s) that reach outside" in result.output


def test_export_runs_them_only_with_consent_and_warns(built, tmp_path):
    src = models.save_module(models.Chatty(), built / "chatty")
    refused = CliRunner().invoke(main, ["export", str(src), str(tmp_path / "out")])
    assert refused.exit_code == EXIT_USAGE
    assert "[host] PrintV2" in refused.output and "--allow-side-effects" in refused.output
    assert "nothing was run" in refused.output and not (tmp_path / "out").exists()
    result = CliRunner().invoke(
        main, ["export", str(src), str(tmp_path / "out"), "--allow-side-effects"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "warning: savedmodel has 1 op(s) that reach outside the model when it runs "
        "(PrintV2)" in result.output
    )
    assert "warning: frozen has 1 op(s)" in result.output
