"""Export and manifest, checked against the models themselves: the manifest's names feed and
fetch the real graphs, its hashes match the files, its op lists match the graphs."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from exporter import __version__
from exporter.cli import main
from exporter.core import inputs, manifest
from exporter.graph.graphs import ops_of, select_meta_graph
from exporter.sources.graphdef import read as read_graph_def
from tests.conftest import EXPORTS


def _v1_run(graph_setup, sig, feed):
    """Feeds and fetches by the manifest's (name, index) in a TF1 session: what TF Java's
    runner().feed(name, index, t).fetch(name, index) does."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        graph_setup(sess)
        fetches = [graph.get_tensor_by_name(f"{t.name}:{t.index}") for t in sig.outputs]
        feeds = {graph.get_tensor_by_name(f"{t.name}:{t.index}"): feed[t.key] for t in sig.inputs}
        return dict(zip([t.key for t in sig.outputs], sess.run(fetches, feeds)))


@pytest.mark.parametrize("fixture", EXPORTS)
def test_manifest_names_feed_and_fetch_the_graph(fixture, request):
    out = request.getfixturevalue(fixture)
    data, _ = manifest.read(out)
    saved = data.artifact("savedmodel")
    frozen = data.artifact("frozen")
    sig = saved.signature("serving_default")
    feed = inputs.generate(sig, batch=3, seed=11)
    loaded = tf.saved_model.load(str(out / saved.path))
    reference = {
        k: v.numpy()
        for k, v in loaded.signatures[sig.key](
            **{k: tf.constant(v) for k, v in feed.items()}
        ).items()
    }

    by_name = _v1_run(
        lambda sess: tf.compat.v1.saved_model.loader.load(sess, saved.tags, str(out / saved.path)),
        sig,
        feed,
    )
    graph_def = read_graph_def(out / frozen.path)
    by_frozen_name = _v1_run(
        lambda sess: tf.graph_util.import_graph_def(graph_def, name=""),
        frozen.signature(sig.key),
        feed,
    )
    for key, expected in reference.items():
        np.testing.assert_array_equal(by_name[key], expected)
        if expected.dtype.kind in "fc":
            np.testing.assert_allclose(by_frozen_name[key], expected, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(by_frozen_name[key], expected)


@pytest.mark.parametrize("fixture", EXPORTS)
def test_tensor_descriptions_match_the_graph(fixture, request):
    out = request.getfixturevalue(fixture)
    data, _ = manifest.read(out)
    meta = select_meta_graph(out / "saved_model", ["serve"])
    for sig in data.artifact("savedmodel").signatures:
        sig_def = meta.signature_def[sig.key]
        assert sorted(t.key for t in sig.inputs) == sorted(sig_def.inputs)
        assert sorted(t.key for t in sig.outputs) == sorted(sig_def.outputs)
        for t in sig.inputs + sig.outputs:
            proto = sig_def.inputs[t.key] if t.key in sig_def.inputs else sig_def.outputs[t.key]
            assert f"{t.name}:{t.index}" == proto.name
            assert tf.dtypes.as_dtype(proto.dtype).name == t.dtype
            assert list(t.shape) == [d.size for d in proto.tensor_shape.dim]
    graph_def = read_graph_def(out / "frozen.pb")
    nodes = {n.name: n for n in graph_def.node}
    for t in data.artifact("frozen").signatures[0].inputs:
        assert nodes[t.name].op == "Placeholder"
        assert tf.dtypes.as_dtype(nodes[t.name].attr["dtype"].type).name == t.dtype


def test_frozen_graph_uses_the_signature_keys(demo_export):
    data, _ = manifest.read(demo_export)
    sig = data.artifact("frozen").signature("serving_default")
    assert [(t.key, t.name, t.index) for t in sig.inputs] == [
        ("input_ids", "input_ids", 0),
        ("input_mask", "input_mask", 0),
        ("segment_ids", "segment_ids", 0),
    ]
    assert [(t.key, t.name, t.index, t.dtype, t.shape) for t in sig.outputs] == [
        ("loss/pred_prob", "loss/pred_prob", 0, "float32", (-1, 7))
    ]
    ops = data.artifact("frozen").ops
    assert not {"VarHandleOp", "ReadVariableOp", "RestoreV2"} & set(ops)
    assert {"Softmax", "Placeholder", "Identity"} <= set(ops)


def test_output_of_a_second_result_keeps_its_index(tf1_split_export, split_export):
    tf1, _ = manifest.read(tf1_split_export)
    outputs = {t.key: (t.name, t.index) for t in tf1.artifact("savedmodel").signatures[0].outputs}
    assert outputs == {"first": ("split", 0), "second": ("split", 1)}
    tf2, _ = manifest.read(split_export)
    indices = {t.key: t.index for t in tf2.artifact("savedmodel").signatures[0].outputs}
    assert indices == {"first": 0, "second": 1}
    raw = json.loads((tf1_split_export / "manifest.json").read_text())
    second = raw["artifacts"][0]["signatures"][0]["outputs"][1]
    assert second["name"] == "split" and second["index"] == 1 and ":" not in second["name"]


def test_keras_outputs_record_their_layers(keras_export, keras_source):
    import keras

    data, _ = manifest.read(keras_export)
    model = keras.models.load_model(keras_source)
    sig = data.artifact("savedmodel").signature("serving_default")
    for i, t in enumerate(sig.outputs):
        assert t.key == f"output_{i}"
        assert t.keras_layer == model.outputs[i]._keras_history.operation.name
    assert [t.keras_layer for t in sig.outputs] == ["score", "probs"]
    assert [t.key for t in sig.inputs] == ["features", "tokens"]


def test_signatures_that_run_the_same_function_are_marked(keras_export, tmp_path):
    """Keras's `serve` is `serving_default` (one Java method serves both; `inspect` says so);
    two functions of the same shapes that compute different things are not the same."""
    import tensorflow as tf

    from exporter.graph.graphs import select_meta_graph, signatures_of

    data, _ = manifest.read(keras_export)
    sigs = {s.key: s for s in data.artifact("savedmodel").signatures}
    assert sigs["serve"].same_as == "serving_default" and sigs["serving_default"].same_as is None

    class Two(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="x")])
        def double(self, x):
            return {"y": x * 2}

        @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="x")])
        def triple(self, x):
            return {"y": x * 3}

    two = Two()
    src = tmp_path / "two"
    signatures = {"serving_default": two.double, "again": two.double, "other": two.triple}
    tf.saved_model.save(two, str(src), signatures=signatures)
    found = {s.key: s.same_as for s in signatures_of(select_meta_graph(src, ["serve"]))}
    assert found == {"again": "serving_default", "other": None, "serving_default": None}


def test_ids_that_index_an_embedding_know_its_rows(keras_export, demo_export):
    """An integer input that reaches a gather (Keras' Embedding wraps negative ids in a select
    first) records the table's rows; generated inputs then span the table, not just [0, 2)."""
    for out, key, table in (
        (keras_export, "tokens", {"table": "token_embedding/embeddings", "rows": 10}),
        (demo_export, "input_ids", {"table": "word_embeddings", "rows": 1000}),
        (demo_export, "segment_ids", {"table": "segment_embeddings", "rows": 2}),
    ):
        data, _ = manifest.read(out)
        for art in data.artifacts:
            sig = art.signature("serving_default")
            (info,) = [t for t in sig.inputs if t.key == key]
            assert info.indexes == table, (art.format, key)
    sig = manifest.read(demo_export)[0].artifact("frozen").signature("serving_default")
    assert [t.indexes for t in sig.inputs if t.key == "input_mask"] == [None]  # a mask
    feed = inputs.generate(sig, batch=8, seed=3)
    assert 100 < feed["input_ids"].max() < 1000 and feed["input_ids"].min() >= 0
    assert set(np.unique(feed["input_mask"])) == {0, 1}
    shown = CliRunner().invoke(main, ["inspect", str(demo_export)]).output
    assert "      values in [0, 1000): rows of 'word_embeddings'" in shown


def test_ops_come_from_the_function_library_too(demo_export):
    data, _ = manifest.read(demo_export)
    meta = select_meta_graph(demo_export / "saved_model", ["serve"])
    main_graph_ops = {n.op for n in meta.graph_def.node}
    assert "Softmax" not in main_graph_ops  # it lives inside a function
    assert "Softmax" in data.artifact("savedmodel").ops
    assert data.artifact("savedmodel").ops == ops_of(meta.graph_def)
    assert data.artifact("savedmodel").producer == meta.graph_def.versions.producer


@pytest.mark.parametrize("fixture", EXPORTS)
def test_hashes_and_versions(fixture, request):
    out = request.getfixturevalue(fixture)
    raw = json.loads((out / "manifest.json").read_text())
    manifest.validate(raw)
    assert raw["generator"] == {"name": "tf2java", "version": __version__}
    assert raw["tensorflow"]["version"] == tf.__version__
    listed = set()
    for art in raw["artifacts"]:
        for entry in art["files"]:
            path = out / entry["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
            assert path.stat().st_size == entry["size"]
            listed.add(entry["path"])
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk - listed == {"manifest.json"}


def test_schema_rejects_a_fetch_name_with_an_index(demo_export):
    raw = json.loads((demo_export / "manifest.json").read_text())
    raw["artifacts"][0]["signatures"][0]["outputs"][0]["name"] = "StatefulPartitionedCall:0"
    with pytest.raises(Exception, match="does not match the manifest schema"):
        manifest.validate(raw)
