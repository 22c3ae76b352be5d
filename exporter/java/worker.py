"""The Java half of parity: a process that starts TensorFlow Java through jpype and calls the
generated classes on the inputs it is given.

It never imports Python TensorFlow. The two runtimes cannot share a process: both carry
TensorFlow's protobuf descriptors, and the second to load aborts the process
("File already exists in database: tensorflow/core/data/service/common.proto").

Usage: python -m exporter.java.worker REQUEST.json RESPONSE.json [PARENT_PIPE_FD]

A request with `rounds` (its `reply_fd` a pipe to the parent) runs no jobs of its own: it
reads the path of a round (a JSON of jobs and where to write their answers) from each line of
its standard input, runs that round with the models it loaded for earlier ones (closing
those the round does not use: the exports of a run take their turns), writes the answers and
one byte to `reply_fd`, and ends at end-of-file.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from pathlib import Path

import numpy as np

from exporter.core import dtypes
from exporter.java.binding import ANY_RANK, Crossing, WorkerJob

# Java carries uint8/uint16 as signed byte/short and float16 as float: the bits (or the value)
# go across unchanged and are reinterpreted on the way back.


def string_bytes(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A string array as the strings' bytes one after another (uint8, C order) and each
    one's length (int64, of the array's shape): binary strings, trailing NULs too, survive."""
    items = [v.encode() if isinstance(v, str) else bytes(v) for v in value.ravel()]
    lengths = np.array([len(v) for v in items], np.int64).reshape(value.shape)
    return np.frombuffer(b"".join(items), np.uint8), lengths


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz that needs no pickling: string arrays go as their bytes concatenated, the
    length of each, and the shape, so binary strings (trailing NULs too) survive exactly;
    bfloat16 goes as its bits, named by its dtype."""
    flat: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if value.dtype.kind in "OSU":
            flat[f"{key}.bytes"], lengths = string_bytes(value)
            flat[f"{key}.lengths"] = lengths.ravel()
            flat[f"{key}.shape"] = np.array(value.shape, np.int64)
        elif value.dtype.kind == "V":  # bfloat16 (ml_dtypes): .npy would keep raw records only
            flat[f"{key}.{value.dtype.name}"] = value.view(f"u{value.dtype.itemsize}")
        else:
            flat[key] = value
    np.savez(path, **flat)


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays `save_arrays` wrote, strings and bfloat16 restored."""
    with np.load(path, allow_pickle=False) as data:
        files = set(data.files)
        out = {k: data[k] for k in files if "." not in k}
        for key in {k.rsplit(".", 1)[0] for k in files if k.endswith(".bytes")}:
            blob = data[f"{key}.bytes"].tobytes()
            ends = np.cumsum(data[f"{key}.lengths"])
            starts = ends - data[f"{key}.lengths"]
            items = np.empty(len(ends), dtype=object)
            items[:] = [blob[a:b] for a, b in zip(starts, ends)]
            out[key] = items.reshape(tuple(data[f"{key}.shape"]))
        for name in files:
            key, _, dtype = name.rpartition(".")
            if dtype in dtypes.DTYPES:
                out[key] = data[name].view(dtypes.get(dtype).numpy)
    return out


def _exit_with_parent(fd: int) -> None:
    """Ends this process when the parent's end of the pipe `fd` closes (the parent exited,
    however it exited), so that no worker and no JVM outlives a parity run."""

    def watch() -> None:
        while os.read(fd, 4096):
            pass
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main(argv: list[str]) -> int:
    """The worker's entry point: `python -m exporter.java.worker REQUEST RESPONSE [FD]` starts the
    JVM, runs the request's jobs and writes the response; exits when the parent's pipe FD
    closes."""
    if len(argv) > 2:
        _exit_with_parent(int(argv[2]))
    request = json.loads(Path(argv[0]).read_text())
    response: dict = {"jobs": []}
    try:
        import jpype
        import jpype.imports  # noqa: F401
        import jpype.nio  # noqa: F401

        jpype.startJVM(
            request["jvm"],
            *request.get("jvm_options", []),
            classpath=request["classpath"],
            convertStrings=False,
        )
        tensorflow_java = jpype.JClass("org.tensorflow.TensorFlow")
        response["tensorflow_java"] = str(tensorflow_java.version())
        if request.get("op_libraries") and not request.get("registry_out"):
            for library in request["op_libraries"]:
                tensorflow_java.loadLibrary(library)
        if request.get("rounds"):
            _rounds(jpype, request, response)
        if request.get("registry_out"):
            response["registry"] = _dump_registry(jpype, tensorflow_java, request)
        response["loads"] = [_try_load(jpype, m) for m in request.get("load_models", [])]
        models: dict = {}
        try:
            for job in request["jobs"]:
                response["jobs"].append(_run_job(jpype, WorkerJob.from_json(job), models))
        finally:
            for model in models.values():
                model.close()
    except Exception as exc:  # the JVM did not start: report it, the parent decides
        response["error"] = f"{type(exc).__name__}: {exc}"
        response["traceback"] = traceback.format_exc()
    response["python_tensorflow_loaded"] = "tensorflow" in sys.modules
    Path(argv[1]).write_text(json.dumps(response, indent=2))
    return 0


def _rounds(jpype, request: dict, response: dict) -> None:
    """Runs each round the parent sends on standard input (the path of its JSON, one per
    line) until end-of-file; the models stay loaded from one round to the next."""
    reply = int(request["reply_fd"])
    models: dict = {}
    try:
        for line in sys.stdin:
            order = json.loads(Path(line.strip()).read_text())
            answers = {"tensorflow_java": response["tensorflow_java"], "jobs": []}
            jobs = [WorkerJob.from_json(job) for job in order["jobs"]]
            for job in jobs:
                answers["jobs"].append(_run_job(jpype, job, models))
            # A round runs every model of its export: those of an earlier export are done
            for key in set(models) - {_model_key(job) for job in jobs}:
                models.pop(key).close()
            written = Path(order["response"])
            staged = written.with_name(written.name + ".part")
            staged.write_text(json.dumps(answers))
            staged.replace(written)
            os.write(reply, b"\n")
    finally:
        for model in models.values():
            model.close()


def _dump_registry(jpype, tensorflow_java, request: dict) -> dict:
    """Writes the runtime's op registry (a serialized OpList) and reports its GraphDef version,
    first loading the op libraries the request names."""
    library_ops = []
    for library in request.get("op_libraries", []):
        ops = tensorflow_java.loadLibrary(library)
        library_ops += [str(op.getName()) for op in ops.getOpList()]
    Path(request["registry_out"]).write_bytes(
        bytes(tensorflow_java.registeredOpList().toByteArray())
    )
    graph = jpype.JClass("org.tensorflow.Graph")()
    try:
        producer = int(graph.toGraphDef().getVersions().getProducer())
    finally:
        graph.close()
    return {"graph_def_producer": producer, "library_ops": library_ops}


def _try_load(jpype, model: dict) -> dict:
    """Loads a SavedModel or a frozen graph the way generated code does; reports the error."""
    try:
        if model["format"] == "savedmodel":
            bundle = jpype.JClass("org.tensorflow.SavedModelBundle")
            bundle.load(model["path"], jpype.JArray(jpype.JString)(model["tags"])).close()
        else:
            graph = jpype.JClass("org.tensorflow.Graph")()
            files, paths = jpype.JClass("java.nio.file.Files"), jpype.JClass("java.nio.file.Paths")
            try:  # read by Java: a Python bytes object would be one more copy of the weights
                graph_def = _graph_def_class(jpype).parseFrom(
                    files.readAllBytes(paths.get(model["path"]))
                )
                graph.importGraphDef(graph_def)
            finally:
                graph.close()
    except jpype.JException as exc:
        return {"ok": False, "error": f"{exc.getClass().getName()}: {_java_message(exc)}"}
    return {"ok": True}


def _graph_def_class(jpype):
    for name in ("org.tensorflow.proto.GraphDef", "org.tensorflow.proto.framework.GraphDef"):
        try:
            return jpype.JClass(name)
        except TypeError:  # jpype: class not found (TensorFlow Java before 1.0 used .framework)
            continue
    raise RuntimeError("no GraphDef class in this TensorFlow Java")


def _model_key(job: WorkerJob) -> tuple[str, str, str]:
    return (job.classes, job.java_class, job.model)


_loaders: dict = {}


def _loader(jpype, classes: str):
    """The class loader of a folder of compiled classes (one per folder, kept for the
    worker's life; its parent the classpath's, which holds TensorFlow Java), or None for
    the classpath's own."""
    if not classes:
        return None
    if classes not in _loaders:
        url = jpype.JClass("java.nio.file.Paths").get(classes).toUri().toURL()
        urls = jpype.JArray(jpype.JClass("java.net.URL"))([url])
        parent = jpype.JClass("java.lang.ClassLoader").getSystemClassLoader()
        _loaders[classes] = jpype.JClass("java.net.URLClassLoader")(urls, parent)
    return _loaders[classes]


def _run_job(jpype, job: WorkerJob, models: dict) -> dict:
    """Runs one signature through its generated class. Models stay loaded for the next job
    of the same class and file (`models`), except for a stateful signature's, which gets a
    model of its own, closed after the call."""
    paths = jpype.JClass("java.nio.file.Paths")
    try:
        cls = jpype.JClass(job.java_class, loader=_loader(jpype, job.classes))
        data = load_arrays(job.inputs)
        keep = []  # numpy memory the Java side reads: alive until the call returns
        if job.nd:
            args = [_to_nd(jpype, data[p.key], p, keep) for p in job.params]
        else:
            args = [_to_java(jpype, data[p.key], p, keep) for p in job.params]
        key = _model_key(job)
        if job.fresh or key not in models:
            model = cls.load(paths.get(job.model))
            if not job.fresh:
                models[key] = model
        else:
            model = models[key]
        try:
            result = getattr(model, job.method)(*args)
            outputs = {o.key: _output(jpype, result, o) for o in job.outputs}
        finally:
            if job.fresh:
                model.close()
    except jpype.JException as exc:
        return {
            "id": job.id,
            "ok": False,
            "error": f"{exc.getClass().getName()}: {_java_message(exc)}",
        }
    except (ValueError, TypeError, OverflowError) as exc:  # arrays Java cannot take
        return {"id": job.id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    save_arrays(job.result, {f"o{i}": outputs[o.key] for i, o in enumerate(job.outputs)})
    return {"id": job.id, "ok": True}


def _java_message(exc) -> str:
    message = exc.getMessage()
    return str(message).strip().splitlines()[0] if message is not None else "(no message)"


def _to_nd(jpype, value: np.ndarray, param: Crossing, keep: list):
    """An NdArray holding the value. Numbers are not copied here: the NdArray wraps a direct
    ByteBuffer over numpy's own memory (kept alive in `keep` for the call), so they cross at
    memory speed; strings and booleans go through one flat Java array (a bulk copy)."""
    dtype = dtypes.get(param.dtype)
    data_buffers = jpype.JClass("org.tensorflow.ndarray.buffer.DataBuffers")
    shape = jpype.JClass("org.tensorflow.ndarray.Shape").of(*[int(d) for d in value.shape])
    nd_arrays = jpype.JClass("org.tensorflow.ndarray.NdArrays")
    if dtype.kind in ("float", "int"):
        flat = np.ascontiguousarray(dtype.to_java(value)).reshape(-1)
        if flat.size == 0:
            flat = np.zeros(1, flat.dtype)  # a direct buffer needs memory to point at
        keep.append(flat)
        order = jpype.JClass("java.nio.ByteOrder").nativeOrder()
        direct = jpype.nio.convertToDirectBuffer(memoryview(flat).cast("B")).order(order)
        buffer = getattr(direct, dtype.nio_view)() if dtype.nio_view else direct
        data = data_buffers.of(buffer)
        if value.size == 0:
            data = data.narrow(0)
        return nd_arrays.wrap(shape, data)
    flat = value.ravel()
    if dtype.kind == "string":
        kind = jpype.JArray(jpype.JByte) if param.bytes else jpype.JString
        items = [
            jpype.JArray(jpype.JByte)(v) if param.bytes else jpype.JString(_text(v))
            for v in flat.tolist()
        ]
        array = jpype.JArray(kind)(items)
    else:  # bool: java.nio has no boolean view
        array = jpype.JArray(jpype.JBoolean)(np.ascontiguousarray(flat))
    buffer = data_buffers.of(array, False, False)
    return nd_arrays.wrap(shape, buffer)


def _from_nd(jpype, nd, output: Crossing) -> np.ndarray:
    dtype = output.dtype
    shape = tuple(int(d) for d in nd.shape().asArray())
    size = int(np.prod(shape, dtype=np.int64))
    data_buffers = jpype.JClass("org.tensorflow.ndarray.buffer.DataBuffers")
    if dtype == "string":
        kind = jpype.JArray(jpype.JByte) if output.bytes else jpype.JString
        array = jpype.JArray(kind)(size)
        nd.copyTo(data_buffers.ofObjects(array, False, False))
        value = np.empty(size, dtype=object)
        value[:] = [bytes(v) if output.bytes else str(v).encode() for v in array]
        return value.reshape(shape)
    java = dtypes.get(dtype)
    array = jpype.JArray(getattr(jpype, java.jpype))(size)
    nd.copyTo(data_buffers.of(array, False, False))
    return java.from_java(np.asarray(array, dtype=java.java_numpy).reshape(shape))


def _to_java(jpype, value: np.ndarray, param: Crossing, keep: list):
    dtype, rank = param.dtype, param.rank
    if rank == ANY_RANK:
        return _to_nd(jpype, value, param, keep)
    if dtype == "string" and param.bytes:
        byte_array = jpype.JArray(jpype.JByte)
        if rank == 0:
            return byte_array(value.item())
        return jpype.JArray(jpype.JByte, 2)([byte_array(v) for v in value.tolist()])
    if dtype == "string":
        if rank == 0:
            return jpype.JString(_text(value.item()))
        return jpype.JArray(jpype.JString, rank)(_texts(value.tolist(), rank))
    value = dtypes.get(dtype).to_java(value)
    if rank == 0:
        return jpype.JArray.of(value.reshape(1))[0]
    if value.size == 0 and rank > 1:
        raise ValueError(
            f"input '{param['key']}' has shape {value.shape}: a Java array of rank {rank} with "
            "no elements cannot carry its inner dimensions, so the generated API cannot take it"
        )
    return jpype.JArray.of(np.ascontiguousarray(value))


def _output(jpype, result, output: Crossing) -> np.ndarray:
    """One output of a generated result: a numeric array through its flat getter (a bulk
    copy of one Java array into numpy), anything else through its own getter."""
    if output.flat:
        flat, shape = output.flat
        java = dtypes.get(output.dtype)
        data = np.asarray(getattr(result, flat)(), dtype=java.java_numpy)
        return java.from_java(data.reshape(tuple(int(d) for d in getattr(result, shape)())))
    return _from_java(jpype, getattr(result, output.getter)(), output)


def _from_java(jpype, obj, output: Crossing) -> np.ndarray:
    dtype, rank = output.dtype, output.rank
    if rank == ANY_RANK:
        return _from_nd(jpype, obj, output)
    if rank > 1 and len(obj) == 0:
        raise ValueError(
            f"output '{output['key']}' has a batch of 0: a Java array of rank {rank} with no "
            "elements cannot carry its inner dimensions, so the generated API cannot return it"
        )
    if dtype == "string" and output.bytes:
        items = [bytes(obj)] if rank == 0 else [bytes(x) for x in obj]
        value = np.empty(len(items), dtype=object)
        value[:] = items
        return value.reshape(() if rank == 0 else (len(items),))
    if dtype == "string":
        value = np.empty(_java_shape(obj, rank), dtype=object)
        if rank == 0:
            value[()] = _bytes(obj, 0)
        elif value.size:
            value[...] = np.array(_bytes(obj, rank), dtype=object)
        return value
    if rank == 0:
        value = np.array(obj)
    else:
        shape = _java_shape(obj, rank)
        value = np.zeros(shape) if 0 in shape else np.asarray(obj)
    java = dtypes.get(dtype)
    return java.from_java(value.astype(java.java_numpy, copy=False))


def _java_shape(obj, rank: int) -> tuple[int, ...]:
    shape = []
    for _ in range(rank):
        shape.append(len(obj))
        if len(obj) == 0:
            shape += [0] * (rank - len(shape))
            break
        obj = obj[0]
    return tuple(shape)


def _text(item) -> str:
    return item.decode("utf-8") if isinstance(item, bytes) else str(item)


def _texts(items, rank: int):
    return _text(items) if rank == 0 else [_texts(i, rank - 1) for i in items]


def _bytes(obj, rank: int):
    return str(obj).encode("utf-8") if rank == 0 else [_bytes(o, rank - 1) for o in obj]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
