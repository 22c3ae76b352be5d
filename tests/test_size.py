"""Big models: one too large for one protobuf message (the frozen format says so before it
spends any time, and the SavedModel format takes it), and the memory an export of 1 GiB of
weights takes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from benchmarks.export_memory import measure
from exporter.cli import main
from exporter.errors import EXIT_MODEL
from exporter.targets.frozen import PROTOBUF_LIMIT, size_estimate

ROWS = 2**31 // (4 * 4096) + 64  # float32 rows of 4096: just over 2 GiB


class Huge(tf.Module):
    def __init__(self):
        super().__init__()
        self.table = tf.Variable(tf.zeros((ROWS, 4096)))

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.int32, name="ids")])
    def serve(self, ids):
        return {"rows": tf.reduce_sum(tf.gather(self.table, ids), axis=1)}


@pytest.mark.slow
def test_over_two_gigabytes(tmp_path):
    model = Huge()
    tf.saved_model.save(model, str(tmp_path / "src"), signatures={"serving_default": model.serve})
    del model
    assert size_estimate(tmp_path / "src") > PROTOBUF_LIMIT
    result = CliRunner().invoke(
        main, ["export", str(tmp_path / "src"), str(tmp_path / "frozen"), "--format", "frozen"]
    )
    assert result.exit_code == EXIT_MODEL
    assert "over protobuf's 2 GiB limit" in result.output and "--format savedmodel" in result.output
    assert not (tmp_path / "frozen").exists()
    result = CliRunner().invoke(
        main, ["export", str(tmp_path / "src"), str(tmp_path / "saved"), "--format", "savedmodel"]
    )
    assert result.exit_code == 0, result.output
    assert np.isclose(
        sum(p.stat().st_size for p in (tmp_path / "saved" / "saved_model" / "variables").iterdir()),
        ROWS * 4096 * 4,
        rtol=0.01,
    )


@pytest.mark.slow
def test_exporting_one_gibibyte_peaks_under_three_times_its_size():
    # Both formats, each checked against the source: the weights are loaded three times over
    # (source, SavedModel check, freezing) and read once more from frozen.pb, one at a time.
    figures = measure(1024, "both")
    assert 1 < figures["peak_over_weights"] < 3, figures
