"""Peak resident memory of `tf2java export` on a model of a given weight size.

    python benchmarks/export_memory.py --mib 1024 --format frozen   (make bench-memory)

Builds a SavedModel (or with --source keras a .keras file, with --source frozen a frozen
.pb) holding one float32 matrix of about MIB mebibytes (in its own processes, so building
costs nothing here), then runs the export in a child process and reports the child's peak
resident set (getrusage's ru_maxrss) next to the weight size, and the resident set of a
process that only imports the exporter (the floor any export starts from)."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BUILD = """
import sys
import tensorflow as tf

n = int(sys.argv[2])

class Big(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.random.stateless_normal((n, n), seed=(1, 2)) * 0.01, name="w")

    @tf.function(input_signature=[tf.TensorSpec((None, n), tf.float32, name="x")])
    def serve(self, x):
        return {"y": tf.reduce_sum(tf.matmul(x, self.w), axis=1)}

m = Big()
tf.saved_model.save(m, sys.argv[1], signatures={"serving_default": m.serve})
"""
BUILD_KERAS = """
import sys
import keras

n = int(sys.argv[2])
x = keras.Input((n,), name="x")
model = keras.Model(x, keras.layers.Dense(n, use_bias=False, name="w")(x))
model.save(sys.argv[1])
"""
# source -> (file name, build script); "frozen" is the SavedModel's frozen.pb export.
SOURCES = {
    "savedmodel": ("src", BUILD),
    "keras": ("src.keras", BUILD_KERAS),
    "frozen": ("frozen.pb", BUILD),
}
FLOOR = """
import json, resource
import exporter.commands.export
print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def measure(mib: int, fmt: str, source: str = "savedmodel") -> dict:
    """Builds the model as `source` (savedmodel or keras), exports it with --format fmt and
    returns the figures."""
    n = int(math.sqrt(mib * 2**20 / 4))
    weights = n * n * 4
    work = Path(tempfile.mkdtemp(prefix="tf2java-bench-"))
    try:
        name, build = SOURCES[source]
        src = work / name
        if source == "frozen":
            _python("-c", build, str(work / "saved"), str(n))
            _python("-m", "exporter", "export", str(work / "saved"), str(work / "pb"))
            (work / "pb" / "frozen.pb").rename(src)
            shutil.rmtree(work / "saved")
            shutil.rmtree(work / "pb")
        else:
            _python("-c", build, str(src), str(n))
        floor = json.loads(_python("-c", FLOOR))["peak_kib"] * 1024
        # A fresh interpreter runs the export as its only child, so that getrusage's
        # RUSAGE_CHILDREN there holds the export alone, not the build above.
        cmd = [sys.executable, "-m", "exporter", "export", str(src), str(work / "out")]
        cmd += ["--format", fmt, "--batch", "1"]
        if source == "frozen":
            cmd += ["--input", "x=x:0", "--output", "y=y:0"]
        result = json.loads(_python("-c", _MEASURE, json.dumps(cmd)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "source": source,
        "format": fmt,
        "shape": [n, n],
        "weights_bytes": weights,
        "peak_rss_bytes": result["peak_kib"] * 1024,
        "import_floor_bytes": floor,
        "peak_over_weights": round(result["peak_kib"] * 1024 / weights, 2),
        "wall_seconds": round(result["wall"], 1),
        "cpus": os.cpu_count(),
    }


def _python(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"benchmark step failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="weight size (default 1024)")
    parser.add_argument(
        "--format", default="both", help="export --format (default both: savedmodel and frozen)"
    )
    parser.add_argument(
        "--source", choices=sorted(SOURCES), default="savedmodel", help="source format"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.mib, args.format, args.source)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    gib = 2**30
    n = figures["shape"][0]
    print(
        f"export {args.source} --format {args.format}: {n}x{n} float32 weights, "
        f"{figures['weights_bytes'] / gib:.2f} GiB"
    )
    print(
        f"  peak resident set {figures['peak_rss_bytes'] / gib:.2f} GiB "
        f"= {figures['peak_over_weights']:.2f}x the weights, {figures['wall_seconds']} s wall"
    )
    print(f"  (importing the exporter alone: {figures['import_floor_bytes'] / gib:.2f} GiB)")


_MEASURE = """
import json, resource, subprocess, sys, time
cmd = json.loads(sys.argv[1])
start = time.monotonic()
proc = subprocess.run(cmd, capture_output=True, text=True)
wall = time.monotonic() - start
if proc.returncode:
    sys.exit(proc.stdout + proc.stderr)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"peak_kib": peak, "wall": wall}))
"""

if __name__ == "__main__":
    main()
