"""The inputs of a parity run, batch after batch: generated from the manifest, one .npz, a
folder of .npz files (one batch each, in name order) or a TFRecord file of serialized
`tf.train.Example` records (`batch` records a batch, gzip-compressed or not). Only one batch
is in memory at a time, whatever the size of the file or folder.

Reading a TFRecord's framing needs no TensorFlow; turning Example features into the inputs
of a signature that does not parse examples itself takes a parser the caller gives (parity's
uses `tf.io.parse_example`)."""

from __future__ import annotations

import gzip
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporter.core import inputs as inputs_mod
from exporter.core.model import Signature
from exporter.errors import ModelError

# A batch: (artifact format, signature key) -> that signature's inputs
Feeds = dict[tuple[str, str], dict[str, np.ndarray]]
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Inputs:
    """Where a run's inputs come from: `kind` is "generated", "npz", "folder" or "tfrecord";
    `batch`: the examples of a generated batch, the records of a TFRecord batch."""

    kind: str
    path: Path | None
    batch: int
    seed: int = 0

    @property
    def streamed(self) -> bool:
        """More than one batch may come (a folder, a TFRecord file)."""
        return self.kind in ("folder", "tfrecord")

    def describe(self, examples: int, batches: int) -> str:
        if self.kind == "generated":
            return f"{examples} generated example(s) (seed {self.seed})"
        size = f" of {self.batch} records" if self.kind == "tfrecord" else ""
        return f"{examples} example(s) in {batches} batch(es){size} from {self.path}"


def open_inputs(path: Path | None, batch: int, seed: int = 0) -> Inputs:
    """The inputs `--inputs PATH` names (none: generated). Raises ModelError for a path that
    is none of the kinds, or an empty folder."""
    if path is None:
        return Inputs("generated", None, batch, seed)
    if path.is_dir():
        if not _npz_files(path):
            raise ModelError(f"{path}: a folder without .npz files; each .npz is one batch")
        return Inputs("folder", path, batch)
    if zipfile.is_zipfile(path) or path.suffix in (".npz", ".npy"):
        return Inputs("npz", path, batch)
    with path.open("rb") as f:
        head = f.read(12)
    if head[:2] != GZIP_MAGIC and not _plausible_record(head, path.stat().st_size):
        raise ModelError(
            f"{path}: neither an .npz, a folder of .npz files nor a TFRecord file; give one "
            "of those with --inputs"
        )
    return Inputs("tfrecord", path, batch)


def _npz_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".npz" and p.is_file())


def _plausible_record(head: bytes, size: int) -> bool:
    return len(head) == 12 and struct.unpack("<Q", head[:8])[0] + 16 <= size


def first_feeds(inputs: Inputs, sigs: dict[tuple[str, str], Signature]) -> Feeds | None:
    """The first batch, where it can be read without TensorFlow (generated, .npz, folder);
    None for a TFRecord file."""
    if inputs.kind == "tfrecord":
        return None
    return next(batches(inputs, sigs))[0]


# Serialized Examples, the signature and where they are from -> the signature's inputs
Parser = Callable[[np.ndarray, Signature, str], dict[str, np.ndarray]]


def batches(
    inputs: Inputs, sigs: dict[tuple[str, str], Signature], parse: Parser | None = None
) -> Iterator[tuple[Feeds, float]]:
    """Each batch's inputs for every signature of `sigs`, with how far through the inputs it
    ends (0..1); `parse` turns Example records into the inputs of a signature that does not
    parse them itself. Raises ModelError naming the file (and the records) that cannot be
    used."""
    known = {t.key for sig in sigs.values() for t in sig.inputs}
    if inputs.kind == "generated":
        yield {k: inputs_mod.generate(s, inputs.batch, inputs.seed) for k, s in sigs.items()}, 1.0
    elif inputs.kind == "npz":
        yield {k: inputs_mod.load_npz(inputs.path, s, known) for k, s in sigs.items()}, 1.0
    elif inputs.kind == "folder":
        files = _npz_files(inputs.path)
        for done, path in enumerate(files, 1):
            yield (
                {k: inputs_mod.load_npz(path, s, known) for k, s in sigs.items()},
                done / len(files),
            )
    else:
        feed = _example_feeds(inputs.path, sigs, parse)
        for records, first, where in tfrecord_batches(inputs.path, inputs.batch):
            yield feed(records, first), where


def examples_in(feeds: Feeds) -> int:
    """How many examples a batch holds (the leading dimension of its first input)."""
    for feed in feeds.values():
        for value in feed.values():
            return int(value.shape[0]) if value.ndim else 1
    return 0


def tfrecord_batches(path: Path, batch: int) -> Iterator[tuple[list[bytes], int, float]]:
    """The records of a TFRecord file (gzip-compressed or not), `batch` at a time, with the
    number of the first and how far through the file the batch ends. The framing is checked
    (each record's length against what is there); its CRCs are not: a damaged record is found
    when its proto is parsed."""
    size = path.stat().st_size
    with path.open("rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if raw.read(2) == GZIP_MAGIC else raw
        raw.seek(0)
        records: list[bytes] = []
        number = 0
        try:
            while True:
                head = stream.read(12)
                if not head:
                    break
                length = struct.unpack("<Q", head[:8])[0] if len(head) == 12 else -1
                if length < 0 or (stream is raw and raw.tell() + length + 4 > size):
                    raise ModelError(
                        f"{path}: record {number + 1} is cut short (its header claims "
                        f"{max(length, 0)} bytes); the file is truncated or not a TFRecord"
                    )
                data = stream.read(length)
                if len(data) != length or len(stream.read(4)) != 4:
                    raise ModelError(
                        f"{path}: record {number + 1} is cut short; the file is truncated"
                    )
                records.append(data)
                number += 1
                if len(records) == batch:
                    yield records, number - len(records), raw.tell() / size
                    records = []
        except (OSError, EOFError) as exc:  # a damaged gzip stream
            raise ModelError(f"{path}: cannot read record {number + 1} ({exc})") from None
        if records:
            yield records, number - len(records), 1.0
        elif not number:
            raise ModelError(f"{path}: a TFRecord file without records")


def _example_feeds(
    path: Path, sigs: dict[tuple[str, str], Signature], parse: Parser | None
) -> Callable[[list[bytes], int], Feeds]:
    """How a batch of serialized Examples becomes each signature's inputs: as they are, for
    a signature that parses examples itself (one string input that takes them); else each
    input filled from the feature of its key (a fixed shape after the batch dimension)."""
    parsers = {}
    for key, sig in sigs.items():
        takes = [t for t in sig.inputs if t.example is not None]
        if takes and len(sig.inputs) == 1 and takes[0].shape:
            parsers[key] = None
            continue
        for t in sig.inputs:
            if t.shape is None or not t.shape or any(d < 0 for d in t.shape[1:]):
                raise ModelError(
                    f"{path}: signature '{key[1]}' input '{t.key}' has shape "
                    f"{inputs_mod.format_shape(t.shape)}; a tf.Example feature fills a batch "
                    "of a fixed shape only: give its inputs as a folder of .npz files"
                )
        if parse is None:
            raise ModelError(f"{path}: signature '{key[1]}' takes no tf.Example records")
        parsers[key] = sig

    def feed(records: list[bytes], first: int) -> Feeds:
        batch = np.empty(len(records), dtype=object)
        batch[:] = records
        feeds = {}
        for key, sig in sigs.items():
            if parsers[key] is None:
                (t,) = sig.inputs
                feeds[key] = {t.key: batch.reshape((len(records), *[1] * (len(t.shape) - 1)))}
            else:
                where = f"{path} (records {first + 1} to {first + len(records)})"
                feeds[key] = parse(batch, sig, where)
        return feeds

    return feed
