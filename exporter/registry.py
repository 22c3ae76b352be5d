"""Op registries of TensorFlow Java runtimes, shipped as snapshots so that checks run offline
and without a JVM, and the one command that regenerates a snapshot from a real runtime:

    python -m exporter.registry snapshot 1.2.0    (or: make registry VERSION=1.2.0)

A snapshot is made by resolving that TensorFlow Java from Maven Central with Gradle, starting
it in the jpype worker, and reading `TensorFlow.registeredOpList()`, `TensorFlow.version()`
and the GraphDef producer version of a new `Graph`."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from exporter.errors import EnvironmentError_, UsageError

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
    from exporter.javaenv import project_root

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


def resolve_runtime(runtime: str, work: Path) -> list[str]:
    """Jars of a TensorFlow Java runtime, resolved from Maven Central by Gradle."""
    deps = "\n".join(f"    implementation '{a}'" for a in artifacts(runtime))
    (work / "build.gradle").write_text(
        "apply plugin: 'java'\nrepositories { mavenCentral() }\n"
        f"dependencies {{\n{deps}\n}}\n"
        "task writeClasspath { doLast { file('classpath.txt').text = "
        "configurations.runtimeClasspath.files.join(File.pathSeparator) } }\n"
    )
    (work / "settings.gradle").write_text("rootProject.name = 'registry'\n")
    proc = subprocess.run(
        ["gradle", "-q", "--no-daemon", "writeClasspath"], cwd=work, capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise EnvironmentError_(f"gradle could not resolve TensorFlow Java {runtime}: {tail}")
    return (work / "classpath.txt").read_text().strip().split(":")


def live_registry(jars: list[str], work: Path, op_libraries: list[str] = ()) -> tuple[dict, bytes]:
    """Starts a runtime in the worker; returns its facts and its serialized OpList."""
    from exporter import javaenv

    response = javaenv.run_worker(
        work,
        300,
        jars=jars,
        registry_out=str(work / "oplist.pb"),
        op_libraries=list(op_libraries),
    )
    facts = dict(response["registry"], tensorflow_core=response["tensorflow_java"])
    return facts, (work / "oplist.pb").read_bytes()


def to_snapshot(runtime: str, facts: dict, oplist_bytes: bytes) -> dict:
    from tensorflow.core.framework import op_def_pb2

    oplist = op_def_pb2.OpList()
    oplist.ParseFromString(oplist_bytes)
    ops = {
        op.name: {
            "stateful": op.is_stateful,
            "attrs": {a.name: a.HasField("default_value") for a in op.attr},
        }
        for op in sorted(oplist.op, key=lambda o: o.name)
    }
    return {
        "snapshot_format": SNAPSHOT_FORMAT,
        "runtime": {"name": "TensorFlow Java", "version": runtime, "artifacts": artifacts(runtime)},
        "tensorflow_core": facts["tensorflow_core"],
        "graph_def_producer": facts["graph_def_producer"],
        "provenance": (
            f"Generated by `python -m exporter.registry snapshot {runtime}` on "
            f"{datetime.date.today().isoformat()}: TensorFlow.registeredOpList() of the runtime "
            "above, resolved from Maven Central and started on a JVM. Do not edit by hand."
        ),
        "ops": ops,
    }


def dumps(snapshot: dict) -> str:
    """JSON with one op a line, so a new runtime's snapshot diffs op by op."""
    head = {k: v for k, v in snapshot.items() if k != "ops"}
    text = json.dumps(head, indent=2)[:-2] + ',\n  "ops": {\n'
    lines = [
        f"    {json.dumps(name)}: {json.dumps(op, sort_keys=True)}"
        for name, op in snapshot["ops"].items()
    ]
    return text + ",\n".join(lines) + "\n  }\n}\n"


def snapshot(runtime: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="tf2java-registry-") as tmp:
        work = Path(tmp)
        jars = resolve_runtime(runtime, work)
        facts, oplist = live_registry(jars, work)
    target = SNAPSHOT_DIR / f"tfjava-{runtime}.json"
    target.write_text(dumps(to_snapshot(runtime, facts, oplist)))
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "snapshot":
        print("usage: python -m exporter.registry snapshot VERSION", file=sys.stderr)
        return 2
    path = snapshot(argv[1])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
