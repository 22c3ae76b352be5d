"""Faults while running: the Java side crashing, running out of memory or hanging is a parity
failure with its cause and leaves no process behind; an interrupted export leaves the previous
output or none; the comparison is exact about NaN, Inf, empty and scalar outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from exporter.cli import main
from exporter.commands.parity import parity
from exporter.core import manifest
from exporter.errors import EXIT_ENVIRONMENT
from tests import procs

pytestmark = pytest.mark.jvm


def _workers() -> set[int]:
    """The Java workers this test process started that still run."""
    return procs.workers_of(os.getpid())


def test_nan_inf_empty_scalars_and_strings(edges_export, tmp_path):
    x = np.array([[1.0, 0.0, -2.0], [3.0, -1.0, 0.5]], np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    report = parity(edges_export, inputs=tmp_path / "in.npz")
    assert report.ok, "\n".join(report.lines())
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(np.log(x)).any() and np.isneginf(np.log(x)).any()  # the case is real
    for case in report.cases:
        checks = {c.key: c for c in case.comparison.checks}
        assert checks["empty"].shape == [2, 0]
        assert checks["total"].shape == [] and checks["label"].shape == []
        assert checks["label"].dtype == "string"


def test_a_batch_of_zero_goes_through_with_its_inner_shape(edges_export, tmp_path):
    """An empty batch goes in (the NdArray overload keeps its (0, 3) shape) and comes back
    through the result's flat data and shape, which keep the inner dimensions a nested Java
    array of no rows would lose."""
    np.savez(tmp_path / "in.npz", x=np.zeros((0, 3), np.float32))
    report = parity(edges_export, inputs=tmp_path / "in.npz")
    assert report.ok, "\n".join(report.lines())
    for case in report.cases:
        checks = {c.key: c for c in case.comparison.checks}
        assert checks["empty"].shape == [0, 0] and checks["total"].shape == []


@pytest.mark.parametrize("crash", [False, True], ids=["exception", "jvm-abort"])
def test_out_of_memory_is_a_parity_failure_with_its_cause(
    edges_export, tmp_path, crash, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "in.npz", x=np.ones((4, 4_000_000), np.float32))  # 64 MB as float[][]
    # The input crosses in native memory; the outputs come back as float[4][4000000] on the
    # Java heap. JavaCPP's own limit (4x the heap) is lifted so that the heap is what fails.
    options = ["-Xmx32m", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"]
    options += ["-XX:+CrashOnOutOfMemoryError"] if crash else []
    before = _workers()
    report = parity(edges_export, inputs=tmp_path / "in.npz", jvm_options=options)
    assert not report.ok
    for case in report.cases:
        assert "OutOfMemoryError" in case.error, case.error
        if crash:
            assert case.error.startswith("the Java worker died before answering")
    assert _workers() <= before
    assert not list(tmp_path.glob("hs_err*"))  # the JVM's crash report stays in its own folder


def test_a_hang_is_stopped_by_the_timeout(edges_export, tmp_path):
    before = _workers()
    junit = tmp_path / "parity.xml"
    result = CliRunner().invoke(
        main, ["parity", str(edges_export), "--timeout", "1", "--junit", str(junit)]
    )
    assert result.exit_code == EXIT_ENVIRONMENT  # the README's table: a worker timeout is 4
    assert "did not finish within 1 s and was stopped" in result.output
    assert 'failures="2"' in junit.read_text()
    time.sleep(0.5)
    assert _workers() <= before


@pytest.mark.slow
def test_a_killed_export_leaves_the_previous_output_or_none(split_source, tmp_path):
    """The export is killed at several points; each time OUT is the previous complete export
    or absent, never half-written."""
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "exporter",
        "export",
        str(split_source),
        str(out),
        "--force",
        "--format",
        "both",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    previous = (out / "manifest.json").read_bytes()
    interrupted = kept_previous = 0
    for delay in (0.0, 0.05, 0.2, 0.5):  # seconds after the export starts writing
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if list(tmp_path.glob(f".out.tmp-{proc.pid}-*")):  # its staging directory
                break
            time.sleep(0.01)
        time.sleep(delay)
        if proc.poll() is None:
            interrupted += 1
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        data, _ = manifest.read(out)  # a complete output is always there: the previous one,
        manifest.verify_files(out, data)  # or the new one if the kill came after the move
        kept_previous += (out / "manifest.json").read_bytes() == previous
    assert interrupted >= 2 and kept_previous >= 2  # kills landed mid-export; nothing lost
    finished = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    data, _ = manifest.read(out)
    manifest.verify_files(out, data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # stale staging removed
    assert json.loads((out / "manifest.json").read_text())["model"]["source_name"] == "split"
