"""A non-editable install carries every module, the templates and the manifest schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_templates_and_schema(tmp_path):
    src = tmp_path / "src"
    for part in ("exporter", "templates", "tf2java"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / part, src / part)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("tf2java-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.j2")
    }
    assert "handoff/pom.xml.j2" in shipped
    assert {f"exporter/templates/{n}" for n in shipped} <= names
    assert "exporter/core/schema/manifest.schema.json" in names
    assert "exporter/checks/registries/tfjava-1.1.0.json" in names
    assert "exporter/checks/registries/touches.json" in names
    assert "exporter/core/schema/tensorflow.binpb" in names  # ops and scan without TensorFlow
    modules = {
        p.relative_to(ROOT).as_posix()
        for d in ("exporter", "tf2java")
        for p in (ROOT / d).rglob("*.py")
    }
    assert "tf2java/testing.py" in modules
    assert "exporter/sources/tf1.py" in modules and "exporter/cli.py" in modules
    assert modules <= names, sorted(modules - names)
    (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
    registered = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\ntf2java = tf2java.pytest_plugin" in registered


def test_one_tensorflow_and_the_keras_2_that_goes_with_it():
    """tf_keras is installed without the `tensorflow` it declares: tensorflow-cpu stays the
    only TensorFlow, at the version tf_keras was released with."""
    from importlib import metadata

    import tomllib

    names = {d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()}
    assert "tensorflow-cpu" in names and "tensorflow" not in names
    (pin,) = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["tf2java"]["no-deps"]
    assert metadata.version("tf_keras") == pin.split("==")[1]
    major_minor = ".".join(metadata.version("tensorflow-cpu").split(".")[:2])
    assert metadata.version("tf_keras").startswith(major_minor)
