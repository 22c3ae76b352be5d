"""The Java half of a parity run, made without TensorFlow so that it can start first: the
generated classes compiled, the inputs written, the worker's JVM started with TensorFlow Java
and held until the checks that need TensorFlow pass (`parity.parity` releases it)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter import targets
from exporter.core import fsutil
from exporter.core import inputs as inputs_mod
from exporter.core import manifest as manifest_mod
from exporter.java import binding, javaenv, planning, rendering, writing
from exporter.java.worker import save_arrays

PARITY_PACKAGE = "tf2java.parity"


@dataclass
class JavaSide:
    """A prepared Java side: the manifest, the inputs by (format, signature key), the classes,
    one worker job per signature, and the held worker. Leaving the `with` block stops the
    worker if it still runs and removes the scratch folder."""

    export_dir: Path
    manifest: manifest_mod.Manifest
    sha: str
    feeds: dict[tuple[str, str], dict[str, np.ndarray]]
    strings: str
    classes: list[binding.JavaClass]
    jobs: list[binding.WorkerJob]
    worker: javaenv.Worker
    scratch: tempfile.TemporaryDirectory = field(repr=False)

    def __enter__(self) -> JavaSide:
        return self

    def __exit__(self, *exc) -> None:
        self.worker.__exit__(*exc)
        self.scratch.cleanup()


def prepare(
    export_dir: Path,
    *,
    inputs_npz: Path | None = None,
    batch: int = inputs_mod.DEFAULT_BATCH,
    seed: int = 0,
    formats: tuple[str, ...] | None = None,
    op_libraries: list[Path] = (),
    jvm_options: list[str] = (),
    echo: Callable[[str], None] = lambda s: None,
) -> JavaSide:
    """Reads and verifies the export's manifest, makes the inputs of every Java-run signature
    (`inputs_npz`, else generated with `batch` and `seed`), generates and compiles the
    classes (javac, cached) and starts the worker held. Raises ModelError (manifest, files,
    inputs), EnvironmentError_ (no JDK or TensorFlow Java)."""
    manifest, sha = manifest_mod.read(export_dir)
    manifest_mod.verify_files(export_dir, manifest)
    feeds = {}
    known = {t.key for a in manifest.artifacts for s in a.signatures for t in s.inputs}
    for art in manifest.artifacts:
        for sig in art.signatures if targets.get(art.format).runs_in_java else []:
            feeds[(art.format, sig.key)] = (
                inputs_mod.load_npz(inputs_npz, sig, known)
                if inputs_npz
                else inputs_mod.generate(sig, batch=batch, seed=seed)
            )
    strings = "bytes" if any(_binary(v) for f in feeds.values() for v in f.values()) else "text"
    classes = planning.plan(manifest, PARITY_PACKAGE, formats=formats, strings=strings)
    scratch = fsutil.scratch("parity")
    try:
        work = Path(scratch.name)
        key = f"{rendering.generator_digest()} {sha} {PARITY_PACKAGE} {strings} {formats}"

        def render() -> list[Path]:
            sources = writing.write_sources(classes, manifest, sha, work / "src")
            echo(f"compiling {len(sources)} generated file(s) with javac")
            return sources

        compiled = javaenv.compile_keyed(key, render)
        jobs = []
        for cls in classes:
            for jsig in cls.signatures:
                inputs_file = work / f"in{len(jobs)}.npz"
                save_arrays(inputs_file, feeds[(cls.artifact.format, jsig.sig.key)])
                jobs.append(java_job(len(jobs), cls, jsig, export_dir, inputs_file, work))
        worker = javaenv.start_worker(
            work,
            jobs=jobs,
            jars=[*javaenv.classpath(), str(compiled)],
            jvm_options=list(jvm_options),
            op_libraries=[str(Path(p).resolve()) for p in op_libraries],
            hold=True,
        )
    except BaseException:
        scratch.cleanup()
        raise
    return JavaSide(export_dir, manifest, sha, feeds, strings, classes, jobs, worker, scratch)


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
) -> binding.WorkerJob:
    """The worker's request for one signature of one generated class of the export."""
    model = (export_dir / cls.artifact.path).resolve()
    return binding.WorkerJob.of(job_id, cls, jsig, model, inputs_file, work / f"out{job_id}.npz")
