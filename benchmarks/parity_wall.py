"""`tf2java parity` wall time against its floor: what any parity must spend.

    python benchmarks/parity_wall.py [--repeat 3]     (make bench-parity)

The floor, each part timed on its own in this run: one Python process importing TensorFlow,
and one Java worker (a Python process without TensorFlow that starts a JVM with TensorFlow
Java's natives and answers with no job). Parity runs both sides, so the floor is their sum
when they run one after the other; parity overlaps them. Measured on the demo model and an
image model (Keras MobileNetV2, 96x96x3, random weights), batch 64, as medians of --repeat
runs of `tf2java parity OUT` with its compiled classes cached (the first, cold run shown
apart).

Then four exports (demo, image and a copy of each): `tf2java parity A B C D` in one run
against four runs, and against the floor plus each model's own share (its single run's wall
less the floor), the bound a run of several exports should stay within 1.3x of."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.java_stub import BUILD  # noqa: E402


def wall(command: list[str], env: dict) -> float:
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from exporter.java import javaenv

    with tempfile.TemporaryDirectory(prefix="tf2java-bench-") as tmp:
        work = Path(tmp)
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONPATH=str(ROOT),
            TF2JAVA_CACHE=str(work / "cache"),
        )
        wall([sys.executable, "-c", BUILD, str(work)], env)
        tf_floor = statistics.median(
            wall([sys.executable, "-c", "import tensorflow"], env) for _ in range(args.repeat)
        )
        jvm = []
        for i in range(args.repeat):
            (work / f"w{i}").mkdir()
            started = time.monotonic()
            javaenv.run_worker(work / f"w{i}", 300, jobs=[])
            jvm.append(time.monotonic() - started)
        jvm_floor = statistics.median(jvm)
        floor = tf_floor + jvm_floor
        print(
            f"floor: import tensorflow {tf_floor:.2f} s + Java worker with TensorFlow Java "
            f"{jvm_floor:.2f} s = {floor:.2f} s ({os.cpu_count()} cores)"
        )
        tf2java = [sys.executable, "-m", "exporter", "parity", "--batch", "64"]
        single = {}
        for model in ("demo", "image"):
            cold = wall([*tf2java, str(work / model)], env)
            warm = single[model] = statistics.median(
                wall([*tf2java, str(work / model)], env) for _ in range(args.repeat)
            )
            print(
                f"{model}: parity {warm:.2f} s = {warm / floor:.2f}x the floor "
                f"(first run, javac included: {cold:.2f} s = {cold / floor:.2f}x)"
            )
        four = []
        for model in ("demo", "image"):
            shutil.copytree(work / model, work / f"{model}2")
            four += [str(work / model), str(work / f"{model}2")]
        wall([*tf2java, *four], env)  # compiles the copies' classes once
        together = statistics.median(wall([*tf2java, *four], env) for _ in range(args.repeat))
        apart = statistics.median(
            sum(wall([*tf2java, out], env) for out in four) for _ in range(args.repeat)
        )
        bound = floor + 2 * sum(single[m] - floor for m in ("demo", "image"))
        print(
            f"4 exports: one run {together:.2f} s, four runs {apart:.2f} s; floor + each "
            f"model's share {bound:.2f} s: one run = {together / bound:.2f}x that"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
