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
from exporter.core import inputs as inputs_mod
from exporter.core import javaenv
from exporter.core import manifest as manifest_mod
from exporter.java import codegen
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
    classes: list[codegen.JavaClass]
    jobs: list[dict]
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
    for art in manifest.artifacts:
        for sig in art.signatures if targets.get(art.format).runs_in_java else []:
            feeds[(art.format, sig.key)] = (
                inputs_mod.load_npz(inputs_npz, sig)
                if inputs_npz
                else inputs_mod.generate(sig, batch=batch, seed=seed)
            )
    strings = "bytes" if any(_binary(v) for f in feeds.values() for v in f.values()) else "text"
    classes = codegen.plan(manifest, PARITY_PACKAGE, formats=formats, strings=strings)
    scratch = tempfile.TemporaryDirectory(prefix="tf2java-parity-")
    try:
        work = Path(scratch.name)
        sources = codegen.write_sources(classes, manifest, sha, work / "src")
        echo(f"compiling {len(sources)} generated file(s) with javac (cached)")
        compiled = javaenv.compile_cached(sources)
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
    cls: codegen.JavaClass,
    jsig: codegen.JavaSignature,
    export_dir: Path,
    inputs_file: Path,
    work: Path,
) -> dict:
    """The worker's request for one signature of one generated class: the class, its load
    path, the method, and each parameter and output with the Java type the generated API
    uses."""
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
