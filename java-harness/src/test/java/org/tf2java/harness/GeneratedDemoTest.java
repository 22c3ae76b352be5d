package org.tf2java.harness;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import com.example.models.BertClassifier;
import com.example.models.BertClassifierFrozen;
import com.example.models.BertClassifierSavedModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.BeforeClass;
import org.junit.Test;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TInt32;

/**
 * Runs the checked-in generated classes of the demo model (tests/golden/java) on TensorFlow
 * Java and compares them with the outputs Python TensorFlow computed for the same inputs.
 * tests/test_java_gradle.py exports the model, writes the inputs and expected outputs as .npy
 * files and passes their folder in the system property {@code tf2java.fixtures}.
 */
public class GeneratedDemoTest {
  private static final float ATOL = 1e-5f;
  private static Path fixtures;
  private static int[][] inputIds;
  private static int[][] inputMask;
  private static int[][] segmentIds;
  private static float[][] expected;

  @BeforeClass
  public static void readFixtures() throws Exception {
    String dir = System.getProperty("tf2java.fixtures");
    assumeTrue("needs -Ptf2java.fixtures=DIR, which tests/test_java_gradle.py gives", dir != null);
    fixtures = Paths.get(dir);
    inputIds = StdArrays.array2dCopyOf(GoldenNpy.read(fixtures.resolve("input_ids.npy")).ints());
    inputMask = StdArrays.array2dCopyOf(GoldenNpy.read(fixtures.resolve("input_mask.npy")).ints());
    segmentIds = StdArrays.array2dCopyOf(GoldenNpy.read(fixtures.resolve("segment_ids.npy")).ints());
    expected = StdArrays.array2dCopyOf(GoldenNpy.read(fixtures.resolve("pred_prob.npy")).floats());
  }

  private static void assertMatchesPython(float[][] actual) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertArrayEquals("row " + i, expected[i], actual[i], ATOL);
    }
  }

  @Test
  public void savedModelMatchesPython() throws Exception {
    try (BertClassifierSavedModel model =
        BertClassifierSavedModel.load(fixtures.resolve("export/saved_model"))) {
      assertMatchesPython(
          model.servingDefault(inputIds, inputMask, segmentIds).getLossPredProb());
    }
  }

  /**
   * close() under traffic: new calls are refused at once with ClosedException, running ones
   * end, and nothing reaches a closed session.
   */
  @Test
  public void closeRefusesNewCallsAndLetsRunningOnesEnd() throws Exception {
    BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"));
    java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
    java.util.List<Throwable> wrong = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    Thread[] callers = new Thread[4];
    for (int i = 0; i < callers.length; i++) {
      callers[i] = new Thread(() -> {
        try {
          while (true) {
            model.servingDefault(inputIds, inputMask, segmentIds);
            done.incrementAndGet();
          }
        } catch (BertClassifier.ClosedException e) {
          if (!e.getMessage().equals(
              "the model is closed: signature 'serving_default' was not run")) {
            wrong.add(e);
          }
        } catch (Throwable e) {
          wrong.add(e);
        }
      });
      callers[i].start();
    }
    while (done.get() < 8) {
      Thread.sleep(5);
    }
    assertTrue("freed within the wait", model.close(java.time.Duration.ofSeconds(30)));
    for (Thread caller : callers) {
      caller.join(30_000);
      assertTrue("a caller still runs", !caller.isAlive());
    }
    assertTrue(wrong.toString(), wrong.isEmpty());
    model.close(); // twice: nothing
    try {
      model.servingDefault(inputIds, inputMask, segmentIds);
      fail("a closed model ran a call");
    } catch (BertClassifier.ClosedException e) {
      assertTrue(e instanceof IllegalStateException);
    }
  }

  /** An id past the embedding's rows, or a negative one, is refused naming the input. */
  @Test
  public void idsOutsideTheEmbeddingAreRefusedAtEntry() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      for (int bad : new int[] {-1, 1000}) {
        int[][] ids = new int[inputIds.length][];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = inputIds[i].clone();
        }
        ids[1][5] = bad;
        try {
          model.servingDefault(ids, inputMask, segmentIds);
          fail("id " + bad + " was accepted");
        } catch (IllegalArgumentException e) {
          assertEquals(
              "input 'input_ids' holds " + bad + " (element " + (ids[0].length + 5)
                  + " in row-major order); its values index the 1000 rows of 'word_embeddings',"
                  + " so each must be in [0, 1000)",
              e.getMessage());
        }
      }
    }
  }

  @Test
  public void bothFormatsServeOneInterfaceWithFlatAndNdArrayViews() throws Exception {
    BertClassifier[] models = {
      BertClassifierSavedModel.load(fixtures.resolve("export/saved_model")),
      BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb")),
    };
    for (BertClassifier model : models) {
      try (BertClassifier m = model) {
        BertClassifier.ServingDefaultResult result =
            m.servingDefault(inputIds, inputMask, segmentIds);
        assertMatchesPython(result.getLossPredProb());
        long[] shape = result.getLossPredProbShape();
        assertArrayEquals(new long[] {expected.length, expected[0].length}, shape);
        float[] flat = result.getLossPredProbFlat();
        flat[0] = 42f; // a copy: the result keeps its own
        assertEquals(expected[0][0], result.getLossPredProbFlat()[0], ATOL);
        assertTrue(result.toString(), result.toString().startsWith(
            "ServingDefaultResult{loss/pred_prob=[" + expected.length + ", 7] ["));
        assertEquals(expected[1][3], flat[expected[0].length + 3], ATOL);
        assertEquals(expected[1][3], result.getLossPredProbNd().getFloat(1, 3), ATOL);
        java.nio.FloatBuffer buffer = result.getLossPredProbBuffer();
        assertTrue(buffer.isReadOnly());
        assertEquals(flat.length, buffer.remaining());
        assertEquals(expected[1][3], buffer.get(expected[0].length + 3), ATOL);
      }
    }
  }

  @Test
  public void oneExampleGivesItsRow() throws Exception {
    try (BertClassifier model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      BertClassifier.ServingDefaultOneResult one =
          model.servingDefaultOne(inputIds[1], inputMask[1], segmentIds[1]);
      assertArrayEquals(expected[1], one.getLossPredProb(), ATOL);
      assertArrayEquals(new long[] {7}, one.getLossPredProbShape());
      assertEquals(7, one.getLossPredProbBuffer().remaining());
      assertTrue(one.toString(), one.toString().startsWith("ServingDefaultOneResult{loss/pred_prob=[7] ["));
    }
  }

  @Test
  public void aRequestNamesEachInput() throws Exception {
    try (BertClassifier model = BertClassifierSavedModel.load(fixtures.resolve("export/saved_model"))) {
      float[][] named = model.servingDefault(new BertClassifier.ServingDefaultRequest()
          .segmentIds(segmentIds).inputIds(inputIds).inputMask(inputMask)).getLossPredProb();
      assertMatchesPython(named);
      try {
        model.servingDefault(new BertClassifier.ServingDefaultRequest().inputIds(inputIds).segmentIds(segmentIds));
        fail("a request without input_mask ran");
      } catch (IllegalArgumentException e) {
        assertEquals("signature 'serving_default': the request sets no input 'input_mask'; call inputMask(...)",
            e.getMessage());
      }
    }
  }

  @Test
  public void failuresComeInTheirFamilies() throws Exception {
    try {
      BertClassifierFrozen.load(fixtures.resolve("export/no-such.pb"));
      fail("a missing file loads");
    } catch (BertClassifier.LoadException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("no-such.pb"));
    }
    try {
      BertClassifierSavedModel.load(fixtures.resolve("export/no-such-dir"));
      fail("a missing SavedModel loads");
    } catch (BertClassifier.LoadException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("no-such-dir"));
    }
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      int[][] outOfVocabulary = new int[inputIds.length][inputIds[0].length];
      for (int[] row : outOfVocabulary) {
        java.util.Arrays.fill(row, 1 << 30);
      }
      model.servingDefault(outOfVocabulary, inputMask, segmentIds);
      fail("ids outside the embedding table run");
    } catch (IllegalArgumentException e) { // refused at entry, before TensorFlow fails on them
      assertTrue(e.getMessage(), e.getMessage().startsWith("input 'input_ids' holds 1073741824"));
    }
  }

  @Test
  public void frozenGraphMatchesPython() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      assertMatchesPython(
          model.servingDefault(inputIds, inputMask, segmentIds).getLossPredProb());
    }
  }

  @Test
  public void bothLoadFromTheClasspath() throws Exception {
    try (BertClassifierFrozen frozen = BertClassifierFrozen.loadResource("/export/frozen.pb");
        BertClassifierSavedModel saved =
            BertClassifierSavedModel.loadResource("/export/saved_model")) {
      assertMatchesPython(frozen.servingDefault(inputIds, inputMask, segmentIds).getLossPredProb());
      assertMatchesPython(saved.servingDefault(inputIds, inputMask, segmentIds).getLossPredProb());
    }
  }

  @Test
  public void probabilitiesSumToOne() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      for (float[] row : model.servingDefault(inputIds, inputMask, segmentIds).getLossPredProb()) {
        assertEquals(7, row.length);
        float sum = 0;
        for (float p : row) {
          sum += p;
        }
        assertEquals(1.0f, sum, 1e-5f);
      }
    }
  }

  @Test
  public void wrongShapeNamesTheInput() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      model.servingDefault(new int[2][5], inputMask, segmentIds);
      fail("a (2, 5) input_ids was accepted");
    } catch (IllegalArgumentException e) {
      assertEquals("input 'input_ids': expected shape (?, 128), got (2, 5)", e.getMessage());
    }
  }

  @Test
  public void nullInputIsRefused() throws Exception {
    try (BertClassifierSavedModel model =
        BertClassifierSavedModel.load(fixtures.resolve("export/saved_model"))) {
      model.servingDefault(inputIds, null, segmentIds);
      fail("a null input_mask was accepted");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("'input_mask' is null"));
    }
  }

  @Test
  public void theNdArrayOverloadGivesTheSame() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      assertMatchesPython(
          model
              .servingDefault(
                  StdArrays.ndCopyOf(inputIds),
                  StdArrays.ndCopyOf(inputMask),
                  StdArrays.ndCopyOf(segmentIds))
              .getLossPredProb());
    }
  }

  /** A (rows, 128) array's elements in row-major order, copied in bulk. */
  private static int[] flat(int[][] rows) {
    int[] flat = new int[rows.length * rows[0].length];
    StdArrays.ndCopyOf(rows).copyTo(DataBuffers.of(flat, false, false));
    return flat;
  }

  @Test
  public void flatArraysAndBuffersGiveTheSame() throws Exception {
    long[] shape = {inputIds.length, inputIds[0].length};
    int[] ids = flat(inputIds);
    int[] mask = flat(inputMask);
    int[] segments = flat(segmentIds);
    // a heap buffer read from its position, and a direct one in native order
    IntBuffer heap = IntBuffer.allocate(ids.length + 3);
    heap.position(3);
    heap.put(ids).position(3);
    IntBuffer direct =
        ByteBuffer.allocateDirect(4 * mask.length).order(ByteOrder.nativeOrder()).asIntBuffer();
    direct.put(mask).flip();
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      assertMatchesPython(
          model.servingDefault(ids, shape, mask, shape, segments, shape).getLossPredProb());
      assertMatchesPython(
          model
              .servingDefault(heap, shape, direct, shape, IntBuffer.wrap(segments), shape)
              .getLossPredProb());
      assertEquals(3, heap.position());
      assertEquals(0, direct.position());
    }
  }

  @Test
  public void flatDataMustFitItsShape() throws Exception {
    int[] ids = flat(inputIds);
    long[] shape = {inputIds.length, 128};
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      try {
        model.servingDefault(ids, new long[] {2, 128}, flat(inputMask), shape, flat(segmentIds), shape);
        fail("512 ids with a shape of (2, 128) were accepted");
      } catch (IllegalArgumentException e) {
        assertEquals("input 'input_ids' has 512 elements, but its shape (2, 128) holds 256",
            e.getMessage());
      }
      try {
        model.servingDefault(ids, new long[] {8, 64}, flat(inputMask), shape, flat(segmentIds), shape);
        fail("a (8, 64) input_ids was accepted");
      } catch (IllegalArgumentException e) {
        assertEquals("input 'input_ids': expected shape (?, 128), got (8, 64)", e.getMessage());
      }
      try {
        model.servingDefault(ids, shape, flat(inputMask), null, flat(segmentIds), shape);
        fail("a null shape was accepted");
      } catch (IllegalArgumentException e) {
        assertEquals("the shape of input 'input_mask' is null", e.getMessage());
      }
    }
  }

  @Test
  public void tensorsAreFedAsTheyAreAndStayOpen() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"));
        TInt32 ids = TInt32.tensorOf(StdArrays.ndCopyOf(inputIds));
        TInt32 mask = TInt32.tensorOf(StdArrays.ndCopyOf(inputMask));
        TInt32 segments = TInt32.tensorOf(StdArrays.ndCopyOf(segmentIds))) {
      assertMatchesPython(model.servingDefault(ids, mask, segments).getLossPredProb());
      assertMatchesPython(model.servingDefault(ids, mask, segments).getLossPredProb());
      assertEquals(inputIds[1][2], ids.getInt(1, 2));
    }
  }

  @Test
  public void raggedRowsAndOtherBatchesAreRefusedByName() throws Exception {
    int[][] ragged = new int[inputIds.length][];
    ragged[0] = inputIds[0];
    for (int i = 1; i < ragged.length; i++) {
      ragged[i] = new int[i == 1 ? 127 : 128];
    }
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      try {
        model.servingDefault(ragged, inputMask, segmentIds);
        fail("a ragged input_ids was accepted");
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage(), e.getMessage().startsWith("input 'input_ids' is ragged"));
      }
      try {
        model.servingDefault(inputIds, new int[inputIds.length + 1][128], segmentIds);
        fail("batches of different sizes were accepted");
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage(), e.getMessage().contains("'input_ids' and 'input_mask'"));
      }
      int[][] nullRow = inputIds.clone();
      nullRow[0] = null;
      try {
        model.servingDefault(inputIds, inputMask, nullRow);
        fail("a null row was accepted");
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage(), e.getMessage().contains("'segment_ids'"));
      }
    }
  }

  @Test
  public void shapesPastWhatATensorHoldsAreRefusedNotAborted() throws Exception {
    long[] shape = {inputIds.length, 128};
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      // 2^57 x 128 wraps a long to 0: an empty array would "fit", and TensorFlow aborts the JVM
      long[][] huge = {{1L << 57, 128}, {Long.MAX_VALUE, 128}};
      for (long[] dims : huge) {
        try {
          model.servingDefault(new int[0], dims, flat(inputMask), shape, flat(segmentIds), shape);
          fail("shape (" + dims[0] + ", 128) was accepted");
        } catch (IllegalArgumentException e) {
          assertTrue(e.getMessage(), e.getMessage().startsWith("input 'input_ids': shape ("));
          assertTrue(e.getMessage(), e.getMessage().endsWith("holds more elements than a tensor can"));
        }
        try {
          model.servingDefault(java.nio.IntBuffer.allocate(0), dims,
              java.nio.IntBuffer.wrap(flat(inputMask)), shape,
              java.nio.IntBuffer.wrap(flat(segmentIds)), shape);
          fail("shape (" + dims[0] + ", 128) was accepted by the buffer overload");
        } catch (IllegalArgumentException e) {
          assertTrue(e.getMessage(), e.getMessage().endsWith("holds more elements than a tensor can"));
        }
      }
      try {
        model.servingDefault(new int[0], new long[] {-2, 128}, flat(inputMask), shape, flat(segmentIds), shape);
        fail("a negative dimension was accepted");
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage(), e.getMessage().contains("'input_ids'"));
      }
    }
  }

  @Test
  public void theNdArrayOverloadChecksOneBatchToo() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      try {
        model.servingDefault(StdArrays.ndCopyOf(inputIds),
            StdArrays.ndCopyOf(java.util.Arrays.copyOf(inputMask, 1)), StdArrays.ndCopyOf(segmentIds));
        fail("NdArrays of batch " + inputIds.length + " and 1 were broadcast");
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage(), e.getMessage().contains("'input_ids' and 'input_mask'"));
      }
    }
  }

  @Test
  public void anEmptyBatchKeepsItsInnerShape() throws Exception {
    try (BertClassifierFrozen model = BertClassifierFrozen.load(fixtures.resolve("export/frozen.pb"))) {
      int[][] none = new int[0][];
      float[][] probs = model.servingDefault(none, none, none).getLossPredProb();
      assertEquals(0, probs.length);
    }
  }

  @Test
  public void exporterVersionIsRecorded() {
    assertTrue(BertClassifierFrozen.EXPORTED_WITH_TENSORFLOW.startsWith("2.18"));
  }
}
