"""TensorFlow's own file formats read without TensorFlow: GraphDef, NodeDef, SavedModel and
OpList messages built from a snapshot of TensorFlow's descriptors
(`schema/tensorflow.binpb`, a `FileDescriptorSet` that tools/tensorflow_snapshot.py writes
from the installed TensorFlow; tests/test_scan.py checks it is that TensorFlow's).

Importing TensorFlow is most of a start-up, and `inspect`, `ops`, `scan` and `java` of an
export only read its files. The messages live in a descriptor pool of their own, so
TensorFlow's classes and these never meet in protobuf's default pool; they carry the same
fields, and a message passes from one to the other by its bytes."""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory, text_format

from exporter.core import dtypes, wire
from exporter.errors import ModelError, UsageError, first_line

DESCRIPTORS = Path(__file__).resolve().parent / "schema" / "tensorflow.binpb"
# The files whose messages tf2java reads; the snapshot holds them and what they import.
ROOT_FILES = (
    "tensorflow/core/protobuf/saved_model.proto",
    "tensorflow/core/framework/op_def.proto",
)
SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for proto in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes()).file:
        pool.Add(proto)
    return pool


@cache
def message_class(name: str) -> type[message.Message]:
    """The class of TensorFlow message `name` ("GraphDef", "SavedModel"...)."""
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"tensorflow.{name}"))


def parse(name: str, data: bytes) -> message.Message:
    return message_class(name).FromString(data)


def read_meta_graphs(saved_model_dir: Path) -> list:
    """The MetaGraphs of a SavedModel folder (saved_model.pb, or its text form)."""
    binary, text = saved_model_dir / SAVED_MODEL_PB, saved_model_dir / SAVED_MODEL_PBTXT
    try:
        if binary.is_file():
            saved = parse("SavedModel", binary.read_bytes())
        elif text.is_file():
            saved = text_format.Parse(text.read_text(), message_class("SavedModel")())
        else:
            raise OSError(f"no {SAVED_MODEL_PB} or {SAVED_MODEL_PBTXT} in it")
    except (OSError, message.DecodeError, text_format.ParseError) as exc:
        raise ModelError(
            f"{saved_model_dir}: not a readable SavedModel ({first_line(exc)})"
        ) from exc
    return list(saved.meta_graphs)


def pick_meta_graph(metas: list, tags: list[str], where: Path):
    """The MetaGraph of tag set `tags` (`--tag ''`: the empty one). A SavedModel whose only
    MetaGraph has the empty tag set (TF1 Hub modules) gives it for the default 'serve' too."""
    wanted = {t for t in tags if t}
    for meta in metas:
        if set(meta.meta_info_def.tags) == wanted:
            return meta
    if len(metas) == 1 and not metas[0].meta_info_def.tags and list(tags) == ["serve"]:
        return metas[0]
    valid = "; ".join(",".join(m.meta_info_def.tags) or "''" for m in metas)
    raise UsageError(
        f"{where}: no MetaGraph with tag set '{','.join(tags)}'; "
        f"valid tag sets: {valid} (choose one with --tag)"
    )


def select_meta_graph(saved_model_dir: Path, tags: list[str]):
    return pick_meta_graph(read_meta_graphs(saved_model_dir), tags, saved_model_dir)


def init_ops(meta) -> list[str]:
    """The ops a SavedModel runs when it loads: TF2's __saved_model_init_op, TF1's main op
    or legacy init op."""
    names = []
    if "__saved_model_init_op" in meta.signature_def:
        names += [t.name for t in meta.signature_def["__saved_model_init_op"].outputs.values()]
    for key in ("saved_model_main_op", "legacy_init_op"):
        if key in meta.collection_def:
            names += list(meta.collection_def[key].node_list.value)
    return names


def is_saved_model(path: Path) -> bool:
    """Whether `path` is a SavedModel folder (not TensorFlow Serving's folder of versions)."""
    return path.is_dir() and any(
        (path / name).is_file() for name in (SAVED_MODEL_PB, SAVED_MODEL_PBTXT)
    )


def is_graph_file(path: Path) -> bool:
    """Whether `path` is a GraphDef file (.pb or .pbtxt) that is not a SavedModel's."""
    return (
        path.is_file()
        and path.suffix in (".pb", ".pbtxt")
        and path.name not in (SAVED_MODEL_PB, SAVED_MODEL_PBTXT)
    )


def read_graph_file(path: Path):
    """The GraphDef of a .pbtxt file, or the skeleton's of a binary one (its large constants'
    bytes left in the file): enough to list, check and describe its nodes."""
    if path.suffix != ".pbtxt":
        return read_skeleton(path).graph_def
    try:
        graph_def = text_format.Parse(path.read_text(), message_class("GraphDef")())
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not a text GraphDef ({first_line(exc)})") from exc
    if not graph_def.node:
        raise ModelError(f"{path}: the GraphDef has no nodes")
    return graph_def


@dataclass
class Skeleton:
    """A GraphDef whose large constants hold no bytes, and where in the file those are."""

    graph_def: message.Message
    constants: dict[str, wire.Extent]


def read_skeleton(
    path: Path, parse_graph: Callable[[bytes], message.Message] | None = None
) -> Skeleton:
    """Every node of a binary GraphDef file; Const nodes of LARGE bytes or more come without
    their content, which `constants` locates in the file. `parse_graph` makes the GraphDef of the
    skeleton's bytes (TensorFlow's own class, for a graph TensorFlow imports); by default
    `tfproto`'s."""
    size = path.stat().st_size
    if size == 0:
        raise ModelError(f"{path}: the file is empty; expected a GraphDef")
    parts: list[bytes] = []
    constants: dict[str, wire.Extent] = {}
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            kept = 0  # bytes before this offset are in parts already
            for key, at, start, end in wire.fields(buf, 0, size):
                if key != wire.key_of(wire.GRAPH_NODE) or end - start < wire.LARGE:
                    continue
                stripped, extent = wire.strip(buf, start, end, wire.CONTENT_PATH)
                name = extent and _stripped_constant(stripped, extent)
                if name:
                    parts.append(buf[kept:at])
                    parts.append(wire.field(wire.GRAPH_NODE, stripped))
                    constants[name] = extent
                    kept = end
            parts.append(buf[kept:size])
        graph_def = (parse_graph or message_class("GraphDef").FromString)(b"".join(parts))
    except (message.DecodeError, wire.Truncated) as exc:
        raise ModelError(f"{path}: not a binary GraphDef ({exc})") from exc
    if not graph_def.node:
        raise ModelError(f"{path}: the GraphDef has no nodes")
    return Skeleton(graph_def, constants)


def _stripped_constant(stripped: bytes, extent: wire.Extent) -> str | None:
    """The node's name when it is a Const whose "value" lost exactly its content's bytes."""
    node = parse("NodeDef", stripped)
    tensor = node.attr["value"].tensor if "value" in node.attr else None
    if node.op != "Const" or tensor is None or tensor.tensor_content:
        return None
    dtype = dtypes.by_enum(tensor.dtype)
    count = int(np.prod([d.size for d in tensor.tensor_shape.dim], dtype=np.int64))
    if dtype is None or dtype.name == "string":
        return None
    if count * np.dtype(dtype.numpy).itemsize != extent.length:
        return None
    return node.name
