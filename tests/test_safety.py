"""What a model or a manifest from elsewhere can and cannot do: nothing reaches outside its
folder, runs unannounced, or destroys the user's files; every bad input is one line and the
right exit code."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from tensorflow.core.framework import graph_pb2
from tensorflow.core.protobuf import saved_model_pb2

from exporter.checks.scan import TOUCHES_SNAPSHOT, registry_touches, scan
from exporter.cli import main
from exporter.errors import EXIT_MODEL, EXIT_USAGE
from exporter.sources import keras_code
from tests import carried_code, models, procs, wild
from tools import tensorflow_snapshot


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --- code a model file carries runs only with consent ---------------------------------------

CARRIERS = {
    "pickled.keras": (carried_code.pickled_npz_keras, "3 pickled arrays"),
    "system.keras": (carried_code.os_system_keras, "names the function os.system"),
    "lambda.h5": (carried_code.lambda_bytecode_h5, "marshaled Python bytecode"),
}


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_code_in_a_model_file_never_runs_without_consent(name, tmp_path):
    build, needle = CARRIERS[name]
    marker = tmp_path / "ran"
    src = build(tmp_path / name, marker)
    marker.unlink(missing_ok=True)  # building a Lambda model calls it once
    for command in (["inspect", src], ["ops", src], ["export", src, tmp_path / "out"]):
        line = one_error(cli(*command), EXIT_USAGE)
        assert needle in line and "--trust-model-code" in line and "nothing was run" in line
        assert not marker.exists(), command
    found = cli("scan", src)
    assert found.exit_code == 1, found.output
    assert "carries code that would run when Keras opens it" in found.output
    assert needle in found.output and not marker.exists()
    assert not (tmp_path / "out").exists()
    # the payloads are real: trusting the file runs them
    cli("inspect", src, "--trust-model-code")
    assert marker.exists()


def test_a_keras_archive_with_entries_outside_it_or_twice(tmp_path):
    src = tmp_path / "plain.keras"
    models.save_keras(src)
    with zipfile.ZipFile(src, "a") as zf:
        zf.writestr("../../evil.py", "print('x')")
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("config.json", zf.read("config.json"))
    found = cli("scan", src)
    assert found.exit_code == 1, found.output
    assert "../../evil.py: the entry's name points outside the archive" in found.output
    assert "config.json: the archive holds this entry twice" in found.output
    line = one_error(cli("inspect", src), EXIT_USAGE)
    assert "--trust-model-code" in line and not (tmp_path.parent / "evil.py").exists()


def test_a_config_naming_keras_functions_and_the_users_objects_is_clean(tmp_path):
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [
                {"class_name": "Dense", "config": {"name": "d", "activation": "relu"}},
                {
                    "module": "keras.layers",
                    "class_name": "Activation",
                    "config": {
                        "name": "a",
                        "activation": {
                            "module": "builtins",
                            "class_name": "function",
                            "config": "gelu",
                            "registered_name": "function",
                        },
                    },
                },
                {"module": "my_layers", "class_name": "Scale", "config": {"name": "s"}},
                {
                    "module": "builtins",
                    "class_name": "function",
                    "config": "exec",
                    "registered_name": "function",
                },
            ]
        },
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config))
    found = [c.line() for c in keras_code.carried_code(path)]
    assert found == [
        "[model code] layer 's': names the class my_layers.Scale, which Keras would import and "
        "build (your own code? give its module with --custom-objects my_layers)",
        "[model code] config: names the function builtins.exec, which Keras would import and call",
    ]
    assert [c.line() for c in keras_code.carried_code(path, {"Scale"})] == found[1:]


# --- side effects only with consent ---------------------------------------------------------


def _frozen_saver(path: Path) -> Path:
    """A frozen graph whose output waits on a SaveV2 under save/ (writing where its filename
    constant says), and a DebugIdentity streaming to a URL."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None,), name="x")
        prefix = tf.constant(str(path.parent / "stolen"), name="save/filename")
        save = tf.raw_ops.SaveV2(
            prefix=prefix,
            tensor_names=tf.constant(["x"]),
            shape_and_slices=tf.constant([""]),
            tensors=[x],
            name="save/SaveV2",
        )
        debug = tf.raw_ops.DebugIdentity(input=x, debug_urls=["grpc://localhost:1"], name="dbg")
        with tf.control_dependencies([save]):
            tf.identity(debug * 2, name="y")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def test_scan_finds_what_writes_in_a_frozen_graph(tmp_path):
    src = _frozen_saver(tmp_path / "saver.pb")
    (found,) = scan(src, ["serve"]).values()
    assert {(t.op, t.node) for t in found} >= {("SaveV2", "save/SaveV2"), ("DebugIdentity", "dbg")}
    # the list grows from the registry: ops no hand list named, snapshotted from TensorFlow's
    derived = registry_touches()
    assert tensorflow_snapshot.live_touches() == json.loads(TOUCHES_SNAPSHOT.read_text())
    assert derived["CSVDataset"] == "file system"
    assert derived["DataServiceDatasetV4"] == "network"
    assert "MatMul" not in derived and "StringJoin" not in derived


def test_nothing_runs_a_side_effect_without_consent(built, tmp_path):
    frozen = _frozen_saver(tmp_path / "saver.pb")
    io = ["--input", "x=x", "--output", "y=y"]
    line = one_error(cli("export", frozen, tmp_path / "out", *io), EXIT_USAGE)
    assert "SaveV2: node save/SaveV2" in line and "--allow-side-effects" in line
    line = one_error(cli("run", frozen, *io, "--input-json", "x=[1.0]"), EXIT_USAGE)
    assert "nothing was run" in line
    assert not list(tmp_path.glob("stolen*")) and not (tmp_path / "out").exists()

    leaky = models.save_module(models.Leaky(), built / "leaky_consent")
    target = tmp_path / "victim.txt"
    target.write_text("data")
    refused = cli("run", leaky, "--input-json", f'path=["{target}"]')
    assert "WriteFile" in one_error(refused, EXIT_USAGE)
    assert not (tmp_path / "victim.txt.copy").exists()
    allowed = cli("run", leaky, "--input-json", f'path=["{target}"]', "--allow-side-effects")
    assert allowed.exit_code == 0, allowed.output
    assert "warning: running 3 op(s)" in allowed.output
    assert (tmp_path / "victim.txt.copy").read_text() == "data"


def test_an_asset_outside_the_model_is_refused(tmp_path):
    src = wild.save_lookup(tmp_path / "lookup")
    (tmp_path / "secret_vocab.txt").write_text("secret\n")
    model = saved_model_pb2.SavedModel.FromString((src / "saved_model.pb").read_bytes())
    model.meta_graphs[0].asset_file_def[0].filename = "../../secret_vocab.txt"
    (src / "saved_model.pb").write_bytes(model.SerializeToString())
    for command in (["inspect", src], ["export", src, tmp_path / "out"]):
        line = one_error(cli(*command), EXIT_MODEL)
        assert "outside the SavedModel" in line
    (src / "assets" / "lookup_vocab.txt").unlink()
    model.meta_graphs[0].asset_file_def[0].filename = "lookup_vocab.txt"
    (src / "saved_model.pb").write_bytes(model.SerializeToString())
    assert "assets/lookup_vocab.txt is missing" in one_error(cli("inspect", src), EXIT_MODEL)


def test_a_signature_naming_a_missing_tensor(split_source, tmp_path):
    src = tmp_path / "ghost"
    shutil.copytree(split_source, src)
    model = saved_model_pb2.SavedModel.FromString((src / "saved_model.pb").read_bytes())
    model.meta_graphs[0].signature_def["serving_default"].outputs["first"].name = "ghost:0"
    (src / "saved_model.pb").write_bytes(model.SerializeToString())
    shown = cli("inspect", src)
    assert "ghost:0 that the graph does not have" in shown.output
    line = one_error(cli("export", src, tmp_path / "out"), EXIT_MODEL)
    assert "ghost:0" in line and not (tmp_path / "out").exists()


def test_names_holding_terminal_escapes_are_printed_escaped(split_source, tmp_path):
    """A signature output named with an OSC sequence (which retitles a terminal) and an ANSI
    colour: `inspect` shows them as \\xNN, never raw."""
    src = tmp_path / "escapes"
    shutil.copytree(split_source, src)
    model = saved_model_pb2.SavedModel.FromString((src / "saved_model.pb").read_bytes())
    outputs = model.meta_graphs[0].signature_def["serving_default"].outputs
    outputs["\x1b]0;pwned\x07\x1b[31mred"].CopyFrom(outputs["first"])
    del outputs["first"]
    (src / "saved_model.pb").write_bytes(model.SerializeToString())
    shown = cli("inspect", src)
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output
    assert "\\x1b]0;pwned\\x07\\x1b[31mred" in shown.output


# --- a manifest is data -----------------------------------------------------------------------


def _tampered(split_export: Path, tmp_path: Path, change) -> Path:
    out = tmp_path / f"export{len(list(tmp_path.iterdir()))}"
    shutil.copytree(split_export, out)
    data = json.loads((out / "manifest.json").read_text())
    change(data, out)
    (out / "manifest.json").write_text(json.dumps(data))
    return out


def _set(path: list, value):
    def change(data, out):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change,needle",
    [
        (_set(["artifacts", 1, "path"], "/etc/passwd"), "not a plain relative path"),
        (_set(["artifacts", 1, "path"], "../frozen.pb"), "not a plain relative path"),
        (_set(["artifacts", 1, "files", 0, "path"], "saved_model/../../x"), "not a plain"),
        (_set(["artifacts", 1, "files"], []), "lists no files"),
        (_set(["artifacts", 0, "files", 0, "path"], "frozen.pb"), "not inside its artifact"),
        (
            _set(["artifacts", 0, "signatures", 0, "outputs", 0, "shape"], [10**12]),
            "does not match the manifest schema",
        ),
        (
            _set(["artifacts", 0, "signatures", 0, "outputs", 0, "index"], 2**70),
            "does not match the manifest schema",
        ),
    ],
)
def test_manifest_paths_and_numbers_are_checked(change, needle, split_export, tmp_path):
    out = _tampered(split_export, tmp_path, change)
    for command in ("inspect", "java", "parity"):
        assert needle in one_error(cli(command, out), EXIT_MODEL)


def test_manifest_files_are_all_checked(split_export, tmp_path):
    extra = _tampered(split_export, tmp_path, lambda d, o: None)
    (extra / "saved_model" / "variables" / "extra.data").write_bytes(b"x")
    assert "not in the manifest" in one_error(cli("parity", extra), EXIT_MODEL)

    def escape(data, out):
        (tmp_path / "elsewhere").mkdir()
        shutil.move(out / "frozen.pb", tmp_path / "elsewhere" / "frozen.pb")
        (out / "frozen.pb").symlink_to(tmp_path / "elsewhere" / "frozen.pb")

    linked = _tampered(split_export, tmp_path, escape)
    assert "outside the export folder" in one_error(cli("parity", linked), EXIT_MODEL)


def test_manifest_size_and_depth_are_bounded(split_export, tmp_path):
    big = _tampered(split_export, tmp_path, lambda d, o: None)
    (big / "manifest.json").write_text(" " * (5 * 2**20) + "{}")
    assert "more than a manifest holds" in one_error(cli("inspect", big), EXIT_MODEL)
    deep = _tampered(split_export, tmp_path, lambda d, o: None)
    (deep / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    assert "nested deeper" in one_error(cli("java", deep), EXIT_MODEL)


# --- every bad input file is a line, exit 3 ---------------------------------------------------


def _bad_arrays(tmp_path: Path) -> dict[str, Path]:
    files = {}
    files["empty"] = tmp_path / "empty.npz"
    files["empty"].write_bytes(b"")
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((2, 3), np.float32))
    files["truncated"] = tmp_path / "truncated.npz"
    files["truncated"].write_bytes(good.read_bytes()[:200])
    files["not a zip"] = tmp_path / "text.npz"
    files["not a zip"].write_text("hello")
    files["huge header"] = tmp_path / "huge.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 3), np.float32))
    header["shape"] = (5_000_000, 1_000_000)
    with zipfile.ZipFile(files["huge header"], "w") as z, z.open("x.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 24)
    files["pickled"] = tmp_path / "pickled.npz"
    np.savez(files["pickled"], x=np.array([{"a": 1}, None], dtype=object))
    files["bomb"] = tmp_path / "bomb.npz"
    with zipfile.ZipFile(files["bomb"], "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w", force_zip64=True) as f:
            header["shape"] = (2, 2**26)  # 512 MiB of float32 zeros, compressed to ~0.5 MiB
            np.lib.format.write_array_header_1_0(f, header)
            block = b"\0" * 2**24
            for _ in range(32):
                f.write(block)
    return files


def test_bad_input_files_are_one_line_for_every_command(split_source, split_export, tmp_path):
    bad = _bad_arrays(tmp_path)
    for kind, path in bad.items():
        commands = [
            ["run", split_source, "--inputs", f"x={path}"],
            ["parity", split_export, "--inputs", path],
            ["export", split_source, tmp_path / "out", "--inputs", path],
        ]
        for command in commands:
            line = one_error(cli(*command), EXIT_MODEL)
            assert str(path) in line, (kind, line)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text,needle",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deep"),
        ("[[1, 2, 3], [1, 2]]", "not a float32 tensor"),
        ('{"x": 1}', "a JSON dict"),
        ("[[1e60, 0, 0]]", "not a float32 tensor"),
        ("[[1, 2, 3]", "not valid JSON"),
    ],
)
def test_bad_json_inputs(text, needle, split_source):
    assert needle in one_error(cli("run", split_source, "--input-json", f"x={text}"), EXIT_MODEL)


# --- never destroy the user's files -----------------------------------------------------------


def test_outputs_never_overlap_their_inputs(split_source, split_export, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(split_source, src)
    before = _tree(src)
    for out in (src, src / "inner", tmp_path):
        line = one_error(cli("export", src, out, "--force"), EXIT_USAGE)
        assert "choose an output outside it" in line
    line = one_error(
        cli("run", src, "--input-json", "x=[[1, 2, 3]]", "--outdir", src, "--force"), EXIT_USAGE
    )
    assert "--outdir" in line
    assert _tree(src) == before

    export = tmp_path / "export"
    shutil.copytree(split_export, export)
    result = cli("java", export, "--out", export, "--force", "--no-compile")
    assert result.exit_code == 0, result.output
    assert cli("inspect", export).exit_code == 0  # the model is whole: files match the manifest


def test_reports_replace_only_their_own_files(split_export, tmp_path):
    mine = tmp_path / "notes.json"
    mine.write_text("my notes")
    line = one_error(cli("parity", split_export, "--report", mine), EXIT_USAGE)
    assert "not a tf2java report" in line and mine.read_text() == "my notes"
    report = tmp_path / "report.json"
    for _ in range(2):  # a report of its own is replaced
        result = cli("parity", split_export, "--report", report)
        assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["ok"] is True
    assert cli("parity", split_export, "--report", mine, "--force").exit_code == 0


def test_a_report_never_goes_into_the_export(split_export, tmp_path):
    """--force replaces a previous report, never a file of the export: refused before
    anything runs, the export untouched and still loading."""
    export = tmp_path / "export"
    shutil.copytree(split_export, export)
    before = _tree(export)
    for flag, target in (
        ("--report", export / "manifest.json"),
        ("--junit", export / "frozen.pb"),
        ("--report", export / "saved_model" / "saved_model.pb"),
        ("--junit", export / "parity.xml"),
    ):
        line = one_error(cli("parity", export, flag, target, "--force"), EXIT_USAGE)
        assert f"{flag} {target}: is inside the export" in line, line
        assert "running" not in line
    assert _tree(export) == before
    assert cli("inspect", export).exit_code == 0


def test_a_refused_parity_still_writes_its_reports(split_export, tmp_path):
    """A model file changed after export: parity refuses before comparing (exit 3, one line),
    and --junit and --report still tell the CI job why."""
    export = tmp_path / "export"
    shutil.copytree(split_export, export)
    with (export / "frozen.pb").open("ab") as f:
        f.write(b"\0")
    junit, report = tmp_path / "parity.xml", tmp_path / "parity.json"
    result = cli("parity", export, "--junit", junit, "--report", report)
    line = one_error(result, EXIT_MODEL)
    xml = junit.read_text()
    assert 'tests="1"' in xml and 'errors="1"' in xml and 'name="pre-check"' in xml
    data = json.loads(report.read_text())
    assert data["ok"] is False and data["refused"] in line and "frozen.pb" in data["refused"]


def test_outputs_follow_the_umask(split_source, tmp_path):
    """Staging folders and files are private while written (mkdtemp, mkstemp); what lands
    has the modes the user's umask gives, like any other tool's output."""
    out = tmp_path / "out"
    old = os.umask(0o027)
    try:
        assert cli("export", split_source, out).exit_code == 0
        assert cli("java", out, "--out", tmp_path / "java").exit_code == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o750
    assert (out / "manifest.json").stat().st_mode & 0o777 == 0o640
    stamp = tmp_path / "java" / ".tf2java-generated.json"
    assert stamp.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("kind", ["file", "link"])
def test_force_onto_a_file_or_a_link_leaves_nothing_beside_it(kind, split_source, tmp_path):
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("old")
    else:
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "keep.txt").write_text("kept")
        out.symlink_to(tmp_path / "elsewhere")
    assert "--force" in one_error(cli("export", split_source, out), EXIT_USAGE)
    result = cli("export", split_source, out, "--force")
    assert result.exit_code == 0, result.output
    assert out.is_dir() and not out.is_symlink() and (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["out"] if kind == "file" else ["elsewhere", "out"]
    )
    if kind == "link":  # the link is replaced, never what it pointed to
        assert (tmp_path / "elsewhere" / "keep.txt").read_text() == "kept"


def test_a_manifest_naming_a_missing_tensor_is_refused_before_parity_runs(split_export, tmp_path):
    export = _tampered(
        split_export,
        tmp_path,
        lambda data, out: data["artifacts"][0]["signatures"][0]["outputs"][0].update(name="ghost"),
    )
    line = one_error(cli("parity", export), EXIT_MODEL)
    assert "names tensor ghost:0 that the graph does not have" in line


def test_notes_that_are_not_utf8(split_export, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_bytes(b"\xff\xfe model notes")
    line = one_error(cli("handoff", split_export, tmp_path / "module", "--notes", notes), 2)
    assert "--notes" in line and "not UTF-8" in line
    assert not (tmp_path / "module").exists()


def test_an_empty_batch_compares_nothing_and_fails(split_export, tmp_path):
    np.savez(tmp_path / "in.npz", x=np.zeros((0, 3), np.float32))
    result = cli("parity", split_export, "--inputs", tmp_path / "in.npz")
    assert result.exit_code == 1, result.output
    assert "0 values compared: every output is empty" in result.output


@pytest.fixture(scope="module")
def keras_tflite(built, tmp_path_factory) -> Path:
    from exporter.commands.export import export

    src = models.save_keras(built / "tflite_source.keras")
    out = tmp_path_factory.mktemp("tflite") / "keras"
    export(src, out, formats=("tflite",), name="keras")
    return out / "model.tflite"


def test_tflite_refusing_its_inputs_is_one_line(keras_tflite):
    ids = json.dumps([[99, 0, 0, 0, 0]])
    result = cli(
        "run",
        keras_tflite,
        "--input-json",
        f"tokens={ids}",
        "--input-json",
        f"features={json.dumps([[0.0] * 8])}",
    )
    line = one_error(result, EXIT_MODEL)
    assert "failed in the TFLite interpreter" in line and "gather index out of bounds" in line


class _HostileKeys(tf.Module):
    """Scores under an output key that is a path out of any folder."""

    @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32, name="x")])
    def serve(self, x):
        return {"../../escaped": tf.nn.softmax(x)}


@pytest.mark.slow
@pytest.mark.jvm
def test_labels_of_an_output_keyed_like_a_path_stay_inside_the_module(built, tmp_path):
    src = models.save_module(_HostileKeys(), built / "hostile_keys")
    assert cli("export", src, tmp_path / "out").exit_code == 0
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    dest = tmp_path / "deep" / "module"
    result = cli("handoff", tmp_path / "out", dest, "--labels", f"../../escaped={labels}")
    assert result.exit_code == 0, result.output
    (shipped,) = dest.rglob("labels/*.txt")
    assert shipped.name == "escaped.txt" and shipped.read_text() == "a\nb\nc\n"
    assert dest in shipped.parents
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "labels.txt", "out"]
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["module"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--group", "../../evil"], "--group '../../evil' is not a Maven groupId"),
        (["--group", "com.acme\n"], "--group 'com.acme\\n' is not a Maven groupId"),
        (["--artifact", "my model"], "--artifact 'my model' is not a Maven artifactId"),
        (["--version", ""], "--module-version '' is not a Maven version"),
        (["--version", "1.0'\nprintln 'x"], "is not a Maven version"),
        (["--package", "java.models"], "the JVM prohibits packages under java."),
        (["--package", "com.acme\n"], "--package 'com.acme\\n': not a Java package name"),
        (["--group", "com.class"], "--group 'com.class.split': not a Java package name"),
    ],
)
def test_handoff_flags_are_checked_against_their_grammars(args, needle, split_export, tmp_path):
    line = one_error(cli("handoff", split_export, tmp_path / "module", *args), EXIT_USAGE)
    assert needle in line, line
    assert not (tmp_path / "module").exists()


@pytest.mark.slow
@pytest.mark.jvm
def test_a_hostile_model_name_and_class_never_become_code(split_source, tmp_path):
    """A model name that closes the build file's comment (Groovy breaks lines at \\r) and
    runs code when the team runs `gradle help`, and a --class that clashes with the module's
    own helper: nothing runs, and what cannot compile is never handed off."""
    marker = tmp_path / "ran"
    name = f"m\rnew File('{marker}').text = 'ran'\r//\u2028x"
    out = tmp_path / "out"
    assert cli("export", split_source, out, "--name", name).exit_code == 0
    clash = cli("handoff", out, tmp_path / "clash", "--class", "GoldenNpy")
    assert "GoldenNpy" in one_error(clash, EXIT_USAGE)
    assert not (tmp_path / "clash").exists()
    module = tmp_path / "module"
    result = cli("handoff", out, module, "--package", "com.acme.hostile")
    assert result.exit_code == 0, result.output
    gradle = (module / "build.gradle").read_text()
    assert "\r" not in gradle and "\u2028" not in gradle
    for command in (["gradle", "--no-daemon", "-q", "help"], ["mvn", "-q", "-o", "validate"]):
        done = subprocess.run(command, cwd=module, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr  # the build file was read
        assert not marker.exists(), command


# --- generated Java always compiles, and `java` proves it -------------------------------------


class Clashing(tf.Module):
    """Keys that are members of the generated class or of Object, and very long ones."""

    @tf.function(
        input_signature=[
            tf.TensorSpec((None,), tf.float32, name="session"),
            tf.TensorSpec((None,), tf.float32, name="bundle"),
        ]
    )
    def serve(self, session, bundle):
        return {
            "toString": session + bundle,
            "hashCode": session * 2,
            "class": bundle,
            "o" * 300: session,
            "p" * 10_000: bundle,
        }


@pytest.mark.jvm
def test_clashing_and_long_names_compile(tmp_path):
    module = Clashing()
    src = tmp_path / "clash"
    tf.saved_model.save(module, str(src), signatures={"close": module.serve, "wait": module.serve})
    out = tmp_path / "out"
    exported = cli(
        "export", src, out, "--signature", "all", "--format", "savedmodel", "--name", "m" * 300
    )
    assert exported.exit_code == 0, exported.output
    result = cli("java", out)
    assert result.exit_code == 0, result.output
    assert "compiled the 3 file(s) with javac" in result.output  # class, interface, support
    (java,) = (out / "java").rglob("*SavedModel.java")
    assert len(java.name) < 80
    text = java.read_text()
    # the signature 'close' and the output 'class' step aside; the others are safe as they are;
    # 'wait' runs the same function as 'close': close2 serves both
    assert "public CloseResult close2(float[] bundle, float[] session)" in text
    assert "wait2(" not in text and "Signature 'wait' of the model runs the same function" in text
    assert "class WaitResult" not in text
    assert "public float[] getClass2()" in text and "public float[] getToString()" in text
    assert java.name.startswith("M" + "m" * 42) and java.name.endswith("SavedModel.java")


def test_a_class_that_does_not_compile_names_its_signature(split_export, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    shipped = (Path(__file__).parent.parent / "templates" / "_common.java.j2").read_text()
    (templates / "_common.java.j2").write_text(
        shipped.replace("return new {{ s.result_class }}(", "return new Missing(")
    )
    export = tmp_path / "export"
    shutil.copytree(split_export, export)
    result = cli("java", export, "--templates", templates)
    assert result.exit_code == 1, result.output
    line = [x for x in result.output.splitlines() if x.startswith("error:")][0]
    assert "does not compile" in line and "signature 'serving_default'" in line


# --- no orphans ------------------------------------------------------------------------------


@pytest.mark.jvm
@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopping_parity_stops_its_worker(sig, code, split_export, tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "parity", str(split_export)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while not workers and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        workers = procs.workers_of(proc.pid)  # this parity's own, never another's
    assert workers, "the Java worker never started"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    time.sleep(0.5)
    assert not [pid for pid in workers if procs.alive(pid)]
    assert not list(tmp_path.glob("tf2java-parity-*"))


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0, 1.4])
def test_ctrl_c_at_any_moment_of_start_up_is_one_line_and_130(delay, split_source):
    """SIGINT while Python imports the command line, click, numpy or TensorFlow."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "inspect", str(split_source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip(f"inspect finished within {delay} s, before the signal")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "error: interrupted", err


@pytest.mark.jvm
def test_the_next_run_removes_what_a_killed_run_left(split_export, tmp_path, monkeypatch):
    """SIGKILL leaves a run's temporary folder behind; the next run removes the ones whose
    process is gone, and leaves those of running processes alone."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f"tf2java-{kind}-{dead.pid}-abc" for kind in ("javac", "parity")]
    alive = tmp_path / f"tf2java-javac-{os.getppid()}-abc"
    for folder in (*stale, alive):
        (folder / "src").mkdir(parents=True)
    assert cli("java", split_export, "--out", tmp_path / "java").exit_code == 0
    assert not stale[0].exists() and alive.exists()
    assert cli("parity", split_export).exit_code == 0
    assert not stale[1].exists() and alive.exists()


def test_an_unreadable_graph_def_frozen_is_still_one_line(tmp_path):
    graph_def = graph_pb2.GraphDef()
    graph_def.node.add(name="x", op="NoSuchOp")
    (tmp_path / "g.pb").write_bytes(graph_def.SerializeToString())
    result = cli("export", tmp_path / "g.pb", tmp_path / "o", "--input", "a=x", "--output", "b=x")
    assert result.exit_code in (EXIT_USAGE, EXIT_MODEL)
    one_error(result, result.exit_code)


LOAD_RESOURCE_MAIN = """
package probe;

import java.io.IOException;

public final class Main {
  public static void main(String[] args) throws Exception {
    try {
      probe.EvilSavedModel.loadResource("/models/saved_model");
      System.out.println("loaded");
    } catch (IOException e) {
      System.out.println("refused: " + e.getMessage());
    }
    probe.SplitSavedModel.loadResource("/models/saved_model"); // never closed
    System.out.println("left open");
  }
}
"""


@pytest.mark.jvm
def test_load_resource_writes_only_inside_its_directory(split_export, tmp_path):
    """A files entry with '..' (a manifest that skipped tf2java's checks) is refused by the
    generated class itself; a model loaded from the classpath and never closed leaves no
    temporary directory behind at JVM exit."""
    from exporter.core import manifest
    from exporter.java import javaenv, planning, writing

    data, sha = manifest.read(split_export)
    saved = data.artifact("savedmodel")
    evil = json.loads(json.dumps(data.to_json()))
    evil_art = next(a for a in evil["artifacts"] if a["format"] == "savedmodel")
    evil_art["files"].append(
        {"path": "saved_model/../../escaped.txt", "sha256": "0" * 64, "size": 1}
    )
    evil_manifest = manifest.Manifest.from_json(evil)
    src = tmp_path / "src"
    sources = []
    for m, name in ((data, "Split"), (evil_manifest, "Evil")):
        classes = planning.plan(m, "probe", class_name=name, formats=("savedmodel",))
        sources += writing.write_sources(classes, m, sha, src)
    (src / "probe" / "Main.java").write_text(LOAD_RESOURCE_MAIN)
    sources.append(src / "probe" / "Main.java")
    classes = tmp_path / "classes"
    javaenv.compile_sources(sources, classes)
    shutil.copytree(split_export / saved.path, classes / "models" / "saved_model")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.run(
        [
            str(javaenv.java_home() / "bin" / "java"),
            f"-Djava.io.tmpdir={scratch}",
            "-cp",
            os.pathsep.join([*javaenv.classpath(), str(classes)]),
            "probe.Main",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: cannot load the SavedModel from /models/saved_model" in proc.stdout
    assert "model file '../../escaped.txt' would be written outside" in proc.stdout
    assert "left open" in proc.stdout
    assert not (scratch / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert [p.name for p in scratch.iterdir() if p.name.startswith("tf2java-")] == []


def test_a_long_path_is_named_once(tmp_path):
    deep = tmp_path / ("d" * 70) / "model"
    deep.mkdir(parents=True)
    (deep / "saved_model.pb").write_bytes(b"not a proto")
    line = one_error(cli("inspect", deep), EXIT_MODEL)
    assert line.count(str(deep)) == 1, line
