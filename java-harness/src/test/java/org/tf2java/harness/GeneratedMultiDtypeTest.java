package org.tf2java.harness;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import com.example.models.MultiDtype;
import com.example.models.MultiDtypeFrozen;
import com.example.models.MultiDtypeSavedModel;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Runs the checked-in generated classes of tests/models.py's MultiDtype (int32, int64, float32,
 * bool and string inputs, a scalar among them) on TensorFlow Java, against values worked out
 * here from what the model computes: scaled = ids * scale + offset, total = the sum of ids,
 * greeting = "hello " + word + "!", inverted = !flags, next_count = count + 1.
 */
public class GeneratedMultiDtypeTest {
  private static final float[] OFFSET = {-1f, -1f / 3, 1f / 3, 1f}; // np.linspace(-1, 1, 4)
  private static final long[][] IDS = {{1, 2, 3, 4}, {-5, 0, 7, 100}};
  private static final float[] SCALE = {0.5f, -2f};
  private static final String[] WORDS = {"world", "Grüße"};
  private static final boolean[][] FLAGS = {{true, false, true}, {false, false, true}};
  private static Path export;

  @BeforeClass
  public static void findExport() {
    String dir = System.getProperty("tf2java.fixtures");
    assumeTrue("needs -Ptf2java.fixtures=DIR, which tests/test_java_gradle.py gives", dir != null);
    export = Paths.get(dir).resolve("multi");
  }

  private static void assertWorkedOut(MultiDtype.ServingDefaultResult result) {
    for (int i = 0; i < IDS.length; i++) {
      long total = 0;
      for (int j = 0; j < 4; j++) {
        assertEquals(IDS[i][j] * SCALE[i] + OFFSET[j], result.getScaled()[i][j], 1e-5f);
        total += IDS[i][j];
      }
      assertEquals(total, result.getTotal()[i]);
      assertEquals("hello " + WORDS[i] + "!", result.getGreeting()[i]);
      for (int j = 0; j < 3; j++) {
        assertEquals(!FLAGS[i][j], result.getInverted()[i][j]);
      }
    }
    assertEquals(8, result.getNextCount());
  }

  @Test
  public void everyDtypeGoesInAndComesOut() throws Exception {
    MultiDtype[] models = {
      MultiDtypeSavedModel.load(export.resolve("saved_model")),
      MultiDtypeFrozen.load(export.resolve("frozen.pb")),
    };
    for (MultiDtype model : models) {
      try (MultiDtype m = model) {
        assertWorkedOut(m.servingDefault(7, FLAGS, IDS, SCALE, WORDS));
      }
    }
  }

  @Test
  public void flatDataAndBuffersTakeBooleansFlat() throws Exception {
    long[] ids = {1, 2, 3, 4, -5, 0, 7, 100};
    boolean[] flags = {true, false, true, false, false, true};
    try (MultiDtypeFrozen model = MultiDtypeFrozen.load(export.resolve("frozen.pb"))) {
      assertWorkedOut(model.servingDefault(
          7, flags, new long[] {2, 3}, ids, new long[] {2, 4}, SCALE, new long[] {2}, WORDS));
      assertWorkedOut(model.servingDefault(7, flags, new long[] {2, 3}, LongBuffer.wrap(ids),
          new long[] {2, 4}, FloatBuffer.wrap(SCALE), new long[] {2}, WORDS));
    }
  }

  @Test
  public void anEmptyBatchComesBackEmptyWithItsInnerShapes() throws Exception {
    try (MultiDtypeFrozen model = MultiDtypeFrozen.load(export.resolve("frozen.pb"))) {
      MultiDtype.ServingDefaultResult none =
          model.servingDefault(1, new boolean[0][], new long[0][], new float[0], new String[0]);
      assertEquals(0, none.getGreeting().length);
      assertArrayEquals(new long[] {0, 4}, none.getScaledShape());
      assertArrayEquals(new long[] {0, 3}, none.getInvertedShape());
      assertArrayEquals(new long[] {0}, none.getTotalShape());
      assertEquals(2, none.getNextCount());
    }
  }

  @Test
  public void nullStringsAndOtherBatchesAreRefusedByName() throws Exception {
    try (MultiDtypeFrozen model = MultiDtypeFrozen.load(export.resolve("frozen.pb"))) {
      try {
        model.servingDefault(7, FLAGS, IDS, SCALE, new String[] {"a", null});
        fail("a null word was accepted");
      } catch (IllegalArgumentException e) {
        assertEquals("input 'words' holds a null element (number 1 in row-major order)",
            e.getMessage());
      }
      try {
        model.servingDefault(7, FLAGS, IDS, SCALE, new String[] {"a", "b", "c"});
        fail("three words for two rows were accepted");
      } catch (IllegalArgumentException e) {
        assertEquals("inputs 'flags' and 'words' have batches of 2 and 3; they must match",
            e.getMessage());
      }
      try {
        model.servingDefault(7, FLAGS, IDS, SCALE, null);
        fail("null words were accepted");
      } catch (IllegalArgumentException e) {
        assertEquals("input 'words' is null", e.getMessage());
      }
    }
  }
}
