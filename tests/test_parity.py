"""Python/Java parity on real TensorFlow and real TensorFlow Java, and the process design
that makes it possible."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from exporter import targets
from exporter.commands import demo_model
from exporter.commands.javaside import PARITY_PACKAGE, java_job
from exporter.commands.parity import parity, write_junit, write_report
from exporter.core import manifest
from exporter.errors import ModelError
from exporter.java import javaenv, planning, rendering, writing
from exporter.java.worker import save_arrays
from tests.conftest import EXPORTS

pytestmark = pytest.mark.jvm


@pytest.mark.parametrize("fixture", EXPORTS)
def test_parity_on_both_formats(fixture, request, tmp_path):
    out = request.getfixturevalue(fixture)
    report = parity(out, batch=3, seed=5)
    assert report.ok, "\n".join(report.lines())
    assert report.tensorflow_java == "2.18.0"
    data, _ = manifest.read(out)
    # a signature that runs the same function as another (Keras's serve) is checked as it
    arts = data.artifacts
    expected_cases = {(a.format, s.key) for a in arts for s in planning.served(a.signatures)}
    assert {(c.format, c.signature) for c in report.cases} == expected_cases
    same = [(a.format, s.key, s.same_as) for a in data.artifacts for s in a.signatures if s.same_as]
    assert [n for n in report.notes if "runs the same function as" in n] == [
        f"{f} '{key}' runs the same function as '{to}': checked as it (one Java method, "
        f"servingDefault, serves both)"
        for f, key, to in same
    ]
    for case in report.cases:
        keys = [c.key for c in case.comparison.checks]
        sig = data.artifact(case.format).signature(case.signature)
        assert keys == sorted(t.key for t in sig.outputs)

    write_report(report, tmp_path / "r.json")
    write_junit(report, tmp_path / "r.xml")
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["ok"] is True and len(saved["cases"]) == len(report.cases)
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert suite.get("failures") == "0"
    assert int(suite.get("tests")) == sum(len(c.comparison.checks) for c in report.cases)


def test_parity_on_given_inputs_repeats_exactly(demo_export, tmp_path):
    """The design (this process runs Python TensorFlow, a worker process runs TensorFlow Java)
    works run after run in one process, with identical results."""
    np.savez(tmp_path / "in.npz", **demo_model.example_inputs(batch=5, seed=3))
    reports = [parity(demo_export, inputs=tmp_path / "in.npz") for _ in range(3)]
    assert all(r.ok for r in reports)
    diffs = {(c.format, c.comparison.checks[0].max_abs_diff) for r in reports for c in r.cases}
    assert len(diffs) == 2  # one figure per format, the same in every run


def _demo_job(export, work, ids):
    data, sha = manifest.read(export)
    classes = planning.plan(data, PARITY_PACKAGE, formats=("frozen",))
    cls = classes[0]
    javaenv.compile_sources(
        writing.write_sources(classes, data, sha, work / "src"), work / "classes"
    )
    feed = demo_model.example_inputs(batch=2)
    feed["input_ids"] = ids
    save_arrays(work / "in.npz", feed)
    return java_job(0, cls, cls.signatures[0], export, work / "in.npz", work)


def test_worker_never_loads_python_tensorflow_and_reports_java_errors(demo_export, tmp_path):
    job = _demo_job(demo_export, tmp_path, np.zeros((2, 5), np.int32))
    response = javaenv.run_worker(
        tmp_path, 300, jobs=[job], jars=[*javaenv.classpath(), str(tmp_path / "classes")]
    )
    assert response["python_tensorflow_loaded"] is False
    assert response["tensorflow_java"] == "2.18.0"
    (answer,) = response["jobs"]
    assert answer["ok"] is False
    assert answer["error"] == (
        "java.lang.IllegalArgumentException: input 'input_ids': expected shape (?, 128), got (2, 5)"
    )


@pytest.mark.slow
def test_both_runtimes_in_one_process_abort(tmp_path):
    """Why parity uses a worker process: loading TensorFlow Java's native library into a
    process that imported Python TensorFlow aborts it (both register TensorFlow's protobuf
    descriptors)."""
    script = textwrap.dedent(f"""
        import tensorflow, jpype
        jpype.startJVM({javaenv.jvm_path()!r}, classpath={list(javaenv.classpath())!r})
        print("java", jpype.JClass("org.tensorflow.TensorFlow").version(), flush=True)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0
    assert "java 2.18" not in proc.stdout
    assert "File already exists in database" in proc.stderr


def test_a_large_frozen_graph_runs_without_grappler(demo_export, tmp_path):
    """Over the frozen target's grappler_limit, the frozen class's default session turns
    Grappler off (its rewrites copy every constant several times); the model still gives
    Python's answers."""
    out = tmp_path / "export"
    shutil.copytree(demo_export, out)
    data = json.loads((out / manifest.MANIFEST_NAME).read_text())
    frozen = next(a for a in data["artifacts"] if a["format"] == "frozen")
    # what the class is generated from
    frozen["files"][0]["size"] = targets.get("frozen").grappler_limit
    (out / manifest.MANIFEST_NAME).write_text(json.dumps(data, indent=2))
    loaded, sha = manifest.read(out)
    by_format = {c.artifact.format: c for c in planning.plan(loaded)}
    assert not by_format["frozen"].grappler and by_format["savedmodel"].grappler
    text = rendering.render(by_format["frozen"], loaded, sha)
    assert "RewriterConfig.newBuilder().setDisableMetaOptimizer(true)" in text
    assert "graph holds 0.25 GiB" in text
    report = parity(out, formats=("frozen",), batch=2, seed=1)
    assert report.ok, "\n".join(report.lines())
    assert [(c.format, c.comparison.ok) for c in report.cases] == [("frozen", True)]


def test_inputs_python_tensorflow_refuses_are_named_with_the_fix(demo_export, tmp_path):
    feed = demo_model.example_inputs(batch=2)
    feed["input_ids"] = np.full_like(feed["input_ids"], 1 << 30)  # outside the embedding table
    np.savez(tmp_path / "in.npz", **feed)
    with pytest.raises(ModelError) as caught:
        parity(demo_export, inputs=tmp_path / "in.npz")
    message = str(caught.value)
    assert "signature 'serving_default' fails in Python TensorFlow on the given inputs" in message
    assert "1073741824" in message and "--inputs FILE.npz" in message


def test_an_export_is_tied_to_its_source(split_source, tmp_path):
    """The manifest records the source's sha256; `parity --against SRC` passes while the source
    is the one exported, and fails naming the drift, with its reports, once it is retrained
    and saved over."""
    from click.testing import CliRunner

    from exporter.cli import main

    def cli(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    src = tmp_path / "model"
    shutil.copytree(split_source, src)
    out = tmp_path / "out"
    assert cli("export", src, out, "--format", "frozen").exit_code == 0
    recorded = json.loads((out / "manifest.json").read_text())["model"]["source_sha256"]
    assert recorded == manifest.source_digest(src) and len(recorded) == 64
    passed = cli("parity", out, "--against", src, "--batch", 3, "--report", tmp_path / "r.json")
    assert passed.exit_code == 0, passed.output
    assert f"source {src} unchanged since the export (sha256 {recorded[:12]})" in passed.output
    assert "loading the source to run it beside both sides" in passed.stderr
    (case,) = json.loads((tmp_path / "r.json").read_text())["cases"]  # the source ran too
    assert [c["label"] for c in case["against_expected"]] == [
        "python vs the source",
        "java vs the source",
    ]
    for side in case["against_expected"]:
        assert side["ok"] and all(o["values"] > 0 for o in side["outputs"])
        assert {o["shape"][0] for o in side["outputs"]} == {3}

    (data,) = (src / "variables").glob("variables.data-*")
    data.write_bytes(data.read_bytes()[::-1])  # saved over by another training run
    stale = cli("parity", out, "--against", src, "--junit", tmp_path / "junit.xml")
    assert stale.exit_code == 1, stale.output
    (line,) = [ln for ln in stale.output.splitlines() if ln.startswith("error:")]
    assert "the source changed since the export" in line and "export it again" in line
    junit = (tmp_path / "junit.xml").read_text()
    assert "pre-check" in junit and "the source changed since the export" in junit
    missing = cli("parity", out, "--against", tmp_path / "nothing")
    assert missing.exit_code == 2 and "no such file, folder or checkpoint prefix" in missing.output


def test_outputs_of_random_ops_and_the_exports_own_checks(tmp_path):
    """An output of an unseeded random op is named (inspect, export) and compared by dtype and
    shape only, at export and by parity, as the manifest records; the export's tolerance and
    its --skip are parity's too, unless parity is told otherwise."""
    import tensorflow as tf
    from click.testing import CliRunner

    from exporter.cli import main

    def cli(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    class Noisy(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32, name="x")])
        def serve(self, x):
            return {"doubled": x * 2.0, "noisy": x + tf.random.uniform(tf.shape(x))}

    tf.random.set_seed(None)  # unseeded, whatever an earlier test set (a seed makes it seeded)
    module = Noisy()
    src = tmp_path / "noisy"
    tf.saved_model.save(module, str(src), signatures={"serving_default": module.serve})
    shown = cli("inspect", src)
    assert "output 'noisy' depends on unseeded random op(s) RandomUniform" in shown.output
    out = tmp_path / "out"
    exported = cli("export", src, out, "--atol", "0.05", "--skip", "doubled")
    assert exported.exit_code == 0, exported.output
    assert "[ok] noisy: dtype and shape only (unseeded random op(s) RandomUniform)" in (
        exported.output
    )
    assert "[--] doubled: not compared (--skip)" in exported.output
    checks = json.loads((out / "manifest.json").read_text())["checks"]
    assert checks == {
        "atol": 0.05,
        "rtol": 1e-05,
        "batch": 2,
        "outputs": {
            "noisy": {"compare": "shape", "why": "unseeded random op(s) RandomUniform"},
            "doubled": {"compare": "skip", "why": "--skip"},
        },
    }
    saved = tmp_path / "saved"
    parity = cli("parity", out, "--report", tmp_path / "report.json", "--save-outputs", saved)
    assert parity.exit_code == 0, parity.output
    assert "atol 0.05" in parity.output and "[--] doubled: not compared (--skip)" in parity.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["atol"] == 0.05
    # what each side gave, and where the random output differs most (its values, their gap)
    case = saved / "frozen" / "serving_default"
    feed = np.load(case / "inputs.npz")["x"]
    python, java = np.load(case / "python.npz"), np.load(case / "java.npz")
    np.testing.assert_allclose(python["doubled"], feed * 2)
    np.testing.assert_allclose(java["doubled"], feed * 2)
    worst = json.loads((case / "worst.json").read_text())
    assert worst["doubled"] is None  # the same on both sides
    i, j = worst["noisy"]["index"]
    assert worst["noisy"]["python"] == pytest.approx(float(python["noisy"][i, j]))
    assert worst["noisy"]["java"] == pytest.approx(float(java["noisy"][i, j]))
    gaps = np.abs(python["noisy"].astype(np.float64) - java["noisy"])
    assert worst["noisy"]["abs_diff"] == pytest.approx(float(gaps.max()))
    taken = cli("parity", out, "--save-outputs", saved)
    assert taken.exit_code == 2 and "--force" in taken.output
    wrong = cli("parity", out, "--shape-only", "nope")
    assert wrong.exit_code == 2 and "--shape-only nope: no output has that key" in wrong.output


def test_both_sides_against_outputs_computed_elsewhere(tmp_path):
    """--expected: outputs the original framework gave for --inputs; Python TensorFlow and
    TensorFlow Java must both match them."""
    import tensorflow as tf
    from click.testing import CliRunner

    from exporter.cli import main

    def cli(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32, name="x")])
        def serve(self, x):
            return {"doubled": x * 2.0}

    module = Doubler()
    tf.saved_model.save(module, str(tmp_path / "src"), signatures={"serving_default": module.serve})
    out = tmp_path / "out"
    assert cli("export", tmp_path / "src", out, "--format", "frozen").exit_code == 0
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.savez(tmp_path / "in.npz", x=x)
    np.savez(tmp_path / "good.npz", doubled=x * 2)
    good = cli("parity", out, "--inputs", tmp_path / "in.npz", "--expected", tmp_path / "good.npz")
    assert good.exit_code == 0, good.output
    assert "python vs --expected:" in good.output and "java vs --expected:" in good.output
    np.savez(tmp_path / "drifted.npz", doubled=x * 2 + np.float32(0.5))
    drifted = cli(
        "parity",
        out,
        "--inputs",
        tmp_path / "in.npz",
        "--expected",
        tmp_path / "drifted.npz",
        "--junit",
        tmp_path / "junit.xml",
    )
    assert drifted.exit_code == 1, drifted.output
    assert drifted.output.count("[x]  doubled: 6 of 6 values beyond tolerance") == 2
    assert 'name="java vs --expected: doubled"' in (tmp_path / "junit.xml").read_text()
    # the output's own tolerance, given to parity, or recorded by the export
    near = ("--inputs", tmp_path / "in.npz", "--expected", tmp_path / "drifted.npz")
    loose = cli("parity", out, *near, "--atol", "doubled=0.6", "--report", tmp_path / "r.json")
    assert loose.exit_code == 0, loose.output
    assert loose.output.count("max rel diff") == loose.output.count("(atol 0.6)") == 3
    (case,) = json.loads((tmp_path / "r.json").read_text())["cases"]
    (vs_java,) = case["against_expected"][1]["outputs"]
    assert vs_java["atol"] == 0.6 and vs_java["why"] == "--atol doubled=0.6"
    assert (vs_java["values"], vs_java["beyond"], vs_java["max_abs_diff"]) == (6, 0, 0.5)
    assert vs_java["p99_abs_diff"] == vs_java["mean_abs_diff"] == 0.5
    kept = tmp_path / "kept"
    made = cli("export", tmp_path / "src", kept, "--format", "frozen", "--atol", "doubled=0.6")
    assert made.exit_code == 0, made.output
    checks = json.loads((kept / "manifest.json").read_text())["checks"]
    assert checks["atol"] == 1e-5 and checks["outputs"] == {
        "doubled": {"compare": "values", "why": "--atol doubled=0.6", "atol": 0.6}
    }
    assert cli("parity", kept, *near).exit_code == 0
    for bad in ("doubled=", "=0.1", "-1", "doubled=x"):
        refused = cli("parity", out, "--atol", bad)
        assert refused.exit_code == 2 and "is not a tolerance" in refused.output, bad
    np.savez(tmp_path / "typo.npz", doubles=x * 2)
    typo = cli("parity", out, "--inputs", tmp_path / "in.npz", "--expected", tmp_path / "typo.npz")
    assert typo.exit_code == 3 and "array(s) doubles name no output of the model" in typo.output
    alone = cli("parity", out, "--expected", tmp_path / "good.npz")
    assert alone.exit_code == 2 and "give those with --inputs FILE.npz" in alone.output


def test_several_exports_in_one_run(split_export, keras_export, tmp_path, monkeypatch):
    """`parity OUT1 OUT2 OUT3`: one process and one JVM, a report per export (one JSON, a
    JUnit suite each), a refused one among them, and the run's exit code the worst."""
    from click.testing import CliRunner

    from exporter.cli import main
    from exporter.java import javaenv

    started = []
    real_start = javaenv.start_worker

    def counted(*args, **kwargs):
        started.append(real_start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(javaenv, "start_worker", counted)

    tampered = tmp_path / "tampered"
    shutil.copytree(split_export, tampered)
    frozen = tampered / "frozen.pb"
    changed = bytearray(frozen.read_bytes())
    changed[-1] ^= 1  # a flipped bit: the tamper check refuses it
    frozen.write_bytes(bytes(changed))
    result = CliRunner().invoke(
        main,
        [
            "parity",
            str(split_export),
            str(keras_export),
            str(tampered),
            "--junit",
            str(tmp_path / "junit.xml"),
            "--report",
            str(tmp_path / "report.json"),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "parity over 3 exports: 2 passed" in result.output
    assert len(started) == 1 and started[0].proc.poll() is not None  # one JVM, stopped
    assert f"error: {tampered}: " in result.output
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert suites.tag == "testsuites"
    names = [s.get("name") for s in suites]
    assert names == [f"tf2java.parity.{p.name}" for p in (split_export, keras_export, tampered)]
    assert suites[2].find("testcase").get("name") == "pre-check"
    report = json.loads((tmp_path / "report.json").read_text())
    assert [e["ok"] for e in report["exports"]] == [True, True, False] and not report["ok"]
    one = CliRunner().invoke(
        main, ["parity", str(split_export), str(keras_export), "--against", "x"]
    )
    assert one.exit_code == 2 and "--against is about one export" in one.output
