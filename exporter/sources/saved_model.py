"""SavedModel sources: TF2 (`tf.saved_model.save`, Keras `model.export`) and TF1
(`simple_save`, `SavedModelBuilder`, custom tags, several MetaGraphs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from exporter.errors import ModelError
from exporter.graphs import ops_of, read_meta_graphs, select_meta_graph, signatures_of
from exporter.sources import Loader, LoadOptions, Runner, Source, register


def signature_runner(saved_model_dir: Path, tags: list[str]) -> Runner:
    """Runs a SavedModel's signatures by key, loading it once on first use."""
    cache: dict[str, object] = {}

    def run(key: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "model" not in cache:
            cache["model"] = tf.saved_model.load(str(saved_model_dir), tags=tags)
        fn = cache["model"].signatures[key]
        outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    return run


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and (
        (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()
    )


_VARIABLE_OPS = {"VarHandleOp", "VariableV2", "Variable"}


def check_variables(path: Path, meta) -> None:
    """A SavedModel with variables needs variables/variables.index and every data shard."""
    if not _VARIABLE_OPS.intersection(ops_of(meta.graph_def)):
        return
    index = path / "variables" / "variables.index"
    if not index.is_file():
        raise ModelError(
            f"{path}: the model has variables but variables/variables.index is missing; copy "
            "the SavedModel directory whole"
        )
    shards = sorted((path / "variables").glob("variables.data-*-of-*"))
    total = int(shards[0].name.rsplit("-of-", 1)[1]) if shards else 1
    expected = {f"variables.data-{i:05d}-of-{total:05d}" for i in range(total)}
    missing = sorted(expected - {s.name for s in shards})
    if missing:
        raise ModelError(
            f"{path}: variables/{missing[0]} is missing ({len(missing)} of {total} shard(s)); "
            "copy the SavedModel directory whole"
        )


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    meta = select_meta_graph(path, options.tags)
    check_variables(path, meta)
    details = {
        "tag_sets": [sorted(m.meta_info_def.tags) for m in read_meta_graphs(path)],
        "tensorflow_version": meta.meta_info_def.tensorflow_version,
        "variables": sorted(p.name for p in (path / "variables").glob("*"))
        if (path / "variables").is_dir()
        else [],
    }
    return Source(
        path=path,
        format="savedmodel",
        signatures=signatures_of(meta),
        run=signature_runner(path, options.tags),
        saved_model_dir=path,
        tags=list(options.tags),
        details=details,
    )


register(Loader("savedmodel", "a directory with saved_model.pb", is_saved_model, load))
