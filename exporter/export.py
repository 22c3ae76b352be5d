"""The export pipeline: load the source, write each target format into a staging directory,
check every artifact against the source on generated inputs, write the manifest, move the
result into place."""

from __future__ import annotations

import gc
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from exporter import graphfile, opcheck, registry
from exporter import inputs as inputs_mod
from exporter.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, compare
from exporter.errors import (
    IncompatibleModelError,
    ModelError,
    UsageError,
    VerificationError,
    first_line,
)
from exporter.freeze import run_graph_def
from exporter.fsutil import staged_dir
from exporter.graphs import ops_of, select_meta_graph, select_signature
from exporter.manifest import MANIFEST_NAME, Manifest, file_entries
from exporter.model import Artifact, Signature
from exporter.sources import LoadOptions, Source, load_source
from exporter.sources.saved_model import signature_runner

FORMATS = ("savedmodel", "frozen")
SAVED_MODEL_DIR = "saved_model"
FROZEN_FILE = "frozen.pb"
TFLITE_FILE = "model.tflite"
Feed = dict[str, np.ndarray]


@dataclass
class ExportResult:
    out: Path
    manifest: Manifest
    checks: list[Comparison]


@dataclass
class Written:
    """What a writer leaves in the staging directory: the artifact, a way to run it in
    Python, and extra checks it made of itself."""

    artifact: Artifact
    run: Callable[[Feed], Feed]
    checks: list[tuple[str, Callable[[Feed], Feed], Callable[[Feed], Feed]]] = field(
        default_factory=list
    )  # (label, expected, actual)


def export(
    src: Path,
    out: Path,
    *,
    formats: tuple[str, ...] = FORMATS,
    signature: str | None = None,
    tags: list[str] | None = None,
    options: LoadOptions | None = None,
    name: str | None = None,
    force: bool = False,
    optimize: bool = False,
    seed: int = 0,
    batch: int = inputs_mod.DEFAULT_BATCH,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    java_runtimes: tuple[str, ...] = (),
    allow_incompatible: bool = False,
    echo: Callable[[str], None] = lambda s: None,
) -> ExportResult:
    options = options or LoadOptions()
    if tags:
        options.tags = list(tags)
    for runtime in java_runtimes:
        registry.load(runtime)  # an unknown runtime is a usage error before any work
    with staged_dir(out, force) as stage, tempfile.TemporaryDirectory() as work:
        source = load_source(src, options, Path(work))
        if source.saved_model_dir is None:
            raise UsageError(
                f"{src}: a {source.format} file is an export target, not a source: TensorFlow "
                "cannot turn it back into a graph; export from the model it was made from"
            )
        sig = select_signature(source.signatures, signature, str(src))
        for note in source.notes:
            echo(f"note: {note}")
        feed = inputs_mod.generate(sig, batch=batch, seed=seed)
        expected = source.run(sig.key, feed)
        source.release()  # each artifact is written and checked with the memory to itself
        checks = []
        artifacts = []
        for fmt in formats:
            w = WRITERS[fmt](source, stage, sig, optimize)
            base = (f"{fmt} vs source ({source.format})", lambda f: expected, w.run)
            checks += [_check(check, feed, sig, atol, rtol, echo) for check in [base, *w.checks]]
            for note in w.artifact.notes:
                echo(f"note ({fmt}): {note}")
            artifacts.append(w.artifact)
            del w, base  # the next artifact gets the memory of this one's loaded model
            gc.collect()  # a loaded model sits in reference cycles
        failed = [c.label for c in checks if not c.ok]
        if failed:
            raise VerificationError(
                f"export check failed ({'; '.join(failed)}); nothing was written"
            )
        for line in scan_warnings(stage, artifacts):
            echo(line)
        for runtime in java_runtimes:
            check_runtime(stage, artifacts, runtime, allow_incompatible, echo)

        manifest = Manifest(
            name=name or model_name(src),
            source_format=source.format,
            source_name=src.resolve().name,
            tensorflow_version=tf.__version__,
            keras_version=_keras_version(),
            artifacts=artifacts,
        )
        (stage / MANIFEST_NAME).write_text(manifest.dumps())
    return ExportResult(out, manifest, checks)


def _check(check, feed: Feed, sig: Signature, atol, rtol, echo) -> Comparison:
    label, want, got = check
    result = compare(want(feed), got(feed), atol=atol, rtol=rtol, label=label)
    echo(f"{result.label}, signature '{sig.key}':")
    for line in result.lines():
        echo("  " + line)
    return result


def scan_warnings(stage: Path, artifacts: list[Artifact]) -> list[str]:
    from exporter.scan import touches, warnings_for

    graphs = {art.format: touches(g) for art, g in opcheck.artifact_graphs(stage, artifacts)}
    return warnings_for(graphs)


def check_runtime(
    stage: Path,
    artifacts: list[Artifact],
    runtime: str,
    allow_incompatible: bool,
    echo: Callable[[str], None],
) -> None:
    """Refuses (or, when allowed, warns about) artifacts the Java runtime cannot load."""
    reg = registry.load(runtime)
    errors = []
    for art, graph_def in opcheck.artifact_graphs(stage, artifacts):
        verdict = opcheck.check(graph_def, reg)
        for finding in verdict.findings:
            echo(f"{art.format} on TensorFlow Java {runtime}: {finding.line()}")
        if not verdict.loads:
            errors.append(art.format)
    if errors and not allow_incompatible:
        raise IncompatibleModelError(
            f"the {' and '.join(errors)} export cannot load on {reg.name} (see above); nothing "
            "was written. Pass --allow-incompatible to write it anyway"
        )
    echo(
        f"TensorFlow Java {runtime}: "
        + (f"does NOT load {', '.join(errors)}" if errors else "loads every artifact")
    )


def write_saved_model(source: Source, stage: Path, sig: Signature, optimize: bool) -> Written:
    saved = stage / SAVED_MODEL_DIR
    shutil.copytree(source.saved_model_dir, saved)
    (saved / "variables").mkdir(exist_ok=True)
    meta = select_meta_graph(saved, source.tags)
    notes = [n for n in source.notes if "variables/" in n]
    if not any((saved / "variables").iterdir()) and not notes:
        notes.append(EMPTY_VARIABLES_NOTE)
    art = Artifact(
        format="savedmodel",
        path=SAVED_MODEL_DIR,
        signatures=source.signatures,
        ops=ops_of(meta.graph_def),
        tags=list(source.tags),
        files=file_entries(stage, SAVED_MODEL_DIR),
        producer=meta.graph_def.versions.producer,
        notes=notes,
    )
    run = signature_runner(saved, source.tags)
    return Written(art, lambda feed: run(sig.key, feed))


PROTOBUF_LIMIT = 2**31 - 1  # bytes: the most one serialized protobuf message may hold


def frozen_size_estimate(saved_model_dir: Path) -> int:
    """Bytes a frozen GraphDef would hold at least: the graph plus every variable's value,
    read from the checkpoint index without loading a tensor."""
    size = sum(p.stat().st_size for p in saved_model_dir.glob("saved_model.pb*"))
    index = saved_model_dir / "variables" / "variables.index"
    if index.is_file():
        reader = tf.train.load_checkpoint(str(index.with_suffix("")))
        dtypes = reader.get_variable_to_dtype_map()
        for name, shape in reader.get_variable_to_shape_map().items():
            if dtypes[name] != tf.string:
                size += int(np.prod(shape, dtype=np.int64)) * dtypes[name].size
    return size


def write_frozen(source: Source, stage: Path, sig: Signature, optimize: bool) -> Written:
    from exporter.freeze import freeze_signature, optimize_for_inference

    estimate = frozen_size_estimate(source.saved_model_dir)
    if estimate > PROTOBUF_LIMIT:
        raise ModelError(
            f"a frozen GraphDef of this model would hold {estimate / 2**30:.2f} GiB of weights, "
            f"over protobuf's 2 GiB limit for one message; export --format savedmodel, which "
            "keeps the weights in variables/ and has no such limit"
        )
    frozen = freeze_signature(source.saved_model_dir, source.tags, sig)
    frozen_sig = frozen.signature
    graph_def, values = frozen.graph_def, frozen.values
    checks = []
    notes = []
    if optimize:  # optimize_for_inference reads the weights: the graph holds them all
        plain = frozen.full_graph_def()
        graph_def, values = optimize_for_inference(plain, frozen_sig), {}
        notes.append(f"optimized for inference: {len(plain.node)} nodes -> {len(graph_def.node)}")
        checks.append(
            (
                "frozen optimized vs unoptimized",
                lambda feed: run_graph_def(plain, frozen_sig, feed),
                lambda feed: run_graph_def(graph_def, frozen_sig, feed),
            )
        )
    path = stage / FROZEN_FILE
    graphfile.write(path, graph_def, values)
    frozen.release()
    art = Artifact(
        format="frozen",
        path=FROZEN_FILE,
        signatures=[frozen_sig],
        ops=ops_of(graph_def),
        files=file_entries(stage, FROZEN_FILE),
        producer=graph_def.versions.producer,
        notes=notes,
    )
    # The check runs the file as written, without the loaded model behind `frozen`.
    return Written(art, lambda feed: graphfile.run(path, frozen_sig, feed), checks)


def write_tflite(source: Source, stage: Path, sig: Signature, optimize: bool) -> Written:
    from exporter.sources import tflite

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(source.saved_model_dir), signature_keys=[sig.key], tags=set(source.tags)
    )
    try:
        content = converter.convert()
    except Exception as exc:  # ConverterError and friends
        raise ModelError(
            f"TFLite cannot convert signature '{sig.key}' ({first_line(exc)}); export --format "
            "savedmodel or frozen instead, which need no conversion"
        ) from exc
    (stage / TFLITE_FILE).write_bytes(content)
    interp = tflite.interpreter(content, TFLITE_FILE)
    art = Artifact(
        format="tflite",
        path=TFLITE_FILE,
        signatures=tflite.signatures(interp),
        ops=[],
        files=file_entries(stage, TFLITE_FILE),
        notes=[TFLITE_NOTE],
    )
    return Written(art, lambda feed: tflite.run_interpreter(content, sig.key, feed, TFLITE_FILE))


WRITERS: dict[str, Callable[[Source, Path, Signature, bool], Written]] = {
    "savedmodel": write_saved_model,
    "frozen": write_frozen,
    "tflite": write_tflite,
}
EMPTY_VARIABLES_NOTE = (
    "variables/ is empty, and that is correct: the weights are constants inside saved_model.pb"
)
TFLITE_NOTE = (
    "checked in Python against the source; TensorFlow Java does not run TFLite, so parity has "
    "no Java check for it"
)


def model_name(src: Path) -> str:
    stem = src.resolve().name
    stem = re.sub(r"\.(keras|h5|pb|pbtxt|tflite)$", "", stem)
    return stem or "model"


def _keras_version() -> str | None:
    try:
        import keras

        return keras.__version__
    except ImportError:
        return None
