"""Parity on a team's own data, through the CLI: a TFRecord of tf.Example records (plain and
gzip), for a signature that parses examples and for one whose inputs are named like the
features, and a folder of .npz files; batch after batch, with progress and the report's
statistics; and the data files parity refuses."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from exporter.cli import main

pytestmark = pytest.mark.jvm

RECORDS = 150


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    """An export with two signatures over the same weights: `serving_default` takes the
    features as tensors, `parse` takes serialized tf.Example records and parses them."""
    import tensorflow as tf

    class Scorer(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.linspace(-1, 1, 15, dtype=np.float32).reshape(3, 5))
            self.table = tf.Variable(np.arange(20, dtype=np.float32).reshape(10, 2) / 7)

        def score(self, x, ids):
            logits = tf.matmul(x, self.w)
            rows = tf.reduce_sum(tf.gather(self.table, ids), axis=1)
            return {"probs": tf.nn.softmax(logits), "rows": rows}

        @tf.function(
            input_signature=[
                tf.TensorSpec((None, 3), tf.float32, name="x"),
                tf.TensorSpec((None, 2), tf.int32, name="ids"),
            ]
        )
        def features(self, x, ids):
            return self.score(x, ids)

        @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name="examples")])
        def parse(self, examples):
            spec = {
                "x": tf.io.FixedLenFeature((3,), tf.float32),
                "ids": tf.io.FixedLenFeature((2,), tf.int64),
            }
            parsed = tf.io.parse_example(examples, spec)
            return self.score(parsed["x"], tf.cast(parsed["ids"], tf.int32))

    module = Scorer()
    src = tmp_path_factory.mktemp("scorer") / "src"
    signatures = {"serving_default": module.features, "parse": module.parse}
    tf.saved_model.save(module, str(src), signatures=signatures)
    out = src.parent / "out"
    exported = cli("export", src, out, "--signature", "all")
    assert exported.exit_code == 0, exported.output
    return out


def _examples(rng, count, with_ids=True):
    import tensorflow as tf

    x = rng.normal(size=(count, 3)).astype(np.float32)
    ids = rng.integers(0, 10, size=(count, 2))
    records = []
    for i in range(count):
        feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=x[i]))}
        if with_ids:
            feature["ids"] = tf.train.Feature(int64_list=tf.train.Int64List(value=ids[i]))
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        records.append(example.SerializeToString())
    return x, ids, records


def _write(path, records, compression=None):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path), options=compression) as writer:
        for record in records:
            writer.write(record)


def test_a_tfrecord_of_examples_batch_by_batch(scorer, tmp_path):
    """Both signatures on 150 records in batches of 32: the parse signature gets the records
    as they are, the other the features of its input keys; each output's report holds max,
    p99 and mean differences and the count beyond tolerance over all 150 examples."""
    _, _, records = _examples(np.random.default_rng(0), RECORDS)
    data = tmp_path / "val.tfrecord"
    _write(data, records)
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    ran = cli(
        "parity", scorer, "--inputs", data, "--batch", 32, "--report", report, "--junit", junit
    )
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    assert f"inputs: {RECORDS} example(s) in 5 batch(es) of 32 records from {data}" in lines
    progress = [ln for ln in lines if "of val.tfrecord:" in ln]
    # five batches, each past a tenth of the file: a line each, the last at 100 %
    assert len(progress) == 5 and progress[-1].startswith(f"100% of val.tfrecord: {RECORDS}")
    found = json.loads(report.read_text())
    assert found["ok"] and found["inputs"].startswith(f"{RECORDS} example(s) in 5 batch(es)")
    cases = {(c["format"], c["signature"]): c for c in found["cases"]}
    assert set(cases) == {
        (f, s) for f in ("savedmodel", "frozen") for s in ("serving_default", "parse")
    }
    for case in cases.values():
        probs = next(o for o in case["outputs"] if o["key"] == "probs")
        assert probs["shape"] == [RECORDS, 5] and probs["values"] == RECORDS * 5
        assert probs["beyond"] == 0
        assert 0 <= probs["mean_abs_diff"] <= probs["p99_abs_diff"] <= probs["max_abs_diff"]
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) == 8

    # the same records gzip-compressed, at the batch the export recorded (none: 64)
    import tensorflow as tf

    packed = tmp_path / "val.tfrecord.gz"
    _write(packed, records, tf.io.TFRecordOptions(compression_type="GZIP"))
    again = cli("parity", scorer, "--inputs", packed, "--format", "frozen")
    assert again.exit_code == 0, again.output
    assert (
        f"inputs: {RECORDS} example(s) in 3 batch(es) of 64 records from {packed}" in again.output
    )


def test_a_folder_of_npz_files_one_batch_each(scorer, tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "batches"
    folder.mkdir()
    for name, count in (("a.npz", 50), ("b.npz", 30)):
        x, ids, _ = _examples(rng, count)
        np.savez(folder / name, x=x, ids=ids.astype(np.int32))
    (folder / "README.txt").write_text("not a batch: only .npz files are read\n")
    ran = cli("parity", scorer, "--inputs", folder, "--signature", "serving_default")
    assert ran.exit_code == 0, ran.output
    assert f"inputs: 80 example(s) in 2 batch(es) from {folder}" in ran.output
    assert ran.output.count("[ok] probs: max abs diff") == 2  # savedmodel and frozen
    assert "'parse'" not in ran.output
    # serialized protos in a fixed-width bytes array lose their trailing NUL bytes
    _, _, records = _examples(rng, 40)
    assert any(r.endswith(b"\0") for r in records)
    protos = tmp_path / "protos"
    protos.mkdir()
    np.savez(protos / "a.npz", examples=np.array(records))
    lossy = cli("parity", scorer, "--inputs", protos, "--signature", "parse")
    assert lossy.exit_code == 3, lossy.output
    assert "drop their trailing NUL bytes" in lossy.output
    np.savez(folder / "c.npz", x=np.zeros((2, 3), np.float32), idz=np.zeros((2, 2), np.int32))
    typo = cli("parity", scorer, "--inputs", folder, "--signature", "serving_default")
    assert typo.exit_code == 3 and "c.npz: array(s) idz name no input of the model" in typo.output
    unknown = cli("parity", scorer, "--signature", "serve")
    assert unknown.exit_code == 2 and "--signature serve: the export has no such" in unknown.output


def test_data_parity_cannot_use_is_one_line(scorer, tmp_path):
    _, _, records = _examples(np.random.default_rng(2), 20)
    cut = tmp_path / "cut.tfrecord"
    _write(cut, records)
    cut.write_bytes(cut.read_bytes()[:-7])
    truncated = cli("parity", scorer, "--inputs", cut)
    assert truncated.exit_code == 3
    assert "record 20 is cut short" in truncated.output and "truncated" in truncated.output
    text = tmp_path / "inputs.csv"
    text.write_text("x,ids\n1,2\n")
    wrong = cli("parity", scorer, "--inputs", text)
    assert wrong.exit_code == 3
    assert "neither an .npz, a folder of .npz files nor a TFRecord file" in wrong.output
    _, _, partial = _examples(np.random.default_rng(3), 4, with_ids=False)
    missing = tmp_path / "missing.tfrecord"
    _write(missing, partial)
    refused = cli("parity", scorer, "--inputs", missing, "--junit", tmp_path / "j.xml")
    assert refused.exit_code == 3, refused.output
    (line,) = [ln for ln in refused.output.splitlines() if ln.startswith("error:")]
    assert "missing.tfrecord (records 1 to 4): not Examples with the model's features" in line
    assert "ids" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = cli("parity", scorer, "--inputs", empty)
    assert nothing.exit_code == 3 and "a folder without .npz files" in nothing.output
