"""The in-memory model description every loader produces and every writer, the manifest and
the code generator read. Pure Python: no TensorFlow import."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of a signature, as a runtime feeds or fetches it."""

    key: str  # the signature's key for this tensor
    name: str  # graph operation name, without ":N"
    index: int  # output index of that operation
    dtype: str  # a key of core.dtypes.DTYPES
    shape: tuple[int, ...] | None  # -1 for an unknown dimension; None for unknown rank
    keras_layer: str | None = None  # the Keras layer that produced an output, where known
    # Where a shape the graph does not record came from: "user" (--shape) or the op that
    # fixes it ("ParseExample": a batch of serialized protos).
    shape_from: str | None = None
    # For a DT_STRING input that feeds ParseExample-style ops: the features they read,
    # {"rank": 0|1, "dense": [{"key", "dtype", "shape"}], "sparse": [{"key", "dtype"}]}.
    example: dict[str, Any] | None = None
    # For an integer input whose values index the rows of a table (an embedding): {"table":
    # its name, "rows": how many}; valid values lie in [0, rows).
    indexes: dict[str, Any] | None = None

    @property
    def tensor_name(self) -> str:
        return f"{self.name}:{self.index}"

    @property
    def values_text(self) -> str:
        """The values the graph implies, in words, or '': "values in [0, 1000): rows of
        'word_embeddings'"."""
        if not self.indexes:
            return ""
        return f"values in [0, {self.indexes['rows']}): rows of '{self.indexes['table']}'"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "index": self.index,
            "dtype": self.dtype,
            "rank": None if self.shape is None else len(self.shape),
            "shape": None if self.shape is None else list(self.shape),
        }
        if self.keras_layer:
            data["keras_layer"] = self.keras_layer
        if self.shape_from:
            data["shape_from"] = self.shape_from
        if self.example is not None:
            data["example"] = self.example
        if self.indexes is not None:
            data["indexes"] = self.indexes
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TensorInfo:
        shape = data.get("shape")
        return cls(
            key=data["key"],
            name=data["name"],
            index=int(data["index"]),
            dtype=data["dtype"],
            shape=None if shape is None else tuple(int(d) for d in shape),
            keras_layer=data.get("keras_layer"),
            shape_from=data.get("shape_from"),
            example=data.get("example"),
            indexes=data.get("indexes"),
        )


def split_tensor_name(tensor_name: str) -> tuple[str, int]:
    """'split:1' -> ('split', 1); 'probs' -> ('probs', 0)."""
    name, sep, index = tensor_name.rpartition(":")
    if sep and index.isdigit():
        return name, int(index)
    return tensor_name, 0


@dataclass(frozen=True)
class Signature:
    """One callable entry of a model, as TensorFlow Serving and SavedModelBundle name it: its
    key, its inputs and outputs, and what else the graph says of it (stateful, the example
    spec a tf.Example input is parsed with)."""

    key: str
    method_name: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    # Running it changes the model's state (assigns a variable): never frozen, and run from a
    # fresh load wherever it is checked.
    stateful: bool = False
    # The key of a signature of the same graph that computes the same (Keras's `serve` and
    # `serving_default`): one Java method serves both.
    same_as: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "method_name": self.method_name,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
        }
        if self.stateful:
            data["stateful"] = True
        if self.same_as:
            data["same_as"] = self.same_as
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Signature:
        return cls(
            key=data["key"],
            method_name=data["method_name"],
            inputs=tuple(TensorInfo.from_json(t) for t in data["inputs"]),
            outputs=tuple(TensorInfo.from_json(t) for t in data["outputs"]),
            stateful=bool(data.get("stateful", False)),
            same_as=data.get("same_as"),
        )

    def with_inputs(self, inputs: tuple[TensorInfo, ...]) -> Signature:
        return replace(self, inputs=inputs)


@dataclass
class Artifact:
    """One exported model file or directory, relative to the export directory."""

    format: str  # "savedmodel" or "frozen"
    path: str
    signatures: list[Signature]
    ops: list[str]
    tags: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)  # {"path", "sha256", "size"}
    producer: int | None = None  # GraphDef producer version
    notes: list[str] = field(default_factory=list)
    # Signatures of the source this artifact does not hold: {"signature", "reason"}
    left_out: list[dict[str, str]] = field(default_factory=list)
    init_op: str | None = None  # frozen graph: the op to run once after loading (tables)

    def signature(self, key: str) -> Signature:
        for sig in self.signatures:
            if sig.key == key:
                return sig
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": self.format,
            "path": self.path,
            "tags": list(self.tags),
            "signatures": [s.to_json() for s in self.signatures],
            "ops": list(self.ops),
            "graph_producer_version": self.producer,
            "files": list(self.files),
        }
        if self.notes:
            data["notes"] = list(self.notes)
        if self.left_out:
            data["left_out"] = list(self.left_out)
        if self.init_op:
            data["init_op"] = self.init_op
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            format=data["format"],
            path=data["path"],
            signatures=[Signature.from_json(s) for s in data["signatures"]],
            ops=list(data["ops"]),
            tags=list(data.get("tags", [])),
            files=list(data.get("files", [])),
            producer=data.get("graph_producer_version"),
            notes=list(data.get("notes", [])),
            left_out=list(data.get("left_out", [])),
            init_op=data.get("init_op"),
        )
