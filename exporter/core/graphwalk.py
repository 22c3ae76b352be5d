"""A GraphDef walked without TensorFlow: every node of its main graph and library functions,
and the edges between them in both directions, into and out of function calls. A GraphDef of
TensorFlow's own classes or of `tfproto`'s walks the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from exporter.core import dtypes

GraphDef = Any  # tensorflow.GraphDef, of TensorFlow's classes or of tfproto's


def every_node(graph_def: GraphDef) -> Iterator[tuple[object, str | None]]:
    """(node, function name) for every node of the graph (function None) and of every function
    in its library: the one walk over all of a graph's nodes."""
    for node in graph_def.node:
        yield node, None
    for func in graph_def.library.function:
        for node in func.node_def:
            yield node, func.signature.name


PARSE_OPS = ("ParseExample", "ParseExampleV2", "ParseSingleExample")
# Ops a serialized-proto input may pass through unchanged on its way to a parse op.
PASS_THROUGH = {"Identity", "Reshape", "ExpandDims", "Squeeze", "IdentityN"}


class GraphIndex:
    """A GraphDef's main graph and library functions, indexed for walking edges in both
    directions, into and out of function calls."""

    def __init__(self, graph_def: GraphDef):
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self.nodes = {None: {n.name: n for n in graph_def.node}}
        for name, func in self.functions.items():
            self.nodes[name] = {n.name: n for n in func.node_def}
        self._consumers: dict = {}
        self._callers: dict[str, list] | None = None

    def called(self, node) -> list[str]:
        """Library functions a node calls (function calls, If/While/Case branches...)."""
        names = []
        for attr in node.attr.values():
            if attr.HasField("func") and attr.func.name in self.functions:
                names.append(attr.func.name)
            names += [f.name for f in attr.list.func if f.name in self.functions]
        if node.op in self.functions:
            names.append(node.op)
        return names

    def ops_behind(self, tensor_names: list[str]) -> set[str]:
        """Op types of every node the tensors depend on in the main graph, and of every node
        of each function those nodes call, transitively."""
        return {node.op for node, _ in self.nodes_behind(tensor_names)}

    def nodes_behind(self, tensor_names: list[str]) -> list[tuple[object, str | None]]:
        """Every node the tensors (or ops) depend on in the main graph, through data and
        control inputs, and every node of each function those nodes call, transitively:
        (node, its function or None)."""
        nodes = self.nodes[None]
        wanted = [ref_node(n) for n in tensor_names]
        seen, todo = set(), [n for n in wanted if n in nodes]
        funcs: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            node = nodes[name]
            funcs.update(self.called(node))
            todo += [ref_node(ref) for ref in node.input if ref_node(ref) in nodes]
        found = [(nodes[n], None) for n in sorted(seen)]
        todo_f = sorted(funcs)
        while todo_f:
            fname = todo_f.pop()
            for node in self.functions[fname].node_def:
                found.append((node, fname))
                for inner in self.called(node):
                    if inner not in funcs:
                        funcs.add(inner)
                        todo_f.append(inner)
        return found

    def consumers(self, scope: str | None) -> dict[str, list[tuple[object, int]]]:
        """node (or function argument) name -> (consumer node, input position), in a scope."""
        if scope not in self._consumers:
            index: dict[str, list] = {}
            for node in self.nodes[scope].values():
                for pos, ref in enumerate(node.input):
                    if not ref.startswith("^"):
                        index.setdefault(ref_node(ref), []).append((node, pos))
            self._consumers[scope] = index
        return self._consumers[scope]

    def parse_ops_fed_by(self, name: str) -> list[tuple[object, str | None]]:
        """Parse-example ops whose serialized input is `name` (a main graph node), directly,
        through pass-through ops or through function calls: (node, its function)."""
        return [
            (node, scope)
            for node, pos, scope in self.fed_by(name, PASS_THROUGH, frozenset())
            if node.op in PARSE_OPS and pos == 0
        ]

    def fed_by(
        self, name: str, through: set[str], through_select: frozenset[str]
    ) -> list[tuple[object, int, str | None]]:
        """The nodes the output of `name` (a main graph node) reaches: directly, through ops of
        `through` (as their first input), ops of `through_select` (as their second or third:
        a select's branches) and function calls: (node, input position, its function)."""
        found, seen = [], set()
        todo: list[tuple[str, str | None]] = [(name, None)]
        while todo:
            current, scope = todo.pop()
            if (current, scope) in seen:
                continue
            seen.add((current, scope))
            for node, pos in self.consumers(scope).get(current, []):
                found.append((node, pos, scope))
                passes = node.op in through and pos == 0
                if passes or (node.op in through_select and pos in (1, 2)):
                    todo.append((node.name, scope))
                for fname in self.called(node):
                    args = self.functions[fname].signature.input_arg
                    if pos < len(args):
                        todo.append((args[pos].name, fname))
        return found

    def callers(self, fname: str) -> list[tuple[object, str | None]]:
        """The nodes that call library function `fname`: (node, its function or None)."""
        if self._callers is None:  # one pass over every node, for every function
            self._callers = {}
            for scope, nodes in self.nodes.items():
                for node in nodes.values():
                    for called in self.called(node):
                        self._callers.setdefault(called, []).append((node, scope))
        return self._callers.get(fname, [])

    def static_shape(self, ref: str, scope: str | None, depth: int = 0) -> tuple[tuple, str]:
        """The shape of a constant or variable behind `ref` (through reads, identities and
        function arguments, to what the callers pass), and its name; ((), '') if unknown."""
        if depth > 64:
            return (), ""
        name = ref_node(ref)
        node = self.nodes[scope].get(name)
        if node is None:  # a function argument: what a caller passes
            args = [a.name for a in self.functions[scope].signature.input_arg] if scope else []
            if name not in args:
                return (), ""
            pos = args.index(name)
            for caller, outer in self.callers(scope):
                data = [r for r in caller.input if not r.startswith("^")]
                if pos < len(data):
                    found = self.static_shape(data[pos], outer, depth + 1)
                    if found[0]:
                        return found
            return (), ""
        if node.op == "Const":
            dims = node.attr["value"].tensor.tensor_shape.dim
            return tuple(int(d.size) for d in dims), node.name
        if node.op in ("VariableV2", "Variable"):  # TF1's reference variables
            return tuple(int(d.size) for d in node.attr["shape"].shape.dim), node.name
        if node.op == "VarHandleOp":
            table = node.attr["shared_name"].s.decode() or node.name
            return tuple(int(d.size) for d in node.attr["shape"].shape.dim), table
        if node.op in ("Identity", "ReadVariableOp") and node.input:
            return self.static_shape(node.input[0], scope, depth + 1)
        return (), ""

    def const_int(self, ref: str, scope: str | None) -> int | None:
        node = self.nodes[scope].get(ref_node(ref))
        if node is None or node.op != "Const":
            return None
        tensor = node.attr["value"].tensor
        values = list(tensor.int_val) or list(tensor.int64_val)
        if not values and tensor.tensor_content:
            dtype = np.int64 if tensor.dtype == dtypes.get("int64").enum else np.int32
            values = np.frombuffer(tensor.tensor_content, dtype).tolist()
        return int(values[0]) if len(values) == 1 else None

    def const_strings(self, ref: str, scope: str | None) -> list[str]:
        node = self.nodes[scope].get(ref_node(ref))
        if node is None or node.op != "Const":
            return []
        tensor = node.attr["value"].tensor
        return [v.decode() for v in tensor.string_val]


def ref_node(ref: str) -> str:
    """The node an input reference names: '^a', 'a:1', 'call:output:0' -> 'a', 'call'."""
    return ref.lstrip("^").split(":")[0]
