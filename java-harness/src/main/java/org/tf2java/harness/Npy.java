package org.tf2java.harness;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tensorflow.ndarray.DoubleNdArray;
import org.tensorflow.ndarray.FloatNdArray;
import org.tensorflow.ndarray.IntNdArray;
import org.tensorflow.ndarray.LongNdArray;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;

/**
 * Reads NumPy {@code .npy} files (format 1.0 to 3.0, C order) into TensorFlow Java nd-arrays,
 * so Java tests can use the inputs and expected outputs that the Python side wrote. The data
 * is copied in bulk through a {@link ByteBuffer}, never element by element.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']+)'");
  private static final Pattern ORDER = Pattern.compile("'fortran_order':\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

  private final String dtype;
  private final long[] shape;
  private final ByteBuffer data;

  private Npy(String dtype, long[] shape, ByteBuffer data) {
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
  }

  /**
   * Reads a file.
   *
   * @param file a {@code .npy} file
   * @return its dtype, shape and data
   * @throws IOException if the file cannot be read or is not a C-order {@code .npy} file
   */
  public static Npy read(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    if (bytes.length < 10 || !Arrays.equals(Arrays.copyOf(bytes, 6), MAGIC)) {
      throw new IOException(file + ": not a .npy file");
    }
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int major = bytes[6];
    int headerLength = major == 1 ? Short.toUnsignedInt(buf.getShort(8)) : buf.getInt(8);
    int headerStart = major == 1 ? 10 : 12;
    String header =
        new String(bytes, headerStart, headerLength, StandardCharsets.ISO_8859_1);
    String dtype = find(DESCR, header, file);
    if (find(ORDER, header, file).equals("True")) {
      throw new IOException(file + ": Fortran-order arrays are not supported");
    }
    String dims = find(SHAPE, header, file).trim();
    long[] shape = dims.isEmpty()
        ? new long[0]
        : Arrays.stream(dims.split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .mapToLong(Long::parseLong)
            .toArray();
    ByteBuffer data = ByteBuffer.wrap(bytes, headerStart + headerLength,
        bytes.length - headerStart - headerLength).slice();
    ByteOrder order = dtype.startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
    return new Npy(dtype.replaceAll("^[<>|=]", ""), shape, data.order(order));
  }

  private static String find(Pattern pattern, String header, Path file) throws IOException {
    Matcher m = pattern.matcher(header);
    if (!m.find()) {
      throw new IOException(file + ": .npy header lacks " + pattern.pattern());
    }
    return m.group(1);
  }

  /** @return the NumPy type code without byte order, e.g. {@code f4}, {@code i8}, {@code b1} */
  public String dtype() {
    return dtype;
  }

  /** @return the array's shape */
  public Shape shape() {
    return Shape.of(shape);
  }

  /** @return the data of an {@code f4} array */
  public FloatNdArray floats() {
    require("f4");
    float[] values = new float[size()];
    data.duplicate().order(data.order()).asFloatBuffer().get(values);
    return NdArrays.wrap(shape(), DataBuffers.of(values, true, false));
  }

  /** @return the data of an {@code f8} array */
  public DoubleNdArray doubles() {
    require("f8");
    double[] values = new double[size()];
    data.duplicate().order(data.order()).asDoubleBuffer().get(values);
    return NdArrays.wrap(shape(), DataBuffers.of(values, true, false));
  }

  /** @return the data of an {@code i4} array */
  public IntNdArray ints() {
    require("i4");
    int[] values = new int[size()];
    data.duplicate().order(data.order()).asIntBuffer().get(values);
    return NdArrays.wrap(shape(), DataBuffers.of(values, true, false));
  }

  /** @return the data of an {@code i8} array */
  public LongNdArray longs() {
    require("i8");
    long[] values = new long[size()];
    data.duplicate().order(data.order()).asLongBuffer().get(values);
    return NdArrays.wrap(shape(), DataBuffers.of(values, true, false));
  }

  private int size() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return Math.toIntExact(n);
  }

  private void require(String expected) {
    if (!dtype.equals(expected)) {
      throw new IllegalStateException("array has dtype " + dtype + ", not " + expected);
    }
  }
}
