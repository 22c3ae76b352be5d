"""TFLite flatbuffers, for inspect and run (a .tflite is a target: TensorFlow cannot turn
one back into a graph). Runs through the signature runner when the model has signatures,
else through the tensor details."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from exporter.core.model import Signature, TensorInfo, split_tensor_name
from exporter.errors import ModelError
from exporter.sources import Loader, LoadOptions, Source, register

NO_SIGNATURE = "(tensors)"  # the signature key for a model without SignatureDefs


def interpreter(content: bytes, where: str) -> tf.lite.Interpreter:
    """A TensorFlow Lite interpreter of `content`. Raises ModelError naming `where` when it is not
    a valid flatbuffer."""
    if content[4:8] != b"TFL3":
        raise ModelError(f"{where}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        with warnings.catch_warnings():  # the notice that LiteRT is TFLite's new home
            warnings.simplefilter("ignore")
            interp = tf.lite.Interpreter(model_content=content)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{where}: TFLite cannot load it ({exc})") from exc
    return interp


def _info(key: str, detail: dict) -> TensorInfo:
    name, index = split_tensor_name(detail["name"])
    shape = tuple(int(d) for d in detail.get("shape_signature", detail["shape"]))
    dtype = tf.dtypes.as_dtype(detail["dtype"]).name
    return TensorInfo(key, name, index, dtype, shape)


def signatures(interp: tf.lite.Interpreter) -> list[Signature]:
    """The interpreter's signatures (or, without any, its inputs and outputs as one)."""
    listed = interp.get_signature_list()
    if not listed:
        return [
            Signature(
                NO_SIGNATURE,
                "",
                tuple(_info(d["name"], d) for d in interp.get_input_details()),
                tuple(_info(d["name"], d) for d in interp.get_output_details()),
            )
        ]
    result = []
    for key in sorted(listed):
        runner = interp.get_signature_runner(key)
        ins, outs = runner.get_input_details(), runner.get_output_details()
        result.append(
            Signature(
                key,
                "",
                tuple(_info(k, ins[k]) for k in sorted(ins)),
                tuple(_info(k, outs[k]) for k in sorted(outs)),
            )
        )
    return result


def run_interpreter(
    content: bytes, key: str, feed: dict[str, np.ndarray], where: str
) -> dict[str, np.ndarray]:
    """Runs signature `key` of the flatbuffer `content` on `feed` in a fresh interpreter; returns
    its outputs by key. What the interpreter refuses while it runs (an index outside an
    embedding: "gather index out of bounds") is a ModelError naming the signature."""
    try:
        return _run(interpreter(content, where), key, feed)
    except RuntimeError as exc:  # TFLite's kernels fail with RuntimeError, several lines long
        reason = " ".join(str(exc).split()).replace("boundsNode", "bounds; node")
        raise ModelError(
            f"{where}: signature '{key}' failed in the TFLite interpreter: {reason}"
        ) from exc


def _run(interp, key: str, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if key != NO_SIGNATURE:
        return dict(interp.get_signature_runner(key)(**feed))
    for detail in interp.get_input_details():
        value = feed[detail["name"]]
        if tuple(value.shape) != tuple(detail["shape"]):
            interp.resize_tensor_input(detail["index"], value.shape)
    interp.allocate_tensors()
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], feed[detail["name"]])
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def quantization(interp: tf.lite.Interpreter) -> list[dict]:
    """The quantization parameters of each quantized input and output."""
    rows = []
    for detail in interp.get_input_details() + interp.get_output_details():
        scales, zeros = (
            detail["quantization_parameters"]["scales"],
            detail["quantization_parameters"]["zero_points"],
        )
        rows.append(
            {
                "tensor": detail["name"],
                "dtype": np.dtype(detail["dtype"]).name,
                "scales": [float(s) for s in scales],
                "zero_points": [int(z) for z in zeros],
            }
        )
    return rows


def is_tflite(path: Path) -> bool:
    """Whether `path` is a TensorFlow Lite flatbuffer."""
    return path.is_file() and path.suffix == ".tflite"


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    """Loads a .tflite file to describe and run; nothing can be exported from it (no SavedModel)."""
    content = path.read_bytes()
    interp = interpreter(content, str(path))
    sigs = signatures(interp)
    return Source(
        path=path,
        format="tflite",
        signatures=sigs,
        run=lambda key, feed: run_interpreter(content, key, feed, str(path)),
        saved_model_dir=None,
        details={
            "has_signatures": bool(interp.get_signature_list()),
            "quantization": quantization(interp),
            "size_bytes": len(content),
        },
    )


register(Loader("tflite", "a TFLite .tflite flatbuffer (inspect and run only)", is_tflite, load))
