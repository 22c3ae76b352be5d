"""Frozen graphs written node by node and read back as a skeleton: the file is the one
protobuf writes, large constants stay in the file until a run feeds them, and a run gives
what a full import gives."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from exporter.commands.export import export
from exporter.core import manifest, wire
from exporter.errors import ModelError
from exporter.graph import graphfile
from exporter.graph.freeze import freeze_signatures, run_graph_def
from exporter.graph.graphs import select_meta_graph, signatures_of
from exporter.sources import LoadOptions
from exporter.sources.graphdef import read
from tests import models


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    src = models.save_module(models.ManyWeights(), tmp_path_factory.mktemp("many") / "src")
    sig = signatures_of(select_meta_graph(src, ["serve"]))[0]
    result = freeze_signatures(src, ["serve"], [sig])
    path = tmp_path_factory.mktemp("file") / "frozen.pb"
    graphfile.write(path, result.graph_def, result.values)
    yield result, path, src
    result.release()


def test_the_file_is_what_protobuf_writes(frozen):
    result, path, _ = frozen
    assert path.read_bytes() == result.full_graph_def().SerializeToString(deterministic=True)
    # Every variable of a dtype protobuf stores as raw bytes streams, bool does not.
    kinds = sorted(str(v.dtype) for v in result.values.values())
    assert kinds == ["bfloat16", "float16", "float32", "float32", "float64", "int64", "int8"]
    nodes = {n.name: n for n in result.graph_def.node}
    for name, value in result.values.items():
        tensor = nodes[name].attr["value"].tensor
        assert nodes[name].op == "Const" and not tensor.tensor_content
        assert [d.size for d in tensor.tensor_shape.dim] == list(value.shape)


def test_the_skeleton_leaves_large_constants_in_the_file(frozen):
    result, path, _ = frozen
    skeleton = graphfile.read_skeleton(path)
    large = {n for n, v in result.values.items() if v.nbytes >= wire.LARGE}
    assert set(skeleton.constants) == large and len(large) == 4  # f16, bf16, i8, f64
    data = path.read_bytes()
    for name in large:
        extent = skeleton.constants[name]
        value = np.ascontiguousarray(result.values[name])
        assert data[extent.offset : extent.offset + extent.length] == value.tobytes()
    # Putting the bytes back gives the graph a full parse gives.
    full = read(path)
    for node in skeleton.graph_def.node:
        if node.name in large:
            extent = skeleton.constants[node.name]
            content = data[extent.offset : extent.offset + extent.length]
            node.attr["value"].tensor.tensor_content = content
    assert skeleton.graph_def == full


def test_a_run_gives_what_a_full_import_gives(frozen):
    result, path, src = frozen
    x = np.random.default_rng(3).normal(size=(5, 96)).astype(np.float32)
    streamed = graphfile.run(path, result.signatures[0], {"x": x})
    imported = run_graph_def(read(path), result.signatures[0], {"x": x})
    model = tf.saved_model.load(str(src))
    source = {k: v.numpy() for k, v in model.signatures["serving_default"](x=x).items()}
    keys = ["brain", "half", "ints", "looped", "scalar", "wide"]
    assert sorted(streamed) == sorted(source) == keys
    for key in source:
        np.testing.assert_array_equal(streamed[key], imported[key], err_msg=key)
        np.testing.assert_allclose(streamed[key], source[key], rtol=1e-6, err_msg=key)
    scalar = (3 + 1 + 4) * 0.5 + 2 - 0.25  # i64 sum x pair[0] + true flags + pair[1]
    np.testing.assert_array_equal(streamed["scalar"], np.full(5, scalar, np.float32))


def test_export_checks_the_file_it_wrote(frozen, tmp_path):
    _, _, src = frozen
    lines = []
    result = export(src, tmp_path / "out", formats=("frozen",), echo=lines.append)
    assert all(c.ok for c in result.checks)
    assert "frozen vs source (savedmodel), signature 'serving_default':" in lines
    assert (tmp_path / "out" / "frozen.pb").stat().st_size > 4 * wire.LARGE


def test_a_file_cut_inside_a_constant_is_refused(frozen, tmp_path):
    _, path, _ = frozen
    skeleton = graphfile.read_skeleton(path)
    extent = next(iter(skeleton.constants.values()))
    cut = tmp_path / "cut.pb"
    cut.write_bytes(path.read_bytes()[: extent.offset + extent.length // 2])
    with pytest.raises(ModelError, match=r"cut\.pb: not a binary GraphDef \(.*past the end"):
        graphfile.read_skeleton(cut)


def test_write_refuses_a_value_that_does_not_fit_its_node(frozen, tmp_path):
    result, _, _ = frozen
    name, value = next((n, v) for n, v in result.values.items() if v.dtype == np.float16)
    with pytest.raises(ValueError, match="shape"):
        graphfile.write(tmp_path / "x.pb", result.graph_def, {name: value[:1]})
    with pytest.raises(ValueError, match="no Const node"):
        graphfile.write(tmp_path / "y.pb", result.graph_def, {"nowhere": value})


def test_a_kept_loop_gets_the_values_in_the_graph(tmp_path):
    src = models.save_module(models.CompiledLoop(), tmp_path / "src")
    sig = signatures_of(select_meta_graph(src, ["serve"]))[0]
    result = freeze_signatures(src, ["serve"], [sig])
    nodes = [n for f in result.graph_def.library.function for n in f.node_def]
    (loop,) = [n for n in nodes if n.op == "While"]
    # The loop records the shape of the weight it carries: the real one, not a stand-in's.
    shapes = [[d.size for d in s.dim] for s in loop.attr["output_shapes"].list.shape]
    assert [96, 96] in shapes and result.values == {}
    graphfile.write(tmp_path / "frozen.pb", result.graph_def, result.values)
    x = np.random.default_rng(5).normal(size=(2, 96)).astype(np.float32)
    (y,) = graphfile.run(tmp_path / "frozen.pb", result.signatures[0], {"x": x}).values()
    np.testing.assert_allclose(y, x * 0.125, rtol=1e-6)


def test_a_frozen_graph_source_keeps_its_large_constants_as_variables(frozen, tmp_path):
    """From a .pb, large constants become variables (a graph holding them is copied whole by
    every import and writer); their values are the file's bytes, and the exports give what
    the model the .pb was frozen from gives."""
    result, path, src = frozen
    outputs = {t.key: f"{t.name}:0" for t in result.signatures[0].outputs}
    options = LoadOptions(inputs={"x": "x:0"}, outputs=outputs)
    lines = []
    export(path, tmp_path / "out", options=options, echo=lines.append)
    assert "note (savedmodel): 4 constant(s) of 64 KiB and up became variables" in "\n".join(lines)
    variables = tmp_path / "out" / "saved_model" / "variables" / "variables"
    reader = tf.train.load_checkpoint(str(variables))
    constants = graphfile.read_skeleton(path).constants
    assert set(reader.get_variable_to_shape_map()) == set(constants)
    data = path.read_bytes()
    for name, extent in constants.items():
        value = reader.get_tensor(name).tobytes()
        assert value == data[extent.offset : extent.offset + extent.length], name

    x = np.random.default_rng(11).normal(size=(3, 96)).astype(np.float32)
    model = tf.saved_model.load(str(src)).signatures["serving_default"]
    want = {k: v.numpy() for k, v in model(x=x).items()}
    saved = tf.saved_model.load(str(tmp_path / "out" / "saved_model"))
    data_, _ = manifest.read(tmp_path / "out")
    got_frozen = graphfile.run(
        tmp_path / "out" / "frozen.pb", data_.artifact("frozen").signatures[0], {"x": x}
    )
    got_saved = saved.signatures["serving_default"](x=tf.constant(x))
    got_saved = {k: v.numpy() for k, v in got_saved.items()}
    for key, value in want.items():
        np.testing.assert_allclose(got_saved[key], value, rtol=1e-6, err_msg=key)
        np.testing.assert_allclose(got_frozen[key], value, rtol=1e-6, err_msg=key)
