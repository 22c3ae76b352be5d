"""Models from the wild, through the command line as a user types it: each pattern of
tests/wild.py goes through inspect, export, java and parity, and its values are checked
against what the model computes by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from exporter.cli import main
from exporter.core import example
from exporter.errors import EXIT_MODEL, EXIT_USAGE, first_line
from exporter.graph.graphfile import read_skeleton
from exporter.sources import LoadOptions, load_source
from tests import wild

IO = ["--input", "images=images", "--input", "ids=ids", "--output", "probs=output/probs"]


def cli(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(*args) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


def error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert not lines[0].rstrip().endswith(":"), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def tf1(tmp_path_factory) -> Path:
    return wild.save_tf1_wild(tmp_path_factory.mktemp("wild") / "tf1")


@pytest.fixture(scope="module")
def images_ids():
    rng = np.random.default_rng(3)
    return rng.standard_normal((3, 4)).astype(np.float32), np.array(
        [[0, 1], [2, 4], [3, 3]], np.int32
    )


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.jvm
def test_a_graph_transform_output_with_dropout_and_unknown_rank(tf1, images_ids, tmp_path):
    """folded.pb: an unknown-rank input, keep_prob with no default, is_training with one,
    colocation attrs naming nodes that are gone."""
    src = tf1 / "folded.pb"
    shown = ok("inspect", src)
    assert "keep_prob (float32 [])" in shown and "images (float32 ?)" in shown

    # keep_prob is named, with the fix, before anything runs
    refused = cli("export", src, tmp_path / "nope", *IO)
    assert refused.exit_code == EXIT_USAGE
    line = error_line(refused)
    assert "'keep_prob' (float32 ())" in line and "--set" in line
    assert "'is_training'" not in line  # a placeholder_with_default keeps its default
    assert not (tmp_path / "nope").exists()

    # without a declared shape, no inputs can be generated for the unknown-rank input
    unknown = cli("export", src, tmp_path / "nope", *IO, "--set", "keep_prob=1.0")
    assert unknown.exit_code == EXIT_USAGE
    assert "--shape images=" in error_line(unknown)

    out = tmp_path / "folded"
    printed = ok("export", src, out, *IO, "--set", "keep_prob=1.0", "--shape", "images=-1,4")
    assert "dropped 5 colocation constraint(s)" in printed
    manifest = _manifest(out)
    assert manifest["model"]["pinned"] == {"keep_prob": 1.0}
    frozen = next(a for a in manifest["artifacts"] if a["format"] == "frozen")
    images = next(t for t in frozen["signatures"][0]["inputs"] if t["key"] == "images")
    assert images["shape"] == [-1, 4] and images["shape_from"] == "user"
    # ids reach the embedding's gather; its variable was folded into a constant
    ids_info = next(t for t in frozen["signatures"][0]["inputs"] if t["key"] == "ids")
    assert ids_info["indexes"] == {"table": "embedding/weights/read", "rows": 5}
    graph = read_skeleton(out / "frozen.pb").graph_def
    names = {n.name for n in graph.node}
    for node in graph.node:
        for loc in node.attr["_class"].list.s if "_class" in node.attr else []:
            assert loc.decode()[5:] in names, (node.name, loc)
    placeholder = next(n for n in graph.node if n.name == "images")
    assert [d.size for d in placeholder.attr["shape"].shape.dim] == [-1, 4]
    assert "keep_prob" not in {n.name for n in graph.node if n.op == "Placeholder"}

    # the export folder runs as a source, with the values the model computes
    x, ids = images_ids
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ids.npy", ids)
    ok(
        "run",
        out,
        "--inputs",
        f"images={tmp_path / 'x.npy'},ids={tmp_path / 'ids.npy'}",
        "--outdir",
        tmp_path / "y",
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "y" / "probs.npy"), wild.wild_probs(x, ids), rtol=1e-5, atol=1e-6
    )
    printed = ok("parity", out)
    assert "parity OK: 2 of 2" in printed


@pytest.mark.jvm
def test_freeze_graph_with_large_weights_colocated_with_their_read(tf1, tmp_path):
    """freeze_graph keeps `_class: loc:@big/kernel` on `big/kernel/read`; the 128 KiB kernel
    is read as a variable, and the colocation follows it."""
    from tensorflow.core.framework import graph_pb2

    src = tf1 / "freeze_graph_large.pb"
    nodes = {n.name: n for n in graph_pb2.GraphDef.FromString(src.read_bytes()).node}
    assert list(nodes["big/kernel/read"].attr["_class"].list.s) == [b"loc:@big/kernel"]
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["export", str(src), str(out), "--input", "x=xb", "--output", "y=big/out"]
    )
    assert result.exit_code == 0, result.output
    assert "1 constant(s) of 64 KiB and up became variables" in result.output
    x = np.linspace(-2, 2, 2 * 256, dtype=np.float32).reshape(2, 256)
    kernel = np.linspace(-1, 1, 256 * 128, dtype=np.float32).reshape(256, 128)
    np.save(tmp_path / "x.npy", x)
    ran = CliRunner().invoke(
        main,
        ["run", str(out), "--inputs", f"x={tmp_path / 'x.npy'}", "--outdir", str(tmp_path / "y")],
    )
    assert ran.exit_code == 0, ran.output
    np.testing.assert_allclose(np.load(tmp_path / "y" / "y.npy"), np.maximum(x @ kernel, 0), 1e-5)


@pytest.mark.jvm
def test_a_hub_module_with_the_empty_tag_set(tf1, tmp_path):
    """Its only MetaGraph is taken for the default tag, `--tag ''` names it, and the export
    tags it 'serve', which TensorFlow Java needs to load it; parity passes on both formats."""
    src = tf1 / "hub_module"
    for extra in ([], ["--tag", ""]):
        shown = CliRunner().invoke(main, ["inspect", str(src), *extra])
        assert shown.exit_code == 0, shown.output
        assert "signature 'default'" in shown.output
    refused = CliRunner().invoke(main, ["inspect", str(src), "--tag", "train"])
    assert "valid tag sets: ''" in refused.output
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", str(src), str(out), "--signature", "default"])
    assert result.exit_code == 0, result.output
    assert _manifest(out)["artifacts"][0]["tags"] == ["serve"]
    x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    parity = CliRunner().invoke(main, ["parity", str(out), "--inputs", str(tmp_path / "in.npz")])
    assert parity.exit_code == 0, parity.output
    np.save(tmp_path / "x.npy", x)
    ran = CliRunner().invoke(
        main,
        ["run", str(out), "--inputs", f"x={tmp_path / 'x.npy'}", "--outdir", str(tmp_path / "y")],
    )
    assert ran.exit_code == 0, ran.output
    expected = x @ np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    np.testing.assert_allclose(np.load(tmp_path / "y" / "y.npy"), expected)


def test_a_tf1_variable_fetched_directly_is_its_value(tf1, tmp_path):
    src = tf1 / "ref_output"
    shown = ok("inspect", src)
    assert "weights: float32 (2, 2)" in shown and "_ref" not in shown
    out = tmp_path / "out"
    ok("export", src, out)
    (art,) = [a for a in _manifest(out)["artifacts"] if a["format"] == "frozen"]
    (weights,) = [t for t in art["signatures"][0]["outputs"] if t["key"] == "weights"]
    assert weights["dtype"] == "float32"
    np.save(tmp_path / "x.npy", np.ones((1, 2), np.float32))
    ok("run", out, "--inputs", f"x={tmp_path / 'x.npy'}", "--outdir", tmp_path / "o")
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "weights.npy"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "y.npy"), [[4, 6]])


def test_a_signature_declaring_the_wrong_dtype_gets_what_the_graph_takes(tf1, tmp_path):
    """TensorFlow 1.0 declared a string tf.Example placeholder as float32 in a SignatureDef:
    the graph decides, so the generated inputs are serialized tf.Examples."""
    import shutil

    from tensorflow.core.protobuf import saved_model_pb2

    src = tmp_path / "half_plus_two"
    shutil.copytree(tf1 / "half_plus_two" / "00000123", src)
    model = saved_model_pb2.SavedModel.FromString((src / "saved_model.pb").read_bytes())
    model.meta_graphs[0].signature_def["regress_x_to_y"].inputs["inputs"].dtype = 1  # float
    (src / "saved_model.pb").write_bytes(model.SerializeToString())
    for extra in ([], ["--shape", "inputs=-1"]):
        out = tmp_path / f"out{len(extra)}"
        ok("export", src, out, "--signature", "regress_x_to_y", *extra)
        (art,) = [a for a in _manifest(out)["artifacts"] if a["format"] == "savedmodel"]
        (info,) = art["signatures"][0]["inputs"]
        assert info["dtype"] == "string" and info["example"]["dense"][0]["key"] == "x"
        assert "declared input 'inputs' float32; it is written as string" in art["notes"][0]
    # TensorFlow Java's loader refuses a SignatureDef that disagrees with its graph
    assert "parity OK: 6 of 6" in ok("parity", out)


@pytest.mark.parametrize("kind", ["ref", "resource", "frozen"])
def test_batch_norm_pinned_with_set_is_folded(kind, tf1, tmp_path):
    """`--set is_training=false` leaves one branch of the batch norm's cond: the frozen graph
    holds no Switch, Merge or Assign, and gives x - moving_mean."""
    out = tmp_path / "out"
    io = ["--input", "x=x", "--output", "y=out"]
    pins = ["--set", "keep_prob=1.0", "--set", "is_training=false"]
    if kind == "frozen":
        src = tf1 / "batchnorm_frozen.pb"
        ops = {n.op for n in read_skeleton(src).graph_def.node}
        assert {"RefSwitch", "Assign"} <= ops  # the fixture holds what freezing it trips on
        unpinned = cli("export", src, out, *io)
        assert "pin each to a value with --set" in error_line(unpinned)
    else:
        src = tf1 / f"batchnorm_{kind}" / "model.ckpt"
    ok("export", src, out, *io, *pins)
    (frozen,) = [a for a in _manifest(out)["artifacts"] if a["format"] == "frozen"]
    banned = {"Switch", "RefSwitch", "Merge", "RefMerge", "Assign", "AssignVariableOp"}
    assert not banned & set(frozen["ops"]), frozen["ops"]
    x = np.array([[1.0, 1.0, 1.0, 1.0], [5.0, 6.0, 7.0, 8.0]], np.float32)
    np.save(tmp_path / "x.npy", x)
    ok("run", out, "--inputs", f"x={tmp_path / 'x.npy'}", "--outdir", tmp_path / "y")
    np.testing.assert_allclose(np.load(tmp_path / "y" / "y.npy"), x - np.arange(4), rtol=1e-6)


def test_an_unknown_rank_input_without_a_shape_goes_through_ndarrays(tf1, images_ids, tmp_path):
    """No --shape: the export checks with the user's inputs (--inputs), the Java method takes
    and returns NdArrays, and parity runs it."""
    x, ids = images_ids
    np.savez(tmp_path / "in.npz", images=x.reshape(3, 2, 2), ids=ids)
    out = tmp_path / "ckpt"
    ok(
        "export",
        tf1 / "ckpt" / "model.ckpt-16329",  # the seed's way: a checkpoint by its prefix
        out,
        *IO,
        "--set",
        "keep_prob=1.0",
        "--inputs",
        tmp_path / "in.npz",
    )
    frozen = next(a for a in _manifest(out)["artifacts"] if a["format"] == "frozen")
    images = next(t for t in frozen["signatures"][0]["inputs"] if t["key"] == "images")
    assert images["rank"] is None
    ids_info = next(t for t in frozen["signatures"][0]["inputs"] if t["key"] == "ids")
    assert ids_info["indexes"] == {"table": "embedding/weights", "rows": 5}  # a VariableV2
    ok("java", out)
    assert _manifest(out)["model"]["name"] == "model"  # not "model.ckpt-16329"
    java = (out / "java/com/example/models/ModelFrozen.java").read_text()
    assert "FloatNdArray images" in java
    printed = ok("parity", out, "--inputs", tmp_path / "in.npz")
    assert "parity OK: 2 of 2" in printed
    # the same checkpoint by its .meta file and by its folder
    for src in (tf1 / "ckpt" / "model.ckpt-16329.meta", tf1 / "ckpt"):
        shown = ok("inspect", src)
        assert "global_step: 16329" in shown


@pytest.mark.jvm
def test_tensorflow_serving_half_plus_two(tf1, tmp_path):
    """A versioned folder of a TF 1.0 SavedModel: tf.Example inputs without a shape, several
    regress/classify signatures and no way to guess one, an asset and a main op."""
    model = tf1 / "half_plus_two"
    shown = ok("inspect", model)
    assert "before 21: an empty shape in this graph means unknown" in shown
    assert "inputs: string (?) (shape from ParseExample), tensor tf_example:0" in shown
    assert "serialized tf.train.Example: dense x float32 (1), x2 float32 (1)" in shown

    out = tmp_path / "hpt"
    ok("export", model, out, "--signature", "all")
    manifest = _manifest(out)
    assert manifest["model"]["name"] == "half_plus_two"
    frozen = next(a for a in manifest["artifacts"] if a["format"] == "frozen")
    keys = [s["key"] for s in frozen["signatures"]]
    assert keys == [
        "classify_x_to_y",
        "regress_x2_to_y3",
        "regress_x_to_y",
        "regress_x_to_y2",
        "serving_default",
    ]
    regress = frozen["signatures"][2]
    tf_example = regress["inputs"][0]
    assert tf_example["shape"] == [-1] and tf_example["shape_from"] == "ParseExample"
    assert tf_example["example"]["dense"] == [
        {"key": "x", "dtype": "float32", "shape": [1]},
        {"key": "x2", "dtype": "float32", "shape": [1]},
    ]
    # keys several signatures share are scoped by signature in the one frozen graph
    assert regress["inputs"][0]["name"] == "regress_x_to_y/inputs"

    # y = 0.5 x + 2, y2 = 0.5 x + 3 (c, set by the main op's assets) through the export folder
    records = np.array(
        [example.encode({"x": ("float32", [v]), "x2": ("float32", [1.0])}) for v in (0, 4)],
        dtype=object,
    )
    np.save(tmp_path / "ex.npy", records.astype(bytes))
    for sig, want in (("regress_x_to_y", [2.0, 4.0]), ("regress_x_to_y2", [3.0, 5.0])):
        ok(
            "run",
            out,
            "--signature",
            sig,
            "--inputs",
            f"inputs={tmp_path / 'ex.npy'}",
            "--outdir",
            tmp_path / sig,
        )
        np.testing.assert_allclose(np.load(tmp_path / sig / "outputs.npy").ravel(), want)

    ok("java", out)
    java = (out / "java/com/example/models/HalfPlusTwoFrozen.java").read_text()
    assert "regressXToY(byte[][] inputs)" in java
    assert "FloatNdArray getOutputs()" in java  # outputs of unknown rank
    printed = ok("parity", out)
    assert "parity OK: 10 of 10" in printed

    old = ok("export", model, tmp_path / "v7", "--serving-version", "7", "--format", "savedmodel")
    assert "exported" in old
    missing = cli("inspect", model, "--version", "9")  # the older spelling
    assert missing.exit_code == EXIT_USAGE
    assert "versions: 7, 123" in error_line(missing)


@pytest.mark.jvm
def test_stateful_signatures_without_serving_default(tmp_path):
    src = wild.save_counter(tmp_path / "counter")
    refused = cli("export", src, tmp_path / "nope")
    assert refused.exit_code == EXIT_USAGE
    assert "no signature 'serving_default'" in error_line(refused)

    out = tmp_path / "out"
    printed = ok(
        "export",
        src,
        out,
        "--signature",
        "incr_counter",
        "--signature",
        "incr_counter_by",
        "--signature",
        "get_counter",
        "--signature",
        "double",
    )
    assert "signature 'incr_counter' left out" in printed
    manifest = _manifest(out)
    saved, frozen = manifest["artifacts"]
    assert [s["key"] for s in frozen["signatures"]] == ["double", "get_counter"]
    assert {x["signature"] for x in frozen["left_out"]} == {"incr_counter", "incr_counter_by"}
    stateful = {s["key"] for s in saved["signatures"] if s.get("stateful")}
    assert stateful == {"incr_counter", "incr_counter_by"}

    assert "output_0: float32 []\n1.\n" in ok("run", out, "--signature", "incr_counter")
    # each stateful call runs from a fresh load: the counter starts at 0 every time
    source = load_source(out, LoadOptions(stage=False), tmp_path)
    runs = [source.run("incr_counter_by", {"delta": np.float32(2.5)}) for _ in range(2)]
    assert [float(r["output_0"]) for r in runs] == [2.5, 2.5]
    ok("java", out)
    java = (out / "java/com/example/models/CounterSavedModel.java").read_text()
    assert "public GetCounterResult getCounter()" in java
    printed = ok("parity", out)
    assert "parity OK: 6 of 6" in printed


@pytest.mark.jvm
def test_lookup_tables_are_frozen_with_their_contents(tmp_path):
    src = wild.save_lookup(tmp_path / "lookup")
    out = tmp_path / "out"
    words = np.array([b"cat", b"dog", b"fish", b"bird", b"zebra"], dtype=object)
    np.savez(tmp_path / "words.npz", words=words.astype(bytes))
    ok("export", src, out, "--inputs", tmp_path / "words.npz")
    frozen = next(a for a in _manifest(out)["artifacts"] if a["format"] == "frozen")
    assert frozen["init_op"] == "init_all_tables"
    ok(
        "run",
        out / "frozen.pb",
        "--input",
        "words=words",
        "--output",
        "ids=ids",
        "--output",
        "index=index",
        "--input-json",
        'words=["cat", "dog", "fish", "bird", "zebra"]',
        "--outdir",
        tmp_path / "plain",
    )
    ok("run", out, "--inputs", f"words={tmp_path / 'words.npz'}", "--outdir", tmp_path / "y")
    # the static table: cat 3, dog 5, bird 7, else -1; the vocabulary file: dog, cat, fish,
    # and one out-of-vocabulary bucket (3)
    np.testing.assert_array_equal(np.load(tmp_path / "y" / "ids.npy"), [3, 5, -1, 7, -1])
    np.testing.assert_array_equal(np.load(tmp_path / "y" / "index.npy"), [1, 0, 2, 3, 3])
    ok("java", out)
    assert (
        'addTarget("init_all_tables")'
        in (out / "java/com/example/models/LookupFrozen.java").read_text()
    )
    printed = ok("parity", out, "--inputs", tmp_path / "words.npz")
    assert "parity OK: 2 of 2" in printed


@pytest.mark.jvm
def test_tf_example_inputs_are_generated_from_the_parse_spec(tmp_path):
    src = wild.save_parse_examples(tmp_path / "parse")
    out = tmp_path / "out"
    ok("export", src, out)
    sig = _manifest(out)["artifacts"][0]["signatures"][0]
    spec = sig["inputs"][0]["example"]
    assert spec["rank"] == 1
    assert spec["dense"] == [
        {"key": "age", "dtype": "int64", "shape": [1]},
        {"key": "scores", "dtype": "float32", "shape": [3]},
    ]
    assert spec["sparse"] == [{"key": "tags", "dtype": "string"}]
    printed = ok("parity", out)
    assert "parity OK: 2 of 2" in printed


def test_a_sparse_feature_read_as_one_value_per_example(tmp_path):
    src = wild.save_one_value_per_example(tmp_path / "tfx")
    out = tmp_path / "out"
    for seed in ("0", "1", "2"):  # the same inputs each run, each of them fitting
        ok("export", src, out, "--seed", seed, "--force")


def test_export_folders_are_sources(demo_export, tmp_path):
    shown = ok("inspect", demo_export)
    assert "bert_classifier" in shown and "loss/pred_prob" in shown
    assert "savedmodel:" in shown and "frozen:" in shown
    assert ok("ops", demo_export)
    assert "no op(s)" in ok("scan", demo_export)
    out = tmp_path / "again"
    printed = ok("export", demo_export, out, "--format", "frozen")
    assert "frozen vs source (export)" in printed
    assert _manifest(out)["model"]["name"] == "bert_classifier"


def test_tensorflow_says_nothing_unless_verbose(tf1, tmp_path):
    """In a real process (TensorFlow's C++ logging writes to file descriptor 2): an export
    prints tf2java's lines only; an error is one line."""
    env = {**os.environ}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    command = [
        sys.executable,
        "-m",
        "exporter",
        "export",
        str(tf1 / "half_plus_two"),
        str(tmp_path / "out"),
        "--signature",
        "all",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [  # tf2java's phases, nothing of TensorFlow's
        "loading the source",
        "running the source on the check inputs",
        "writing saved_model and checking it against the source",
        "writing frozen.pb and checking it against the source",
    ]
    assert not [line for line in proc.stdout.splitlines() if line.startswith(("W0000", "I0000"))]
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.count("\n") == 1 and "already exists" in proc.stderr


def test_runtime_errors_name_the_node_and_the_reason(tf1, images_ids, tmp_path):
    x, ids = images_ids
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ids.npy", ids[:2])  # a batch of 2 ids for 3 images
    result = cli(
        "run",
        tf1 / "folded.pb",
        *IO,
        "--set",
        "keep_prob=1.0",
        "--inputs",
        f"images={tmp_path / 'x.npy'},ids={tmp_path / 'ids.npy'}",
    )
    assert result.exit_code != 0
    line = error_line(result)
    assert "Graph execution error" not in line and "node" in line and "shapes" in line.lower()


class _BatchOfOne(tf.Module):
    """Declares a batch of any size, but adds a (1, 10, 10, 1) constant: only batch 1 runs."""

    @tf.function(input_signature=[tf.TensorSpec((None, 1), tf.float32, name="x")])
    def serve(self, x):
        return {"y": x + tf.ones((1, 10, 10, 1))}


def test_a_graph_that_runs_at_batch_1_only_says_so(tmp_path):
    module = _BatchOfOne()
    src = tmp_path / "batch_one"
    tf.saved_model.save(module, str(src), signatures={"serving_default": module.serve})
    result = cli("export", src, tmp_path / "out")
    assert result.exit_code == EXIT_MODEL, result.output
    line = error_line(result)
    assert "Incompatible shapes: [1,10,10,1] vs. [2,1]" in line and "try --batch 1" in line
    assert "Graph execution error" not in result.output
    assert not (tmp_path / "out").exists()
    ok("export", src, tmp_path / "out", "--batch", "1")
    assert _manifest(tmp_path / "out")["checks"]["batch"] == 1
    assert "parity OK: 2 of 2" in ok("parity", tmp_path / "out")  # at the export's batch


def test_first_line_of_a_tensorflow_runtime_error():
    import tensorflow as tf

    message = (
        "Graph execution error:\n\nDetected at node logits defined at (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n\n    logits = a + b\n\n'
        "Node: 'logits'\nIncompatible shapes: [3,3] vs. [2,3]\n\t [[{{node logits}}]]"
    )
    exc = tf.errors.InvalidArgumentError(None, None, message)
    assert first_line(exc) == "node 'logits': Incompatible shapes: [3,3] vs. [2,3]"
    # frames without their source lines, the reason right after the last one
    message = (
        "Graph execution error:\n\nDetected at node read defined at (most recent call last):\n"
        '  File "<string>", line 11, in <module>\n\n  File "run.py", line 2, in run\n\n'
        "Could not find variable bias. This could mean that the variable has been deleted.\n"
        "\t [[{{node read}}]] [Op:__inference_pruned_64]"
    )
    exc = tf.errors.FailedPreconditionError(None, None, message)
    assert first_line(exc) == (
        "Could not find variable bias. This could mean that the variable has been deleted."
    )


def test_example_protos_written_without_tensorflow_parse_in_tensorflow():
    import tensorflow as tf

    record = example.encode(
        {
            "f": ("float32", [1.5, -2.0]),
            "i": ("int64", [7, -3]),
            "s": ("string", [b"a", b"\x00bc"]),
        }
    )
    parsed = tf.train.Example.FromString(record).features.feature
    assert list(parsed["f"].float_list.value) == [1.5, -2.0]
    assert list(parsed["i"].int64_list.value) == [7, -3]
    assert list(parsed["s"].bytes_list.value) == [b"a", b"\x00bc"]
