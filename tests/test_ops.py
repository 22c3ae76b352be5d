"""Op version-matching: which TensorFlow Java runtimes can load a model, checked offline
against the shipped registry snapshots, and the snapshots and verdicts checked against real
runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from tensorflow.core.framework import graph_pb2, node_def_pb2

from exporter.checks import opcheck, registry
from exporter.checks.opsreport import ops_report
from exporter.cli import main
from exporter.commands.javaside import PARITY_PACKAGE, java_job
from exporter.commands.parity import parity
from exporter.core import manifest
from exporter.errors import EXIT_MISMATCH, EXIT_MODEL, IncompatibleModelError
from exporter.java import javaenv, planning, writing
from exporter.java.worker import save_arrays
from tests.conftest import EXPORTS
from tools import registry_snapshot


def _verdicts(src: Path) -> dict[tuple[str, str], opcheck.Verdict]:
    report = ops_report(src, all_runtimes=True)
    return {(g.label.split()[0], v.runtime): v for g in report.graphs for v in g.verdicts}


def test_snapshots_ship_for_three_runtimes():
    assert registry.available() == ["0.5.0", "1.0.0", "1.1.0"]
    cores = {r: registry.load(r).core for r in registry.available()}
    assert cores == {"0.5.0": "2.10.1", "1.0.0": "2.16.2", "1.1.0": "2.18.0"}
    assert registry.default_runtime() == "1.1.0"


def test_a_newer_op_needs_a_newer_runtime(gamma_export):
    verdicts = _verdicts(gamma_export)
    for fmt in ("savedmodel", "frozen"):
        old = verdicts[(fmt, "0.5.0")]
        assert not old.loads
        (finding,) = [f for f in old.findings if f.severity == "error"]
        assert (finding.kind, finding.op) == ("missing_op", "StatelessRandomGammaV3")
        assert "StatelessRandomGammaV3" in finding.nodes[0]
        assert "use TensorFlow Java 1.0.0 or newer, or export with TensorFlow 2.10" in finding.fix
        assert verdicts[(fmt, "1.0.0")].loads and verdicts[(fmt, "1.1.0")].loads
    report = ops_report(gamma_export, all_runtimes=True)
    assert {g.first_loading for g in report.graphs} == {"1.0.0"}


def test_ops_inside_functions_are_found_with_their_function(gamma_export):
    report = ops_report(gamma_export)
    saved = next(g for g in report.graphs if g.label.startswith("savedmodel"))
    uses = saved.usage["StatelessRandomGammaV3"]
    assert uses and all(u.function and u.function.startswith("__inference_serve") for u in uses)
    assert "SaveV2" in saved.usage  # the saver functions count too


def test_new_attrs_are_warnings_not_failures(demo_export):
    verdict = _verdicts(demo_export)[("savedmodel", "0.5.0")]
    assert verdict.loads
    (finding,) = verdict.findings
    assert (finding.kind, finding.severity, finding.op) == (
        "unknown_attr",
        "warning",
        "VarHandleOp",
    )
    assert "debug_name" in finding.message and len(finding.nodes) == 12


@pytest.mark.jvm
@pytest.mark.slow
def test_verdicts_hold_on_a_real_0_5_0_runtime(demo_export, gamma_export, tmp_path):
    """No false alarm and no missed failure: TensorFlow Java 0.5.0 itself loads what the
    check says it loads, and fails on what it says it cannot."""
    jars = registry_snapshot.resolve_runtime("0.5.0", tmp_path)
    models = [
        {"format": "savedmodel", "path": str(out / "saved_model"), "tags": ["serve"]}
        for out in (demo_export, gamma_export)
    ] + [
        {"format": "frozen", "path": str(out / "frozen.pb")} for out in (demo_export, gamma_export)
    ]
    response = javaenv.run_worker(tmp_path, 300, jars=jars, load_models=models)
    assert response["tensorflow_java"] == "2.10.1"
    loads = [r["ok"] for r in response["loads"]]
    assert loads == [True, False, True, False]
    assert "Op type not registered 'StatelessRandomGammaV3'" in response["loads"][1]["error"]
    expected = [
        _verdicts(out)[(fmt, "0.5.0")].loads
        for fmt in ("savedmodel", "frozen")
        for out in (demo_export, gamma_export)
    ]
    assert loads == expected


@pytest.mark.jvm
def test_shipped_1_1_0_snapshot_matches_the_live_registry(tmp_path):
    facts, oplist = registry_snapshot.live_registry(list(javaenv.classpath()), tmp_path)
    live = registry_snapshot.to_snapshot("1.1.0", facts, oplist)
    shipped = json.loads((registry.SNAPSHOT_DIR / "tfjava-1.1.0.json").read_text())
    assert live["tensorflow_core"] == shipped["tensorflow_core"] == "2.18.0"
    assert live["graph_def_producer"] == shipped["graph_def_producer"]
    assert live["ops"] == shipped["ops"]
    assert live["runtime"] == shipped["runtime"]


@pytest.mark.parametrize("fixture", EXPORTS)
def test_no_false_alarms_on_models_that_pass_parity(fixture, request):
    report = ops_report(request.getfixturevalue(fixture))
    assert report.ok
    assert all(not v.findings for g in report.graphs for v in g.verdicts)


def test_an_op_in_no_registry_is_a_custom_op(custom_op_export):
    report = ops_report(custom_op_export, all_runtimes=True)
    (graph,) = report.graphs
    assert graph.first_loading is None
    for verdict in graph.verdicts:
        (finding,) = verdict.findings
        assert (finding.op, finding.nodes) == ("CaseFoldUTF8", ["folded"])
        assert "TensorFlow.loadLibrary" in finding.fix and "--op-library" in finding.fix
    result = CliRunner().invoke(main, ["ops", str(custom_op_export)])
    assert result.exit_code == EXIT_MISMATCH
    assert "CaseFoldUTF8" in result.output and "does NOT load" in result.output
    data = json.loads(CliRunner().invoke(main, ["ops", str(custom_op_export), "--json"]).output)
    assert data["ok"] is False and data["graphs"][0]["ops"]["CaseFoldUTF8"]["nodes"] == ["folded"]


def test_parity_runs_nothing_in_java_for_a_model_that_cannot_load(custom_op_export, monkeypatch):
    """The worker's JVM starts while Python imports TensorFlow and waits for rounds: the op
    check refuses the model before a round is sent, and the worker goes away without one."""
    started = []
    real_start = javaenv.start_worker

    def waiting_only(*args, **kwargs):
        assert kwargs.get("rounds") is True, "a worker that runs at once"
        started.append(real_start(*args, **kwargs))
        return started[-1]

    def no_round(self, jobs):
        raise AssertionError("the worker must not run a model that cannot load")

    monkeypatch.setattr(javaenv, "start_worker", waiting_only)
    monkeypatch.setattr(javaenv.Worker, "send", no_round)
    with pytest.raises(IncompatibleModelError, match="op 'CaseFoldUTF8' is not registered"):
        parity(custom_op_export)
    assert len(started) == 1 and started[0].proc.wait(timeout=30) is not None
    assert not list(started[0].work.glob("round*"))
    result = CliRunner().invoke(main, ["parity", str(custom_op_export)])
    assert result.exit_code == EXIT_MODEL
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "TensorFlow Java 1.1.0 (core 2.18.0)" in errors[0]


def _graph(*nodes) -> graph_pb2.GraphDef:
    graph_def = graph_pb2.GraphDef()
    x = graph_def.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = tf.float32.as_datatype_enum
    for node in nodes:
        graph_def.node.append(node)
    return graph_def


def test_attr_the_opdef_lacks_and_attr_it_requires():
    extra = node_def_pb2.NodeDef(name="y", op="Identity", input=["x"])
    extra.attr["T"].type = tf.float32.as_datatype_enum
    extra.attr["bogus_attr"].i = 1
    extra.attr["_internal"].i = 1  # "_" attrs are the runtime's own: never reported
    lacking = node_def_pb2.NodeDef(name="z", op="Identity", input=["x"])
    verdict = opcheck.check(_graph(extra, lacking), registry.load("1.1.0"))
    kinds = {(f.kind, f.severity, tuple(f.nodes)) for f in verdict.findings}
    assert kinds == {("unknown_attr", "warning", ("y",)), ("missing_attr", "error", ("z",))}
    assert "bogus_attr" in verdict.findings[0].message and "_internal" not in str(kinds)
    assert not verdict.loads


def test_graph_version_beyond_the_runtime():
    graph_def = _graph()
    graph_def.versions.min_consumer = 5000
    (finding,) = opcheck.check(graph_def, registry.load("1.1.0")).findings
    assert (
        finding.kind == "graph_version" and "5000" in finding.message and "1994" in finding.message
    )


def test_unknown_runtime_is_a_usage_error(demo_export):
    result = CliRunner().invoke(main, ["ops", str(demo_export), "--java-runtime", "9.9.9"])
    assert result.exit_code == 2
    assert "known: 0.5.0, 1.0.0, 1.1.0" in result.output


def test_export_refuses_a_runtime_that_cannot_load_it(gamma_source, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["export", str(gamma_source), str(out), "--java-runtime", "0.5.0"]
    )
    assert result.exit_code == EXIT_MODEL
    assert (
        "cannot load on TensorFlow Java 0.5.0" in result.output
        and "--allow-incompatible" in result.output
    )
    assert not out.exists() and list(tmp_path.iterdir()) == []
    result = CliRunner().invoke(
        main,
        [
            "export",
            str(gamma_source),
            str(out),
            "--java-runtime",
            "0.5.0",
            "--java-runtime",
            "1.1.0",
            "--allow-incompatible",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "TensorFlow Java 0.5.0: does NOT load savedmodel, frozen" in result.output
    assert "TensorFlow Java 1.1.0: loads every artifact" in result.output
    assert (out / "manifest.json").is_file()


@pytest.mark.jvm
def test_generated_class_names_both_versions_when_ops_are_missing(custom_op_export, tmp_path):
    data, sha = manifest.read(custom_op_export)
    (cls,) = classes = planning.plan(data, PARITY_PACKAGE)
    sources = writing.write_sources(classes, data, sha, tmp_path / "src")
    javaenv.compile_sources(sources, tmp_path / "classes")
    save_arrays(tmp_path / "in.npz", {"text": np.array([b"Hello"], dtype=object)})
    job = java_job(0, cls, cls.signatures[0], custom_op_export, tmp_path / "in.npz", tmp_path)
    response = javaenv.run_worker(
        tmp_path, 300, jobs=[job], jars=[*javaenv.classpath(), str(tmp_path / "classes")]
    )
    (answer,) = response["jobs"]
    assert answer["ok"] is False
    assert answer["error"].startswith("tf2java.parity.CustomOp$LoadException: cannot load ")
    assert (
        "the model needs op(s) CaseFoldUTF8 that this TensorFlow Java (TensorFlow 2.18.0)"
        in answer["error"]
    )
    assert f"exported by TensorFlow {tf.__version__}" in answer["error"]
    assert "TensorFlow.loadLibrary" in answer["error"]


def test_custom_ops_are_one_line_before_python_tensorflow_runs_them(
    custom_op_export, split_source, tmp_path
):
    """A frozen graph and a SavedModel using an op of TensorFlow Text: inspect, export and
    run name the op and --op-library, exit 3, nothing written."""
    import shutil

    from tensorflow.core.protobuf import saved_model_pb2

    saved = tmp_path / "saved"
    shutil.copytree(split_source, saved)
    model = saved_model_pb2.SavedModel.FromString((saved / "saved_model.pb").read_bytes())
    text = model.meta_graphs[0].graph_def.node.add(name="text", op="Placeholder")
    text.attr["dtype"].type = tf.string.as_datatype_enum
    model.meta_graphs[0].graph_def.node.add(name="folded", op="CaseFoldUTF8", input=["text"])
    (saved / "saved_model.pb").write_bytes(model.SerializeToString())
    frozen = ["--input", "t=text", "--output", "f=folded"]
    for src, io in ((custom_op_export / "frozen.pb", frozen), (saved, [])):
        for command in (
            ["inspect", src, *io],
            ["export", src, tmp_path / "out", *io],
            ["run", src, *io, "--input-json", "x=[[1.0, 2.0, 3.0]]"],
        ):
            result = CliRunner().invoke(main, [str(c) for c in command])
            assert result.exit_code == EXIT_MODEL, (command, result.output)
            (line,) = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
            assert "uses op(s) CaseFoldUTF8 that this TensorFlow does not register" in line
            assert "--op-library PATH.so" in line and "Traceback" not in result.output
        assert not (tmp_path / "out").exists()
