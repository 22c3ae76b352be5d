"""The package's shape: stages import only from the stages below them, `core/` and `java/`
never import TensorFlow, the README's layout table names the tree, one dtype table feeds the
schema, the inputs and the Java, and registries refuse a format twice."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from exporter import sources, targets
from exporter.cli import main
from exporter.core import dtypes, inputs, manifest
from exporter.core.model import Signature, TensorInfo
from exporter.errors import EXIT_MODEL
from exporter.java import binding
from tests import models

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "exporter"
# Stages from the bottom up: a module imports from its own stage or a lower one.
STAGES = ["errors", "core", "graph", "sources", "targets", "checks", "java", "commands", "cli"]
LAYER = {**{s: i for i, s in enumerate(STAGES)}, "java": STAGES.index("checks")}
# Modules that import exporter modules inside functions: the command line (so that --help
# does not load TensorFlow), the targets (so that `tf2java java` can read them without it), and
# parity (whose JVM starts before TensorFlow is imported), inspect and run (so that `inspect
# OUT` of an export folder reads its manifest without TensorFlow), `ops` and `scan` (which read
# an export, a SavedModel folder or a GraphDef file without it), and the entry point (whose
# Ctrl-C handler is in place before the command line is imported).
LAZY = (
    "exporter.cli",
    "exporter.targets.",
    "exporter.commands.parity",
    "exporter.commands.describe",
    "exporter.checks.opcheck",
    "exporter.checks.scan",
    "exporter.__main__",
)


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):
        return LAYER["errors"] if len(parts) == 1 else len(STAGES)
    return LAYER[parts[1]]


def _imports():
    """(module, imported module, at top level?) for every import of an exporter module."""
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "exporter"
            ):
                continue
            names = [node.module]
            if node.module == "exporter":
                names = [f"exporter.{a.name}" for a in node.names]
                names = [
                    n
                    for n in names
                    if (PACKAGE / n.split(".")[1]).exists()
                    or (PACKAGE / f"{n.split('.')[1]}.py").exists()
                ] or ["exporter"]
            for name in names:
                yield module, name, id(node) in top


def test_imports_run_down_the_stages():
    upward, lazy = [], []
    for module, name, at_top in _imports():
        if _stage(name) > _stage(module):
            upward.append(f"{module} -> {name}")
        if not at_top and not module.startswith(LAZY):
            lazy.append(f"{module} -> {name}")
    assert not upward, upward
    assert not lazy, lazy


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for module, name, at_top in _imports():
        if at_top and name != module:
            graph.setdefault(module, set()).add(name)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError("import cycle: " + " -> ".join([*trail, node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ importing its own submodules registers them: not a cycle
            if not nxt.startswith(node + "."):
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        visit(node, [])


def test_core_java_targets_checks_the_cli_parity_and_the_java_side_never_import_tensorflow():
    modules = [
        _module(p)
        for folder in ("core", "java", "targets", "checks")
        for p in sorted((PACKAGE / folder).rglob("*.py"))
    ] + ["exporter.cli", "exporter.commands.javaside", "exporter.commands.parity"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras'))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout) == []
    assert "exporter.core.dtypes" in modules and "exporter.java.worker" in modules


def test_readme_layout_names_every_folder_and_file_it_lists():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {}
    for row in rows:
        path_cell, what = row.split("|")[1:3]
        for path in re.findall(r"`([^`]+)`", path_cell):
            assert (ROOT / path).exists(), f"README layout lists {path}, which does not exist"
            listed[path.rstrip("/")] = what
            if path.endswith("/"):  # each file a folder's row names is in that folder
                for name in re.findall(r"`([\w.]+\.py|[\w]+/)`", what):
                    assert (ROOT / path / name).exists(), f"{path}{name} does not exist"
    stages = {f"exporter/{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    tops = {"templates", "java-harness", "tools", "benchmarks", "tests"}
    assert stages | tops | {"exporter/cli.py", "exporter/errors.py"} <= set(listed)


def test_one_dtype_table_feeds_schema_java_and_inputs():
    manifest.validator().check_schema(manifest.schema())  # reading a manifest does not
    schema = manifest.schema()["$defs"]["tensor"]["properties"]["dtype"]["enum"]
    assert sorted(schema) == sorted(dtypes.DTYPES)
    assert sorted(binding.JAVA_TYPES) == sorted(dtypes.java_names())
    assert {"bfloat16", "float16", "float64", "uint8", "int64", "bool", "string"} <= set(
        dtypes.java_names()
    )
    assert not {"int8", "int16", "uint32", "uint64", "complex64"} & set(dtypes.java_names())
    sig = Signature(
        "every",
        "predict",
        tuple(TensorInfo(n, n, 0, n, (2, 3)) for n in dtypes.DTYPES),
        (),
    )
    values = inputs.generate(sig, seed=1)
    for name, d in dtypes.DTYPES.items():
        assert values[name].shape == (2, 3) and values[name].dtype == np.dtype(d.numpy), name
        if d.in_java and d.kind in ("float", "int"):  # the crossing into Java and back is exact
            assert np.array_equal(d.from_java(d.to_java(values[name])), values[name]), name


def test_registries_refuse_a_format_twice():
    with pytest.raises(ValueError, match="already registered"):
        sources.register(sources.LOADERS["savedmodel"])
    with pytest.raises(ValueError, match="already registered"):
        targets.register(targets.get("frozen"))
    assert list(targets.TARGETS) == ["savedmodel", "frozen", "tflite"]
    assert [t.format for t in targets.java_targets()] == ["savedmodel", "frozen"]


def test_export_refuses_a_dtype_tensorflow_java_cannot_carry(tmp_path):
    src = models.save_module(models.SignedByte(), tmp_path / "signed")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", str(src), str(out)])
    assert result.exit_code == EXIT_MODEL, result.output
    (line,) = result.stderr.strip().splitlines()[-1:]  # after the phase that found it
    assert line.startswith("error: ") and result.stdout == ""
    assert "input 'level' is int8" in line and "--format tflite" in line
    assert not out.exists()


def test_the_manifest_schema_knows_every_target_and_dtype():
    """The schema's enums are the registries': a new target or dtype is in the schema, or this
    fails."""
    from exporter import targets

    schema = json.loads((PACKAGE / "core" / "schema" / "manifest.schema.json").read_text())
    artifact = schema["$defs"]["artifact"]["properties"]
    assert set(artifact["format"]["enum"]) == set(targets.TARGETS)
    tensor = next(d for d in schema["$defs"].values() if "dtype" in d.get("properties", {}))
    assert set(tensor["properties"]["dtype"]["enum"]) == set(dtypes.DTYPES)


def test_the_handoff_templates_use_exactly_their_declared_context():
    """Every name a hand-off template reads is a field of ModuleContext, and every field is
    read by some template: the context is declared in one place."""
    from dataclasses import fields

    from jinja2 import meta

    from exporter.commands.handoff import HANDOFF_TEMPLATES, ModuleContext, environment

    env = environment()
    declared = {f.name for f in fields(ModuleContext)}
    used = set()
    for template, _ in HANDOFF_TEMPLATES:
        source = env.loader.get_source(env, template)[0]
        names = meta.find_undeclared_variables(env.parse(source))
        assert names <= declared, (template, sorted(names - declared))
        used |= names
    assert used == declared, sorted(declared - used)
