"""Broken and unexpected input: one line naming the file and the problem, a non-zero exit, no
traceback, nothing written, and the input untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from exporter.cli import main
from exporter.errors import EXIT_MODEL, EXIT_USAGE

IO = ["--input", "x=input_x", "--output", "probs=loss/pred_prob"]


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in root.rglob("*")
    }


def _refused(args: list[str], root: Path, code: int, *needles: str) -> str:
    before = _snapshot(root)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert _snapshot(root) == before  # nothing written, nothing changed
    return errors[0]


def _broken_pb(kind: str, tf1_dir: Path, path: Path) -> Path:
    good = (tf1_dir / "frozen.pb").read_bytes()
    data = {
        "empty": b"",
        "random": np.random.default_rng(0).bytes(4096),
        "truncated": good[: len(good) // 2],
    }[kind]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "kind,needle",
    [("empty", "the file is empty"), ("random", "frozen.pb"), ("truncated", "frozen.pb")],
)
def test_broken_graphdef(kind, needle, tf1_dir, tmp_path):
    src = _broken_pb(kind, tf1_dir, tmp_path / "frozen.pb")
    _refused(["export", str(src), str(tmp_path / "out"), *IO], tmp_path, EXIT_MODEL, needle)
    _refused(["inspect", str(src)], tmp_path, EXIT_MODEL, needle)


def test_pbtxt_with_a_syntax_error(tf1_dir, tmp_path):
    text = (tf1_dir / "frozen.pbtxt").read_text()
    (tmp_path / "bad.pbtxt").write_text(text.replace("node {", "node {{", 1))
    _refused(
        ["export", str(tmp_path / "bad.pbtxt"), str(tmp_path / "o"), *IO],
        tmp_path,
        EXIT_MODEL,
        "bad.pbtxt: not a text GraphDef",
    )


def test_saved_model_without_variables(split_source, tmp_path):
    shutil.copytree(split_source, tmp_path / "sm")
    shutil.rmtree(tmp_path / "sm" / "variables")
    _refused(
        ["export", str(tmp_path / "sm"), str(tmp_path / "o")],
        tmp_path,
        EXIT_MODEL,
        "variables/variables.index is missing",
    )


def test_saved_model_with_a_missing_shard(split_source, tmp_path):
    shutil.copytree(split_source, tmp_path / "sm")
    for shard in (tmp_path / "sm" / "variables").glob("variables.data-*"):
        shard.unlink()
    _refused(
        ["export", str(tmp_path / "sm"), str(tmp_path / "o")],
        tmp_path,
        EXIT_MODEL,
        "variables/variables.data-00000-of-00001 is missing",
    )


def test_checkpoint_without_its_data_shard(tf1_dir, tmp_path):
    shutil.copytree(tf1_dir / "ckpt", tmp_path / "ckpt")
    for shard in (tmp_path / "ckpt").glob("model.ckpt-200.data-*"):
        shard.unlink()
    _refused(
        ["export", str(tmp_path / "ckpt"), str(tmp_path / "o"), *IO],
        tmp_path,
        EXIT_MODEL,
        "shard is missing",
    )


def test_weights_only_h5_where_a_model_is_needed(keras_h5, tmp_path):
    shutil.copyfile(keras_h5["weights"], tmp_path / "w.h5")
    _refused(
        ["export", str(tmp_path / "w.h5"), str(tmp_path / "o")],
        tmp_path,
        EXIT_USAGE,
        "holds weights only",
        "--architecture",
    )


@pytest.mark.parametrize("suffix", [".tflite", ".keras", ".h5"])
def test_random_bytes_under_a_model_suffix(suffix, tmp_path):
    src = tmp_path / f"model{suffix}"
    src.write_bytes(np.random.default_rng(1).bytes(2048))
    _refused(["inspect", str(src)], tmp_path, EXIT_MODEL, src.name)
    _refused(["export", str(src), str(tmp_path / "o")], tmp_path, EXIT_MODEL, src.name)


def test_empty_keras_file(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"")
    _refused(
        ["export", str(tmp_path / "m.keras"), str(tmp_path / "o")], tmp_path, EXIT_MODEL, "m.keras"
    )


def test_stale_or_tampered_model_files(split_export, tmp_path):
    shutil.copytree(split_export, tmp_path / "exp")
    frozen = tmp_path / "exp" / "frozen.pb"
    frozen.write_bytes(frozen.read_bytes() + b"\x00")
    for command in (["parity"], ["java"]):
        _refused(
            [*command, str(tmp_path / "exp")],
            tmp_path,
            EXIT_MODEL,
            "frozen.pb: sha256 differs from the manifest",
        )


def test_parity_inputs_of_the_wrong_shape(split_export, tmp_path):
    np.savez(tmp_path / "in.npz", x=np.zeros((2, 4), np.float32))
    _refused(
        ["parity", str(split_export), "--inputs", str(tmp_path / "in.npz")],
        tmp_path,
        EXIT_MODEL,
        "input 'x' must have shape (?, 3), got (2, 4)",
    )


def test_an_output_place_that_cannot_be_written(split_source, tmp_path):
    # /proc refuses new entries even to root, like a directory without write permission
    line = _refused(["export", str(split_source), "/proc/tf2java-out"], tmp_path, EXIT_MODEL)
    assert "/proc" in line
    assert not Path("/proc/tf2java-out").exists()
