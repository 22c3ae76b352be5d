"""How fast tensors cross between numpy and TensorFlow Java in `parity`'s worker.

    python benchmarks/crossing.py [--mib 28] [--repeat 5]     (make bench-crossing)

numpy -> Java: the worker's path for an input (a direct ByteBuffer over numpy's memory,
wrapped as an NdArray) and the tensor made from it. Java -> numpy: the path of an output of
a generated result (its flat Java array, read into numpy in one copy). Both against a plain
numpy copy of the same bytes; medians of --repeat rounds, in a process without TensorFlow, as
the worker is."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.core import dtypes  # noqa: E402
from exporter.java import javaenv, worker  # noqa: E402


def timed(fn, repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        rounds.append(time.perf_counter() - started)
    return statistics.median(rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import jpype

    jpype.startJVM(javaenv.jvm_path(), classpath=list(javaenv.classpath()), convertStrings=False)
    tfloat32 = jpype.JClass("org.tensorflow.types.TFloat32")
    value = np.random.default_rng(0).random(args.mib * 2**18, dtype=np.float32)
    value = value.reshape(-1, 96, 96, 4) if value.size % (96 * 96 * 4) == 0 else value
    size = value.nbytes
    param = {"key": "x", "dtype": "float32", "rank": -1}

    def to_java():
        keep: list = []
        with tfloat32.tensorOf(worker._to_nd(jpype, value, param, keep)):
            pass

    flat = jpype.JArray(jpype.JFloat)(value.reshape(-1))
    java = dtypes.get("float32")

    def to_numpy():
        java.from_java(np.asarray(flat, dtype=java.java_numpy).reshape(value.shape))

    base = timed(lambda: value.copy(), args.repeat)
    into = timed(to_java, args.repeat)
    out = timed(to_numpy, args.repeat)
    mb = size / 1e6
    print(f"{mb:.0f} MB float32, {args.repeat} rounds, medians")
    print(f"  numpy copy           {mb / base:8.0f} MB/s")
    print(f"  numpy -> Java tensor {mb / into:8.0f} MB/s ({into / base:.1f}x the numpy copy)")
    print(f"  Java array -> numpy  {mb / out:8.0f} MB/s ({out / base:.1f}x the numpy copy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
