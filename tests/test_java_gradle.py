"""Gradle's Java tests: the checked-in generated demo classes run on TensorFlow Java 1.1.0
against outputs Python TensorFlow computed for the same inputs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from exporter.commands import demo_model
from exporter.java import javaenv

pytestmark = [pytest.mark.jvm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory, demo_export, multi_export) -> Path:
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("java-fixtures")
    shutil.copytree(demo_export, folder / "export")
    shutil.copytree(multi_export, folder / "multi")
    feed = demo_model.example_inputs(batch=4, seed=7)
    model = tf.saved_model.load(str(demo_export / "saved_model"))
    probs = model.signatures["serving_default"](**{k: tf.constant(v) for k, v in feed.items()})
    for key, value in feed.items():
        np.save(folder / f"{key}.npy", value)
    np.save(folder / "pred_prob.npy", probs["loss/pred_prob"].numpy())
    return folder


def test_gradle_runs_the_generated_classes(fixtures):
    javaenv.classpath()  # resolves TensorFlow Java first, or fails with the fix
    results = ROOT / "build" / "test-results" / "test"
    shutil.rmtree(results, ignore_errors=True)
    proc = subprocess.run(
        ["gradle", "--no-daemon", "-q", "cleanTest", "test", f"-Ptf2java.fixtures={fixtures}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    cases = {}
    for report in results.glob("TEST-*.xml"):
        for case in ET.parse(report).getroot().iter("testcase"):
            outcome = "passed"
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "failed"
            elif case.find("skipped") is not None:
                outcome = "skipped"
            cases[f"{case.get('classname')}.{case.get('name')}"] = outcome
    generated = {k: v for k, v in cases.items() if ".Generated" in k}
    assert len(generated) == 25, cases
    assert set(generated.values()) == {"passed"}, generated
    assert cases["org.tf2java.harness.NpyTest.readsFloatMatrix"] == "passed"
