"""Cold start in Java: from JVM start to the first result, with the generated classes and
with raw TensorFlow Java doing the same, for both artifact kinds.

    python benchmarks/cold_start.py [--repeat 5]     (make bench-cold)

The image model of `java_stub.py` (Keras MobileNetV2, 96x96x3, random weights), batch 1.
Each way runs in a fresh JVM, --repeat times; the JVM measures from its own start time
(RuntimeMXBean) to the moment it holds the first result, and says how much of that was
loading and how much the first call. The floor: a JVM that loads TensorFlow Java's natives
(`TensorFlow.version()`) and stops."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.java_stub import build  # noqa: E402

COLD_JAVA = """
package bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.TensorFlow;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.types.TFloat32;

public final class Cold {
  private static long sinceStart() {
    return System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime();
  }

  private static String name(String tensor) {
    return tensor.substring(0, tensor.lastIndexOf(':'));
  }

  public static void main(String[] args) throws Exception {
    String way = args[0];
    String dir = args[1];
    float[] flat = new float[96 * 96 * 3];
    Random random = new Random(1);
    for (int i = 0; i < flat.length; i++) {
      flat[i] = random.nextFloat();
    }
    float[][][][] nested = new float[1][96][96][3];
    for (int i = 0; i < flat.length; i++) {
      nested[0][i / 288][(i / 3) % 96][i % 3] = flat[i];
    }
    if (way.equals("floor")) {
      TensorFlow.version();
      System.out.println(sinceStart() + " 0 0");
      return;
    }
    long begin = sinceStart();
    long loaded;
    float first;
    if (way.equals("stub-savedmodel")) {
      try (ImageSavedModel model = ImageSavedModel.load(Paths.get(dir, "image/saved_model"))) {
        loaded = sinceStart();
        first = model.servingDefault(nested).getPredictionsFlat()[0];
      }
    } else if (way.equals("stub-frozen")) {
      try (ImageFrozen model = ImageFrozen.load(Paths.get(dir, "image/frozen.pb"))) {
        loaded = sinceStart();
        first = model.servingDefault(nested).getPredictionsFlat()[0];
      }
    } else if (way.equals("raw-savedmodel")) {
      try (SavedModelBundle bundle = SavedModelBundle.load(dir + "/image/saved_model", "serve");
          TFloat32 in = TFloat32.tensorOf(Shape.of(1, 96, 96, 3), DataBuffers.of(flat))) {
        loaded = sinceStart();
        try (Result out = bundle.session().runner()
            .feed(name(args[2]), in).fetch(name(args[3])).run()) {
          first = ((TFloat32) out.get(0)).getFloat(0, 0);
        }
      }
    } else {
      GraphDef graphDef = GraphDef.parseFrom(Files.readAllBytes(Paths.get(dir, "image/frozen.pb")));
      try (Graph graph = new Graph()) {
        graph.importGraphDef(graphDef);
        try (Session session = new Session(graph);
            TFloat32 in = TFloat32.tensorOf(Shape.of(1, 96, 96, 3), DataBuffers.of(flat))) {
          loaded = sinceStart();
          try (Result out = session.runner().feed(name(args[4]), in).fetch(name(args[5])).run()) {
            first = ((TFloat32) out.get(0)).getFloat(0, 0);
          }
        }
      }
    }
    long done = sinceStart();
    if (Float.isNaN(first)) {
      throw new AssertionError("no result");
    }
    System.out.println(done + " " + (loaded - begin) + " " + (done - loaded));
  }
}
"""

WAYS = ("floor", "raw-savedmodel", "stub-savedmodel", "raw-frozen", "stub-frozen")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from exporter.java import javaenv

    with tempfile.TemporaryDirectory(prefix="tf2java-cold-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
        names = build(work, env)  # demo in/out, image saved in/out, frozen in/out
        if names is None:
            return 1
        (work / "src" / "bench" / "Cold.java").write_text(COLD_JAVA)
        javaenv.compile_sources(sorted((work / "src").rglob("*.java")), work / "classes")
        cp = os.pathsep.join([*javaenv.classpath(), str(work / "classes")])
        java = str(javaenv.java_home() / "bin" / "java")
        results = {}
        for _ in range(args.repeat):
            for way in WAYS:  # the ways take turns, so drift in the machine hits them alike
                proc = subprocess.run(
                    [java, "-cp", cp, "bench.Cold", way, str(work), *names[2:]],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                total, load, call = (int(x) for x in proc.stdout.split()[-3:])
                results.setdefault(way, []).append((total, load, call))
        floor = statistics.median(r[0] for r in results["floor"])
        print(
            f"JVM start to first result, MobileNetV2 96x96x3 batch 1, TensorFlow Java "
            f"{javaenv.runtime_version()}, median of {args.repeat}, {os.cpu_count()} cores"
        )
        print(f"  floor (JVM + TensorFlow Java natives): {floor:.0f} ms")
        for way in WAYS[1:]:
            total, load, call = (statistics.median(r[i] for r in results[way]) for i in range(3))
            print(
                f"  {way:16} {total:6.0f} ms = {total / floor:.2f}x the floor "
                f"(load {load:.0f} ms, first call {call:.0f} ms)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
