"""Can a TensorFlow Java runtime load this graph? Every op type of the main graph and of every
function in its library is checked against the runtime's op registry: ops it lacks, attrs a
node sets that its OpDef does not declare, attrs it requires that a node lacks, and the
GraphDef version bounds. Offline: the registries are the shipped snapshots."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from exporter import targets
from exporter.checks.registry import Registry, available, load, version_key
from exporter.core import tfproto
from exporter.core.graphwalk import GraphDef, every_node
from exporter.core.manifest import MANIFEST_NAME, read
from exporter.core.report import Record, json_name
from exporter.errors import IncompatibleModelError, ModelError


@dataclass(frozen=True)
class NodeUse:
    node: str
    function: str | None  # None for the main graph
    attrs: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.node} (function {self.function})" if self.function else self.node


@dataclass
class Finding(Record):
    """One reason a runtime may not load a graph: what, where, and the fix."""

    kind: str  # missing_op | unknown_attr | missing_attr | graph_version
    op: str | None
    nodes: list[str]
    message: str
    fix: str
    # "error" stops the load. Unknown attrs are a "warning": TensorFlow 2.x cores log "Unknown
    # attributes will be ignored" and load the graph (checked on TensorFlow Java 0.5.0).
    severity: str = "error"

    def line(self) -> str:
        return f"{self.severity}: {self.message}; {self.fix}"


@dataclass
class Verdict(Record):
    """Whether one TensorFlow Java runtime loads a graph, and the findings that say why."""

    runtime: str
    core: str = json_name("tensorflow_core")
    loads: bool
    findings: list[Finding] = field(default_factory=list)


def usage(graph_def: GraphDef) -> dict[str, list[NodeUse]]:
    """op type -> every node using it, in the main graph and in library functions. Calls of
    library functions by name are not ops and are left out."""
    functions = {f.signature.name for f in graph_def.library.function}
    uses: dict[str, list[NodeUse]] = defaultdict(list)
    for node, function in every_node(graph_def):
        if node.op not in functions:
            uses[node.op].append(NodeUse(node.name, function, tuple(sorted(node.attr))))
    return dict(sorted(uses.items()))


def check(
    graph_def: GraphDef, registry: Registry, extra_ops: frozenset[str] = frozenset()
) -> Verdict:
    findings: list[Finding] = []
    newer = _newer_runtimes(registry)
    for op, nodes in usage(graph_def).items():
        where = [u.where for u in nodes]
        if op in extra_ops:
            continue
        info = registry.ops.get(op)
        if info is None:
            findings.append(
                Finding(
                    "missing_op",
                    op,
                    where,
                    f"op '{op}' is not registered in {registry.name} (used by {_few(where)})",
                    _missing_op_fix(op, registry, newer),
                )
            )
            continue
        unknown: dict[tuple[str, ...], list[str]] = defaultdict(list)
        required: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for use in nodes:
            extra = tuple(a for a in use.attrs if a not in info.attrs and not a.startswith("_"))
            lacking = tuple(
                a for a, has_default in info.attrs.items() if not has_default and a not in use.attrs
            )
            if extra:
                unknown[extra].append(use.where)
            if lacking:
                required[lacking].append(use.where)
        for attrs, where in unknown.items():
            findings.append(
                Finding(
                    "unknown_attr",
                    op,
                    where,
                    f"{_few(where)} set attr(s) {', '.join(attrs)} that op '{op}' does not "
                    f"declare in {registry.name}",
                    f"this runtime ignores them (the node runs as without them); to silence "
                    f"this, export with TensorFlow {_minor(registry.core)} or use a newer "
                    "TensorFlow Java",
                    severity="warning",
                )
            )
        for attrs, where in required.items():
            findings.append(
                Finding(
                    "missing_attr",
                    op,
                    where,
                    f"{_few(where)} lack attr(s) {', '.join(attrs)} that op '{op}' requires "
                    f"in {registry.name}",
                    f"export with TensorFlow {_minor(registry.core)}, or use a TensorFlow Java "
                    "whose core matches the exporter",
                )
            )
    min_consumer = graph_def.versions.min_consumer
    if min_consumer > registry.producer:
        findings.append(
            Finding(
                "graph_version",
                None,
                [],
                f"the GraphDef needs a consumer of version {min_consumer} or newer; "
                f"{registry.name} is version {registry.producer}",
                "use a newer TensorFlow Java",
            )
        )
    loads = not any(f.severity == "error" for f in findings)
    return Verdict(registry.runtime, registry.core, loads, findings)


def check_all(
    graph_def: GraphDef, runtimes: list[str], extra_ops: frozenset[str] = frozenset()
) -> list[Verdict]:
    return [check(graph_def, load(r), extra_ops) for r in runtimes]


def first_loading(graph_def: GraphDef, extra_ops: frozenset[str] = frozenset()) -> str | None:
    for runtime in available():
        if check(graph_def, load(runtime), extra_ops).loads:
            return runtime
    return None


def _newer_runtimes(registry: Registry) -> list[Registry]:
    return [load(r) for r in available() if version_key(r) > version_key(registry.runtime)]


def _missing_op_fix(op: str, registry: Registry, newer: list[Registry]) -> str:
    having = [r for r in newer if op in r.ops]
    if having:
        return (
            f"use TensorFlow Java {having[0].runtime} or newer, or export with TensorFlow "
            f"{_minor(registry.core)}"
        )
    known = any(op in load(r).ops for r in available())
    if known:
        return f"export with TensorFlow {_minor(registry.core)}"
    return (
        "it is in no TensorFlow core registry tf2java knows: a custom op. Load its library "
        "with TensorFlow.loadLibrary before the model (--op-library PATH.so)"
    )


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _few(items: list[str], n: int = 3) -> str:
    head = ", ".join(items[:n])
    return head + (f" and {len(items) - n} more" if len(items) > n else "")


def require(
    graphs: list[tuple[str, GraphDef]],
    runtime: str,
    *,
    echo: Callable[[str], None],
    extra_ops: frozenset[str] = frozenset(),
    allow: bool = False,
    fix: str = "",
) -> list[str]:
    """The one load check of export and parity: each labelled graph against `runtime`'s
    registry. Warnings are echoed; errors too when `allow`. Returns the labels of the graphs
    that cannot load; unless `allow`, raises IncompatibleModelError naming each error and its
    fix, then `fix` (what the caller can do)."""
    reg = load(runtime)
    refused, errors = [], []
    for label, graph_def in graphs:
        verdict = check(graph_def, reg, extra_ops)
        for finding in verdict.findings:
            if finding.severity != "error" or allow:
                echo(f"{label} on {reg.name}: {finding.line()}")
            else:
                errors.append(f"{label}: {finding.message}; {finding.fix}")
        if not verdict.loads:
            refused.append(label)
    if refused and not allow:
        raise IncompatibleModelError(
            f"the model cannot load on {reg.name}: {' | '.join(errors)}"
            + (f"; {fix}" if fix else "")
        )
    return refused


def artifact_graphs(root: Path, artifacts) -> list[tuple[object, GraphDef]]:
    """The GraphDef of every exported artifact TensorFlow Java loads (a .tflite is none)."""
    return [
        (art, targets.get(art.format).graph(root, art)[0])
        for art in artifacts
        if targets.get(art.format).graph is not None
    ]


@dataclass(frozen=True)
class ModelGraph:
    """One graph a source holds, as `scan` and `ops` read it: its label, its GraphDef, and
    whether it carries a saver of its own (whose Save/Restore ops are not the model's)."""

    label: str
    graph_def: GraphDef
    own_saver: bool = True


def model_graphs(
    src: Path, tags: list[str], workdir: Path, trust_code: bool = False
) -> list[ModelGraph]:
    """The graphs a source holds: an export directory's artifacts (by its manifest), the
    graph a format keeps on disk (a frozen .pb, a checkpoint's .meta), or the MetaGraph of
    what any other source loads as (a Keras file as its SavedModel export, which `trust_code`
    lets run the code the file carries)."""
    if (src / MANIFEST_NAME).is_file():
        manifest, _ = read(src)
        return [
            ModelGraph(f"{art.format} ({art.path})", graph, targets.get(art.format).own_saver)
            for art, graph in artifact_graphs(src, manifest.artifacts)
        ]
    if tfproto.is_saved_model(src):  # read as it is on disk: no TensorFlow
        meta = tfproto.select_meta_graph(src, tags)
        return [ModelGraph(f"savedmodel ({src.name})", meta.graph_def)]
    if tfproto.is_graph_file(src):
        return [ModelGraph(f"frozen ({src.name})", tfproto.read_graph_file(src), False)]
    from exporter.graph.graphs import select_meta_graph
    from exporter.sources import LoadOptions, detect, load_source

    loader = detect(src)
    if loader.graph is not None:
        return [
            ModelGraph(f"{loader.format} ({src.name})", loader.graph(src, tags), loader.own_saver)
        ]
    source = load_source(src, LoadOptions(tags=tags, trust_code=trust_code), workdir)
    meta = select_meta_graph(source.saved_model_dir, source.tags)
    return [ModelGraph(f"{source.format} ({src.name})", meta.graph_def)]


def library_ops(libraries: list[Path]) -> frozenset[str]:
    """Op names that custom op libraries register (loaded into this process, as running the
    model in Python needs them anyway)."""
    import tensorflow as tf

    names: set[str] = set()
    for lib in libraries:
        try:
            module = tf.load_op_library(str(lib))
        except Exception as exc:  # tf.errors.NotFoundError and friends
            raise ModelError(f"{lib}: cannot load the op library ({exc})") from exc
        names.update(op.name for op in module.OP_LIST.op)
    return frozenset(names)
