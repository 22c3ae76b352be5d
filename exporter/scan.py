"""`tf2java scan`: ops in a model that reach outside the computation when the graph runs
(files, the network, the host process), with the node and function where each sits. Models
from strangers deserve a look before they run on a backend."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tensorflow.core.framework import graph_pb2

# op type -> what it touches. A curated list: the op registry says which ops are stateful,
# but not which of them do I/O.
TOUCHES: dict[str, str] = {
    **dict.fromkeys(
        [
            "ReadFile",
            "WriteFile",
            "MatchingFiles",
            "ImmutableConst",
            "InitializeTableFromTextFile",
            "InitializeTableFromTextFileV2",
            "TFRecordReader",
            "TFRecordReaderV2",
            "WholeFileReader",
            "WholeFileReaderV2",
            "TextLineReader",
            "TextLineReaderV2",
            "FixedLengthRecordReader",
            "FixedLengthRecordReaderV2",
            "LMDBReader",
            "TFRecordDataset",
            "TFRecordDatasetV2",
            "TextLineDataset",
            "FixedLengthRecordDataset",
            "FixedLengthRecordDatasetV2",
            "SaveDataset",
            "SaveDatasetV2",
            "LoadDataset",
            "DatasetToTFRecord",
            "CreateSummaryFileWriter",
            "CreateSummaryDbWriter",
            "WriteSummary",
            "WriteScalarSummary",
            "WriteHistogramSummary",
            "WriteImageSummary",
            "WriteAudioSummary",
            "WriteGraphSummary",
            "WriteRawProtoSummary",
            "FlushSummaryWriter",
            "Save",
            "SaveV2",
            "SaveSlices",
            "Restore",
            "RestoreV2",
            "RestoreSlice",
            "MergeV2Checkpoints",
            "DebugIdentityV2",
            "DebugIdentityV3",
        ],
        "file system",
    ),
    **dict.fromkeys(
        [
            "RpcCall",
            "RpcClient",
            "RpcServer",
            "RpcServerStart",
            "RpcServerRegister",
            "RpcGetValue",
            "RpcCheckStatus",
            "DebugNumericSummaryV2",
        ],
        "network",
    ),
    **dict.fromkeys(
        ["PrintV2", "Print", "PyFunc", "PyFuncStateless", "EagerPyFunc", "Abort"],
        "host",
    ),
}
_SAVER_OPS = {
    "Save",
    "SaveV2",
    "SaveSlices",
    "Restore",
    "RestoreV2",
    "RestoreSlice",
    "MergeV2Checkpoints",
}
_SAVER_FUNCTION = re.compile(r"_traced_(save|restore)|_saveable|save_fn|restore_fn")


@dataclass(frozen=True)
class Touch:
    category: str
    op: str
    node: str
    function: str | None

    def line(self) -> str:
        where = f" (function {self.function})" if self.function else ""
        return f"[{self.category}] {self.op}: node {self.node}{where}"

    def to_json(self) -> dict:
        return {
            "category": self.category,
            "op": self.op,
            "node": self.node,
            "function": self.function,
        }


def touches(graph_def: graph_pb2.GraphDef) -> list[Touch]:
    """Every node whose op reaches outside, except a SavedModel's own saver and restorer."""
    found = []

    def visit(nodes, function):
        for node in nodes:
            category = TOUCHES.get(node.op)
            if category is None or _saver_path(node, function):
                continue
            found.append(Touch(category, node.op, node.name, function))

    visit(graph_def.node, None)
    for func in graph_def.library.function:
        visit(func.node_def, func.signature.name)
    return found


def _saver_path(node, function: str | None) -> bool:
    if node.op not in _SAVER_OPS:
        return False
    if function is not None:
        return bool(_SAVER_FUNCTION.search(function))
    return node.name.startswith("save/") or "/save/" in node.name


def scan(src: Path, tags: list[str]) -> dict[str, list[Touch]]:
    from exporter.opcheck import model_graphs

    with tempfile.TemporaryDirectory() as work:
        return {label: touches(g) for label, g in model_graphs(src, tags, Path(work))}


def warnings_for(graphs: dict[str, list[Touch]]) -> list[str]:
    return [
        f"warning: {label} has {len(found)} op(s) that reach outside the model when it runs "
        f"({', '.join(sorted({t.op for t in found}))}); see `tf2java scan`"
        for label, found in graphs.items()
        if found
    ]
