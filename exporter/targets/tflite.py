"""The TensorFlow Lite target: `model.tflite`, checked in Python; TensorFlow Java does not
run it, so it has no Java class and no Java check."""

from __future__ import annotations

from pathlib import Path

from exporter.core.manifest import file_entries
from exporter.core.model import Artifact, Signature
from exporter.errors import ModelError, first_line
from exporter.targets import Run, Target, Written, register

TFLITE_FILE = "model.tflite"
NOTE = (
    "checked in Python against the source; TensorFlow Java does not run TFLite, so parity has "
    "no Java check for it"
)


def write(source, stage: Path, sigs: list[Signature], optimize: bool) -> Written:
    """Converts `sigs` of `source.saved_model_dir` with TFLiteConverter into `stage`.
    Raises ModelError naming the signatures when TFLite cannot convert them."""
    import tensorflow as tf

    from exporter.sources import guarded, tflite

    keys = [s.key for s in sigs]
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(source.saved_model_dir), signature_keys=keys, tags=set(source.tags)
    )
    try:
        content = converter.convert()
    except Exception as exc:  # ConverterError and friends
        raise ModelError(
            f"TFLite cannot convert signature(s) {', '.join(keys)} ({first_line(exc)}); export "
            "--format savedmodel or frozen instead, which need no conversion"
        ) from exc
    (stage / TFLITE_FILE).write_bytes(content)
    interp = tflite.interpreter(content, TFLITE_FILE)
    art = Artifact(
        format="tflite",
        path=TFLITE_FILE,
        signatures=tflite.signatures(interp),
        ops=[],
        files=file_entries(stage, TFLITE_FILE),
        notes=[NOTE],
    )
    run = guarded(
        lambda key, feed: tflite.run_interpreter(content, key, feed, TFLITE_FILE), TFLITE_FILE
    )
    return Written(art, run)


def runner(export_dir: Path, art: Artifact) -> Run:
    """Runs model.tflite's signatures by key in TensorFlow Lite's interpreter."""
    from exporter.sources import guarded, tflite

    content = (export_dir / art.path).read_bytes()
    return guarded(lambda key, feed: tflite.run_interpreter(content, key, feed, art.path), art.path)


TARGET = register(
    Target(
        format="tflite",
        path=TFLITE_FILE,
        description="a TensorFlow Lite flatbuffer (no TensorFlow Java runtime)",
        write=write,
        runner=runner,
    )
)
