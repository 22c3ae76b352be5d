"""Reading TensorFlow graphs: SavedModel meta graphs, signatures, op lists and GraphDef edits."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import tensorflow as tf
from tensorflow.core.framework import graph_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.python.saved_model import loader_impl

from exporter.core.graphwalk import PASS_THROUGH, GraphIndex, every_node, ref_node
from exporter.core.model import Signature, TensorInfo, split_tensor_name
from exporter.core.tfproto import pick_meta_graph
from exporter.errors import ModelError, UsageError, first_line

DEFAULT_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
_NODE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*")


def dtype_name(enum: int) -> str:
    """The dtype's name; a reference type (float32_ref: a TF1 variable fetched directly) is
    named by its value type, which fetching it gives."""
    return tf.dtypes.as_dtype(enum).base_dtype.name


# GraphDefs of producer versions before 21 wrote an unknown shape as an empty one: there an
# empty shape means "unknown rank", not "scalar" (TensorFlow's own importer reads it so).
EMPTY_SHAPE_IS_UNKNOWN_BEFORE = 21


def shape_of(proto, producer: int | None = None) -> tuple[int, ...] | None:
    if proto.unknown_rank:
        return None
    if not proto.dim and producer is not None and producer < EMPTY_SHAPE_IS_UNKNOWN_BEFORE:
        return None
    return tuple(int(d.size) for d in proto.dim)


def read_meta_graphs(saved_model_dir: Path) -> list[meta_graph_pb2.MetaGraphDef]:
    try:
        return list(loader_impl.parse_saved_model(str(saved_model_dir)).meta_graphs)
    except (OSError, ValueError) as exc:  # IOError: no saved_model.pb; DecodeError: bad proto
        raise ModelError(
            f"{saved_model_dir}: not a readable SavedModel ({first_line(exc)})"
        ) from exc


def select_meta_graph(saved_model_dir: Path, tags: list[str]) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraph of tag set `tags`, as TensorFlow's own message (see
    `tfproto.pick_meta_graph`)."""
    return pick_meta_graph(read_meta_graphs(saved_model_dir), tags, saved_model_dir)


def signatures_of(meta: meta_graph_pb2.MetaGraphDef) -> list[Signature]:
    """Every SignatureDef of a meta graph, inputs and outputs sorted by key, init op left out.
    A string input that feeds a ParseExample-style op carries that op's feature spec; a
    signature that assigns a variable is marked stateful."""
    graph = GraphIndex(meta.graph_def)
    producer = meta.graph_def.versions.producer
    result = []
    for key in sorted(meta.signature_def):
        if key == "__saved_model_init_op":
            continue
        sig = meta.signature_def[key]
        inputs = []
        for k in sorted(sig.inputs):
            info = _tensor_info(k, sig.inputs[k], producer)
            inputs.append(with_graph_facts(info, graph))
        outputs = tuple(_tensor_info(k, sig.outputs[k], producer) for k in sorted(sig.outputs))
        result.append(
            Signature(
                key=key,
                method_name=sig.method_name,
                inputs=tuple(inputs),
                outputs=outputs,
                stateful=bool(STATE_OPS & graph.ops_behind([t.name for t in outputs])),
            )
        )
    return _same_functions(result, meta)


def _same_functions(sigs: list[Signature], meta: meta_graph_pb2.MetaGraphDef) -> list[Signature]:
    """The signatures, each that computes what another one does marked `same_as` it (the
    default signature where it is one of them, else the first by key): the same inputs and
    outputs, each output from a call of the same function body on the same inputs. Keras's
    `model.export` writes `serve` and `serving_default` so."""
    nodes = {n.name: n for n in meta.graph_def.node}
    functions = {f.signature.name: f for f in meta.graph_def.library.function}
    groups: dict[tuple, list[str]] = {}
    for s in sigs:
        what = _computation(meta.signature_def[s.key], nodes, functions)
        if what is not None:
            api = tuple((t.key, t.dtype, t.shape) for t in s.inputs + s.outputs)
            groups.setdefault((what, api, s.stateful), []).append(s.key)
    same = {}
    for keys in groups.values():
        first = DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in keys else keys[0]
        same.update({k: first for k in keys if k != first})
    return [replace(s, same_as=same[s.key]) if s.key in same else s for s in sigs]


def _computation(sig: meta_graph_pb2.SignatureDef, nodes: dict, functions: dict) -> tuple | None:
    """What a signature computes, as its graph says: for each output, the index, the op and
    the digest of the function body it calls (its own name and TensorFlow's numbering of its
    arguments left out), and what feeds the call (the signature's inputs by key). None where
    an output is not a call of a function of the graph's library."""
    feeds = {split_tensor_name(i.name)[0]: k for k, i in sig.inputs.items()}
    parts = []
    for key in sorted(sig.outputs):
        name, index = split_tensor_name(sig.outputs[key].name)
        node = nodes.get(name)
        called = functions.get(node.attr["f"].func.name) if node and "f" in node.attr else None
        if called is None:
            return None
        body = type(called)()
        body.CopyFrom(called)
        body.signature.name = ""
        for attrs in body.arg_attr.values():
            attrs.attr.pop("_user_specified_name", None)
        digest = hashlib.sha256(body.SerializeToString(deterministic=True)).hexdigest()
        args = tuple(feeds.get(i, "@" + i) for i in node.input)
        parts.append((key, index, node.op, digest, args))
    return tuple(parts)


def _tensor_info(key: str, info: meta_graph_pb2.TensorInfo, producer: int) -> TensorInfo:
    if info.WhichOneof("encoding") != "name":
        raise ModelError(
            f"signature tensor '{key}' is a composite (sparse or ragged) tensor; "
            "export a signature with dense tensors only"
        )
    name, index = split_tensor_name(info.name)
    return TensorInfo(
        key=key,
        name=name,
        index=index,
        dtype=dtype_name(info.dtype),
        # A TensorInfo written without a shape (TensorFlow 1.0) knows nothing of it.
        shape=shape_of(info.tensor_shape, producer) if info.HasField("tensor_shape") else None,
    )


# Ops that change a variable when they run: a signature using one is stateful.
STATE_OPS = frozenset(
    {
        "Assign",
        "AssignAdd",
        "AssignSub",
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "ScatterAdd",
        "ScatterSub",
        "ScatterUpdate",
        "ScatterNdUpdate",
        "ResourceScatterAdd",
        "ResourceScatterSub",
        "ResourceScatterUpdate",
        "ResourceScatterNdUpdate",
        "ResourceScatterNdAdd",
        "LookupTableInsertV2",
        "LookupTableRemoveV2",
        "LookupTableImportV2",
    }
)


def with_example_spec(info: TensorInfo, graph: GraphIndex) -> TensorInfo:
    """The input with the feature spec of the parse ops it feeds, if any; an input whose rank
    the graph does not record gets the rank the parse op takes."""
    parsers = graph.parse_ops_fed_by(info.name)
    if not parsers:
        return info
    dense, sparse, ranks = {}, {}, set()
    for node, scope in parsers:
        spec = _parse_spec(node, scope, graph)
        ranks.add(spec["rank"])
        dense.update({d["key"]: d for d in spec["dense"]})
        sparse.update({d["key"]: d for d in spec["sparse"] if d["key"] not in dense})
    rank = min(ranks)
    example = {"rank": rank, "dense": list(dense.values()), "sparse": list(sparse.values())}
    if info.shape is None:
        return replace(info, shape=(-1,) * rank, shape_from="ParseExample", example=example)
    return replace(info, example=example)


# Ops whose output holds the values of their first input (some of them, reshaped or cast): an
# integer input that reaches a gather through them indexes the gathered table.
_SAME_VALUES = PASS_THROUGH | {"Cast", "StridedSlice", "Slice", "Transpose", "Tile"}
# A select passes one of its branches (Keras' Embedding wraps negative ids with one).
_SELECTS = frozenset({"Select", "SelectV2"})
GATHERS = {"GatherV2", "ResourceGather", "Gather"}  # (table, indices, ...)
INDEX_DTYPES = ("int32", "int64")  # what gathers take as indices


def with_graph_facts(info: TensorInfo, graph: GraphIndex) -> TensorInfo:
    """An input with what the graph says of it beyond its dtype and shape: the feature spec
    of a string of serialized tf.Examples, the table an integer input indexes. Where a
    placeholder's own dtype disagrees with what the signature declares (TensorFlow 1.0 wrote
    a string tf.Example input as float32), the graph decides: it is what runs."""
    node = graph.nodes[None].get(info.name)
    if node is not None and node.op == "Placeholder" and node.attr["dtype"].type:
        actual = dtype_name(node.attr["dtype"].type)
        if actual != info.dtype:
            info = replace(info, dtype=actual)
    if info.dtype == "string":
        return with_example_spec(info, graph)
    return with_index_bounds(info, graph)


def with_index_bounds(info: TensorInfo, graph: GraphIndex) -> TensorInfo:
    """An integer input whose values index the rows of a table (an embedding's gather, in
    TensorFlow's CPU kernels an error outside [0, rows)), with that table: `indexes` =
    {"table", "rows"}, the smallest table where it indexes several."""
    if info.dtype not in INDEX_DTYPES:
        return info
    tables = []
    for node, pos, scope in graph.fed_by(info.name, _SAME_VALUES, _SELECTS):
        if node.op not in GATHERS or pos != 1:
            continue
        axis = 0  # the dimension the indices pick from
        if node.op == "GatherV2":
            axis = graph.const_int(node.input[2], scope) if len(node.input) > 2 else None
        elif node.op == "ResourceGather":
            axis = node.attr["batch_dims"].i
        shape, table = graph.static_shape(node.input[0], scope)
        if axis is not None and -len(shape) <= axis < len(shape) and shape[axis] > 0:
            tables.append((shape[axis], table))
    if not tables:
        return info
    rows, table = min(tables)
    return replace(info, indexes={"table": table, "rows": rows})


def _parse_spec(node, scope: str | None, graph: GraphIndex) -> dict:
    attr = node.attr
    dense_types = [dtype_name(t) for t in attr["Tdense"].list.type]
    dense_shapes = [shape_of(s) or () for s in attr["dense_shapes"].list.shape]
    sparse_types = [dtype_name(t) for t in attr["sparse_types"].list.type]
    inputs = list(node.input)
    if node.op == "ParseSingleExample":
        dense_keys = [k.decode() for k in attr["dense_keys"].list.s]
        sparse_keys = [k.decode() for k in attr["sparse_keys"].list.s]
        rank = 0
    elif node.op == "ParseExample":
        n_sparse, n_dense = attr["Nsparse"].i, attr["Ndense"].i
        sparse_keys = [k for r in inputs[2 : 2 + n_sparse] for k in graph.const_strings(r, scope)]
        dense_start = 2 + n_sparse
        dense_keys = [
            k
            for r in inputs[dense_start : dense_start + n_dense]
            for k in graph.const_strings(r, scope)
        ]
        rank = 1
    else:  # ParseExampleV2: serialized, names, sparse_keys, dense_keys, ragged_keys, defaults
        sparse_keys = graph.const_strings(inputs[2], scope)
        dense_keys = graph.const_strings(inputs[3], scope)
        rank = 1
    return {
        "rank": rank,
        "dense": [
            {"key": k, "dtype": t, "shape": [int(d) for d in s]}
            for k, t, s in zip(dense_keys, dense_types, dense_shapes)
        ],
        "sparse": [{"key": k, "dtype": t} for k, t in zip(sparse_keys, sparse_types)],
    }


def select_signature(signatures: list[Signature], key: str | None, where: str) -> Signature:
    keys = [s.key for s in signatures]
    if not signatures:
        raise ModelError(
            f"{where}: the model has no signatures; export one with "
            "tf.saved_model.save(..., signatures=...) or model.export()"
        )
    if key is None:
        key = DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in keys or len(keys) != 1 else keys[0]
    for sig in signatures:
        if sig.key == key:
            return sig
    raise UsageError(
        f"{where}: no signature '{key}'; valid signatures: {', '.join(keys)} "
        "(choose one with --signature)"
    )


# Ops whose values change from run to run unless seeded (their `seed` or `seed2` attr set):
# two runtimes cannot agree on them. The Stateless* ops take their seed as an input.
RANDOM_OPS = frozenset(
    {
        "RandomUniform",
        "RandomUniformInt",
        "RandomStandardNormal",
        "TruncatedNormal",
        "ParameterizedTruncatedNormal",
        "Multinomial",
        "RandomShuffle",
        "RandomGamma",
        "RandomPoisson",
        "RandomPoissonV2",
        "RandomCrop",
    }
)


def random_ops_behind(graph_def: graph_pb2.GraphDef, sig: Signature) -> dict[str, list]:
    """Output key -> the unseeded random op types its value depends on, for each output of
    `sig` that depends on one: through the graph's inputs, and through every function a node
    on the way calls (however deep; a function counts whole)."""
    fetches = {o.key: o.name for o in sig.outputs}
    functions = {f.signature.name: f for f in graph_def.library.function}
    in_function: dict[str, set[str]] = {}

    def of_function(name: str) -> set[str]:
        if name not in in_function:
            in_function[name] = set()  # a recursive call adds nothing new
            in_function[name] = set().union(*(of_node(n) for n in functions[name].node_def))
        return in_function[name]

    def of_node(node) -> set[str]:
        found = set()
        if node.op in RANDOM_OPS and not node.attr["seed"].i and not node.attr["seed2"].i:
            found.add(node.op)
        called = [node.op] + [
            f.name for a in node.attr.values() for f in [a.func, *a.list.func] if f.name
        ]
        for name in called:
            if name in functions:
                found |= of_function(name)
        return found

    nodes = {n.name: n for n in graph_def.node}
    result = {}
    for key, fetch in fetches.items():
        seen, todo, found = set(), [fetch], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in nodes:
                continue
            seen.add(name)
            found |= of_node(nodes[name])
            todo.extend(i.lstrip("^").split(":")[0] for i in nodes[name].input)
        if found:
            result[key] = sorted(found)
    return result


def ops_of(graph_def: graph_pb2.GraphDef) -> list[str]:
    """Op types used by the graph and every function in its library, sorted."""
    functions = {f.signature.name for f in graph_def.library.function}
    return sorted({node.op for node, _ in every_node(graph_def)} - functions)


def valid_node_name(name: str) -> str:
    """A node name TensorFlow accepts, as close to `name` as it can be."""
    if _NODE_NAME.fullmatch(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_.\-/>]", "_", name)
    if not cleaned or not re.match(r"[A-Za-z0-9.]", cleaned[0]):
        cleaned = "t" + cleaned
    return cleaned


def rename_node(graph_def: graph_pb2.GraphDef, old: str, new: str) -> None:
    """Renames a node of the main graph and every reference to it: inputs, and colocation
    constraints (`_class: loc:@old`, which `freeze_graph` leaves on `.../read` nodes)."""
    colocated = b"loc:@" + old.encode()
    for node in graph_def.node:
        if node.name == old:
            node.name = new
        for i, ref in enumerate(node.input):
            control = ref.startswith("^")
            base = ref[1:] if control else ref
            name, sep, port = base.partition(":")
            if name == old:
                node.input[i] = ("^" if control else "") + new + (sep + port if sep else "")
        if "_class" in node.attr and colocated in node.attr["_class"].list.s:
            values = [
                b"loc:@" + new.encode() if v == colocated else v for v in node.attr["_class"].list.s
            ]
            del node.attr["_class"].list.s[:]
            node.attr["_class"].list.s.extend(values)


def prefix_nodes(graph_def: graph_pb2.GraphDef, scope: str) -> None:
    """Puts every node of the main graph under `scope/`, with every reference to it."""
    names = {node.name for node in graph_def.node}
    for node in graph_def.node:
        node.name = f"{scope}/{node.name}"
        for i, ref in enumerate(node.input):
            control = ref.startswith("^")
            base = ref[1:] if control else ref
            name, sep, port = base.partition(":")
            if name in names:
                node.input[i] = ("^" if control else "") + f"{scope}/{name}" + sep + port
        if "_class" in node.attr:
            values = [
                b"loc:@" + f"{scope}/".encode() + v[5:]
                if v.startswith(b"loc:@") and v[5:].decode() in names
                else v
                for v in node.attr["_class"].list.s
            ]
            del node.attr["_class"].list.s[:]
            node.attr["_class"].list.s.extend(values)


def unique_name(graph_def: graph_pb2.GraphDef, base: str) -> str:
    taken = {node.name for node in graph_def.node}
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


_SWITCHES = ("Switch", "RefSwitch")
_MERGES = ("Merge", "RefMerge")


def fold_constant_conds(graph_def: graph_pb2.GraphDef) -> set[str]:
    """Folds TF1 `tf.cond`s whose predicate became a constant (`--set is_training=false`):
    each Switch passes its data straight to the branch that runs, the branch that can no
    longer run is removed (a batch norm's moving-average Assign with it), and each Merge
    becomes an Identity of what reaches it. Returns the names of the nodes removed."""
    nodes = {n.name: n for n in graph_def.node}

    def known(ref: str) -> bool | None:
        name, _, port = ref.partition(":")
        node = nodes.get(name)
        while node is not None and node.op == "Identity" and not port:
            name, _, port = node.input[0].partition(":")
            node = nodes.get(name)
        if node is None or node.op != "Const" or port not in ("", "0"):
            return None
        tensor = node.attr["value"].tensor
        if tensor.dtype != types_pb2.DT_BOOL or tensor.tensor_shape.dim:
            return None
        return bool(tensor.bool_val[0]) if tensor.bool_val else False

    folded: dict[str, tuple[str, int]] = {}  # switch -> (its data input, the port that runs)
    for node in graph_def.node:
        if node.op in _SWITCHES and len(node.input) >= 2:
            value = known(node.input[1])
            if value is not None:
                folded[node.name] = (node.input[0], 1 if value else 0)
    if not folded:
        return set()
    dead_tensors = {f"{s}:{1 - live}" for s, (_, live) in folded.items()}
    dead_tensors |= {s for s, (_, live) in folded.items() if live == 1}  # port 0, unnamed
    dead_nodes: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in graph_def.node:
            if node.name in dead_nodes or node.name in folded:
                continue
            data = [i for i in node.input if not i.startswith("^")]
            control = [i[1:] for i in node.input if i.startswith("^")]
            if node.op in _MERGES:
                live = [i for i in data if i not in dead_tensors]
                if live or not data:
                    continue
            elif not any(i in dead_tensors for i in data) and not any(
                c in dead_nodes for c in control
            ):
                continue
            dead_nodes.add(node.name)
            dead_tensors |= {node.name} | {f"{node.name}:{k}" for k in range(8)}
            changed = True
    for node in graph_def.node:  # the switches' consumers read their data; merges, the live one
        rewired = []
        for ref in node.input:
            control = ref.startswith("^")
            name, _, port = (ref[1:] if control else ref).partition(":")
            if name in folded and (control or int(port or 0) == folded[name][1]):
                source = folded[name][0]
                ref = "^" + source.lstrip("^").partition(":")[0] if control else source
            elif ref in dead_tensors or (control and ref[1:] in dead_nodes):
                continue
            rewired.append(ref)
        if node.op in _MERGES and node.name not in dead_nodes:
            data = [r for r in rewired if not r.startswith("^")]
            if len(data) == 1:
                node.op = "Identity"
                node.attr.pop("N", None)
        del node.input[:]
        node.input.extend(rewired)
    removed = dead_nodes | set(folded)
    kept = [n for n in graph_def.node if n.name not in removed]
    del graph_def.node[:]
    graph_def.node.extend(kept)
    return removed


def drop_dangling_colocation(graph_def: graph_pb2.GraphDef) -> int:
    """Removes colocation constraints (`_class: loc:@node`) that name nodes the graph does not
    have, as `freeze_graph` and graph transforms leave them; TensorFlow refuses to import a
    graph with one. Returns how many were dropped."""
    names = {node.name for node in graph_def.node}
    dropped = 0
    for node in graph_def.node:
        if "_class" not in node.attr:
            continue
        values = list(node.attr["_class"].list.s)
        kept = [v for v in values if not v.startswith(b"loc:@") or v[5:].decode() in names]
        if len(kept) != len(values):
            dropped += len(values) - len(kept)
            if kept:
                del node.attr["_class"].list.s[:]
                node.attr["_class"].list.s.extend(kept)
            else:
                del node.attr["_class"]
    return dropped


def unfed_placeholders(
    graph_def: graph_pb2.GraphDef, feeds: list[str], fetches: list[str]
) -> list[object]:
    """Placeholder nodes of the main graph that the fetches depend on and no feed covers
    (a PlaceholderWithDefault keeps its default and is not one of them)."""
    nodes = {node.name: node for node in graph_def.node}
    fed = {split_tensor_name(f)[0] for f in feeds}
    seen, todo, found = set(), [split_tensor_name(f)[0] for f in fetches], []
    while todo:
        name = todo.pop()
        if name in seen or name in fed or name not in nodes:
            continue
        seen.add(name)
        node = nodes[name]
        if node.op == "Placeholder":
            found.append(node)
        todo += [ref_node(ref) for ref in node.input]
    return sorted(found, key=lambda n: n.name)


def placeholder_text(node) -> str:
    dtype = dtype_name(node.attr["dtype"].type)
    shape = shape_of(node.attr["shape"].shape) if "shape" in node.attr else None
    return f"'{node.name}' ({dtype} {_shape_text(shape)})"


def _shape_text(shape) -> str:
    if shape is None:
        return "of unknown shape"
    return "(" + ", ".join("?" if d < 0 else str(d) for d in shape) + ")"
