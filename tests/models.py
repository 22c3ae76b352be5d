"""Small models the tests build for themselves, one per case the spine must carry."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import tensorflow as tf


class MultiDtype(tf.Module):
    """Inputs and outputs of int32, int64, float32, bool and string, a scalar among them."""

    def __init__(self):
        super().__init__()
        self.offset = tf.Variable(np.linspace(-1, 1, 4).astype(np.float32))

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, 4), tf.int64, name="ids"),
            tf.TensorSpec((None,), tf.float32, name="scale"),
            tf.TensorSpec((None,), tf.string, name="words"),
            tf.TensorSpec((None, 3), tf.bool, name="flags"),
            tf.TensorSpec((), tf.int32, name="count"),
        ]
    )
    def serve(self, ids, scale, words, flags, count):
        return {
            "scaled": tf.cast(ids, tf.float32) * scale[:, tf.newaxis] + self.offset,
            "total": tf.reduce_sum(ids, axis=1),
            "greeting": tf.strings.join(["hello ", words, "!"]),
            "inverted": tf.logical_not(flags),
            "next_count": count + 1,
        }


class Split(tf.Module):
    """Two outputs from one tf.split: 'second' is output 1 of its op."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) / 10)

    @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32, name="x")])
    def serve(self, x):
        first, second = tf.split(x @ self.w, [1, 3], axis=1)
        return {"first": first, "second": second}


def save_module(module: tf.Module, path: Path) -> Path:
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def save_keras(path: Path) -> Path:
    """A functional Keras model with two inputs and two outputs, saved as .keras."""
    import keras

    keras.utils.set_random_seed(1)
    features = keras.Input((8,), name="features")
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    embedded = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(10, 4, name="token_embedding")(tokens)
    )
    hidden = keras.layers.Dense(6, activation="relu", name="hidden")(
        keras.layers.Concatenate()([features, embedded])
    )
    score = keras.layers.Dense(1, name="score")(hidden)
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(hidden)
    model = keras.Model([features, tokens], [score, probs])
    model.save(path)
    return path


IMAGE_LABELS = ["cat", "dog", "bird", "fish"]


def save_image_classifier(path: Path) -> Path:
    """A small Keras image classifier: 32x32x3 images to softmax scores of 4 classes, its
    output the layer 'predictions' (Keras names the signature's output `output_0`)."""
    import keras

    keras.utils.set_random_seed(3)
    image = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu")(image)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    predictions = keras.layers.Dense(4, activation="softmax", name="predictions")(x * 4.0)
    keras.Model(image, predictions).save(path)
    return path


TF1_SPLIT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow.compat.v1 as tf
    tf.disable_eager_execution()
    x = tf.placeholder(tf.float32, (None, 3), name="x")
    w = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) / 10, name="w")
    first, second = tf.split(tf.matmul(x, w), [1, 3], axis=1, name="split")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        tf.saved_model.simple_save(sess, sys.argv[1], inputs={"x": x},
                                   outputs={"first": first, "second": second})
""")


def save_tf1_split(path: Path) -> Path:
    """A TF1 SavedModel (simple_save) whose output 'second' is tensor split:1. Built in a
    subprocess so graph mode does not leak into the tests."""
    subprocess.run([sys.executable, "-c", TF1_SPLIT, str(path)], check=True, capture_output=True)
    return path


class StatelessGamma(tf.Module):
    """Uses StatelessRandomGammaV3, which TensorFlow 2.18 writes and TensorFlow 2.10 lacks."""

    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="alpha")])
    def serve(self, alpha):
        samples = tf.random.stateless_gamma(tf.shape(alpha), seed=[1, 2], alpha=tf.abs(alpha) + 1)
        return {"samples": samples}


def write_custom_op_export(out: Path, op: str = "CaseFoldUTF8") -> Path:
    """An export directory whose frozen graph uses an op no TensorFlow core registers (as a
    tensorflow-text model does), with a manifest as tf2java writes it."""
    from tensorflow.core.framework import graph_pb2

    from exporter.core.manifest import Manifest, file_entries
    from exporter.core.model import Artifact, Signature, TensorInfo
    from exporter.graph.graphs import ops_of

    graph_def = graph_pb2.GraphDef()
    text = graph_def.node.add(name="text", op="Placeholder")
    text.attr["dtype"].type = tf.string.as_datatype_enum
    graph_def.node.add(name="folded", op=op, input=["text"])
    graph_def.versions.producer = 1994
    out.mkdir(parents=True)
    (out / "frozen.pb").write_bytes(graph_def.SerializeToString())
    sig = Signature(
        "serving_default",
        "tensorflow/serving/predict",
        (TensorInfo("text", "text", 0, "string", (-1,)),),
        (TensorInfo("folded", "folded", 0, "string", (-1,)),),
    )
    art = Artifact(
        "frozen",
        "frozen.pb",
        [sig],
        ops_of(graph_def),
        files=file_entries(out, "frozen.pb"),
        producer=1994,
    )
    manifest = Manifest("custom_op", "frozen", "frozen.pb", tf.__version__, None, [art])
    (out / "manifest.json").write_text(manifest.dumps())
    return out


TF1_FORMATS = textwrap.dedent("""
    import os
    import sys

    import numpy as np
    import tensorflow.compat.v1 as tf

    tf.disable_eager_execution()
    out = sys.argv[1]
    x = tf.placeholder(tf.float32, (None, 3), name="input_x")
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="dense/kernel")
    b = tf.Variable(np.array([0.1, -0.2], np.float32), name="dense/bias")
    step = tf.train.get_or_create_global_step()
    logits = tf.add(tf.matmul(x, w), b, name="logits")
    probs = tf.nn.softmax(logits, name="loss/pred_prob")
    examples = tf.placeholder(tf.string, (None,), name="tf_example")
    features = tf.parse_example(examples, {"x": tf.FixedLenFeature([3], tf.float32)})
    scores = tf.nn.softmax(tf.matmul(features["x"], w) + b, name="scores")
    classes = tf.tile(tf.constant([["neg", "pos"]]), [tf.shape(scores)[0], 1], name="classes")
    prediction = tf.identity(scores[:, 1:], name="prediction")
    saver = tf.train.Saver(max_to_keep=5)
    os.makedirs(os.path.join(out, "ckpt"))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(step, 100))
        saver.save(sess, os.path.join(out, "ckpt", "model.ckpt"), global_step=100)
        sess.run([tf.assign_add(w, tf.ones_like(w)), tf.assign(step, 200)])
        saver.save(sess, os.path.join(out, "ckpt", "model.ckpt"), global_step=200)

        # The seed's puzzle: the same weights, with a .meta whose collection_def lists no
        # variables and that carries no saver.
        os.makedirs(os.path.join(out, "bare"))
        saver.save(sess, os.path.join(out, "bare", "model.ckpt"), global_step=200,
                   write_meta_graph=False)
        meta = tf.train.export_meta_graph(collection_list=[], clear_devices=True)
        meta.ClearField("saver_def")
        with open(os.path.join(out, "bare", "model.ckpt-200.meta"), "wb") as f:
            f.write(meta.SerializeToString())

        frozen = tf.graph_util.convert_variables_to_constants(
            sess, sess.graph.as_graph_def(), ["loss/pred_prob"])
        tf.io.write_graph(frozen, out, "frozen.pb", as_text=False)
        tf.io.write_graph(frozen, out, "frozen.pbtxt", as_text=True)

        # SavedModelBuilder with a custom tag, three method names and a second MetaGraph.
        builder = tf.saved_model.Builder(os.path.join(out, "builder"))
        sigs = tf.saved_model.signature_def_utils
        builder.add_meta_graph_and_variables(sess, ["myTag"], signature_def_map={
            "predict": sigs.predict_signature_def({"x": x}, {"probs": probs}),
            "classify": sigs.classification_signature_def(examples, classes, scores),
            "regress": sigs.regression_signature_def(examples, prediction),
        })
        builder.add_meta_graph(["serve", "second"], signature_def_map={
            "serving_default": sigs.predict_signature_def({"x": x}, {"logits": logits}),
        })
        builder.save()
""")


def save_tf1_formats(out: Path) -> Path:
    """TF1 checkpoints (steps 100 and 200; and one whose .meta lists no variables), the frozen
    graph as .pb and .pbtxt, and a SavedModelBuilder model with tag 'myTag'. Weights at step
    200: kernel = arange(6).reshape(3, 2) / 10 + 1, bias = [0.1, -0.2]."""
    proc = subprocess.run(
        [sys.executable, "-c", TF1_FORMATS, str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def tf1_probs(x: np.ndarray, step: int = 200) -> np.ndarray:
    """The TF1 model's output computed with numpy, from the weights it was saved with."""
    kernel = np.arange(6, dtype=np.float32).reshape(3, 2) / 10 + (1 if step == 200 else 0)
    logits = x @ kernel + np.array([0.1, -0.2], np.float32)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def tf_examples(x: np.ndarray) -> np.ndarray:
    """Serialized tf.train.Example protos with feature 'x'."""
    return np.array(
        [
            tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "x": tf.train.Feature(float_list=tf.train.FloatList(value=row.tolist()))
                    }
                )
            ).SerializeToString()
            for row in x
        ],
        dtype=object,
    )


def save_keras_h5(out: Path) -> dict[str, Path]:
    """The two-heads model as a whole-model .h5, its legacy weights-only .h5 and its JSON
    architecture, and a second architecture that shares only the 'hidden' layer's name."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    source = keras.models.load_model(save_keras(out / "two_heads.keras"))
    source.save(out / "whole.h5")
    with h5py.File(out / "weights.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    (out / "architecture.json").write_text(source.to_json())
    return {
        "whole": out / "whole.h5",
        "weights": out / "weights.h5",
        "architecture": out / "architecture.json",
        "model": source,
    }


class Edges(tf.Module):
    """Outputs that test the comparison's edges: NaN and Inf, an empty dimension, scalars of
    float and string, and a wide input."""

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.float32, name="x")])
    def serve(self, x):
        total = tf.reduce_sum(x)
        return {
            "log": tf.math.log(x),  # NaN below 0, -Inf at 0
            "ratio": x / 0.0,  # +-Inf, and NaN at 0
            "empty": x[:, :0],
            "total": total,
            "label": tf.strings.as_string(tf.reduce_sum(tf.cast(x > 0, tf.int32))),
        }


class Leaky(tf.Module):
    """Reads and writes files and prints when it runs."""

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name="path")])
    def serve(self, path):
        tf.print("reading", path)
        content = tf.io.read_file(path[0])
        tf.io.write_file(path[0] + ".copy", content)
        return {"size": tf.strings.length(content)}


class Chatty(tf.Module):
    """Prints its input: harmless, but a backend should know."""

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.float32, name="x")])
    def serve(self, x):
        tf.print("x =", x)
        return {"y": x * 2}


HOSTILE_OUTPUTS = [
    'x"); Runtime.getRuntime().exec("touch /tmp/tf2java-pwned"); //',
    "*/ \\u000a evil */ /*",
    "2nd output",
    "a-b",
    "a_b",
    "größe",
]


class Hostile(tf.Module):
    """Names that must not break or inject into generated Java: a Java keyword as an input,
    quotes, comment ends, unicode escapes, leading digits, colliding and non-ASCII names as
    outputs."""

    @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="default")])
    def serve(self, x):
        return {key: x * (i + 1) for i, key in enumerate(HOSTILE_OUTPUTS)}


class ManyWeights(tf.Module):
    """Variables of eight dtypes, several larger than a file reader keeps in memory, one
    carried through a while loop: what freezing streams into the file and what it does not."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(7)
        self.f16 = tf.Variable(rng.normal(size=(96, 400)).astype(np.float16))  # 75 KiB
        self.bf16 = tf.Variable(tf.cast(rng.normal(size=(96, 400)), tf.bfloat16))
        self.i8 = tf.Variable(rng.integers(-100, 100, size=(400, 200)).astype(np.int8))
        self.f64 = tf.Variable(rng.normal(size=(96, 100)))
        self.i64 = tf.Variable(np.array([3, 1, 4], np.int64))
        self.pair = tf.Variable([0.5, -0.25])
        self.flags = tf.Variable([True, False, True])
        self.loop_w = tf.Variable((rng.normal(size=(96, 96)) * 0.1).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((None, 96), tf.float32, name="x")])
    def serve(self, x):
        half = tf.matmul(tf.cast(x, tf.float16), self.f16)
        brain = tf.matmul(tf.cast(x, tf.bfloat16), self.bf16)
        ints = tf.matmul(tf.cast(half, tf.float32), tf.cast(self.i8, tf.float32))
        wide = tf.matmul(tf.cast(x, tf.float64), self.f64)

        def body(i, y):
            return i + 1, tf.tanh(tf.matmul(y, self.loop_w))

        _, looped = tf.while_loop(lambda i, y: i < 3, body, [tf.constant(0), x])
        count = tf.reduce_sum(tf.cast(self.flags, tf.float32))
        scalar = tf.reduce_sum(tf.cast(self.i64, tf.float32)) * self.pair[0] + count
        return {
            "half": tf.cast(half, tf.float32),
            "brain": tf.cast(brain, tf.float32),
            "ints": ints,
            "wide": wide,
            "looped": looped,
            "scalar": tf.fill(tf.shape(x)[:1], scalar + self.pair[1]),
        }


class CompiledLoop(tf.Module):
    """A variable carried through a while loop inside an XLA-compiled function: the loop stays
    a While node, which records the shape of every value it carries."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.eye(96, dtype=np.float32) * 0.5)

    @tf.function(input_signature=[tf.TensorSpec((None, 96), tf.float32, name="x")])
    def serve(self, x):
        @tf.function(jit_compile=True)
        def power(y):
            step = lambda i, y: (i + 1, tf.matmul(y, self.w))  # noqa: E731
            return tf.while_loop(lambda i, y: i < 3, step, [tf.constant(0), y])[1]

        return {"y": power(x)}


class EveryDtype(tf.Module):
    """One input and one output of each dtype TensorFlow Java carries."""

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, 3), tf.float16, name="half"),
            tf.TensorSpec((None, 3), tf.bfloat16, name="brain"),
            tf.TensorSpec((None, 3), tf.float64, name="wide"),
            tf.TensorSpec((None, 3), tf.uint8, name="octet"),
            tf.TensorSpec((None, 3), tf.uint16, name="short"),
            tf.TensorSpec((None,), tf.int32, name="count"),
            tf.TensorSpec((None,), tf.int64, name="big"),
            tf.TensorSpec((None,), tf.bool, name="flag"),
            tf.TensorSpec((None,), tf.string, name="word"),
        ]
    )
    def serve(self, half, brain, wide, octet, short, count, big, flag, word):
        return {
            "half_out": half * 2,
            "brain_out": brain * 3,
            "wide_out": wide * wide,
            "octet_out": tf.reverse(octet, [1]),
            "short_out": tf.reverse(short, [1]),
            "count_out": count * 3,
            "big_out": big + 1,
            "flag_out": tf.logical_not(flag),
            "word_out": tf.strings.join([word, "?"]),
        }


class SignedByte(tf.Module):
    """An int8 input: a dtype TensorFlow Java has no tensor type for."""

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.int8, name="level")])
    def serve(self, level):
        return {"wider": tf.cast(level, tf.int32)}


def save_scorer(path: Path, classes: int, with_score: bool) -> Path:
    """A Keras model on x (4 features): `probs` (`classes` softmax) and, `with_score`, a
    `score`; two versions of it are a retrained model whose API changed."""
    import keras

    keras.utils.set_random_seed(1)
    x = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(5, name="hidden")(x)
    outputs = {"probs": keras.layers.Dense(classes, activation="softmax", name="probs")(hidden)}
    if with_score:
        outputs["score"] = keras.layers.Dense(1, name="score")(hidden)
    keras.Model(x, outputs).save(path)
    return path
