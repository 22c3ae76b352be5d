"""The SavedModel target: a copy of the source's SavedModel, with every signature it has."""

from __future__ import annotations

import shutil
from pathlib import Path

from exporter.core.manifest import file_entries
from exporter.core.model import Artifact, Signature
from exporter.targets import Run, Target, Written, fetches, register

SAVED_MODEL_DIR = "saved_model"
EMPTY_VARIABLES_NOTE = (
    "variables/ is empty, and that is correct: the weights are constants inside saved_model.pb"
)


def write(source, stage: Path, sigs: list[Signature], optimize: bool) -> Written:
    """Copies `source.saved_model_dir` into `stage`; returns the artifact (all of the source's
    signatures) and a runner of the copy."""
    from exporter.graph.graphs import ops_of, select_meta_graph
    from exporter.sources import guarded
    from exporter.sources.saved_model import signature_runner

    saved = stage / SAVED_MODEL_DIR
    shutil.copytree(source.saved_model_dir, saved)
    (saved / "variables").mkdir(exist_ok=True)
    tags, fixed = _as_java_reads_it(saved, list(source.tags), source.signatures)
    meta = select_meta_graph(saved, tags)
    notes = [n for n in source.notes if "variables/" in n] + fixed
    if not any((saved / "variables").iterdir()) and not notes:
        notes.append(EMPTY_VARIABLES_NOTE)
    art = Artifact(
        format="savedmodel",
        path=SAVED_MODEL_DIR,
        signatures=source.signatures,
        ops=ops_of(meta.graph_def),
        tags=tags,
        files=file_entries(stage, SAVED_MODEL_DIR),
        producer=meta.graph_def.versions.producer,
        notes=notes,
    )
    return Written(art, guarded(signature_runner(saved, tags, source.signatures), SAVED_MODEL_DIR))


def _as_java_reads_it(
    saved: Path, tags: list[str], sigs: list[Signature]
) -> tuple[list[str], list[str]]:
    """Rewrites the copy's saved_model.pb (only where needed) so that TensorFlow Java loads
    it: a MetaGraph of the empty tag set (TF1 Hub modules; SavedModelBundle takes one tag at
    least) is tagged 'serve', and a SignatureDef input declaring another dtype than its
    placeholder's (TensorFlow 1.0 wrote a string tf.Example input as float32; TensorFlow
    Java's loader refuses the model) declares the graph's. Returns the tags and notes."""
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    binary = saved / "saved_model.pb"
    text = saved / "saved_model.pbtxt"
    model = saved_model_pb2.SavedModel()
    if binary.is_file():
        model.ParseFromString(binary.read_bytes())
    else:
        text_format.Parse(text.read_text(), model)
    notes = []
    changed = not tags
    if not tags:
        tags = ["serve"]
        for meta in model.meta_graphs:
            if not meta.meta_info_def.tags:
                meta.meta_info_def.tags.append("serve")
    meta = next(m for m in model.meta_graphs if set(m.meta_info_def.tags) == set(tags))
    for sig in sigs:
        if sig.key not in meta.signature_def:
            continue
        declared = meta.signature_def[sig.key].inputs
        for info in sig.inputs:
            actual = tf.as_dtype(info.dtype).as_datatype_enum
            if info.key in declared and declared[info.key].dtype != actual:
                was = tf.as_dtype(declared[info.key].dtype).name
                declared[info.key].dtype = actual
                notes.append(
                    f"signature '{sig.key}' declared input '{info.key}' {was}; it is written "
                    f"as {info.dtype}, the dtype of {info.name} in the graph, which TensorFlow "
                    "Java's loader asks for"
                )
    if changed or notes:
        if binary.is_file():
            binary.write_bytes(model.SerializeToString())
        else:
            text.write_text(text_format.MessageToString(model))
    return tags, notes


def runner(export_dir: Path, art: Artifact) -> Run:
    """Runs the exported SavedModel's signatures by key, loaded once (a stateful signature on
    a fresh load each time)."""
    from exporter.sources import guarded
    from exporter.sources.saved_model import signature_runner

    return guarded(
        signature_runner(export_dir / art.path, list(art.tags), art.signatures), art.path
    )


def graph(export_dir: Path, art: Artifact) -> tuple[object, list[str]]:
    """The MetaGraph's GraphDef, and what running the signatures and loading executes."""
    from exporter.core.tfproto import init_ops, select_meta_graph

    meta = select_meta_graph(export_dir / art.path, art.tags)
    return meta.graph_def, fetches(art.signatures) + init_ops(meta)


TARGET = register(
    Target(
        format="savedmodel",
        path=SAVED_MODEL_DIR,
        description="a SavedModel folder (SavedModelBundle in Java)",
        write=write,
        runner=runner,
        graph=graph,
        template="savedmodel_loader.java.j2",
        java_suffix="SavedModel",
        default=True,
    )
)
