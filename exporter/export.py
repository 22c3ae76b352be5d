"""The export pipeline: load the source, write each target format into a staging directory,
check every artifact against the source on generated inputs, write the manifest, move the
result into place."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from exporter import inputs as inputs_mod
from exporter import opcheck, registry
from exporter.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, compare
from exporter.errors import IncompatibleModelError, VerificationError
from exporter.freeze import read_graph_def, run_graph_def
from exporter.fsutil import staged_dir
from exporter.graphs import DEFAULT_TAG, ops_of, select_meta_graph, select_signature
from exporter.loaders import Source, load_source
from exporter.manifest import MANIFEST_NAME, Manifest, file_entries
from exporter.model import Artifact, Signature

FORMATS = ("savedmodel", "frozen")
SAVED_MODEL_DIR = "saved_model"
FROZEN_FILE = "frozen.pb"


@dataclass
class ExportResult:
    out: Path
    manifest: Manifest
    checks: list[Comparison]


def export(
    src: Path,
    out: Path,
    *,
    formats: tuple[str, ...] = FORMATS,
    signature: str | None = None,
    tags: list[str] | None = None,
    name: str | None = None,
    force: bool = False,
    seed: int = 0,
    batch: int = inputs_mod.DEFAULT_BATCH,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    java_runtimes: tuple[str, ...] = (),
    allow_incompatible: bool = False,
    echo: Callable[[str], None] = lambda s: None,
) -> ExportResult:
    tags = tags or [DEFAULT_TAG]
    for runtime in java_runtimes:
        registry.load(runtime)  # an unknown runtime is a usage error before any work
    with staged_dir(out, force) as stage, tempfile.TemporaryDirectory() as work:
        source = load_source(src, tags, Path(work))
        sig = select_signature(source.signatures, signature, str(src))
        artifacts: list[Artifact] = []
        runners: dict[str, Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]] = {}
        if "savedmodel" in formats:
            art, run = write_saved_model(source, stage, sig)
            artifacts.append(art)
            runners["savedmodel"] = run
        if "frozen" in formats:
            art, run = write_frozen(source, stage, sig)
            artifacts.append(art)
            runners["frozen"] = run

        feed = inputs_mod.generate(sig, batch=batch, seed=seed)
        expected = source.run(sig.key, feed)
        checks = []
        for fmt, run in runners.items():
            result = compare(
                expected,
                run(feed),
                atol=atol,
                rtol=rtol,
                label=f"{fmt} vs source ({source.format})",
            )
            checks.append(result)
            echo(f"{result.label}, signature '{sig.key}':")
            for line in result.lines():
                echo("  " + line)
        failed = [c.label for c in checks if not c.ok]
        if failed:
            raise VerificationError(
                f"export check failed ({'; '.join(failed)}); nothing was written"
            )
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
    for art in artifacts:
        if art.format == "frozen":
            graph_def = read_graph_def(stage / art.path)
        else:
            graph_def = select_meta_graph(stage / art.path, art.tags).graph_def
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


def write_saved_model(source: Source, stage: Path, sig: Signature):
    shutil.copytree(source.saved_model_dir, stage / SAVED_MODEL_DIR)
    meta = select_meta_graph(stage / SAVED_MODEL_DIR, source.tags)
    art = Artifact(
        format="savedmodel",
        path=SAVED_MODEL_DIR,
        signatures=source.signatures,
        ops=ops_of(meta.graph_def),
        tags=list(source.tags),
        files=file_entries(stage, SAVED_MODEL_DIR),
        producer=meta.graph_def.versions.producer,
    )
    saved = stage / SAVED_MODEL_DIR
    loaded: dict[str, object] = {}

    def run(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        model = loaded.setdefault("m", tf.saved_model.load(str(saved), tags=source.tags))
        outputs = model.signatures[sig.key](**{k: tf.constant(v) for k, v in feed.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    return art, run


def write_frozen(source: Source, stage: Path, sig: Signature):
    from exporter.freeze import freeze_signature

    graph_def, frozen_sig = freeze_signature(source.saved_model_dir, source.tags, sig)
    (stage / FROZEN_FILE).write_bytes(graph_def.SerializeToString(deterministic=True))
    art = Artifact(
        format="frozen",
        path=FROZEN_FILE,
        signatures=[frozen_sig],
        ops=ops_of(graph_def),
        files=file_entries(stage, FROZEN_FILE),
        producer=graph_def.versions.producer,
    )
    return art, lambda feed: run_graph_def(graph_def, frozen_sig, feed)


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
