"""Python/Java parity: the same inputs through Python TensorFlow and through the generated Java
classes on TensorFlow Java, every output compared.

The Java side runs in a worker process (exporter.java.worker) that never imports Python
TensorFlow; this process runs the Python side."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from exporter import targets
from exporter.checks import opcheck
from exporter.checks.opcheck import artifact_graphs, library_ops
from exporter.checks.scan import artifact_side_effects, require_consent
from exporter.core import inputs as inputs_mod
from exporter.core import javaenv
from exporter.core import manifest as manifest_mod
from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, compare
from exporter.core.fsutil import staged_file
from exporter.errors import (
    JavaWorkerError,
    ModelError,
    OutputExistsError,
    first_line,
)
from exporter.java import codegen
from exporter.java.worker import load_arrays, save_arrays

PARITY_PACKAGE = "tf2java.parity"
DEFAULT_TIMEOUT = 600.0


@dataclass
class CaseResult:
    format: str
    signature: str
    java_class: str
    comparison: Comparison | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.comparison is not None and self.comparison.ok

    def to_json(self) -> dict:
        data = {
            "format": self.format,
            "signature": self.signature,
            "java_class": self.java_class,
            "ok": self.ok,
        }
        if self.comparison is not None:
            data["outputs"] = self.comparison.to_json()["outputs"]
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class ParityReport:
    export_dir: str
    manifest_sha256: str
    atol: float
    rtol: float
    tensorflow_python: str
    tensorflow_java: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.cases) and all(c.ok for c in self.cases)

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "export_dir": self.export_dir,
            "manifest_sha256": self.manifest_sha256,
            "atol": self.atol,
            "rtol": self.rtol,
            "tensorflow_python": self.tensorflow_python,
            "tensorflow_java": self.tensorflow_java,
            "seconds": round(self.seconds, 2),
            "cases": [c.to_json() for c in self.cases],
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        out = [
            f"parity: Python TensorFlow {self.tensorflow_python} vs TensorFlow Java "
            f"{self.tensorflow_java or '(not started)'}, atol {self.atol:g}, rtol {self.rtol:g}"
        ]
        for case in self.cases:
            out.append(f"{case.format} '{case.signature}' ({case.java_class}):")
            if case.error:
                out.append(f"  [x]  Java failed: {case.error}")
            for line in case.comparison.lines() if case.comparison else []:
                out.append("  " + line)
        out.extend(f"note: {n}" for n in self.notes)
        passed = sum(c.ok for c in self.cases)
        out.append(
            f"parity {'OK' if self.ok else 'FAILED'}: {passed} of {len(self.cases)} "
            f"signature checks passed in {self.seconds:.1f} s"
        )
        return out

    def junit_xml(self) -> str:
        suite = ET.Element(
            "testsuite",
            name="tf2java.parity",
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
            time=f"{self.seconds:.2f}",
        )
        failures = 0
        for case in self.cases:
            checks = case.comparison.checks if case.comparison else []
            classname = f"{case.format}.{case.signature}"
            if case.error:
                failures += 1
                tc = ET.SubElement(suite, "testcase", classname=classname, name="java run")
                ET.SubElement(tc, "failure", message=case.error).text = case.error
            for check in checks:
                tc = ET.SubElement(suite, "testcase", classname=classname, name=check.key)
                if not check.ok:
                    failures += 1
                    message = "; ".join(check.problems)
                    ET.SubElement(tc, "failure", message=message).text = message
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failures))
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def parity(
    export_dir: Path,
    *,
    inputs_npz: Path | None = None,
    batch: int = inputs_mod.DEFAULT_BATCH,
    seed: int = 0,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    formats: tuple[str, ...] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    op_libraries: list[Path] = (),
    jvm_options: list[str] = (),
    allow_side_effects: bool = False,
    echo: Callable[[str], None] = lambda s: None,
) -> ParityReport:
    """Runs every signature of every Java-run artifact in `export_dir` through Python TensorFlow
    and, through its generated class, TensorFlow Java, on the same inputs (`inputs_npz`,
    else generated with `batch` and `seed`), and compares every output within `atol`/`rtol`.
    `formats` limits the artifacts; `op_libraries` are loaded on both sides; `jvm_options`
    go to the worker's JVM, which gets `timeout` seconds. Returns the ParityReport (not ok
    on any mismatch or Java failure). Raises ModelError (manifest, files),
    IncompatibleModelError (ops the runtime lacks), UsageError (side effects not allowed),
    EnvironmentError_ (no JDK or TensorFlow Java)."""
    import tensorflow as tf

    started = time.monotonic()
    manifest, sha = manifest_mod.read(export_dir)
    manifest_mod.verify_files(export_dir, manifest)
    graphs = [
        (f"{a.format} ({a.path})", g) for a, g in artifact_graphs(export_dir, manifest.artifacts)
    ]
    opcheck.require(
        graphs, javaenv.runtime_version(), echo=echo, extra_ops=library_ops(list(op_libraries))
    )
    require_consent(artifact_side_effects(export_dir, manifest), allow_side_effects, echo, "parity")
    feeds = {}
    for art in manifest.artifacts:
        for sig in art.signatures if targets.get(art.format).runs_in_java else []:
            feeds[(art.format, sig.key)] = (
                inputs_mod.load_npz(inputs_npz, sig)
                if inputs_npz
                else inputs_mod.generate(sig, batch=batch, seed=seed)
            )
    strings = "bytes" if any(_binary(v) for f in feeds.values() for v in f.values()) else "text"
    classes = codegen.plan(manifest, PARITY_PACKAGE, formats=formats, strings=strings)
    report = ParityReport(str(export_dir), sha, atol, rtol, tf.__version__)
    report.notes = [
        f"{a.path}: no Java check, TensorFlow Java does not run TFLite (it was checked in "
        "Python against the source at export)"
        for a in manifest.artifacts
        if a.format == "tflite"
    ]

    if strings == "bytes":
        report.notes.append(
            "string tensors went to Java as byte[] (the inputs hold strings that are not UTF-8 "
            "text); `tf2java java --strings bytes` generates that API"
        )

    with tempfile.TemporaryDirectory(prefix="tf2java-parity-") as tmp:
        work = Path(tmp)
        sources = codegen.write_sources(classes, manifest, sha, work / "src")
        echo(f"compiling {len(sources)} generated file(s) with javac (cached)")
        compiled = javaenv.compile_cached(sources)

        jobs = []
        for cls in classes:
            for jsig in cls.signatures:
                inputs_file = work / f"in{len(jobs)}.npz"
                save_arrays(inputs_file, feeds[(cls.artifact.format, jsig.sig.key)])
                jobs.append(java_job(len(jobs), cls, jsig, export_dir, inputs_file, work))
                report.cases.append(CaseResult(cls.artifact.format, jsig.sig.key, cls.name))

        # The JVM starts, loads TensorFlow Java and runs every job while this process runs
        # the same inputs through Python TensorFlow: the two sides share nothing but files.
        echo(f"running {len(jobs)} signature(s) on TensorFlow Java and in Python TensorFlow")
        with javaenv.start_worker(
            work,
            jobs=jobs,
            jars=[*javaenv.classpath(), str(compiled)],
            jvm_options=list(jvm_options),
            op_libraries=[str(Path(p).resolve()) for p in op_libraries],
        ) as worker:
            expected = python_side(export_dir, classes, feeds, given=bool(inputs_npz))
            try:
                response = worker.wait(timeout)
            except JavaWorkerError as exc:  # a crash or a hang is a parity failure
                for case in report.cases:
                    case.error = str(exc)
                report.seconds = time.monotonic() - started
                return report
        report.tensorflow_java = response.get("tensorflow_java")
        for job, case, answer in zip(jobs, report.cases, response["jobs"]):
            if not answer["ok"]:
                case.error = answer["error"]
                continue
            data = load_arrays(job["result"])
            actual = {o["key"]: data[f"o{i}"] for i, o in enumerate(job["outputs"])}
            case.comparison = compare(
                expected[job["id"]],
                actual,
                atol=atol,
                rtol=rtol,
                label=f"{case.format} {case.signature}",
            )
    report.seconds = time.monotonic() - started
    return report


def python_side(export_dir: Path, classes, feeds: dict, given: bool) -> dict[int, dict]:
    """Each job's outputs in Python TensorFlow, by job number (the order of the jobs):
    every artifact loaded once, a stateful signature on a fresh load."""
    import tensorflow as tf

    expected, runners = {}, {}
    for cls in classes:
        fmt = cls.artifact.format
        if fmt not in runners:
            runners[fmt] = targets.get(fmt).runner(export_dir, cls.artifact)
        for jsig in cls.signatures:
            try:
                expected[len(expected)] = runners[fmt](jsig.sig.key, feeds[(fmt, jsig.sig.key)])
            except tf.errors.OpError as exc:
                raise ModelError(
                    f"{fmt} signature '{jsig.sig.key}' fails in Python TensorFlow on "
                    f"{'the given' if given else 'generated'} inputs ({first_line(exc)}); give "
                    "inputs it accepts with --inputs FILE.npz"
                ) from exc
    return expected


def _binary(value: np.ndarray) -> bool:
    """True for a string array holding anything that is not UTF-8 text."""
    if value.dtype.kind not in "OS":
        return False
    try:
        for item in value.ravel():
            (item if isinstance(item, bytes) else str(item).encode()).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def java_job(
    job_id: int,
    cls: codegen.JavaClass,
    jsig: codegen.JavaSignature,
    export_dir: Path,
    inputs_file: Path,
    work: Path,
) -> dict:
    """The worker's request for one signature of one generated class: the class, its load path, the
    method, and each parameter and output with the Java type the generated API uses."""
    return {
        "id": job_id,
        "class": cls.qualified_name,
        "model": str((export_dir / cls.artifact.path).resolve()),
        "method": jsig.method,
        "inputs": str(inputs_file),
        "result": str(work / f"out{job_id}.npz"),
        "params": [_tensor_job(t) for t in jsig.inputs],
        "outputs": [
            dict(_tensor_job(t), getter=t.getter, flat=t.views[:2] if t.views else None)
            for t in jsig.outputs
        ],
        # the NdArray overload takes inputs straight from numpy's memory; a stateful
        # signature runs on a model loaded for it alone
        "nd": bool(jsig.nd_inputs),
        "fresh": jsig.sig.stateful,
    }


def _tensor_job(t: codegen.JavaTensor) -> dict:
    return {"key": t.info.key, "dtype": t.info.dtype, "rank": t.rank, "bytes": t.bytes_strings}


def write_report(report: ParityReport, path: Path, force: bool = False) -> None:
    """Writes the JSON report; an existing file is replaced only when tf2java wrote it (a
    previous report) or with `force`."""
    _check_report_target(path, force, lambda text: '"manifest_sha256"' in text)
    with staged_file(path, True) as stage:
        stage.write_text(json.dumps(report.to_json(), indent=2) + "\n")


def write_junit(report: ParityReport, path: Path, force: bool = False) -> None:
    """Writes the JUnit XML report, under the same rule as `write_report`."""
    _check_report_target(path, force, lambda text: 'name="tf2java.parity"' in text)
    with staged_file(path, True) as stage:
        stage.write_text(report.junit_xml())


def _check_report_target(path: Path, force: bool, ours: Callable[[str], bool]) -> None:
    if force or not path.exists():
        return
    try:
        head = path.read_text(errors="replace")[:4096] if path.is_file() else ""
    except OSError:
        head = ""
    if not ours(head):
        raise OutputExistsError(
            f"{path}: already exists and is not a tf2java report; pass --force to replace it"
        )
