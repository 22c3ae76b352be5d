"""Freezing one signature of a SavedModel into a GraphDef whose feeds and fetches carry the
signature's own keys, and running a frozen GraphDef in Python.

TensorFlow's `convert_variables_to_constants_v2` copies every variable's value into the
GraphDef message several times over (numpy, astype, tobytes, the message, a re-import). Here
its conversion runs with each variable standing in as a tiny placeholder value; the frozen
graph's constants carry dtype and shape only, and the values stay in the loaded variables
until `graphfile.write` streams them into the file."""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2, tensor_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import convert_to_constants as c2c
from tensorflow.python.framework import tensor_util

from exporter.core.fsutil import scratch
from exporter.core.model import Signature, split_tensor_name
from exporter.errors import ModelError, first_line
from exporter.graph.graphs import (
    drop_dangling_colocation,
    ops_of,
    prefix_nodes,
    rename_node,
    unique_name,
    valid_node_name,
)

_LOOPS = ("While", "StatelessWhile")
TABLE_INIT = "init_all_tables"  # the name TF1's tf.tables_initializer() gives its op


@dataclass
class Frozen:
    """A frozen signature: the graph (its variable constants hold dtype and shape only), the
    value of each such constant, and the loaded model those values live in."""

    graph_def: graph_pb2.GraphDef
    signatures: list[Signature]
    values: dict[str, np.ndarray]
    owner: object  # the loaded SavedModel; `values` are views of its variables
    init: str | None = None  # the op that fills the graph's lookup tables, run once

    def full_graph_def(self) -> graph_pb2.GraphDef:
        """The graph with every value inside it, as one message: copies all the weights."""
        full = graph_pb2.GraphDef()
        full.CopyFrom(self.graph_def)
        for node in full.node:
            if node.name in self.values:
                value = self.values[node.name]
                node.attr["value"].tensor.tensor_content = np.ascontiguousarray(value).tobytes()
        return full

    def release(self) -> None:
        """Lets go of the loaded model: the values are gone afterwards."""
        self.values.clear()
        self.owner = None
        gc.collect()  # a loaded model sits in reference cycles


class _ViewConverterData(c2c._FunctionConverterDataInEager):
    """TensorFlow's conversion data, with each variable's value a view of its memory."""

    def _eval(self, tensor):
        if isinstance(tensor, tf.Variable):
            return np.asarray(tensor.read_value())  # aliases the variable; .numpy() copies
        return tensor.numpy()


@dataclass
class Table:
    """A lookup table the signature reads: in the frozen graph a table node of its own,
    filled by an import node from constants of its contents."""

    name: str  # the table node (the captured handle's placeholder, replaced)
    key_dtype: tf.DType
    value_dtype: tf.DType
    keys: np.ndarray
    values: np.ndarray


def _tables(fn, graph_def: graph_pb2.GraphDef) -> list[Table]:
    """Turns each captured lookup-table handle of the converted graph (a placeholder that no
    conversion can lift) into a HashTableV2 node of the same name, and exports the table's
    contents from the loaded model."""
    captured = {internal.op.name: external for external, internal in fn.graph.captures}
    nodes = {node.name: node for node in graph_def.node}
    tables = {}
    for node in graph_def.node:
        if not node.op.startswith("LookupTableFind"):
            continue
        name = node.input[0].split(":")[0]
        while nodes[name].op == "Identity":  # inlined calls pass the handle through these
            name = nodes[name].input[0].split(":")[0]
        if name in captured and nodes[name].op == "Placeholder" and name not in tables:
            key_dtype = tf.dtypes.as_dtype(node.attr["Tin"].type)
            value_dtype = tf.dtypes.as_dtype(node.attr["Tout"].type)
            keys, values = tf.raw_ops.LookupTableExportV2(
                table_handle=captured[name], Tkeys=key_dtype, Tvalues=value_dtype
            )
            tables[name] = Table(name, key_dtype, value_dtype, keys.numpy(), values.numpy())
    for table in tables.values():
        node = nodes[table.name]
        node.op = "HashTableV2"
        for attr in list(node.attr):
            del node.attr[attr]
        node.attr["key_dtype"].type = table.key_dtype.as_datatype_enum
        node.attr["value_dtype"].type = table.value_dtype.as_datatype_enum
        node.attr["container"].s = b""
        node.attr["shared_name"].s = b""
        node.attr["use_node_name_sharing"].b = False
    return list(tables.values())


def _add_table_imports(graph_def: graph_pb2.GraphDef, tables: list[Table]) -> list[str]:
    """Adds, per table, constants of its keys and values and the LookupTableImportV2 node
    that fills it; returns the import nodes' names."""
    imports = []
    for table in tables:
        keys = _add_constant(graph_def, f"{table.name}/keys", table.keys, table.key_dtype)
        values = _add_constant(graph_def, f"{table.name}/values", table.values, table.value_dtype)
        node = graph_def.node.add(
            name=unique_name(graph_def, f"{table.name}/import"),
            op="LookupTableImportV2",
            input=[table.name, keys, values],
        )
        node.attr["Tin"].type = table.key_dtype.as_datatype_enum
        node.attr["Tout"].type = table.value_dtype.as_datatype_enum
        imports.append(node.name)
    return imports


def _add_constant(graph_def: graph_pb2.GraphDef, name: str, value, dtype: tf.DType) -> str:
    node = graph_def.node.add(name=unique_name(graph_def, name), op="Const")
    node.attr["dtype"].type = dtype.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype))
    return node.name


def _convert(fn) -> tuple[object, dict[str, np.ndarray], list[Table]]:
    """convert_variables_to_constants_v2, leaving each variable's value out of the graph;
    lookup tables become table nodes (their contents returned, to be imported)."""
    data = _ViewConverterData(func=fn, lower_control_flow=True, aggressive_inlining=False)
    values = {}
    for name, item in list(data.tensor_data.items()):
        value = item.numpy
        dtype = tf.dtypes.as_dtype(value.dtype)
        if value.size > 1 and dtype in tensor_util._TENSOR_CONTENT_TYPES:
            values[name] = value
            data.tensor_data[name] = item._replace(numpy=np.zeros((), value.dtype))
    graph_def, converted = c2c._replace_variables_by_constants(data)
    if values and _has_loops(graph_def):
        # A loop records the shape of each value it carries, and the conversion saw the
        # stand-ins there: convert again with the values in the graph, as TensorFlow does.
        for name, value in values.items():
            data.tensor_data[name] = data.tensor_data[name]._replace(numpy=value)
        graph_def, converted = c2c._replace_variables_by_constants(data)
        values = {}
    nodes = {node.name: node for node in graph_def.node}
    for name, value in values.items():
        nodes[name].attr["value"].tensor.CopyFrom(
            tensor_pb2.TensorProto(
                dtype=tf.dtypes.as_dtype(value.dtype).as_datatype_enum,
                tensor_shape=tf.TensorShape(value.shape).as_proto(),
            )
        )
    tables = _tables(fn, graph_def)
    names = {t.name for t in tables}
    converted |= {i for i, t in enumerate(fn.graph.internal_captures) if t.op.name in names}
    return c2c._construct_concrete_function(fn, graph_def, converted), values, tables


def _has_loops(graph_def: graph_pb2.GraphDef) -> bool:
    return any(op in _LOOPS for op in ops_of(graph_def))


def revive(saved_model_dir: Path, tags: list[str]):
    """The SavedModel loaded as TensorFlow 2 loads it, its signatures as functions. A Keras 2
    optimizer saved with the model revives its slot variables only through `tf_keras`
    (without it: `'_UserObject' object has no attribute 'add_slot'`); serving needs neither,
    so where reviving fails and the object graph holds slots, a copy of saved_model.pb whose
    optimizer keeps its slots as plain variables is loaded (the variables and assets are the
    model's own, linked)."""
    try:
        return tf.saved_model.load(str(saved_model_dir), tags=tags)
    except Exception as exc:  # reviving runs the objects' own Python restore code
        model = saved_model_pb2.SavedModel.FromString(
            (saved_model_dir / "saved_model.pb").read_bytes()
        )
        slots = [n for m in model.meta_graphs for n in m.object_graph_def.nodes if n.slot_variables]
        if not slots:
            raise
        for node in slots:
            del node.slot_variables[:]
        with scratch("revive") as tmp:
            copy = Path(tmp)
            (copy / "saved_model.pb").write_bytes(model.SerializeToString())
            for name in ("variables", "assets", "assets.extra"):
                if (saved_model_dir / name).exists():
                    (copy / name).symlink_to((saved_model_dir / name).resolve())
            try:
                return tf.saved_model.load(str(copy), tags=tags)
            except Exception:
                raise exc from None


def freeze_signatures(saved_model_dir: Path, tags: list[str], sigs: list[Signature]) -> Frozen:
    """Freezes each signature (stateless ones only) into one graph, loading the model once.
    With one signature its nodes keep their names; with several, each signature's nodes go
    under a scope of its key, so that they never collide. Feeds and fetches are named after
    their keys, or `SIG/KEY` where several signatures share a key."""
    loaded = revive(saved_model_dir, tags)
    counts = Counter(key for sig in sigs for key in {t.key for t in sig.inputs + sig.outputs})
    merged = graph_pb2.GraphDef()
    functions: set[str] = set()
    values: dict[str, np.ndarray] = {}
    frozen_sigs = []
    imports: list[str] = []
    for sig in sigs:
        scope = valid_node_name(sig.key) if len(sigs) > 1 else None
        names = {
            t.key: valid_node_name(t.key if counts[t.key] == 1 else f"{sig.key}/{t.key}")
            for t in sig.inputs + sig.outputs
        }
        graph_def, frozen_sig, sig_values, sig_imports = _freeze_one(loaded, sig, scope, names)
        imports += sig_imports
        if not merged.node:
            merged.versions.CopyFrom(graph_def.versions)
        merged.node.extend(graph_def.node)
        for func in graph_def.library.function:
            if func.signature.name not in functions:
                functions.add(func.signature.name)
                merged.library.function.add().CopyFrom(func)
        if graph_def.library.gradient:
            merged.library.gradient.extend(graph_def.library.gradient)
        values.update(sig_values)
        frozen_sigs.append(frozen_sig)
    drop_dangling_colocation(merged)
    init = None
    if imports:  # one op fills every table: what a runtime runs once after loading the graph
        init = unique_name(merged, TABLE_INIT)
        merged.node.add(name=init, op="NoOp", input=[f"^{name}" for name in imports])
    return Frozen(merged, frozen_sigs, values, loaded, init)


def _freeze_one(
    loaded, sig: Signature, scope: str | None, names: dict[str, str]
) -> tuple[graph_pb2.GraphDef, Signature, dict[str, np.ndarray]]:
    """Variables become constants; input placeholders are renamed to their names in `names`
    and each output gets an Identity node of its name there."""
    fn = loaded.signatures[sig.key]
    try:
        frozen, values, tables = _convert(fn)
    except Exception as exc:  # TensorFlow raises a variety of types here
        raise ModelError(f"cannot freeze signature '{sig.key}': {first_line(exc)}") from exc
    graph_def = frozen.graph.as_graph_def()
    imports = _add_table_imports(graph_def, tables)
    missing = sorted(set(values) - {node.name for node in graph_def.node})
    if missing:
        raise ModelError(f"cannot freeze signature '{sig.key}': lost constant '{missing[0]}'")

    def scoped(name: str) -> str:
        return f"{scope}/{name}" if scope else name

    if scope:
        prefix_nodes(graph_def, scope)
        values = {scoped(k): v for k, v in values.items()}

    def rename(old: str, new: str) -> None:
        rename_node(graph_def, old, new)
        if old in values:
            values[new] = values.pop(old)

    # Signature functions take keyword arguments only; their flat order is the sorted keys.
    keys = sorted(fn.structured_input_signature[1])
    placeholders = {key: scoped(tensor.op.name) for key, tensor in zip(keys, frozen.inputs)}
    fetches = {
        key: _renamed(t.name, t.op.name, scoped(t.op.name))
        for key, t in zip(sorted(fn.structured_outputs), frozen.outputs)
    }

    inputs = []
    for info in sig.inputs:
        old = placeholders.get(info.key)
        if old is None:
            raise ModelError(
                f"signature '{sig.key}': cannot find the placeholder of input "
                f"'{info.key}' in the frozen graph"
            )
        new = names[info.key]
        if new != old:
            if any(n.name == new for n in graph_def.node):
                moved = unique_name(graph_def, new + "_orig")
                rename(new, moved)
                fetches = {k: _renamed(v, new, moved) for k, v in fetches.items()}
            rename(old, new)
            fetches = {k: _renamed(v, old, new) for k, v in fetches.items()}
        if info.shape_from == "user":  # the placeholder takes the shape the user declared
            node = next(n for n in graph_def.node if n.name == new)
            node.attr["shape"].shape.CopyFrom(tf.TensorShape(_dims(info.shape)).as_proto())
        inputs.append(replace(info, name=new, index=0))

    input_names = {t.name for t in inputs}
    outputs = []
    for info in sig.outputs:
        source = fetches[info.key]
        wanted = names[info.key]
        if wanted in input_names:  # an input already holds this name
            wanted = unique_name(graph_def, wanted + "_output")
        elif any(n.name == wanted for n in graph_def.node):
            moved = unique_name(graph_def, wanted + "_orig")
            rename(wanted, moved)
            source = fetches[info.key] = _renamed(source, wanted, moved)
        node = graph_def.node.add()
        node.name = wanted
        node.op = "Identity"
        name, index = split_tensor_name(source)
        node.input.append(name if index == 0 else f"{name}:{index}")
        node.attr["T"].type = tf.dtypes.as_dtype(info.dtype).as_datatype_enum
        outputs.append(replace(info, name=wanted, index=0))
    frozen_sig = replace(sig, inputs=tuple(inputs), outputs=tuple(outputs))
    return graph_def, frozen_sig, values, [scoped(name) for name in imports]


def _dims(shape: tuple[int, ...] | None) -> list[int | None] | None:
    return None if shape is None else [None if d < 0 else d for d in shape]


def _renamed(tensor_name: str, old: str, new: str) -> str:
    name, index = split_tensor_name(tensor_name)
    return f"{new if name == old else name}:{index}"


def run_graph_def(
    graph_def: graph_pb2.GraphDef,
    sig: Signature,
    inputs: dict[str, np.ndarray],
    fed: dict[str, tf.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """Runs a frozen graph in Python, feeding and fetching by the signature's tensor names;
    `fed` feeds further placeholders by node name."""
    fed = fed or {}
    tables_filled_first(graph_def)
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph_def, name=""), []
    )
    graph = wrapped.graph
    fn = wrapped.prune(
        [graph.get_tensor_by_name(t.tensor_name) for t in sig.inputs]
        + [graph.get_tensor_by_name(f"{name}:0") for name in fed],
        [graph.get_tensor_by_name(t.tensor_name) for t in sig.outputs],
    )
    values = fn(*[tf.constant(inputs[t.key]) for t in sig.inputs], *fed.values())
    return {t.key: v.numpy() for t, v in zip(sig.outputs, values)}


_TABLE_NODES = (
    "HashTableV2",
    "HashTable",
    "MutableHashTableV2",
    "MutableHashTableOfTensorsV2",
    "MutableDenseHashTableV2",
)
TABLE_FILLERS = (
    "LookupTableImportV2",
    "InitializeTableV2",
    "InitializeTableFromTextFileV2",
    "LookupTableImport",
    "InitializeTable",
)


def tables_filled_first(graph_def: graph_pb2.GraphDef) -> None:
    """Makes every reader of a lookup table wait for the nodes that fill it, in place, so
    that a pruned function over the graph fills its tables before it looks anything up (a
    session would run the init op first)."""
    nodes = {node.name: node for node in graph_def.node}
    fillers: dict[str, list[str]] = {}
    for node in graph_def.node:
        if node.op in TABLE_FILLERS:
            fillers.setdefault(node.input[0].split(":")[0], []).append(node.name)
    for node in graph_def.node:
        if node.op in TABLE_FILLERS:
            continue
        for ref in list(node.input):
            table = ref.split(":")[0]
            if table in fillers and nodes[table].op in _TABLE_NODES:
                for filler in fillers[table]:
                    if f"^{filler}" not in node.input:
                        node.input.append(f"^{filler}")


def optimize_for_inference(
    graph_def: graph_pb2.GraphDef, sigs: list[Signature]
) -> graph_pb2.GraphDef:
    """What optimize_for_inference does: strip nodes the outputs do not need and training-only
    nodes, fold batch norms into convolutions, fuse resize and pad into them."""
    from tensorflow.python.tools import optimize_for_inference_lib

    inputs = [t for sig in sigs for t in sig.inputs]
    return optimize_for_inference_lib.optimize_for_inference(
        graph_def,
        [t.name for t in inputs],
        [t.name for sig in sigs for t in sig.outputs],
        [tf.dtypes.as_dtype(t.dtype).as_datatype_enum for t in inputs],
    )
