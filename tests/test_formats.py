"""Every format of the seed document through tf2java: each source to each target, checked
numerically; inspect and run on every format."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from exporter.cli import main
from exporter.commands.export import export
from exporter.commands.parity import parity
from exporter.core import manifest
from exporter.errors import EXIT_MODEL, EXIT_USAGE, ModelError, UsageError
from exporter.sources import LOADERS, LoadOptions
from tests import models

TF1_IO = {"inputs": {"x": "input_x:0"}, "outputs": {"probs": "loss/pred_prob"}}

# source id -> (the format's loader, how to find the source, load options, signature)
SOURCES = {
    "savedmodel_tf2": ("savedmodel", lambda f: f("split_source"), {}, None),
    "savedmodel_tf1": (
        "savedmodel",
        lambda f: f("tf1_dir") / "builder",
        {"tags": ["myTag"]},
        "predict",
    ),
    "keras": ("keras", lambda f: f("keras_source"), {}, None),
    "h5": ("h5", lambda f: f("keras_h5")["whole"], {}, None),
    "h5_weights": (
        "h5",
        lambda f: f("keras_h5")["weights"],
        {"architecture": "architecture"},
        None,
    ),
    "checkpoint": ("checkpoint", lambda f: f("tf1_dir") / "ckpt", TF1_IO, None),
    "checkpoint_bare_meta": ("checkpoint", lambda f: f("tf1_dir") / "bare", TF1_IO, None),
    "frozen_pb": ("frozen", lambda f: f("tf1_dir") / "frozen.pb", TF1_IO, None),
    "frozen_pbtxt": ("frozen", lambda f: f("tf1_dir") / "frozen.pbtxt", TF1_IO, None),
}
TARGETS = ("savedmodel", "frozen", "tflite")
# Formats that are targets only (or exports) have their fixture for inspect and run.
INSPECT_ONLY = {
    "tflite": "a .tflite written by the matrix",
    "export": "an export folder: tests/test_wild.py::test_export_folders_are_sources",
}


def _options(request, source_id: str) -> LoadOptions:
    kwargs = dict(SOURCES[source_id][2])
    if kwargs.get("architecture"):
        kwargs["architecture"] = request.getfixturevalue("keras_h5")["architecture"]
    return LoadOptions(**kwargs)


@pytest.fixture(scope="module")
def matrix(request, tmp_path_factory):
    """Each source exported once to every target; the export checks each against its source."""
    results = {}
    for source_id, (_, find, _, signature) in SOURCES.items():
        src = find(request.getfixturevalue)
        out = tmp_path_factory.mktemp("matrix") / source_id
        results[source_id] = export(
            src,
            out,
            formats=TARGETS,
            signature=signature,
            options=_options(request, source_id),
            name=source_id,
        )
    return results


def test_every_registered_source_format_has_a_fixture():
    covered = {fmt for fmt, *_ in SOURCES.values()} | set(INSPECT_ONLY)
    assert covered == set(LOADERS), f"formats without a fixture: {set(LOADERS) - covered}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source_id", list(SOURCES))
def test_conversion(matrix, source_id, target):
    result = matrix[source_id]
    (check,) = [c for c in result.checks if c.label.startswith(f"{target} vs source")]
    assert check.ok, check.lines()
    assert all(c.max_abs_diff is not None for c in check.checks)
    art = result.manifest.artifact(target)
    assert (result.out / art.path).exists()
    manifest.validate(json.loads((result.out / "manifest.json").read_text()))


@pytest.mark.parametrize(
    "source_id",
    [s for s in SOURCES if SOURCES[s][0] in ("checkpoint", "frozen") or s == "savedmodel_tf1"],
)
def test_tf1_sources_give_the_values_their_weights_give(matrix, source_id):
    """Not only the same as the source: the right numbers, computed from the saved weights."""
    from exporter.sources.tflite import run_interpreter

    out = matrix[source_id].out
    x = np.array([[1, 2, 3], [0.5, -1, 0], [0, 0, 0]], np.float32)
    content = (out / "model.tflite").read_bytes()
    key = "predict" if source_id == "savedmodel_tf1" else "serving_default"
    (value,) = run_interpreter(content, key, {"x": x}, "model.tflite").values()
    np.testing.assert_allclose(value, models.tf1_probs(x), rtol=1e-5)


@pytest.mark.jvm
@pytest.mark.parametrize(
    "source_id",
    # savedmodel_tf1's classify and regress signatures take serialized tf.Example protos:
    # test_tf1_builder_every_signature_on_real_examples gives it real ones
    [s for s in SOURCES if s != "savedmodel_tf1"],
)
def test_java_parity_on_every_savedmodel_and_frozen_graph(matrix, source_id):
    report = parity(matrix[source_id].out, batch=3, seed=1)
    assert report.ok, "\n".join(report.lines())
    assert {c.format for c in report.cases} == {"savedmodel", "frozen"}
    assert any("TensorFlow Java does not run TFLite" in n for n in report.notes)


@pytest.mark.parametrize("source_id", ["keras", "h5", "h5_weights"])
def test_keras_sources_store_each_weight_once(matrix, request, source_id):
    """Keras' own model.export stores every weight twice (keras-team/keras#23553)."""
    import tensorflow as tf

    from exporter.sources.keras_model import load_keras_model

    src = SOURCES[source_id][1](request.getfixturevalue)
    params = load_keras_model(src, _options(request, source_id)).count_params()
    variables = matrix[source_id].out / "saved_model" / "variables" / "variables"
    shapes = tf.train.load_checkpoint(str(variables)).get_variable_to_shape_map()
    del shapes["_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert sum(int(np.prod(shape)) for shape in shapes.values()) == params > 0


def test_frozen_to_savedmodel_has_empty_variables_and_says_so(matrix):
    out = matrix["frozen_pb"].out
    assert list((out / "saved_model" / "variables").iterdir()) == []
    notes = matrix["frozen_pb"].manifest.artifact("savedmodel").notes
    assert any("variables/ is empty, and that is correct" in n for n in notes)


def test_checkpoint_step_picks_another_checkpoint(tf1_dir, tmp_path):
    x = np.array([[1, 2, 3]], np.float32)
    for step in (100, 200):
        out = tmp_path / str(step)
        export(tf1_dir / "ckpt", out, formats=("frozen",), options=LoadOptions(step=step, **TF1_IO))
        from exporter.graph.freeze import run_graph_def
        from exporter.sources.graphdef import read as read_graph_def

        data, _ = manifest.read(out)
        sig = data.artifact("frozen").signatures[0]
        (value,) = run_graph_def(read_graph_def(out / "frozen.pb"), sig, {"x": x}).values()
        np.testing.assert_allclose(value, models.tf1_probs(x, step), rtol=1e-6)
    with pytest.raises(UsageError, match="no checkpoint of step 150; steps: 100, 200"):
        export(tf1_dir / "ckpt", tmp_path / "x", options=LoadOptions(step=150, **TF1_IO))


def test_meta_without_variables_is_explained(matrix):
    notes = matrix["checkpoint_bare_meta"].manifest.artifact("savedmodel").notes
    assert any("lists no variables in its collection_def" in n for n in notes)


def test_checkpoint_without_feeds_lists_candidates(tf1_dir, tmp_path):
    result = CliRunner().invoke(main, ["export", str(tf1_dir / "ckpt"), str(tmp_path / "o")])
    assert result.exit_code == EXIT_USAGE
    assert "placeholders: input_x (float32 [-1, 3]), tf_example (string [-1])" in result.output
    assert "loss/pred_prob" in result.output and not (tmp_path / "o").exists()


def test_checkpoint_with_a_missing_shard(tf1_dir, tmp_path):
    shutil.copytree(tf1_dir / "ckpt", tmp_path / "ckpt")
    for shard in (tmp_path / "ckpt").glob("model.ckpt-200.data-*"):
        shard.unlink()
    with pytest.raises(ModelError, match=r"model.ckpt-200: its .data-\*-of-\* shard is missing"):
        export(tmp_path / "ckpt", tmp_path / "o", options=LoadOptions(**TF1_IO))


def test_optimize_checks_against_the_unoptimized_graph(tf1_dir, tmp_path):
    result = export(
        tf1_dir / "frozen.pb",
        tmp_path / "o",
        formats=("frozen",),
        optimize=True,
        options=LoadOptions(**TF1_IO),
    )
    labels = [c.label for c in result.checks]
    assert labels == ["frozen vs source (frozen)", "frozen optimized vs unoptimized"]
    assert all(c.ok for c in result.checks)
    (note,) = result.manifest.artifact("frozen").notes
    assert note.startswith("optimized for inference:")


def test_weights_only_h5_needs_its_architecture(keras_h5, tmp_path):
    result = CliRunner().invoke(main, ["export", str(keras_h5["weights"]), str(tmp_path / "o")])
    assert result.exit_code == EXIT_USAGE
    assert "holds weights only" in result.output and "--architecture" in result.output


def test_by_name_loads_the_layers_whose_names_match(keras_h5, tmp_path):
    import keras

    from exporter.sources.keras_model import load_keras_model

    features = keras.Input((8,), name="features")
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    embedded = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4)(tokens))
    hidden = keras.layers.Dense(6, activation="relu", name="hidden")(
        keras.layers.Concatenate()([features, embedded])
    )
    new_head = keras.layers.Dense(2, name="new_head")(hidden)
    (tmp_path / "transfer.json").write_text(keras.Model([features, tokens], new_head).to_json())
    options = LoadOptions(architecture=tmp_path / "transfer.json", by_name=True)
    model = load_keras_model(keras_h5["weights"], options)
    for a, b in zip(
        model.get_layer("hidden").get_weights(), keras_h5["model"].get_layer("hidden").get_weights()
    ):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ModelError, match="do not fit"):
        load_keras_model(keras_h5["weights"], LoadOptions(architecture=tmp_path / "transfer.json"))
    export(keras_h5["weights"], tmp_path / "o", options=options)


def test_custom_objects(custom_keras, tmp_path, monkeypatch):
    import sys

    result = CliRunner().invoke(main, ["export", str(custom_keras), str(tmp_path / "a")])
    # Keras would import the module the file names: refused before Keras opens it
    assert result.exit_code == EXIT_USAGE, result.output
    assert "names the class tf2java_test_layers.Scale" in result.output
    assert "--custom-objects tf2java_test_layers" in result.output
    assert "--trust-model-code" in result.output
    monkeypatch.chdir(custom_keras.parent)  # the module sits beside the user, as in a project
    monkeypatch.setattr(sys, "path", list(sys.path))
    result = CliRunner().invoke(
        main,
        [
            "export",
            str(custom_keras),
            str(tmp_path / "b"),
            "--custom-objects",
            "tf2java_test_layers",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "[ok] output_0" in result.output
    sys.modules.pop("tf2java_test_layers", None)


def test_tflite_is_a_target_not_a_source(matrix, tmp_path):
    result = CliRunner().invoke(
        main, ["export", str(matrix["keras"].out / "model.tflite"), str(tmp_path / "o")]
    )
    assert result.exit_code == EXIT_USAGE and "export target, not a source" in result.output


@pytest.mark.jvm
def test_tf1_builder_every_signature_on_real_examples(matrix, tmp_path):
    """Custom tag, several MetaGraphs, predict/classify/regress: all three signatures of the
    SavedModel through Java, with serialized tf.Example inputs."""
    out = matrix["savedmodel_tf1"].out
    data, _ = manifest.read(out)
    saved = data.artifact("savedmodel")
    assert saved.tags == ["myTag"]
    methods = {s.key: s.method_name for s in saved.signatures}
    assert methods == {
        "classify": "tensorflow/serving/classify",
        "predict": "tensorflow/serving/predict",
        "regress": "tensorflow/serving/regress",
    }
    generated = parity(out)  # serialized tf.Example protos made from the ParseExample spec
    assert generated.ok, "\n".join(generated.lines())
    x = np.array([[1, 2, 3], [3, 2, 1]], np.float32)
    np.savez(tmp_path / "in.npz", x=x, inputs=models.tf_examples(x).astype(bytes))
    report = parity(out, inputs=tmp_path / "in.npz")
    assert report.ok, "\n".join(report.lines())
    assert len(report.cases) == 4  # three SavedModel signatures and the frozen 'predict'


INSPECTED = {
    "savedmodel": (lambda f: f("tf1_dir") / "builder", ["--tag", "myTag", "--all"]),
    "checkpoint": (lambda f: f("tf1_dir") / "bare", []),
    "frozen": (lambda f: f("tf1_dir") / "frozen.pbtxt", []),
    "keras": (lambda f: f("keras_source"), []),
    "h5": (lambda f: f("keras_h5")["weights"], []),
}


@pytest.mark.parametrize("fmt", [*INSPECTED, "tflite"])
def test_inspect_every_format(fmt, request, matrix):
    if fmt == "tflite":
        src, args = matrix["checkpoint"].out / "model.tflite", []
    else:
        find, args = INSPECTED[fmt]
        src = find(request.getfixturevalue)
    result = CliRunner().invoke(main, ["inspect", str(src), "--json", *args])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["format"] == fmt
    details = data["details"]
    if fmt == "savedmodel":
        assert [m["tags"] for m in data["meta_graphs"]] == [["myTag"], ["second", "serve"]]
        assert "ParseExampleV2" in data["meta_graphs"][0]["ops"]
    elif fmt == "checkpoint":
        assert details["global_step"] == 200
        assert {v["name"]: v["shape"] for v in details["variables"]} == {
            "dense/bias": [2],
            "dense/kernel": [3, 2],
            "global_step": [],
        }
        assert details["meta"]["lists_variables"] is False
    elif fmt == "frozen":
        assert details["placeholders"] == ["input_x (float32 [-1, 3])"]
        assert details["candidate_outputs"] == ["loss/pred_prob"]
        assert details["op_counts"]["Softmax"] == 1
    elif fmt == "keras":
        assert [s["key"] for s in data["signatures"]] == ["serve", "serving_default"]
        assert "probs" in {layer["name"] for layer in details["layers"]}
    elif fmt == "h5":
        assert details["weights_only"] is True
        assert {"layer": "hidden", "weights": [[6], [12, 6]]} in details["layers"]
    else:
        assert details["has_signatures"] is True
        assert data["signatures"][0]["inputs"][0]["key"] == "x"
    text = CliRunner().invoke(main, ["inspect", str(src), *args])
    assert text.exit_code == 0 and f": {fmt}" in text.output.splitlines()[0]


def test_run_every_way_of_giving_inputs(tf1_dir, matrix, tmp_path):
    x = np.array([[1, 2, 3], [0, 1, 0]], np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", first=x, other=x * 0)
    io = ["--input", "x=input_x", "--output", "probs=loss/pred_prob"]
    expected = models.tf1_probs(x)
    cases = [
        [str(tf1_dir / "ckpt"), *io, "--inputs", f"x={tmp_path / 'x.npy'}"],
        [str(tf1_dir / "frozen.pb"), *io, "--inputs", f"x={tmp_path / 'x.npz'}:first"],
        [
            str(tf1_dir / "builder"),
            "--tag",
            "myTag",
            "--signature",
            "predict",
            "--input-json",
            f"x={json.dumps(x.tolist())}",
        ],
        [str(matrix["checkpoint"].out / "model.tflite"), "--inputs", f"x={tmp_path / 'x.npy'}"],
    ]
    for i, args in enumerate(cases):
        outdir = tmp_path / f"out{i}"
        result = CliRunner().invoke(main, ["run", *args, "--outdir", str(outdir)])
        assert result.exit_code == 0, result.output
        (saved,) = outdir.glob("*.npy")
        np.testing.assert_allclose(np.load(saved), expected, rtol=1e-5)
    printed = CliRunner().invoke(main, ["run", *cases[0][:-2], "--input-json", "x=[[1, 2, 3]]"])
    assert printed.exit_code == 0 and "probs: float32 [1, 2]" in printed.output
    as_json = CliRunner().invoke(
        main, ["run", *cases[0][:-2], "--input-json", "x=[[1, 2, 3]]", "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["ok"] is True and data["outputs"]["probs"]["shape"] == [1, 2]
    np.testing.assert_allclose(data["outputs"]["probs"]["value"], expected[:1], rtol=1e-5)


def test_run_refuses_pickles_and_code(tf1_dir, tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    io = ["--input", "x=input_x", "--output", "probs=loss/pred_prob"]
    result = CliRunner().invoke(
        main, ["run", str(tf1_dir / "frozen.pb"), *io, "--inputs", f"x={tmp_path / 'obj.npy'}"]
    )
    assert result.exit_code == EXIT_MODEL and "holds Python objects (a pickle)" in result.output
    result = CliRunner().invoke(
        main,
        ["run", str(tf1_dir / "frozen.pb"), *io, "--input-json", "x=__import__('os').getcwd()"],
    )
    assert result.exit_code == EXIT_MODEL and "not valid JSON" in result.output
    result = CliRunner().invoke(main, ["run", str(tf1_dir / "frozen.pb"), *io])
    assert result.exit_code == EXIT_USAGE and "no value for input(s) x" in result.output


def test_a_functional_model_called_with_a_dict_of_inputs(tmp_path):
    """`keras.Model({"age": ..., "scores": ...}, ...)`: the signature takes the model's own
    inputs by their names."""
    import keras

    age = keras.Input((3,), name="age")
    scores = keras.Input((2,), dtype="int32", name="scores")
    joined = keras.layers.Concatenate()([age, keras.ops.cast(scores, "float32")])
    model = keras.Model({"age": age, "scores": scores}, keras.layers.Dense(1)(joined))
    model.save(tmp_path / "dict.keras")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "dict.keras"), str(out)])
    assert result.exit_code == 0, result.output
    for sig in json.loads((out / "manifest.json").read_text())["artifacts"][0]["signatures"]:
        declared = {t["key"]: (t["dtype"], t["shape"]) for t in sig["inputs"]}
        assert declared == {"age": ("float32", [-1, 3]), "scores": ("int32", [-1, 2])}
