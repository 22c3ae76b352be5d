"""The export pipeline: load the source, write each target format into a staging directory,
check every artifact against the source on generated inputs, write the manifest, move the
result into place."""

from __future__ import annotations

import gc
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import tensorflow as tf

from exporter import targets
from exporter.checks import opcheck, registry
from exporter.checks.scan import require_consent, source_side_effects, touches, warnings_for
from exporter.core import dtypes
from exporter.core import inputs as inputs_mod
from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, by_hand, compare
from exporter.core.console import phase
from exporter.core.fsutil import refuse_overlap, staged_dir
from exporter.core.inputs import format_shape
from exporter.core.manifest import MANIFEST_NAME, Manifest, source_digest
from exporter.core.model import Artifact, Signature
from exporter.errors import (
    ModelError,
    UsageError,
    VerificationError,
    batch_hint,
)
from exporter.graph.graphs import random_ops_behind, select_signature
from exporter.sources import LoadOptions, Source, load_source
from exporter.targets import Feed, Written


@dataclass
class ExportResult:
    out: Path
    manifest: Manifest
    checks: list[Comparison]


def export(
    src: Path,
    out: Path,
    *,
    formats: tuple[str, ...] | None = None,
    signature: str | list[str] | None = None,
    tags: list[str] | None = None,
    options: LoadOptions | None = None,
    name: str | None = None,
    force: bool = False,
    optimize: bool = False,
    seed: int = 0,
    batch: int = inputs_mod.DEFAULT_BATCH,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    atol_of: dict[str, float] | None = None,
    rtol_of: dict[str, float] | None = None,
    java_runtimes: tuple[str, ...] = (),
    allow_incompatible: bool = False,
    shapes: dict[str, str] | None = None,
    inputs: Path | None = None,
    allow_side_effects: bool = False,
    skip: tuple[str, ...] = (),
    shape_only: tuple[str, ...] = (),
    echo: Callable[[str], None] = lambda s: None,
) -> ExportResult:
    """Exports `src` (any source format) into `out` as `formats` asks, after checking every
    artifact against the source on the same inputs; nothing is written when a check fails.

    `signature`: a key, several, or "all" (default: serving_default, or the only one).
    `options`: how to read the source (tags, feeds and fetches of a graph, --set pins...).
    `shapes`: KEY or SIG/KEY -> dims text ("-1,784", "" for a scalar) for inputs whose shape
    the graph does not record. `inputs`: an .npz of inputs for the checks instead of generated
    ones. `atol_of`/`rtol_of`: output key -> its own tolerance, recorded with `skip` and
    `shape_only` for parity. `java_runtimes`: TensorFlow Java versions that must load the
    result.
    `allow_side_effects`: run a model whose signatures reach outside it (files, network).
    Raises UsageError, ModelError, VerificationError, IncompatibleModelError."""
    options = options or LoadOptions()
    formats = formats or targets.default_formats()
    if tags:
        options.tags = list(tags)
    refuse_overlap(out, src, "source", "OUT")
    for runtime in java_runtimes:
        registry.load(runtime)  # an unknown runtime is a usage error before any work
    with staged_dir(out, force) as stage, tempfile.TemporaryDirectory() as work:
        with phase(echo, "loading the source"):
            source = load_source(src, options, Path(work))
        if source.saved_model_dir is None:
            raise UsageError(
                f"{src}: a {source.format} file is an export target, not a source: TensorFlow "
                "cannot turn it back into a graph; export from the model it was made from"
            )
        source.signatures = declare_shapes(source.signatures, shapes or {})
        sigs = select_signatures(source.signatures, signature, str(src))
        for sig in sigs:
            source.require_runnable(sig)
            if any(targets.get(f).runs_in_java for f in formats):
                require_java_dtypes(sig, str(src))
        require_consent(
            source_side_effects(source, sigs), allow_side_effects, echo, f"exporting {src}"
        )
        for note in source.notes:
            echo(f"note: {note}")
        outputs = output_checks(source, sigs, skip, shape_only, atol_of, rtol_of)
        for key, how in outputs.items():
            if how["why"].startswith("unseeded"):
                echo(
                    f"note: output '{key}' depends on {how['why']}: it is compared by dtype and "
                    "shape only, here and by parity"
                )
        known = {t.key for sig in sigs for t in sig.inputs}
        with phase(echo, "running the source on the check inputs"):
            feeds = {sig.key: _feed(sig, inputs, batch, seed, known) for sig in sigs}
            expected = {
                sig.key: _run(source, sig.key, feeds[sig.key], batch, inputs) for sig in sigs
            }
        source.release()  # each artifact is written and checked with the memory to itself
        checks = []
        artifacts = []
        for fmt in formats:
            target = targets.get(fmt)
            with phase(echo, f"writing {target.path} and checking it against the source"):
                w = target.write(source, stage, sigs, optimize)
                if w.artifact is None:
                    raise ModelError(f"no signature of {src} can be exported as {fmt}") from None
                checks += _check_artifact(
                    w, source.format, expected, feeds, (atol, rtol, outputs), echo
                )
            artifacts.append(w.artifact)
            del w  # the next artifact gets the memory of this one's loaded model
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
            name=name or source.name or model_name(src),
            source_format=source.format,
            source_name=src.resolve().name,
            tensorflow_version=tf.__version__,
            keras_version=_keras_version(),
            artifacts=artifacts,
            pinned=dict(source.pinned),
            keras=source.details.get("keras"),
            source_sha256=source_digest(src),
            checks={
                "atol": atol,
                "rtol": rtol,
                "batch": batch,
                **({"outputs": outputs} if outputs else {}),
            },
        )
        (stage / MANIFEST_NAME).write_text(manifest.dumps())
    return ExportResult(out, manifest, checks)


def require_java_dtypes(sig: Signature, where: str) -> None:
    """Refuses a signature with an input or output TensorFlow Java has no tensor type for."""
    for kind, infos in (("input", sig.inputs), ("output", sig.outputs)):
        for info in infos:
            dtype = dtypes.DTYPES.get(info.dtype)
            if dtype is None or not dtype.in_java:
                known = ", ".join(dtypes.java_names())
                raise ModelError(
                    f"{where}: signature '{sig.key}' {kind} '{info.key}' is {info.dtype}, which "
                    f"TensorFlow Java has no tensor type for (it has {known}); cast it in the "
                    "signature, or export --format tflite"
                )


def _run(source, key: str, feed: Feed, batch: int, inputs: Path | None) -> Feed:
    """The source's outputs on `feed`; a failure on generated inputs says whether the
    batch was the cause."""
    try:
        return source.run(key, feed)
    except ModelError as exc:
        hint = "" if inputs else batch_hint(exc, batch)
        if not hint:
            raise
        raise ModelError(f"{exc}{hint}") from exc


def _feed(sig: Signature, inputs: Path | None, batch: int, seed: int, known: set[str]) -> Feed:
    if inputs is not None:
        return inputs_mod.load_npz(inputs, sig, known)
    return inputs_mod.generate(sig, batch=batch, seed=seed)


def select_signatures(
    signatures: list[Signature], keys: str | list[str] | None, where: str
) -> list[Signature]:
    """The signatures `keys` names: None for the default one, "all" for every one."""
    if keys in ("all", ["all"]):
        if not signatures:
            select_signature(signatures, None, where)  # raises: no signatures
        return list(signatures)
    if keys is None or isinstance(keys, str):
        return [select_signature(signatures, keys, where)]
    chosen = {select_signature(signatures, key, where).key for key in keys}
    if not chosen:
        return [select_signature(signatures, None, where)]
    return [s for s in signatures if s.key in chosen]  # the model's order, not the flags'


def declare_shapes(signatures: list[Signature], shapes: dict[str, str]) -> list[Signature]:
    """The signatures with the shapes the user declared: `KEY` for that input of every
    signature, `SIG/KEY` for one signature's. A declared shape must agree with what the graph
    knows."""
    if not shapes:
        return signatures
    used: set[str] = set()
    result = []
    for sig in signatures:
        inputs = []
        for info in sig.inputs:
            spec = shapes.get(f"{sig.key}/{info.key}", shapes.get(info.key))
            if spec is None:
                inputs.append(info)
                continue
            used.update(k for k in (f"{sig.key}/{info.key}", info.key) if k in shapes)
            dims = parse_dims(spec, f"--shape {info.key}={spec}")
            if info.shape is not None and not _compatible(info.shape, dims):
                raise UsageError(
                    f"--shape {info.key}={spec}: signature '{sig.key}' already gives input "
                    f"'{info.key}' shape {format_shape(info.shape)}, which {format_shape(dims)} "
                    "contradicts"
                )
            inputs.append(replace(info, shape=dims, shape_from="user"))
        result.append(sig.with_inputs(tuple(inputs)))
    unused = sorted(set(shapes) - used)
    if unused:
        known = sorted({f"{s.key}/{t.key}" for s in signatures for t in s.inputs})
        raise UsageError(
            f"--shape {unused[0]}: no such input; inputs (SIG/KEY): {', '.join(known) or 'none'}"
        )
    return result


def parse_dims(text: str, where: str) -> tuple[int, ...]:
    """'-1,784' -> (-1, 784); '' -> () (a scalar); '?' stands for -1."""
    if not text.strip():
        return ()
    try:
        dims = tuple(-1 if d.strip() in ("?", "-1", "None") else int(d) for d in text.split(","))
    except ValueError:
        raise UsageError(f"{where}: DIMS are comma-separated integers, -1 for unknown") from None
    if any(d < -1 for d in dims):
        raise UsageError(f"{where}: a dimension is -1 (unknown) or at least 0")
    return dims


def _compatible(known: tuple[int, ...], declared: tuple[int, ...]) -> bool:
    return len(known) == len(declared) and all(
        a < 0 or b < 0 or a == b for a, b in zip(known, declared)
    )


def _check_artifact(
    w: Written,
    source_format: str,
    expected: dict[str, Feed],
    feeds: dict[str, Feed],
    tolerances: tuple[float, float, dict],
    echo: Callable[[str], None],
) -> list[Comparison]:
    """Runs each checked signature of a written artifact against the source's outputs (and
    the writer's own checks); prints what it left out. `tolerances`: atol, rtol and the
    outputs not compared by value."""
    fmt = w.artifact.format
    base = (f"{fmt} vs source ({source_format})", lambda k, f: expected[k], w.run)
    results = [
        _check(check, feeds[sig.key], sig, tolerances, echo)
        for sig in w.artifact.signatures
        if sig.key in feeds
        for check in [base, *w.checks]
    ]
    for note in w.artifact.notes:
        echo(f"note ({fmt}): {note}")
    for left in w.artifact.left_out:
        echo(f"note ({fmt}): signature '{left['signature']}' left out: {left['reason']}")
    return results


def _check(check, feed: Feed, sig: Signature, tolerances, echo) -> Comparison:
    label, want, got = check
    atol, rtol, outputs = tolerances
    result = compare(
        want(sig.key, feed), got(sig.key, feed), atol=atol, rtol=rtol, label=label, outputs=outputs
    )
    echo(f"{result.label}, signature '{sig.key}':")
    for line in result.lines():
        echo("  " + line)
    return result


def output_checks(
    source: Source, sigs: list[Signature], skip=(), shape_only=(), atol_of=None, rtol_of=None
) -> dict[str, dict]:
    """Output key -> how it is compared when not by value: by dtype and shape where its value
    depends on unseeded random ops (or `shape_only`), not at all where `skip` names it; and
    the tolerances of outputs that have their own (`atol_of`, `rtol_of`). Raises UsageError
    for a key no output has."""
    outputs: dict[str, dict[str, str]] = {}
    if source.graph_def is not None:
        for sig in sigs:
            for key, ops in random_ops_behind(source.graph_def, sig).items():
                outputs[key] = {
                    "compare": "shape",
                    "why": f"unseeded random op(s) {', '.join(ops)}",
                }
    keys = {o.key for sig in sigs for o in sig.outputs}
    return by_hand(outputs, keys, skip, shape_only, atol_of, rtol_of)


def scan_warnings(stage: Path, artifacts: list[Artifact]) -> list[str]:
    """Warning lines for written artifacts whose graphs hold ops that reach outside the model."""
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
    graphs = [(art.format, g) for art, g in opcheck.artifact_graphs(stage, artifacts)]
    refused = opcheck.require(
        graphs,
        runtime,
        echo=echo,
        allow=allow_incompatible,
        fix="nothing was written. Pass --allow-incompatible to write it anyway",
    )
    echo(
        f"TensorFlow Java {runtime}: "
        + (f"does NOT load {', '.join(refused)}" if refused else "loads every artifact")
    )


def model_name(src: Path) -> str:
    """The model's name from its path: model.ckpt-16329 -> model, classifier.keras -> classifier."""
    stem = src.resolve().name
    stem = re.sub(r"\.(keras|h5|pb|pbtxt|tflite)$", "", stem)
    stem = re.sub(r"\.ckpt(-\d+)?(\.meta|\.index)?$", "", stem)  # model.ckpt-16329 -> model
    return stem or "model"


def _keras_version() -> str | None:
    try:
        import keras

        return keras.__version__
    except ImportError:
        return None
