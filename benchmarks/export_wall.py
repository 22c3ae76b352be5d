"""`tf2java export` wall time against its floor, per --format.

    python benchmarks/export_wall.py [--repeat 3]     (make bench-export)

The model: Keras MobileNetV2 (96x96x3, random weights, nothing downloaded) as a .keras file.
The floor, timed in this run as one process: import TensorFlow, `keras.models.load_model`,
one SavedModel written by `model.export`, one forward pass: what any export of this model
must do. Each `tf2java export --format F` runs as a fresh process; medians of --repeat."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.parity_wall import wall  # noqa: E402

MAKE = """
import sys
import keras
keras.utils.set_random_seed(1)
model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None, classes=10)
model.save(sys.argv[1])
"""

FLOOR = """
import sys
import numpy as np
import tensorflow as tf
import keras
model = keras.models.load_model(sys.argv[1], compile=False)
model.export(sys.argv[2], format="tf_saved_model", verbose=False)
model(np.zeros((2, 96, 96, 3), np.float32))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tf2java-export-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
        src = work / "mobilenet.keras"
        wall([sys.executable, "-c", MAKE, str(src)], env)

        def floor_once() -> float:
            shutil.rmtree(work / "floor", ignore_errors=True)
            return wall([sys.executable, "-c", FLOOR, str(src), str(work / "floor")], env)

        def export_once(fmt: str) -> float:
            shutil.rmtree(work / fmt, ignore_errors=True)
            command = [sys.executable, "-m", "exporter", "export", str(src), str(work / fmt)]
            return wall([*command, "--format", fmt], env)

        floor = statistics.median(floor_once() for _ in range(args.repeat))
        print(
            f"export of MobileNetV2 96x96x3 (.keras), median of {args.repeat}, "
            f"{os.cpu_count()} cores"
        )
        print(f"  floor (import, load_model, export a SavedModel, one forward pass): {floor:.2f} s")
        for fmt in ("savedmodel", "frozen", "both"):
            took = statistics.median(export_once(fmt) for _ in range(args.repeat))
            print(f"  --format {fmt:10} {took:6.2f} s = {took / floor:.2f}x the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
