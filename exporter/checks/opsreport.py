"""`tf2java ops`: what op types a model uses, where, with which attrs, and which TensorFlow
Java runtimes can load it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from exporter.checks import opcheck, registry
from exporter.checks.opcheck import NodeUse, Verdict


@dataclass
class GraphReport:
    label: str
    producer: int
    min_consumer: int
    usage: dict[str, list[NodeUse]]
    verdicts: list[Verdict]
    first_loading: str | None

    def to_json(self) -> dict:
        return {
            "graph": self.label,
            "graph_def_producer": self.producer,
            "graph_def_min_consumer": self.min_consumer,
            "ops": {
                op: {
                    "nodes": [u.node for u in uses],
                    "functions": sorted({u.function for u in uses if u.function}),
                    "in_main_graph": any(u.function is None for u in uses),
                    "attrs": sorted({a for u in uses for a in u.attrs}),
                }
                for op, uses in self.usage.items()
            },
            "runtimes": [v.to_json() for v in self.verdicts],
            "first_loading_runtime": self.first_loading,
        }


@dataclass
class OpsReport:
    source: str
    graphs: list[GraphReport]

    @property
    def ok(self) -> bool:
        return all(v.loads for g in self.graphs for v in g.verdicts)

    def to_json(self) -> dict:
        return {"source": self.source, "ok": self.ok, "graphs": [g.to_json() for g in self.graphs]}

    def lines(self) -> list[str]:
        out = []
        for g in self.graphs:
            out.append(
                f"{g.label}: {len(g.usage)} op types, GraphDef producer {g.producer}"
                f" (min consumer {g.min_consumer})"
            )
            for op, uses in g.usage.items():
                functions = sorted({u.function for u in uses if u.function})
                where = "main graph" if any(u.function is None for u in uses) else ""
                if functions:
                    where += (", " if where else "") + f"{len(functions)} function(s)"
                attrs = sorted({a for u in uses for a in u.attrs})
                out.append(
                    f"  {op:<28} {len(uses):>4} node(s) in {where}; attrs: "
                    f"{', '.join(attrs) or '-'}"
                )
            for v in g.verdicts:
                state = "loads" if v.loads else "does NOT load"
                out.append(f"  TensorFlow Java {v.runtime} (core {v.core}): {state}")
                out.extend(f"    {f.line()}" for f in v.findings)
            first = g.first_loading or "none of " + ", ".join(registry.available())
            out.append(f"  first TensorFlow Java that loads it: {first}")
        return out


def ops_report(
    src: Path,
    *,
    runtimes: tuple[str, ...] = (),
    all_runtimes: bool = False,
    tags: list[str] | None = None,
    op_libraries: list[Path] = (),
    trust_code: bool = False,
) -> OpsReport:
    chosen = (
        registry.available() if all_runtimes else list(runtimes) or [registry.default_runtime()]
    )
    for runtime in chosen:
        registry.load(runtime)
    extra = opcheck.library_ops(list(op_libraries)) if op_libraries else frozenset()
    graphs = []
    with tempfile.TemporaryDirectory() as work:
        for graph in opcheck.model_graphs(src, tags or ["serve"], Path(work), trust_code):
            label, graph_def = graph.label, graph.graph_def
            graphs.append(
                GraphReport(
                    label=label,
                    producer=graph_def.versions.producer,
                    min_consumer=graph_def.versions.min_consumer,
                    usage=opcheck.usage(graph_def),
                    verdicts=opcheck.check_all(graph_def, chosen, extra),
                    first_loading=opcheck.first_loading(graph_def, extra),
                )
            )
    return OpsReport(str(src), graphs)
