package org.tf2java.harness;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.tensorflow.ndarray.StdArrays;

public class NpyTest {
  @Rule public TemporaryFolder tmp = new TemporaryFolder();

  /** Writes a version 1.0 .npy file the way numpy.save lays it out. */
  private Path npy(String descr, String shape, ByteBuffer payload) throws Exception {
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    int pad = 64 - (10 + dict.length() + 1) % 64;
    String header = dict + " ".repeat(pad % 64) + "\n";
    ByteBuffer file = ByteBuffer.allocate(10 + header.length() + payload.remaining())
        .order(ByteOrder.LITTLE_ENDIAN);
    file.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    file.putShort((short) header.length());
    file.put(header.getBytes(StandardCharsets.ISO_8859_1));
    file.put(payload);
    Path path = tmp.newFile().toPath();
    Files.write(path, file.array());
    return path;
  }

  @Test
  public void readsFloatMatrix() throws Exception {
    ByteBuffer payload = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 6; i++) {
      payload.putFloat(i * 0.5f);
    }
    payload.flip();
    GoldenNpy array = GoldenNpy.read(npy("<f4", "(2, 3)", payload));
    assertEquals("f4", array.dtype());
    assertArrayEquals(new long[] {2, 3}, array.shape().asArray());
    float[][] values = StdArrays.array2dCopyOf(array.floats());
    assertArrayEquals(new float[] {1.5f, 2.0f, 2.5f}, values[1], 0f);
  }

  @Test
  public void readsLongVector() throws Exception {
    ByteBuffer payload = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
    payload.putLong(-1L).putLong(1L << 40).putLong(7L).flip();
    GoldenNpy array = GoldenNpy.read(npy("<i8", "(3,)", payload));
    assertArrayEquals(new long[] {-1L, 1L << 40, 7L}, StdArrays.array1dCopyOf(array.longs()));
  }

  @Test(expected = IllegalStateException.class)
  public void refusesTheWrongType() throws Exception {
    ByteBuffer payload = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    payload.putInt(3).flip();
    GoldenNpy.read(npy("<i4", "(1,)", payload)).floats();
  }
}
