"""What the generated Java costs over raw TensorFlow Java, on the data path.

    python benchmarks/java_stub.py [--rounds 15]     (make bench-java)

Exports the demo model (int32 (?, 128) x3 -> float32 (?, 7)) and an image model (Keras
MobileNetV2, 96x96x3, random weights: nothing is downloaded) in both formats, generates their
classes, and times in one JVM, per model, format and batch (1 and 64), three ways of one call:

- raw: what a careful hand-written caller does: tensors from flat arrays
  (`tensorOf(shape, DataBuffers.of(flat))`), `session.runner().feed().fetch().run()`, and the
  output copied out to a flat array;
- stub: the generated method with nested Java arrays (`float[64][96][96][3]`), returning
  nested arrays;
- stub-nd: the generated NdArray overload, on NdArrays wrapping the same flat arrays;
- stub-flat: the generated overload that takes each input as a flat array and its shape.

It also times filling one 64x96x96x3 input: a flat copy of its floats, the generated classes'
copy of the nested array (`Tf2JavaSupport.flatten`, one innermost row at a time), and
TensorFlow Java's `StdArrays.copyTo`.

Each is warmed up, then timed for --rounds rounds of --calls calls; the table gives the
median milliseconds per call and the ratio of each stub to raw."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_JAVA = """
package bench;

import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.buffer.FloatDataBuffer;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

public final class Bench {
  interface Call { Object run() throws Exception; }

  static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  /** Medians of ms per call; the ways take turns within each round, so drift hits all. */
  static double[] time(int rounds, int calls, Call... ways) throws Exception {
    for (Call way : ways) for (int i = 0; i < Math.max(3, calls); i++) way.run();
    double[][] perCall = new double[ways.length][rounds];
    for (int r = 0; r < rounds; r++) {
      for (int w = 0; w < ways.length; w++) {
        int way = (w + r) % ways.length;
        long start = System.nanoTime();
        for (int i = 0; i < calls; i++) ways[way].run();
        perCall[way][r] = (System.nanoTime() - start) / 1e6 / calls;
      }
    }
    double[] medians = new double[ways.length];
    for (int w = 0; w < ways.length; w++) medians[w] = median(perCall[w]);
    return medians;
  }

  static void report(String label, double[] t) {
    System.out.printf("%-30s raw %8.3f ms  stub %8.3f ms (%.2fx)  stub-nd %8.3f ms (%.2fx)"
        + "  stub-flat %8.3f ms (%.2fx)%n",
        label, t[0], t[1], t[1] / t[0], t[2], t[2] / t[0], t[3], t[3] / t[0]);
  }

  static float[] rawRun(Session session, String[] feeds, Tensor[] inputs, String fetch) {
    Session.Runner runner = session.runner();
    for (int i = 0; i < feeds.length; i++) {
      String[] op = feeds[i].split(":");
      runner.feed(op[0], Integer.parseInt(op[1]), inputs[i]);
    }
    String[] name = fetch.split(":");
    try (Result result = runner.fetch(name[0], Integer.parseInt(name[1])).run()) {
      TFloat32 out = (TFloat32) result.get(0);
      float[] flat = new float[(int) out.size()];
      out.copyTo(DataBuffers.of(flat, false, false));
      return flat;
    }
  }

  public static void main(String[] args) throws Exception {
    String dir = args[0];
    int rounds = Integer.parseInt(args[1]);
    Random random = new Random(7);
    for (int batch : new int[] {1, 64}) {
      int calls = batch == 1 ? 50 : 5;
      // the demo model: three int32 (batch, 128) inputs
      int[] flatIds = new int[batch * 128];
      for (int i = 0; i < flatIds.length; i++) flatIds[i] = random.nextInt(2);
      int[][] ids = new int[batch][128];
      for (int b = 0; b < batch; b++) System.arraycopy(flatIds, b * 128, ids[b], 0, 128);
      Shape idShape = Shape.of(batch, 128);
      long[] idDims = idShape.asArray();
      String[] demoFeeds = {"input_ids:0", "input_mask:0", "segment_ids:0"};
      try (DemoSavedModel stub = DemoSavedModel.load(Paths.get(dir, "demo/saved_model"));
           SavedModelBundle bundle = SavedModelBundle.load(dir + "/demo/saved_model", "serve")) {
        Session session = bundle.session();
        String[] sigFeeds = args[2].split(",");
        double[] t = time(rounds, calls, () -> {
          try (TInt32 a = TInt32.tensorOf(idShape, DataBuffers.of(flatIds, true, false));
               TInt32 b = TInt32.tensorOf(idShape, DataBuffers.of(flatIds, true, false));
               TInt32 c = TInt32.tensorOf(idShape, DataBuffers.of(flatIds, true, false))) {
            return rawRun(session, sigFeeds, new Tensor[] {a, b, c}, args[3]);
          }
        },
            () -> stub.servingDefault(ids, ids, ids),
            () -> stub.servingDefault(
            NdArrays.wrap(idShape, DataBuffers.of(flatIds, true, false)),
            NdArrays.wrap(idShape, DataBuffers.of(flatIds, true, false)),
            NdArrays.wrap(idShape, DataBuffers.of(flatIds, true, false))),
            () -> stub.servingDefault(flatIds, idDims, flatIds, idDims, flatIds, idDims));
        report("demo savedmodel batch " + batch, t);
      }
      try (DemoFrozen stub = DemoFrozen.load(Paths.get(dir, "demo/frozen.pb"));
           Graph graph = new Graph()) {
        graph.importGraphDef(GraphDef.parseFrom(
            java.nio.file.Files.readAllBytes(Paths.get(dir, "demo/frozen.pb"))));
        try (Session session = new Session(graph)) {
          double[] t = time(rounds, calls, () -> {
            try (TInt32 a = TInt32.tensorOf(idShape, DataBuffers.of(flatIds, true, false));
                 TInt32 b = TInt32.tensorOf(idShape, DataBuffers.of(flatIds, true, false));
                 TInt32 c = TInt32.tensorOf(idShape, DataBuffers.of(flatIds, true, false))) {
              return rawRun(session, demoFeeds, new Tensor[] {a, b, c}, "loss/pred_prob:0");
            }
          },
              () -> stub.servingDefault(ids, ids, ids),
              () -> stub.servingDefault(
              NdArrays.wrap(idShape, DataBuffers.of(flatIds, true, false)),
              NdArrays.wrap(idShape, DataBuffers.of(flatIds, true, false)),
              NdArrays.wrap(idShape, DataBuffers.of(flatIds, true, false))),
            () -> stub.servingDefault(flatIds, idDims, flatIds, idDims, flatIds, idDims));
          report("demo frozen batch " + batch, t);
        }
      }
      // the image model: one float32 (batch, 96, 96, 3) input
      float[] flatImages = new float[batch * 96 * 96 * 3];
      for (int i = 0; i < flatImages.length; i++) flatImages[i] = random.nextFloat();
      float[][][][] images = new float[batch][96][96][3];
      int offset = 0;
      for (float[][][] image : images)
        for (float[][] row : image)
          for (float[] pixel : row) {
            System.arraycopy(flatImages, offset, pixel, 0, 3);
            offset += 3;
          }
      Shape imageShape = Shape.of(batch, 96, 96, 3);
      long[] imageDims = imageShape.asArray();
      FloatDataBuffer imageData = DataBuffers.of(flatImages, true, false);
      if (batch == 64) {  // filling one input: the generated copy of a nested array, a flat copy
        long[] dims = {batch, 96, 96, 3};
        double[] fill = time(rounds, 5,
            () -> { float[] into = new float[flatImages.length];
                    System.arraycopy(flatImages, 0, into, 0, into.length); return into; },
            () -> Tf2JavaSupport.flatten("x", images, dims, new float[flatImages.length]),
            () -> { try (TFloat32 x = TFloat32.tensorOf(imageShape)) {
                      StdArrays.copyTo(images, x); return null; } });
        System.out.printf("fill 64x96x96x3: flat copy %.2f ms, generated nested copy %.2f ms "
            + "(%.1fx), StdArrays.copyTo %.2f ms (%.1fx)%n",
            fill[0], fill[1], fill[1] / fill[0], fill[2], fill[2] / fill[0]);
      }
      try (ImageSavedModel stub = ImageSavedModel.load(Paths.get(dir, "image/saved_model"));
           SavedModelBundle bundle = SavedModelBundle.load(dir + "/image/saved_model", "serve")) {
        Session session = bundle.session();
        double[] t = time(rounds, calls, () -> {
          try (TFloat32 x = TFloat32.tensorOf(imageShape, imageData)) {
            return rawRun(session, new String[] {args[4]}, new Tensor[] {x}, args[5]);
          }
        },
            () -> stub.servingDefault(images),
            () -> stub.servingDefault(
            NdArrays.wrap(imageShape, DataBuffers.of(flatImages, true, false))),
            () -> stub.servingDefault(flatImages, imageDims));
        report("image savedmodel batch " + batch, t);
      }
      try (ImageFrozen stub = ImageFrozen.load(Paths.get(dir, "image/frozen.pb"));
           Graph graph = new Graph()) {
        graph.importGraphDef(GraphDef.parseFrom(
            java.nio.file.Files.readAllBytes(Paths.get(dir, "image/frozen.pb"))));
        try (Session session = new Session(graph)) {
          double[] t = time(rounds, calls, () -> {
            try (TFloat32 x = TFloat32.tensorOf(imageShape, imageData)) {
              return rawRun(session, new String[] {args[6]}, new Tensor[] {x}, args[7]);
            }
          },
              () -> stub.servingDefault(images),
              () -> stub.servingDefault(
              NdArrays.wrap(imageShape, DataBuffers.of(flatImages, true, false))),
            () -> stub.servingDefault(flatImages, imageDims));
          report("image frozen batch " + batch, t);
        }
      }
    }
  }
}
"""

BUILD = """
import sys
from pathlib import Path

import keras

from exporter.java import writing
from exporter.commands import demo_model
from exporter.core import manifest
from exporter.commands.export import export

work = Path(sys.argv[1])
demo_model.save(work / "demo_src")
export(work / "demo_src", work / "demo", name="demo")
keras.utils.set_random_seed(1)
model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None, classes=10)
model.save(work / "image.keras")
export(work / "image.keras", work / "image", name="image")
for name, base in (("demo", "Demo"), ("image", "Image")):
    data, sha = manifest.read(work / name)
    writing.generate(data, sha, work / "src", package="bench", class_name=base)
names = []  # the raw caller's feeds and fetches, from the manifests
for name in ("demo", "image"):
    data = manifest.read(work / name)[0]
    for fmt in ("savedmodel", "frozen"):
        sig = data.artifact(fmt).signatures[0]
        names.append(",".join(t.tensor_name for t in sig.inputs))
        names.append(sig.outputs[0].tensor_name)
print(" ".join(names[0:2] + names[4:8]))
"""


def build(work: Path, env: dict) -> list[str] | None:
    """Runs BUILD into `work`: the demo and image exports and their classes (package
    `bench`). Returns the raw caller's feed and fetch names, or None after printing why not."""
    built = subprocess.run(
        [sys.executable, "-c", BUILD, str(work)], capture_output=True, text=True, env=env
    )
    if built.returncode != 0:
        print(built.stderr[-3000:], file=sys.stderr)
        return None
    return built.stdout.split()[-6:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from exporter.java import javaenv

    with tempfile.TemporaryDirectory(prefix="tf2java-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(root))
        names = build(work, env)
        if names is None:
            return 1
        (work / "src" / "bench" / "Bench.java").write_text(BENCH_JAVA)
        sources = sorted((work / "src").rglob("*.java"))
        javaenv.compile_sources(sources, work / "classes")
        cp = os.pathsep.join([*javaenv.classpath(), str(work / "classes")])
        java = javaenv.java_home() / "bin" / "java"
        print(
            f"generated stub vs raw TensorFlow Java {javaenv.runtime_version()}, "
            f"median of {args.rounds} rounds, {os.cpu_count()} cores"
        )
        proc = subprocess.run(
            [str(java), "-cp", cp, "bench.Bench", str(work), str(args.rounds), *names],
            env=env,
            text=True,
        )
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
