"""Op registries of TensorFlow Java runtimes, read from the snapshots shipped in registries/ so
that checks run offline and without a JVM (tools/registry_snapshot.py makes a snapshot from a
real runtime)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from exporter.core.fsutil import project_root
from exporter.errors import UsageError

SNAPSHOT_DIR = Path(__file__).resolve().parent / "registries"
SNAPSHOT_FORMAT = 1
CLASSIFIER = "linux-x86_64"


@dataclass(frozen=True)
class OpInfo:
    attrs: dict[str, bool]  # attr name -> has a default
    stateful: bool


@dataclass(frozen=True)
class Registry:
    runtime: str  # TensorFlow Java version
    core: str  # the TensorFlow core it embeds
    producer: int  # its GraphDef version (TF_GRAPH_DEF_VERSION)
    ops: dict[str, OpInfo]
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or f"TensorFlow Java {self.runtime} (core {self.core})"


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def available() -> list[str]:
    """The runtimes with a shipped snapshot, oldest first."""
    names = [p.name[len("tfjava-") : -len(".json")] for p in SNAPSHOT_DIR.glob("tfjava-*.json")]
    return sorted(names, key=version_key)


@cache
def load(runtime: str) -> Registry:
    path = SNAPSHOT_DIR / f"tfjava-{runtime}.json"
    if not path.is_file():
        raise UsageError(
            f"no op registry snapshot for TensorFlow Java {runtime}; known: "
            f"{', '.join(available())} (add one with `make registry VERSION={runtime}`)"
        )
    data = json.loads(path.read_text())
    ops = {
        name: OpInfo(attrs=dict(op["attrs"]), stateful=op["stateful"])
        for name, op in data["ops"].items()
    }
    return Registry(
        data["runtime"]["version"], data["tensorflow_core"], data["graph_def_producer"], ops
    )


def default_runtime() -> str:
    """The project's pinned TensorFlow Java (gradle.properties in a checkout), else the newest
    runtime with a snapshot."""
    root = project_root()
    if root is not None and (root / "gradle.properties").is_file():
        text = (root / "gradle.properties").read_text()
        match = re.search(r"^tensorflowJavaVersion=(\S+)", text, re.M)
        if match:
            return match.group(1)
    return available()[-1]


def artifacts(runtime: str) -> list[str]:
    """Maven coordinates of a TensorFlow Java runtime: from 1.0.0 the native library lives in
    tensorflow-core-native, before that in tensorflow-core-api itself."""
    if version_key(runtime) >= (1, 0, 0):
        return [
            f"org.tensorflow:tensorflow-core-api:{runtime}",
            f"org.tensorflow:tensorflow-core-native:{runtime}:{CLASSIFIER}",
        ]
    return [
        f"org.tensorflow:tensorflow-core-api:{runtime}",
        f"org.tensorflow:tensorflow-core-api:{runtime}:{CLASSIFIER}",
    ]
