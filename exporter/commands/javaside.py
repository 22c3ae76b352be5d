"""The Java half of a parity run, made without TensorFlow so that it can start first: the
generated classes compiled and the worker's JVM started with TensorFlow Java, waiting for its
first batch until the checks that need TensorFlow pass (`parity.parity` sends it)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter import targets
from exporter.core import fsutil, streams
from exporter.core import manifest as manifest_mod
from exporter.core.console import phase
from exporter.core.inputs import DEFAULT_BATCH
from exporter.core.model import Signature
from exporter.errors import UsageError
from exporter.java import binding, javaenv, planning, rendering, writing
from exporter.java.worker import save_arrays

PARITY_PACKAGE = "tf2java.parity"


@dataclass
class JavaSide:
    """A prepared Java side: the manifest, the inputs and the signatures they go to by
    (format, signature key), the first batch where it was read without TensorFlow, the
    classes and where they were compiled, one worker job per signature, and the worker,
    waiting for its first batch (its own, or one shared by the exports of a run). Leaving the
    `with` block stops its own worker if it still runs and removes the scratch folder."""

    export_dir: Path
    manifest: manifest_mod.Manifest
    sha: str
    inputs: streams.Inputs
    sigs: dict[tuple[str, str], Signature]
    first: streams.Feeds | None
    strings: str
    classes: list[binding.JavaClass]
    # One worker job per signature checked, with its class and signature
    runs: list[tuple[binding.WorkerJob, binding.JavaClass, binding.JavaSignature]]
    compiled: Path
    scratch: tempfile.TemporaryDirectory = field(repr=False)
    worker: javaenv.Worker | None = None
    owns_worker: bool = True

    @property
    def jobs(self) -> list[binding.WorkerJob]:
        return [job for job, _, _ in self.runs]

    def __enter__(self) -> JavaSide:
        return self

    def __exit__(self, *exc) -> None:
        if self.worker is not None and self.owns_worker:
            self.worker.__exit__(*exc)
        self.scratch.cleanup()

    def send(self, feeds: streams.Feeds) -> None:
        """Writes each job's inputs from `feeds` and lets the worker run them all while this
        process goes on (`worker.receive` waits for the answers)."""
        for job, cls, jsig in self.runs:
            save_arrays(job.inputs, feeds[(cls.artifact.format, jsig.sig.key)])
        self.worker.send(self.jobs)


def prepare(
    export_dir: Path,
    *,
    inputs: streams.Inputs | None = None,
    formats: tuple[str, ...] | None = None,
    signatures: tuple[str, ...] = (),
    op_libraries: list[Path] = (),
    jvm_options: list[str] = (),
    echo: Callable[[str], None] = lambda s: None,
) -> JavaSide:
    """The Java side of one export (`plan`) with a worker of its own, started."""
    side = plan(export_dir, inputs=inputs, formats=formats, signatures=signatures, echo=echo)
    try:
        side.worker = start(Path(side.scratch.name), op_libraries, jvm_options)
    except BaseException:
        side.scratch.cleanup()
        raise
    return side


def start(work: Path, op_libraries: list[Path] = (), jvm_options: list[str] = ()) -> javaenv.Worker:
    """A worker (one JVM with TensorFlow Java) waiting for rounds, its files in `work`; it
    serves any Java side (each job names its classes, loaded in a class loader of their own)."""
    return javaenv.start_worker(
        work,
        jars=list(javaenv.classpath()),
        jvm_options=list(jvm_options),
        op_libraries=[str(Path(p).resolve()) for p in op_libraries],
        rounds=True,
    )


def plan(
    export_dir: Path,
    *,
    inputs: streams.Inputs | None = None,
    formats: tuple[str, ...] | None = None,
    signatures: tuple[str, ...] = (),
    echo: Callable[[str], None] = lambda s: None,
) -> JavaSide:
    """Reads and verifies the export's manifest, reads the first batch of `inputs` (default:
    generated) for the signatures checked (`signatures`, else every one) where that needs no
    TensorFlow, and generates and compiles the classes (javac, cached): a Java
    side without its worker yet (`start`). Raises ModelError (manifest, files, inputs),
    UsageError (a signature the export does not have), EnvironmentError_ (no JDK)."""
    inputs = inputs or streams.open_inputs(None, DEFAULT_BATCH)
    manifest, sha = manifest_mod.read(export_dir)
    manifest_mod.verify_files(export_dir, manifest)
    sigs = {
        (art.format, sig.key): sig
        for art in manifest.artifacts
        if targets.get(art.format).runs_in_java
        for sig in planning.served(art.signatures)  # the rest through the method they share
        if not signatures
        or sig.key in signatures
        or any(o.same_as == sig.key and o.key in signatures for o in art.signatures)
    }
    unknown = sorted(set(signatures) - {s.key for a in manifest.artifacts for s in a.signatures})
    if unknown:
        have = sorted({s.key for a in manifest.artifacts for s in a.signatures})
        raise UsageError(
            f"--signature {', '.join(unknown)}: the export has no such signature; it has "
            f"{', '.join(have)}"
        )
    first = streams.first_feeds(inputs, sigs)
    if first is not None:
        binary = any(_binary(v) for f in first.values() for v in f.values())
    else:  # serialized Examples go as bytes; their features' strings as text
        binary = any(t.example is not None for s in sigs.values() for t in s.inputs)
    strings = "bytes" if binary else "text"
    classes = planning.plan(manifest, PARITY_PACKAGE, formats=formats, strings=strings)
    scratch = fsutil.scratch("parity")
    try:
        work = Path(scratch.name)
        key = f"{rendering.generator_digest()} {sha} {PARITY_PACKAGE} {strings} {formats}"

        def render() -> list[Path]:
            return writing.write_sources(classes, manifest, sha, work / "src")

        def compiling(files: int):
            return phase(echo, f"compiling {files} generated file(s) with javac")

        compiled = javaenv.compile_keyed(key, render, compiling)
        runs = []
        for cls in classes:
            for jsig in cls.signatures:
                if (cls.artifact.format, jsig.sig.key) in sigs:
                    where = work / f"in{len(runs)}.npz"
                    job = java_job(len(runs), cls, jsig, export_dir, where, work, compiled)
                    runs.append((job, cls, jsig))
    except BaseException:
        scratch.cleanup()
        raise
    return JavaSide(
        export_dir, manifest, sha, inputs, sigs, first, strings, classes, runs, compiled, scratch
    )


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
    cls: binding.JavaClass,
    jsig: binding.JavaSignature,
    export_dir: Path,
    inputs_file: Path,
    work: Path,
    classes: Path | None = None,
) -> binding.WorkerJob:
    """The worker's request for one signature of one generated class of the export (compiled
    in `classes`, else on the worker's classpath)."""
    model = (export_dir / cls.artifact.path).resolve()
    result = work / f"out{job_id}.npz"
    return binding.WorkerJob.of(job_id, cls, jsig, model, inputs_file, result, classes)
