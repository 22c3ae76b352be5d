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
    embedded = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4)(tokens))
    hidden = keras.layers.Dense(6, activation="relu", name="hidden")(
        keras.layers.Concatenate()([features, embedded])
    )
    score = keras.layers.Dense(1, name="score")(hidden)
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(hidden)
    model = keras.Model([features, tokens], [score, probs])
    model.save(path)
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

    from exporter.graphs import ops_of
    from exporter.manifest import Manifest, file_entries
    from exporter.model import Artifact, Signature, TensorInfo

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
