"""How long the commands that only read files take, against Python importing numpy.

    python benchmarks/cli_start.py [--repeat 5] [--source CHECKOUT]     (make bench-start)

`--help`, and `inspect`, `java --no-compile`, `ops` and `scan` of the demo's export folder,
each as `python -m exporter ...` in a fresh process, medians of --repeat runs; the anchors are
`python -c pass` and `python -c "import numpy"`. `--source` times the commands of another
checkout of tf2java on the same export (an older commit, to compare)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = """
import sys
from pathlib import Path
from exporter.commands import demo_model
from exporter.commands.export import export
work = Path(sys.argv[1])
demo_model.save(work / "demo_src")
export(work / "demo_src", work / "demo", name="demo")
"""


def wall(command: list[str], env: dict, cwd: Path) -> float:
    """Seconds `command` takes, run in `cwd` (not a checkout: `-m` looks there first)."""
    started = time.monotonic()
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tf2java-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-c", BUILD, str(work)], env=env, check=True)
        env = dict(env, PYTHONPATH=str(args.source.resolve()), TF2JAVA_CACHE=str(work / "cache"))
        out = str(work / "demo")
        runs = {
            "python -c pass": ["-c", "pass"],
            'python -c "import numpy"': ["-c", "import numpy"],
            "tf2java --help": ["-m", "exporter", "--help"],
            "tf2java inspect OUT": ["-m", "exporter", "inspect", out],
            "tf2java java OUT --no-compile": [
                "-m",
                "exporter",
                "java",
                out,
                "--no-compile",
                "--force",
                "--out",
                str(work / "java"),
            ],  # fmt: skip
            "tf2java ops OUT": ["-m", "exporter", "ops", out],
            "tf2java scan OUT": ["-m", "exporter", "scan", out],
        }
        medians = {}
        for label, argv in runs.items():
            wall([sys.executable, *argv], env, work)  # a first run writes caches (.pyc, templates)
            medians[label] = statistics.median(
                wall([sys.executable, *argv], env, work) for _ in range(args.repeat)
            )
    numpy = medians['python -c "import numpy"']
    print(f"checkout: {args.source.resolve()}; medians of {args.repeat}")
    print("| command | wall | / import numpy |")
    print("| --- | --- | --- |")
    for label, seconds in medians.items():
        print(f"| `{label}` | {seconds:.2f} s | {seconds / numpy:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
