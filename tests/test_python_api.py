"""The Python API as the README shows it: its pytest example, run by pytest as a user's file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.jvm, pytest.mark.slow]

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readmes_pytest_example_passes(keras_source, tmp_path):
    (block,) = re.findall(
        r"```python\n(# test_model_on_the_jvm\.py\n.*?)```", README.read_text(), re.S
    )
    (tmp_path / "test_model_on_the_jvm.py").write_text(block)
    shutil.copyfile(keras_source, tmp_path / "model.keras")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_model_on_the_jvm.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 passed" in proc.stdout


def test_importing_the_package_does_not_import_tensorflow():
    code = "import sys, tf2java, tf2java.testing; assert 'tensorflow' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_one_jvm_serves_every_check_it_is_given(split_export, keras_source, tmp_path):
    """`JVM()` (the `tf2java_jvm` fixture's): an export and a source checked in one JVM, which
    stays up between them and stops when the block ends."""
    from tf2java.testing import JVM, assert_parity

    with JVM() as jvm:
        first = assert_parity(split_export, jvm=jvm)
        assert jvm.worker.proc.poll() is None
        second = assert_parity(keras_source, workdir=tmp_path, jvm=jvm, batch=3)
        assert jvm.worker.proc.poll() is None and jvm.worker.rounds == 2
    assert jvm.worker.proc.poll() is not None
    assert first.ok and second.ok
    assert [c.java_class for c in first.cases] == ["SplitSavedModel", "SplitFrozen"]
    assert {c.java_class for c in second.cases} == {"TwoHeadsSavedModel", "TwoHeadsFrozen"}
    assert second.inputs == "3 generated example(s) (seed 0)"
    assert not list(tmp_path.iterdir())  # the source's export went with its temporary folder
