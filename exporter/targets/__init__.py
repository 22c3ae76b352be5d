"""One `Target` record per format an export writes, in one registry: what the CLI offers,
what `export` writes, which template generates its Java, how Python runs it for the checks,
and which GraphDef TensorFlow Java loads from it. Adding a format is one module here.

The target modules import TensorFlow when one of their functions runs, not when they are
imported, so that `tf2java java` and `--help` learn the targets without loading it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter.core.model import Artifact, Signature
from exporter.core.tables import register_once

Feed = dict[str, np.ndarray]
Run = Callable[[str, Feed], Feed]  # (signature key, feed) -> outputs


@dataclass
class Written:
    """What a writer leaves in the staging directory: the artifact (None when none of the
    signatures fits the format), a way to run it in Python, and extra checks it made of
    itself."""

    artifact: Artifact | None
    run: Run
    checks: list[tuple[str, Run, Run]] = field(default_factory=list)  # (label, expected, actual)


@dataclass(frozen=True)
class Target:
    """One output format.

    `write(source, stage, sigs, optimize) -> Written` writes the artifact into `stage`.
    `runner(export_dir, artifact) -> Run` runs a written artifact in Python TensorFlow.
    `graph(export_dir, artifact) -> (GraphDef, fetches)` gives the graph TensorFlow Java loads
    and the ops that run when it loads (None: TensorFlow Java does not run this format).
    `template` and `java_suffix` generate its Java class (None: no Java class).
    `default`: written when no --format is given. `own_saver`: its graph carries a saver of
    its own (Save/Restore ops that are not the model's). `grappler_limit`: the size from
    which its generated class runs sessions without Grappler by default (None: always with)."""

    format: str
    path: str  # the file or folder name inside an export
    description: str
    write: Callable[..., Written]
    runner: Callable[[Path, Artifact], Run]
    graph: Callable[[Path, Artifact], tuple[object, list[str]]] | None = None
    template: str | None = None
    java_suffix: str | None = None
    default: bool = False
    own_saver: bool = True
    grappler_limit: int | None = None

    @property
    def runs_in_java(self) -> bool:
        return self.template is not None


TARGETS: dict[str, Target] = {}


def register(target: Target) -> Target:
    """Adds a target; a format is registered once."""
    return register_once(TARGETS, target.format, target, "target")


def get(fmt: str) -> Target:
    """The target of format `fmt`; KeyError for an unknown one."""
    return TARGETS[fmt]


def java_targets() -> list[Target]:
    """The targets TensorFlow Java runs, each with a generated class."""
    return [t for t in TARGETS.values() if t.runs_in_java]


def default_formats() -> tuple[str, ...]:
    """The formats an export writes when no --format is given."""
    return tuple(t.format for t in TARGETS.values() if t.default)


def fetches(signatures: list[Signature]) -> list[str]:
    """The tensor names of every output of `signatures`."""
    return [t.tensor_name for s in signatures for t in s.outputs]


# The targets register themselves on import, in the order --format all writes them.
from exporter.targets import savedmodel, frozen, tflite  # noqa: E402, F401, I001
