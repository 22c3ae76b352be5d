"""SavedModel sources: TF2 (`tf.saved_model.save`, Keras `model.export`) and TF1
(`simple_save`, `SavedModelBuilder`, custom tags, several MetaGraphs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from exporter.core import tfproto
from exporter.core.model import split_tensor_name
from exporter.core.tfproto import init_ops
from exporter.errors import ModelError, UsageError
from exporter.graph.freeze import revive
from exporter.graph.graphs import (
    EMPTY_SHAPE_IS_UNKNOWN_BEFORE,
    ops_of,
    placeholder_text,
    read_meta_graphs,
    select_meta_graph,
    signatures_of,
    unfed_placeholders,
    unique_name,
)
from exporter.sources import Loader, LoadOptions, Runner, Source, register, tf1


def signature_runner(saved_model_dir: Path, tags: list[str], signatures: list) -> Runner:
    """Runs a SavedModel's signatures by key, loading it once on first use; a stateful
    signature runs on a fresh load each time, so that its result does not depend on what ran
    before it."""
    stateful = frozenset(s.key for s in signatures if s.stateful)
    cache: dict[str, object] = {}

    def run(key: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if key in stateful:
            model = revive(saved_model_dir, tags)
        else:
            if "model" not in cache:
                cache["model"] = revive(saved_model_dir, tags)
            model = cache["model"]
        fn = model.signatures[key]
        outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    return run


def serving_versions(path: Path) -> dict[int, Path]:
    """TensorFlow Serving's layout, MODEL/00000123/saved_model.pb: version -> folder."""
    if not path.is_dir():
        return {}
    return {
        int(child.name): child
        for child in path.iterdir()
        if child.name.isdigit() and child.is_dir() and tfproto.is_saved_model(child)
    }


def is_saved_model(path: Path) -> bool:
    """Whether `path` is a SavedModel folder, or TensorFlow Serving's MODEL/<version>/ layout of
    them."""
    return path.is_dir() and (tfproto.is_saved_model(path) or bool(serving_versions(path)))


def resolve_version(path: Path, version: int | None) -> Path:
    """The SavedModel folder: `path` itself, or in a folder of numbered versions the highest
    one (or `version`)."""
    if tfproto.is_saved_model(path):
        if version is not None:
            raise UsageError(
                f"{path}: --serving-version {version} needs a folder of numbered versions"
            )
        return path
    versions = serving_versions(path)
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        have = ", ".join(str(v) for v in sorted(versions))
        raise UsageError(f"{path}: no version {version}; versions: {have}")
    return versions[chosen]


def model_name(path: Path) -> str | None:
    """A version folder's model is named after the folder above it, never its number."""
    resolved = path.resolve()
    return resolved.parent.name if resolved.name.isdigit() else None


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


def pinned_copy(
    path: Path, tags: list[str], pins: dict[str, str], workdir: Path
) -> tuple[Path, dict]:
    """A copy of the SavedModel whose MetaGraph for `tags` has the pinned placeholders as
    constants; its variables/ and assets/ are links to the original's (copying an export
    follows them)."""
    model = saved_model_pb2.SavedModel()
    model.ParseFromString((path / "saved_model.pb").read_bytes())
    pinned: dict = {}
    for meta in model.meta_graphs:
        if set(meta.meta_info_def.tags) == set(tags):
            inputs = {
                split_tensor_name(t.name)[0]
                for sig in meta.signature_def.values()
                for t in sig.inputs.values()
            }
            taken = sorted(inputs & set(pins))
            if taken:
                raise UsageError(
                    f"--set {taken[0]}: it is a signature input of {path}; feed it instead"
                )
            pinned = tf1.pin(meta.graph_def, pins, str(path))
            tf1.prune_collections(meta)
    return _copy_with(path, model, workdir / "pinned_saved_model"), pinned


def _copy_with(path: Path, model, copy: Path) -> Path:
    """A copy of the SavedModel folder with `model` as its saved_model.pb; everything else
    links to the original's."""
    copy.mkdir()
    (copy / "saved_model.pb").write_bytes(model.SerializeToString())
    for child in path.iterdir():
        if child.name not in ("saved_model.pb", "saved_model.pbtxt"):
            (copy / child.name).symlink_to(child.resolve())
    return copy


def dereferenced_copy(path: Path, tags: list[str], workdir: Path) -> tuple[Path, list[str]]:
    """Where signature outputs of the MetaGraph for `tags` are of a reference type (a TF1
    variable fetched directly, float32_ref), a copy in which each is read through an
    Identity of its value type, which every runtime can fetch; (path, []) otherwise."""
    model = saved_model_pb2.SavedModel()
    if (path / "saved_model.pb").is_file():
        model.ParseFromString((path / "saved_model.pb").read_bytes())
    else:
        from google.protobuf import text_format

        text_format.Parse((path / "saved_model.pbtxt").read_text(), model)
    changed = []
    for meta in model.meta_graphs:
        if set(meta.meta_info_def.tags) != {t for t in tags if t}:
            continue
        read: dict[str, str] = {}
        for key, sig in meta.signature_def.items():
            for out_key, info in sig.outputs.items():
                if info.dtype <= 100 or not info.name:
                    continue
                if info.name not in read:
                    value = unique_name(meta.graph_def, split_tensor_name(info.name)[0] + "/value")
                    node = meta.graph_def.node.add(name=value, op="Identity", input=[info.name])
                    node.attr["T"].type = info.dtype - 100
                    read[info.name] = value + ":0"
                info.name, info.dtype = read[info.name], info.dtype - 100
                changed.append(f"{key}/{out_key}")
    if not changed:
        return path, []
    return _copy_with(path, model, workdir / "dereferenced_saved_model"), changed


def check_assets(path: Path, meta) -> None:
    """Every asset a SavedModel reads lies inside its folder (after symlinks) and is there."""
    root = path.resolve()
    for asset in meta.asset_file_def:
        target = (path / "assets" / asset.filename).resolve()
        if root not in target.parents:
            raise ModelError(
                f"{path}: asset '{asset.filename}' resolves to {target}, outside the "
                "SavedModel; a model only reads files of its own folder"
            )
        if not target.is_file():
            raise ModelError(
                f"{path}: asset assets/{asset.filename} is missing; copy the SavedModel "
                "directory whole"
            )


def missing_tensors(meta) -> dict[str, list[str]]:
    """Signature key -> tensors its SignatureDef names that the graph does not have."""
    nodes = {node.name for node in meta.graph_def.node}
    found = {}
    for key, sig in meta.signature_def.items():
        infos = list(sig.inputs.values()) + list(sig.outputs.values())
        gone = [i.name for i in infos if i.name and split_tensor_name(i.name)[0] not in nodes]
        if gone:
            found[key] = gone
    return found


def unfed(meta, signatures) -> dict[str, list[str]]:
    """Signature key -> the placeholders its outputs need that it does not feed."""
    found = {}
    for sig in signatures:
        nodes = unfed_placeholders(
            meta.graph_def,
            [t.tensor_name for t in sig.inputs],
            [t.tensor_name for t in sig.outputs],
        )
        if nodes:
            found[sig.key] = [placeholder_text(n) for n in nodes]
    return found


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    """Loads a SavedModel (the `options.version` of a Serving layout, else the highest) with
    `options.tags`; placeholders pinned with --set make a staged copy in `workdir`. Raises
    UsageError (unknown tags or version) or ModelError (missing variables or assets)."""
    name = model_name(path)
    if not tfproto.is_saved_model(path):
        name = path.resolve().name
    path = resolve_version(path, options.version)
    pinned = {}
    if options.pins:
        if not (path / "saved_model.pb").is_file():
            raise UsageError(f"{path}: --set needs a binary saved_model.pb")
        path, pinned = pinned_copy(path, options.tags, options.pins, workdir)
    meta = select_meta_graph(path, options.tags)
    tags = list(meta.meta_info_def.tags)  # as the SavedModel has them ('serve' may mean none)
    path, dereferenced = dereferenced_copy(path, tags, workdir)
    if dereferenced:
        meta = select_meta_graph(path, tags)
    check_variables(path, meta)
    check_assets(path, meta)
    details = {
        "tag_sets": [sorted(m.meta_info_def.tags) for m in read_meta_graphs(path)],
        "tensorflow_version": meta.meta_info_def.tensorflow_version,
        "variables": sorted(p.name for p in (path / "variables").glob("*"))
        if (path / "variables").is_dir()
        else [],
    }
    broken = missing_tensors(meta)
    signatures = signatures_of(meta)
    producer = meta.graph_def.versions.producer
    if producer < EMPTY_SHAPE_IS_UNKNOWN_BEFORE:
        details["graph_producer_version"] = (
            f"{producer} (before 21: an empty shape in this graph means unknown, not scalar)"
        )
    return Source(
        path=path,
        format="savedmodel",
        signatures=signatures,
        run=signature_runner(path, tags, signatures),
        saved_model_dir=path,
        tags=tags,
        details=details,
        pinned=pinned,
        name=name,
        unfed=unfed(meta, signatures),
        broken={
            k: f"names tensor(s) {', '.join(v)} that the graph does not have"
            for k, v in broken.items()
        },
        notes=[
            *(
                f"output {o} is a TF1 variable (a reference type): it is fetched through an "
                "Identity as its value"
                for o in dereferenced
            ),
            *(
                f"signature '{k}' names tensor(s) {', '.join(v)} that the graph does not have; "
                "it cannot run"
                for k, v in broken.items()
            ),
        ],
        graph_def=meta.graph_def,
        init_ops=init_ops(meta),
    )


register(
    Loader(
        "savedmodel",
        "a directory with saved_model.pb, or TensorFlow Serving's MODEL/<version>/ folders",
        is_saved_model,
        load,
        graph=lambda path, tags: select_meta_graph(resolve_version(path, None), tags).graph_def,
        meta_graphs=True,
    )
)
