"""The frozen GraphDef target: every stateless signature in one `frozen.pb`, variables as
constants, lookup tables with their contents and the op that fills them."""

from __future__ import annotations

from pathlib import Path

from exporter.core.manifest import file_entries
from exporter.core.model import Artifact, Signature
from exporter.errors import ModelError
from exporter.targets import Feed, Run, Target, Written, fetches, register

FROZEN_FILE = "frozen.pb"
PROTOBUF_LIMIT = 2**31 - 1  # bytes: the most one serialized protobuf message may hold
STATEFUL_REASON = (
    "it assigns a variable, and a frozen graph has constants in place of variables; the "
    "SavedModel keeps it"
)


def size_estimate(saved_model_dir: Path) -> int:
    """Bytes a frozen GraphDef would hold at least: the graph plus every variable's value,
    read from the checkpoint index without loading a tensor."""
    import numpy as np
    import tensorflow as tf

    size = sum(p.stat().st_size for p in saved_model_dir.glob("saved_model.pb*"))
    index = saved_model_dir / "variables" / "variables.index"
    if index.is_file():
        reader = tf.train.load_checkpoint(str(index.with_suffix("")))
        dtypes = reader.get_variable_to_dtype_map()
        for name, shape in reader.get_variable_to_shape_map().items():
            if dtypes[name] != tf.string:
                size += int(np.prod(shape, dtype=np.int64)) * dtypes[name].size
    return size


def write(source, stage: Path, sigs: list[Signature], optimize: bool) -> Written:
    """Freezes the stateless signatures of `sigs` from `source.saved_model_dir` into
    `stage/frozen.pb` (streamed: the weights are never one message in memory unless
    `optimize` asks for optimize_for_inference). Stateful ones are recorded as left out.
    Raises ModelError when the weights would pass protobuf's 2 GiB limit."""
    from exporter.graph import graphfile
    from exporter.graph.freeze import freeze_signatures, optimize_for_inference, run_graph_def
    from exporter.graph.graphs import ops_of
    from exporter.sources import guarded

    left_out = [{"signature": s.key, "reason": STATEFUL_REASON} for s in sigs if s.stateful]
    sigs = [s for s in sigs if not s.stateful]
    if not sigs:
        return Written(None, _nothing)
    estimate = size_estimate(source.saved_model_dir)
    if estimate > PROTOBUF_LIMIT:
        raise ModelError(
            f"a frozen GraphDef of this model would hold {estimate / 2**30:.2f} GiB of weights, "
            f"over protobuf's 2 GiB limit for one message; export --format savedmodel, which "
            "keeps the weights in variables/ and has no such limit"
        )
    frozen = freeze_signatures(source.saved_model_dir, source.tags, sigs)
    frozen_sigs = {s.key: s for s in frozen.signatures}
    graph_def, values = frozen.graph_def, frozen.values
    checks = []
    notes = []
    if optimize:  # optimize_for_inference reads the weights: the graph holds them all
        plain = frozen.full_graph_def()
        graph_def, values = optimize_for_inference(plain, frozen.signatures), {}
        notes.append(f"optimized for inference: {len(plain.node)} nodes -> {len(graph_def.node)}")
        checks.append(
            (
                "frozen optimized vs unoptimized",
                lambda key, feed: run_graph_def(plain, frozen_sigs[key], feed),
                lambda key, feed: run_graph_def(graph_def, frozen_sigs[key], feed),
            )
        )
    path = stage / FROZEN_FILE
    graphfile.write(path, graph_def, values)
    frozen.release()
    art = Artifact(
        format="frozen",
        path=FROZEN_FILE,
        signatures=list(frozen.signatures),
        ops=ops_of(graph_def),
        files=file_entries(stage, FROZEN_FILE),
        producer=graph_def.versions.producer,
        notes=notes,
        left_out=left_out,
        init_op=frozen.init,
    )
    if frozen.init:
        art.notes.append(
            f"lookup tables are kept with their contents as constants; '{frozen.init}' fills "
            "them and runs once after the graph is loaded (the generated class does it)"
        )
    # The check runs the file as written, without the loaded model behind `frozen`.
    run = guarded(lambda key, feed: graphfile.run(path, frozen_sigs[key], feed), FROZEN_FILE)
    return Written(art, run, checks)


def _nothing(key: str, feed: Feed) -> Feed:
    raise AssertionError("no artifact was written")


def runner(export_dir: Path, art: Artifact) -> Run:
    """Runs frozen.pb's signatures by key, its large constants fed from the file."""
    from exporter.graph import graphfile
    from exporter.sources import guarded

    by_key = {s.key: s for s in art.signatures}
    return guarded(
        lambda key, feed: graphfile.run(export_dir / art.path, by_key[key], feed), art.path
    )


def graph(export_dir: Path, art: Artifact) -> tuple[object, list[str]]:
    """The graph's nodes and attrs (large constants' bytes stay in the file), and what
    running the signatures and loading executes."""
    from exporter.core.tfproto import read_skeleton

    graph_def = read_skeleton(export_dir / art.path).graph_def
    return graph_def, fetches(art.signatures) + ([art.init_op] if art.init_op else [])


TARGET = register(
    Target(
        format="frozen",
        path=FROZEN_FILE,
        description="a frozen GraphDef (Graph.importGraphDef in Java)",
        write=write,
        runner=runner,
        graph=graph,
        template="frozen_loader.java.j2",
        java_suffix="Frozen",
        default=True,
        own_saver=False,
        # this large, sessions skip Grappler by default: with 1 GiB of constants its rewrites
        # took 7 GiB more and 100 s on the first run (TensorFlow Java 1.1.0, 2 cores)
        grappler_limit=256 * 2**20,
    )
)
