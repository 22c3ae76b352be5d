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
    assert "1 passed" in proc.stdout


def test_importing_the_package_does_not_import_tensorflow():
    code = "import sys, tf2java, tf2java.testing; assert 'tensorflow' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
