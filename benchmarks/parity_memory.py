"""Summed peak resident memory of `tf2java parity` (the Python TensorFlow process and the
Java worker with its JVM), against the weights and both floors.

    python benchmarks/parity_memory.py [--mib 288]     (make bench-parity-memory)

The model of benchmarks/java_memory.py (y = x @ W, W float32 of --mib MiB), exported as
frozen.pb and a SavedModel; `tf2java parity OUT --format F` for each format on its own. A
sampler reads the resident set (VmRSS) of every process of the run's tree every 20 ms: the
summed peak is the largest sum at one instant, and each process's own peak is its VmHWM. The
floors are the same sampler on `python -c "import tensorflow"` and on a Java worker that
starts TensorFlow Java and runs no job."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.java_memory import BUILD  # noqa: E402

WORKER_ONLY = (
    "import sys; from pathlib import Path; from exporter.java import javaenv; "
    "javaenv.run_worker(Path(sys.argv[1]), 300, jobs=[])"
)


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in KiB, and its parent; {} when it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "PPid"):
            found[key] = int(value.split()[0])
    return found


def sampled(command: list[str], env: dict, cwd: Path) -> tuple[float, dict[int, float]]:
    """Runs `command`; (its tree's summed peak in MiB, each process's own peak in MiB)."""
    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    tree, peak_sum, peaks = {proc.pid}, 0, {}
    while proc.poll() is None:
        states = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                state = _status(int(entry))
                if state.get("PPid") in tree or int(entry) in tree:
                    tree.add(int(entry))
                    states[int(entry)] = state
        peak_sum = max(peak_sum, sum(s.get("VmRSS", 0) for s in states.values()))
        for pid, state in states.items():
            peaks[pid] = max(peaks.get(pid, 0), state.get("VmHWM", 0))
        time.sleep(0.02)
    output = proc.stdout.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{output[-3000:]}")
    return peak_sum / 1024, {pid: kib / 1024 for pid, kib in peaks.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=288, help="MiB of weights")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tf2java-pmem-") as tmp:
        work = Path(tmp)
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONPATH=str(ROOT),
            TF2JAVA_CACHE=str(work / "cache"),
        )
        subprocess.run([sys.executable, "-c", BUILD, str(work), str(args.mib)], env=env, check=True)
        weights = (work / "out" / "frozen.pb").stat().st_size / 2**20
        tf_floor, _ = sampled([sys.executable, "-c", "import tensorflow"], env, work)
        (work / "w").mkdir()
        worker_sum, _ = sampled([sys.executable, "-c", WORKER_ONLY, str(work / "w")], env, work)
        floors = tf_floor + worker_sum
        print(
            f"W = {weights:.0f} MiB; floors: import tensorflow {tf_floor:.0f} MiB + a Java "
            f"worker with TensorFlow Java {worker_sum:.0f} MiB = {floors:.0f} MiB"
        )
        print("| parity --format | summed peak | above both floors | largest process |")
        print("| --- | --- | --- | --- |")
        for fmt in ("savedmodel", "frozen"):
            command = [sys.executable, "-m", "exporter", "parity", str(work / "out")]
            sampled([*command, "--format", fmt], env, work)  # compiles the classes once
            total, peaks = sampled([*command, "--format", fmt], env, work)
            above = total - floors
            print(
                f"| {fmt} | {total:,.0f} MiB | {above:,.0f} MiB ({above / weights:.2f} W) | "
                f"{max(peaks.values()):,.0f} MiB |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
