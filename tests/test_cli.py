"""The command line: bad input gets one line, a documented exit code, and nothing written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from exporter.cli import main
from exporter.errors import EXIT_MODEL, EXIT_USAGE


@pytest.fixture
def run():
    def invoke(*args: str):
        return CliRunner().invoke(main, [str(a) for a in args])

    return invoke


def _one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_source(run, tmp_path):
    result = run("export", tmp_path / "nope.keras", tmp_path / "out")
    assert result.exit_code == EXIT_USAGE
    assert "does not exist" in result.output
    assert not (tmp_path / "out").exists()


def test_directory_that_is_not_a_model(run, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("hello")
    result = run("export", tmp_path / "src", tmp_path / "out")
    assert result.exit_code == EXIT_MODEL
    line = _one_error_line(result)
    assert "not a model tf2java can read" in line and "saved_model.pb" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_unknown_signature_lists_the_valid_ones(run, tmp_path, keras_source):
    result = run("export", keras_source, tmp_path / "out", "--signature", "predict")
    assert result.exit_code == EXIT_USAGE
    line = _one_error_line(result)
    assert "no signature 'predict'" in line and "serve, serving_default" in line
    assert "--signature" in line
    assert list(tmp_path.iterdir()) == []


def test_unknown_tag_lists_the_valid_tag_sets(run, tmp_path, split_source):
    result = run("export", split_source, tmp_path / "out", "--tag", "train")
    assert result.exit_code == EXIT_USAGE
    line = _one_error_line(result)
    assert "tag set 'train'" in line and "valid tag sets: serve" in line
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(run, tmp_path, split_source):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run("export", split_source, out)
    assert result.exit_code == EXIT_USAGE
    assert "already exists; pass --force" in _one_error_line(result)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    result = run("export", split_source, out, "--force", "--format", "frozen")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["frozen.pb", "manifest.json"]
    assert "[ok] second" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left behind


def test_export_does_not_touch_its_source(run, tmp_path, split_source):
    before = {p: p.read_bytes() for p in split_source.rglob("*") if p.is_file()}
    result = run("export", split_source, tmp_path / "out", "--format", "savedmodel")
    assert result.exit_code == 0, result.output
    assert {p: p.read_bytes() for p in split_source.rglob("*") if p.is_file()} == before


def test_export_and_parity_say_their_phases_on_stderr_and_quiet_says_none(
    run, tmp_path, split_source
):
    """Outside a terminal each phase is a line on stderr as it starts; the result stays
    alone on stdout; --quiet (before or after the command) leaves the result only."""
    said = run("export", split_source, tmp_path / "out")
    assert said.exit_code == 0, said.output
    assert said.stderr.splitlines() == [
        "loading the source",
        "running the source on the check inputs",
        "writing saved_model and checking it against the source",
        "writing frozen.pb and checking it against the source",
    ]
    quiet = run("export", split_source, tmp_path / "again", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.output
    again = quiet.stdout.replace(str(tmp_path / "again"), str(tmp_path / "out"))
    assert _as_documented(again) == _as_documented(said.stdout)

    checked = run("parity", tmp_path / "out")
    assert checked.exit_code == 0, checked.output
    assert checked.stderr.splitlines()[-1] == (
        "running 2 signature(s) on TensorFlow Java and in Python TensorFlow"
    )
    quiet = run("-q", "parity", tmp_path / "out")
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.output
    assert "parity OK: 2 of 2 signature checks passed" in quiet.stdout


def test_java_generation_and_its_errors(run, tmp_path, split_export):
    out = tmp_path / "java"
    result = run(
        "java", split_export, "--out", out, "--package", "org.acme.ml", "--class", "Splitter"
    )
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.java"))
    assert files == [
        "org/acme/ml/Splitter.java",  # the interface both classes implement
        "org/acme/ml/SplitterFrozen.java",
        "org/acme/ml/SplitterSavedModel.java",
        "org/acme/ml/Tf2JavaSupport.java",  # what the package's classes share
    ]
    first = (out / files[1]).read_bytes()
    files = files[1:3]  # the classes

    # regenerating replaces tf2java's own files, byte for byte the same
    again = run(
        "java", split_export, "--out", out, "--package", "org.acme.ml", "--class", "Splitter"
    )
    assert again.exit_code == 0, again.output
    assert (out / files[0]).read_bytes() == first
    # a generated file edited by hand is no longer tf2java's: replaced only with --force
    (out / files[0]).write_text("// mine\n")
    (out / "org/acme/ml/Helper.java").write_text("// mine too\n")
    args = ["java", split_export, "--out", out, "--package", "org.acme.ml", "--class", "Splitter"]
    edited = run(*args)
    assert edited.exit_code == EXIT_USAGE and "--force" in _one_error_line(edited)
    assert (out / files[0]).read_text() == "// mine\n"
    mine = run(*args, "--force")
    assert mine.exit_code == 0, mine.output
    assert (out / files[0]).read_bytes() == first
    # a stamp edited to claim a hand-written file does not make it tf2java's to delete
    stamp = json.loads((out / ".tf2java-generated.json").read_text())
    (claimed,) = stamp["generated"].values()
    claimed["org/acme/ml/Helper.java"] = "0" * 64
    (out / ".tf2java-generated.json").write_text(json.dumps(stamp))
    assert run(*args).exit_code == 0
    assert (out / "org/acme/ml/Helper.java").read_text() == "// mine too\n"
    # a file tf2java has no record of writing is never replaced without --force
    (out / ".tf2java-generated.json").unlink()
    (out / files[0]).write_text("// mine\n")
    foreign = run(
        "java", split_export, "--out", out, "--package", "org.acme.ml", "--class", "Splitter"
    )
    assert foreign.exit_code == EXIT_USAGE and "--force" in _one_error_line(foreign)
    assert (out / files[0]).read_text() == "// mine\n"
    assert (out / "org/acme/ml/Helper.java").read_text() == "// mine too\n"

    bad = run("java", split_export, "--out", tmp_path / "x", "--package", "org.class.ml")
    assert bad.exit_code == EXIT_USAGE and "not a Java package name" in _one_error_line(bad)
    assert not (tmp_path / "x").exists()


def test_generated_classes_say_what_they_came_from(run, tmp_path, split_export):
    import hashlib

    out = tmp_path / "java"
    result = run("java", split_export, "--out", out, "--output-name", "second=tail")
    assert result.exit_code == 0, result.output
    text = (out / "com/example/models/SplitFrozen.java").read_text()
    data = json.loads((split_export / "manifest.json").read_text())
    files = next(a for a in data["artifacts"] if a["format"] == "frozen")["files"]
    lines = "".join(f"{f['path']} {f['sha256']}\n" for f in sorted(files, key=lambda f: f["path"]))
    assert f'MODEL_SHA256 = "{hashlib.sha256(lines.encode()).hexdigest()}"' in text
    sha = hashlib.sha256((split_export / "manifest.json").read_bytes()).hexdigest()
    assert (
        f'@Generated(value = "tf2java", comments = "tf2java 0.1.0, manifest sha256 {sha}")' in text
    )
    assert "public float[][] getTail()" in text and "getSecond" not in text
    bad = run("java", split_export, "--out", tmp_path / "x", "--output-name", "nope=y")
    assert bad.exit_code == EXIT_USAGE and "no output has that key" in _one_error_line(bad)


def test_java_needs_a_manifest(run, tmp_path):
    result = run("java", tmp_path)
    assert result.exit_code == EXIT_MODEL
    assert "no manifest.json" in _one_error_line(result)


def test_manifest_that_fails_its_schema(run, tmp_path, split_export):
    import shutil

    broken = tmp_path / "export"
    shutil.copytree(split_export, broken)
    data = json.loads((broken / "manifest.json").read_text())
    del data["artifacts"][0]["signatures"][0]["outputs"][0]["index"]
    (broken / "manifest.json").write_text(json.dumps(data))
    result = run("java", broken)
    assert result.exit_code == EXIT_MODEL
    assert "'index' is a required property" in _one_error_line(result)
    assert not (broken / "java").exists()


def test_parity_inputs_of_the_wrong_dtype(run, tmp_path, split_export):
    import numpy as np

    np.savez(tmp_path / "in.npz", x=np.zeros((2, 3), np.int32))
    result = run("parity", split_export, "--inputs", tmp_path / "in.npz")
    assert result.exit_code == EXIT_MODEL
    assert "input 'x' must be float32, got int32" in _one_error_line(result)


def test_module_entry_point_runs_without_tensorflow():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, runpy; sys.argv = ['tf2java', '--help'];"
            "\ntry: runpy.run_module('exporter', run_name='__main__')"
            "\nexcept SystemExit as e: assert e.code == 0, e.code"
            "\nassert 'tensorflow' not in sys.modules",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("export", "java", "parity", "demo"):
        assert command in proc.stdout


def test_a_reader_that_goes_away_ends_it_quietly():
    """`tf2java ... | head`: the pipe closes before tf2java writes; it stops with 141 (128 +
    SIGPIPE, as shells report it) and says nothing on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "java", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the interpreter has even started tf2java
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141, err
    assert err == b""


@pytest.mark.slow
@pytest.mark.jvm
def _as_documented(text: str) -> list[str]:
    """Output lines with what varies from run to run masked: numbers, the p99/mean figures
    (absent where two sides agree exactly) and javac's line (absent when cached)."""
    text = re.sub(r" \(p99 [^)]*\)", "", text)
    text = re.sub(r"\d+(\.\d+)?(e[+-]\d+)?", "N", text)
    return [line for line in text.splitlines() if not line.startswith("compiling ")]


def test_the_demo_runs_end_to_end(run, tmp_path):
    """`make demo`'s command: build, export, generate, compile, parity; it prints what the
    README shows, and DIR holds what the README lists."""
    result = run("demo", "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## The demo") : readme.index("## Commands")]
    documented = section.split("```\n")[1]
    printed = result.output.replace(str(tmp_path / "demo"), "demo-out")
    assert _as_documented(printed) == _as_documented(documented)
    listed = set(re.findall(r"^\| `([^`]+?)/?`", section, re.M))
    listed |= set(re.findall(r"^\| `[^`]+`, `([^`]+)`", section, re.M))
    assert listed == {p.name for p in (tmp_path / "demo").iterdir()}
    report = json.loads((tmp_path / "demo" / "parity.json").read_text())
    assert report["ok"] is True and len(report["cases"]) == 2
    java = {p.name for p in (tmp_path / "demo" / "export" / "java").rglob("*.java")}
    assert java == {
        "BertClassifier.java",
        "BertClassifierFrozen.java",
        "BertClassifierSavedModel.java",
        "Tf2JavaSupport.java",
    }
    assert (tmp_path / "demo" / "classes" / "com/example/models/BertClassifier.class").is_file()


def test_an_inputs_file_with_a_key_the_model_lacks(run, tmp_path, split_export):
    """A typo in a key would leave the input generated (export) or unchecked: refused."""
    import numpy as np

    np.savez(tmp_path / "in.npz", x=np.zeros((2, 3), np.float32), y_typo=np.zeros(2))
    for command in ("parity", "export"):
        target = [] if command == "parity" else [tmp_path / "again"]
        result = run(command, split_export, *target, "--inputs", tmp_path / "in.npz")
        assert result.exit_code == EXIT_MODEL, result.output
        assert "array(s) y_typo name no input of the model; its inputs: x" in (
            _one_error_line(result)
        )
    assert not (tmp_path / "again").exists()


def test_commands_that_read_a_manifest_or_a_graph_never_import_tensorflow(split_export, tmp_path):
    """`inspect OUT`, `java OUT`, `--help`, and `ops` and `scan` of an export, a frozen .pb or
    a SavedModel folder read files: no TensorFlow (its import is most of a start-up)."""
    out = str(split_export)
    frozen, saved = str(split_export / "frozen.pb"), str(split_export / "saved_model")
    code = textwrap.dedent(f"""
        import contextlib, io, runpy, sys
        for args in (["inspect", {out!r}],
                     ["java", {out!r}, "--out", {str(tmp_path / "java")!r}],
                     ["--help"],
                     ["ops", {out!r}], ["ops", {frozen!r}, "--json"], ["ops", {saved!r}],
                     ["scan", {out!r}], ["scan", {frozen!r}], ["scan", {saved!r}, "--json"]):
            sys.argv = ["tf2java", *args]
            text = io.StringIO()
            try:
                with contextlib.redirect_stdout(text):
                    runpy.run_module("exporter", run_name="__main__")
            except SystemExit as e:
                assert not e.code, (args, e.code, text.getvalue())
            assert "tensorflow" not in sys.modules, args
            print("==", *args[:2])
            print(text.getvalue())
        print("no tensorflow")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.rstrip().endswith("no tensorflow")
    said = dict(part.split("\n", 1) for part in proc.stdout.split("== ")[1:])
    assert "split: export" in said[f"inspect {out}"]
    assert list((tmp_path / "java").rglob("*.java"))
    # the same findings as TensorFlow's own messages give (tests/test_ops.py, test_scan.py)
    assert "frozen (frozen.pb): " in said[f"ops {out}"]
    assert "savedmodel (saved_model): " in said[f"ops {out}"]
    assert "TensorFlow Java 1.1.0 (core 2.18.0): loads" in said[f"ops {saved}"]
    ops = json.loads(said[f"ops {frozen}"].replace("no tensorflow", ""))
    assert ops["ok"] and {"MatMul", "Placeholder"} <= set(ops["graphs"][0]["ops"])
    assert "frozen (frozen.pb): no op(s) that reach outside the model" in said[f"scan {out}"]
    assert json.loads(said[f"scan {saved}"].replace("no tensorflow", "")) == {
        "ok": True,
        "found": 0,
        "graphs": {"savedmodel (saved_model)": []},
    }


@pytest.mark.parametrize(
    "args,needle",
    [
        (["export", "model.keras", "-o", "out"], "No such option '-o'."),
        (["expor", "model.keras"], "No such command 'expor'. Did you mean 'export'?"),
        (["export", "model.keras", "out", "--format", "bogus"], "'bogus' is not one of"),
    ],
    ids=["option", "command", "choice"],
)
def test_usage_errors_are_one_line(run, args, needle):
    result = run(*args)
    assert result.exit_code == EXIT_USAGE
    line = _one_error_line(result)
    assert needle in line and "--help')" in line
    assert "Usage:" not in result.output


def test_global_flags_after_the_command(run, split_export):
    """`tf2java inspect OUT --debug` as `tf2java --debug inspect OUT`: a traceback, not a line."""
    result = run("inspect", split_export / "no-such", "--debug")
    assert result.exit_code != 0 and isinstance(result.exception, Exception)
    assert not result.output.startswith("error:")


def test_run_takes_an_npz_as_export_and_parity_do(run, split_source, tmp_path):
    import numpy as np

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.savez(tmp_path / "in.npz", x=x)
    keyed = run("run", split_source, "--inputs", tmp_path / "in.npz", "--outdir", tmp_path / "a")
    assert keyed.exit_code == 0, keyed.output
    named = run(
        "run", split_source, "--inputs", f"x={tmp_path / 'in.npz'}:x", "--outdir", tmp_path / "b"
    )
    assert named.exit_code == 0, named.output
    for path in (tmp_path / "a").iterdir():
        np.testing.assert_array_equal(np.load(path), np.load(tmp_path / "b" / path.name))
    bracket = run("run", split_source, "--inputs", f"x={tmp_path / 'in.npz'}[x]")
    assert bracket.exit_code == EXIT_USAGE
    assert f"name the array after a colon: x={tmp_path / 'in.npz'}:x" in _one_error_line(bracket)
