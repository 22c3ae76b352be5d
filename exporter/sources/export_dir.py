"""tf2java's own export folders (OUT with its manifest.json) as sources: the manifest says what
is in them, so `inspect`, `run`, `export`, `ops` and `scan` take them back as they are."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from exporter.core import manifest as manifest_mod
from exporter.errors import UsageError
from exporter.graph import graphfile
from exporter.sources import Loader, LoadOptions, Source, register, saved_model, tflite


def is_export(path: Path) -> bool:
    """Whether `path` is a tf2java export folder (it holds manifest.json)."""
    return manifest_mod.is_export_dir(path)


def load(path: Path, options: LoadOptions, workdir: Path) -> Source:
    """Loads a tf2java export folder: its manifest's signatures, run through its SavedModel (else
    its frozen graph or .tflite), which is also what a new export starts from. Raises
    ModelError for a bad manifest or missing files."""
    manifest, sha = manifest_mod.read(path)
    manifest_mod.verify_files(path, manifest)
    details = manifest_mod.details(manifest, sha)
    formats = {art.format: art for art in manifest.artifacts}
    if "savedmodel" in formats:
        art = formats["savedmodel"]
        inner = saved_model.load(path / art.path, replace(options, tags=list(art.tags)), workdir)
        # The manifest's signatures carry what the graph does not (declared shapes).
        return replace(
            inner,
            path=path,
            format="export",
            signatures=list(art.signatures),
            details=details,
            pinned=dict(manifest.pinned),
            name=manifest.name,
        )
    art = formats.get("frozen") or formats["tflite"]
    by_key = {s.key: s for s in art.signatures}
    graph_def, init_ops = None, []
    if art.format == "frozen":
        graph_def = graphfile.read_skeleton(path / art.path).graph_def
        init_ops = [art.init_op] if art.init_op else []

        def run(key, feed):
            return graphfile.run(path / art.path, by_key[key], feed)

    else:
        content = (path / art.path).read_bytes()

        def run(key, feed):
            return tflite.run_interpreter(content, key, feed, art.path)

    if options.stage:
        raise UsageError(
            f"{path}: the export holds no SavedModel to export from; export from the model it "
            "was made from, or from an export with --format savedmodel"
        )
    return Source(
        path=path,
        format="export",
        signatures=list(art.signatures),
        run=run,
        saved_model_dir=None,
        details=details,
        pinned=dict(manifest.pinned),
        name=manifest.name,
        graph_def=graph_def,
        init_ops=init_ops,
    )


register(Loader("export", "a tf2java export folder with manifest.json", is_export, load))
