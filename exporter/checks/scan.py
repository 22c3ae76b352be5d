"""`tf2java scan`: ops in a model that reach outside the computation when the graph runs
(files, the network, the host process), with the node and function where each sits. Models
from strangers deserve a look before they run on a backend."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from exporter import targets
from exporter.checks.opcheck import model_graphs
from exporter.core import dtypes
from exporter.core.graphwalk import GraphDef, GraphIndex, every_node
from exporter.core.manifest import Manifest
from exporter.core.model import Signature
from exporter.core.report import Record, as_json
from exporter.errors import UsageError

if TYPE_CHECKING:
    from exporter.sources import Source
    from exporter.sources.keras_code import Carried

# A checkpoint's saver: reads and writes files, but a SavedModel's own one is not the model's.
_SAVER_OPS = (
    "Save",
    "SaveV2",
    "SaveSlices",
    "Restore",
    "RestoreV2",
    "RestoreSlice",
    "MergeV2Checkpoints",
)
# op type -> what it touches: this curated list, and every op of TensorFlow's registry that
# the rules of `registry_touches` pick out (see the README: how the list is made).
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
            *_SAVER_OPS,
            "DebugIdentityV2",
            "DebugIdentityV3",
            "DebugIdentity",
            "DebugNanCount",
            "DebugNumericSummary",
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
_SAVER_FUNCTION = re.compile(r"_traced_(save|restore)|_saveable|save_fn|restore_fn")


@dataclass(frozen=True)
class Touch(Record):
    """One op that reaches outside the model when it runs, and where it sits."""

    category: str
    op: str
    node: str
    function: str | None

    def line(self) -> str:
        where = f" (function {self.function})" if self.function else ""
        return f"[{self.category}] {self.op}: node {self.node}{where}"


# Rules over the registry (each op's OpDef): an attr that names where data goes, or a string
# input that names a file, a path or an address.
_PATH_ATTRS = {"filename", "filenames", "file_pattern", "debug_urls", "url", "logdir", "path"}
_STATEFUL_PATH_INPUT = re.compile(r"file|path|dir|url|address|logdir|prefix|pattern", re.I)
_PATH_INPUT = {"filename", "filenames", "file_pattern", "path", "prefix", "logdir"}
_NETWORK = re.compile(r"address|url", re.I)
_FAMILIES = (  # name patterns of op families that reach outside whatever their args
    (re.compile(r"^Rpc"), "network"),
    (re.compile(r"^Debug"), "file system"),
    (
        re.compile(r"^(Write\w*Summary|\w*SummaryWriter\w*|ImportEvent|FlushSummaryWriter)$"),
        "file system",
    ),
    (re.compile(r"PyFunc"), "host"),
)


TOUCHES_SNAPSHOT = Path(__file__).resolve().parent / "registries" / "touches.json"


@cache
def registry_touches() -> dict[str, str]:
    """op type -> category, for every op TensorFlow registers that the rules of `touches_in`
    pick out: read from the snapshot tools/tensorflow_snapshot.py takes of TensorFlow's
    registry (the same core as TensorFlow Java's; tests/test_safety.py checks it is the
    installed TensorFlow's), so that a scan needs no TensorFlow."""
    return json.loads(TOUCHES_SNAPSHOT.read_text())["ops"]


def touches_in(op_list) -> dict[str, str]:
    """op type -> category, for every OpDef of `op_list` (an OpList) that the rules pick out:
    a stateful op with a path-like attr or a string input named like a file, path, directory,
    URL or address; any op with an input named exactly filename/path/prefix...; the families
    Rpc*, Debug*, summary writers and py_func."""
    string = dtypes.get("string").enum
    found = {}
    for op in op_list.op:
        strings = [a.name for a in op.input_arg if a.type == string]
        attrs = [a.name for a in op.attr if a.name in _PATH_ATTRS]
        named = [n for n in strings if n in _PATH_INPUT]
        if op.is_stateful:
            named += [n for n in strings if _STATEFUL_PATH_INPUT.search(n)]
        family = next((cat for pattern, cat in _FAMILIES if pattern.search(op.name)), None)
        if attrs or named:
            network = any(_NETWORK.search(n) for n in attrs + named)
            found[op.name] = "network" if network else "file system"
        elif family:
            found[op.name] = family
    return dict(sorted(found.items()))


def category(op: str) -> str | None:
    return TOUCHES.get(op) or registry_touches().get(op)


# A SavedModel's own table initializers read its assets (checked to be inside its folder).
ASSET_READERS = {"InitializeTableFromTextFile", "InitializeTableFromTextFileV2"}


def touches(graph_def: GraphDef, own_saver: bool = True) -> list[Touch]:
    """Every node whose op reaches outside. With `own_saver` (a SavedModel or a checkpoint's
    graph, which carry a saver of their own) the saver's and restorer's nodes are left out;
    a frozen graph has no business with them."""
    found = []
    for node, function in every_node(graph_def):
        cat = category(node.op)
        if cat is not None and not (own_saver and _saver_path(node, function)):
            found.append(Touch(cat, node.op, node.name, function))
    return found


def _saver_path(node, function: str | None) -> bool:
    if node.op not in _SAVER_OPS:
        return False
    if function is not None:
        return bool(_SAVER_FUNCTION.search(function))
    return node.name.startswith("save/") or "/save/" in node.name


@dataclass
class ScanReport:
    """What `scan` found, by graph label."""

    graphs: dict[str, list[Touch | Carried]]

    @property
    def ok(self) -> bool:
        return not any(self.graphs.values())

    def lines(self) -> list[str]:
        out = []
        for label, items in self.graphs.items():
            if not all(isinstance(i, Touch) for i in items):
                out.append(f"{label}: carries code that would run when Keras opens it")
            else:
                out.append(f"{label}: {len(items) or 'no'} op(s) that reach outside the model")
            out.extend(f"  {item.line()}" for item in items)
        return out

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "found": sum(len(t) for t in self.graphs.values()),
            "graphs": as_json(self.graphs),
        }


def scan(src: Path, tags: list[str]) -> dict[str, list[Touch | Carried]]:
    """label -> the ops reaching outside the model in each graph `src` holds. A Keras file is
    read first for the code it carries; when it carries any, that is the finding, and the
    model is not opened."""
    if src.is_file() and src.suffix in (".keras", ".h5", ".hdf5"):
        from exporter.sources.keras_code import carried_code

        carried = carried_code(src)
        if carried:
            return {f"{src.suffix.lstrip('.')} ({src.name})": carried}
    with tempfile.TemporaryDirectory() as work:
        return {
            g.label: touches(g.graph_def, own_saver=g.own_saver)
            for g in model_graphs(src, tags, Path(work))
        }


def behind(graph_def: GraphDef, fetches: list[str]) -> list[Touch]:
    """The ops that reach outside among those that running `fetches` executes: every node
    they depend on, and every node of the functions those call (a model's asset readers
    left out)."""
    found = []
    for node, function in GraphIndex(graph_def).nodes_behind(fetches):
        cat = category(node.op)
        if cat is not None and node.op not in ASSET_READERS:
            found.append(Touch(cat, node.op, node.name, function))
    return found


def source_side_effects(source: Source, sigs: list[Signature]) -> dict[str, list[Touch]]:
    """label -> the ops reaching outside the model that running `sigs` of a loaded source
    executes, with what runs when it loads."""
    if source.graph_def is None:
        return {}
    fetches = [t.tensor_name for s in sigs for t in s.outputs] + list(source.init_ops)
    return {f"{source.format} ({source.path.name})": behind(source.graph_def, fetches)}


def artifact_side_effects(export_dir: Path, manifest: Manifest) -> dict[str, list[Touch]]:
    """label -> the ops reaching outside the model that running each exported artifact's
    signatures (and what runs when it loads) executes."""
    found = {}
    for art in manifest.artifacts:
        target = targets.get(art.format)
        if target.graph is not None:
            graph_def, fetches = target.graph(export_dir, art)
            found[f"{art.format} ({art.path})"] = behind(graph_def, fetches)
    return found


def require_consent(
    found: dict[str, list[Touch]], allow: bool, echo: Callable[[str], None], action: str
) -> None:
    """Stops before anything runs when running the model would reach outside it, unless the
    user allowed it (then says what will)."""
    hits = [(label, t) for label, touches_ in found.items() for t in touches_]
    if not hits:
        return
    listed = "; ".join(f"{label}: {t.line()}" for label, t in hits[:6])
    more = f" and {len(hits) - 6} more" if len(hits) > 6 else ""
    if not allow:
        raise UsageError(
            f"{action} would run {len(hits)} op(s) that reach outside the model ({listed}{more});"
            " nothing was run. Look with `tf2java scan`, and pass --allow-side-effects to run "
            "it anyway"
        )
    echo(f"warning: running {len(hits)} op(s) that reach outside the model: {listed}{more}")


def warnings_for(graphs: dict[str, list[Touch]]) -> list[str]:
    return [
        f"warning: {label} has {len(found)} op(s) that reach outside the model when it runs "
        f"({', '.join(sorted({t.op for t in found}))}); see `tf2java scan`"
        for label, found in graphs.items()
        if found
    ]
