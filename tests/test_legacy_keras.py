"""Keras 2 files through the command line as typed: read by tf_keras as they were written,
inputs of the rank and shape the file declares, in the manifest and in the Java signature."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from exporter.cli import main
from exporter.errors import EXIT_MODEL
from tests import keras2


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _inputs(out) -> list[tuple[str, list[int]]]:
    data = json.loads((out / "manifest.json").read_text())
    (sig,) = data["artifacts"][0]["signatures"]
    return [(t["key"], t["shape"]) for t in sig["inputs"]]


def _java_params(out, tmp_path) -> str:
    java = tmp_path / "java"
    result = cli("java", out, "--out", java)
    assert result.exit_code == 0, result.output
    text = next(java.rglob("*Frozen.java")).read_text()
    return re.search(r"public \w+ servingDefault\(([^)]*)\)", text).group(1)


@pytest.mark.parametrize(
    "build,shape,param",
    [
        (keras2.mlp_h5, [-1, 784], "float[][] "),
        (keras2.seq2seq_h5, [-1, 10, 8], "float[][][] frames"),
        (keras2.lstm_h5, [-1, 5, 3], "float[][][] "),
    ],
    ids=["mlp", "seq2seq", "lstm"],
)
def test_a_keras_2_h5_keeps_its_declared_inputs(build, shape, param, tmp_path):
    src = build(tmp_path / "model.h5")
    shown = cli("inspect", src)
    assert shown.exit_code == 0, shown.output
    assert "read_by: tf_keras 2.18.0" in shown.output and "written_by: 2.18.0" in shown.output
    out = tmp_path / "out"
    result = cli("export", src, out)
    assert result.exit_code == 0, result.output
    ((_, declared),) = _inputs(out)
    assert declared == shape
    assert _java_params(out, tmp_path).startswith(param)
    keras = json.loads((out / "manifest.json").read_text())["model"]["keras"]
    assert keras == {"read_by": "tf_keras 2.18.0", "written_by": "2.18.0"}


def test_a_json_architecture_with_its_weights(tmp_path):
    architecture, weights = keras2.json_and_weights(tmp_path / "files")
    out = tmp_path / "out"
    result = cli("export", weights, out, "--architecture", architecture)
    assert result.exit_code == 0, result.output
    ((_, declared),) = _inputs(out)
    assert declared == [-1, 4]
    assert _java_params(out, tmp_path).startswith("float[][] ")


def test_keras_2_lambda_bytecode_is_refused_without_consent(tmp_path):
    src = keras2.lambda_h5(tmp_path / "lambda.h5")
    line = [ln for ln in cli("export", src, tmp_path / "out").output.splitlines() if "error" in ln]
    assert len(line) == 1
    assert "Lambda layer 'double'" in line[0] and "bytecode" in line[0]
    assert "--trust-model-code" in line[0]
    result = cli("export", src, tmp_path / "out", "--trust-model-code")
    assert result.exit_code == 0, result.output


def test_custom_objects_is_suggested_only_for_what_keras_lacks(tmp_path):
    src = keras2.mlp_h5(tmp_path / "model.h5")
    import h5py

    with h5py.File(src, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["class_name"] = "MyDense"
        f.attrs["model_config"] = json.dumps(config)
    result = cli("inspect", src)
    assert result.exit_code == EXIT_MODEL, result.output
    assert "'MyDense' is a custom layer or function? name its module with --custom-objects" in (
        result.output
    )


def test_a_keras_2_saved_model_with_its_optimizer_exports_without_keras_2(tmp_path):
    """TensorFlow revives a Keras 2 optimizer's slots only through tf_keras; where tf2java
    runs without it (installed without its no-deps step), the signatures are read as
    TensorFlow 1 reads them, and the export checks out the same."""
    src = keras2.saved_model_with_optimizer(tmp_path / "trained")
    blocked = tmp_path / "without_tf_keras"
    blocked.mkdir()
    (blocked / "tf_keras.py").write_text("raise ImportError('tf_keras is not installed')\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "export", src, out, "--format", "frozen"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(blocked)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "frozen vs source (savedmodel), signature 'serving_default'" in proc.stdout
    assert "[ok] score: max abs diff 0.00e+00" in proc.stdout
    assert _inputs(out) == [("hidden_input", [-1, 4])]
    (frozen,) = [a for a in json.loads((out / "manifest.json").read_text())["artifacts"]]
    assert not {"VarHandleOp", "ReadVariableOp"} & set(frozen["ops"])  # truly frozen
    parity = cli("parity", out)
    assert parity.exit_code == 0, parity.output
    assert "parity OK: 1 of 1" in parity.output
