"""Fixtures that reproduce models from the wild: what `freeze_graph` and graph transforms
leave, TF1 checkpoints named by step, TensorFlow Serving's versioned half_plus_two with
tf.Example inputs, assets and a main op, multi-signature stateful modules, lookup tables.
Every fixture is built here, from scratch; nothing is downloaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import tensorflow as tf

# TF1 graph mode runs in its own process, so that it does not leak into the tests.
TF1_WILD = textwrap.dedent("""
    import os
    import shutil
    import sys

    import numpy as np
    import tensorflow.compat.v1 as tf
    from tensorflow.core.framework import attr_value_pb2, tensor_shape_pb2
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.tools import freeze_graph

    tf.disable_v2_behavior()  # reference variables (VariableV2), as TF1 wrote them
    out = sys.argv[1]

    # --- a classifier as TF1 tutorials trained it: unknown-rank input, dropout keep_prob,
    # an is_training switch with a default, an embedding colocated with its variable.
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, None, name="images")  # unknown rank
        ids = tf.placeholder(tf.int32, (None, 2), name="ids")
        keep_prob = tf.placeholder(tf.float32, (), name="keep_prob")
        is_training = tf.placeholder_with_default(False, (), name="is_training")
        flat = tf.reshape(images, (-1, 4))
        kernel = tf.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3),
                             name="dense/kernel")
        bias = tf.Variable(np.array([0.1, 0.0, -0.1], np.float32), name="dense/bias")
        emb = tf.Variable(np.arange(15, dtype=np.float32).reshape(5, 3) / 10,
                          name="embedding/weights")
        hidden = tf.nn.relu(tf.matmul(flat, kernel) + bias)
        hidden = tf.cond(is_training, lambda: hidden * 0.5, lambda: hidden)
        hidden = tf.nn.dropout(hidden, rate=1 - keep_prob, seed=1)
        looked = tf.reduce_sum(tf.nn.embedding_lookup(emb, ids), axis=1)
        logits = tf.add(hidden, looked, name="logits")
        probs = tf.nn.softmax(logits, name="output/probs")
        step = tf.train.get_or_create_global_step()
        saver = tf.train.Saver()
        ckpt_dir = os.path.join(out, "ckpt")
        os.makedirs(ckpt_dir)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(tf.assign(step, 16329))
            prefix = saver.save(sess, os.path.join(ckpt_dir, "model.ckpt"), global_step=16329)
        graph_def = graph.as_graph_def()

    # freeze_graph itself, as tutorials call it.
    frozen = freeze_graph.freeze_graph_with_def_protos(
        input_graph_def=graph_def, input_saver_def=None, input_checkpoint=prefix,
        output_node_names="output/probs", restore_op_name=None, filename_tensor_name=None,
        output_graph=os.path.join(out, "freeze_graph.pb"), clear_devices=True,
        initializer_nodes="")
    # What a constant-folding graph transform does next: each variable's `read` Identity
    # becomes the constant, and the constant node is gone, while the colocation attrs
    # (`_class: loc:@embedding/weights`) of the folded node and its consumers stay.
    nodes = {n.name: n for n in frozen.node}
    for var in ("dense/kernel", "dense/bias", "embedding/weights"):
        const, read = nodes[var], nodes[var + "/read"]
        read.op = "Const"
        del read.input[:]
        read.attr.pop("T", None)
        read.attr["dtype"].CopyFrom(const.attr["dtype"])
        read.attr["value"].CopyFrom(const.attr["value"])
        frozen.node.remove(const)
    with open(os.path.join(out, "folded.pb"), "wb") as f:
        f.write(frozen.SerializeToString())

    # --- TensorFlow Serving's half_plus_two, as saved_model_half_plus_two.py writes it, in a
    # versioned folder: tf.Example input, several regress/classify signatures and a predict
    # one, an asset read by a main op.
    graph = tf.Graph()
    with graph.as_default():
        a = tf.Variable(0.5, name="a")
        b = tf.Variable(2.0, name="b")
        c = tf.Variable(3.0, name="c")
        serialized = tf.placeholder(tf.string, name="tf_example")
        features = tf.parse_example(serialized, {
            "x": tf.FixedLenFeature([1], tf.float32),
            "x2": tf.FixedLenFeature([1], tf.float32, default_value=[0.0]),
        })
        x = tf.identity(features["x"], name="x")
        y = tf.add(tf.multiply(a, x), b, name="y")
        y2 = tf.add(tf.multiply(a, x), c, name="y2")
        x2 = tf.identity(features["x2"], name="x2")
        y3 = tf.add(tf.multiply(a, x2), c, name="y3")
        x_in = tf.placeholder(tf.float32, (None, 1), name="x_in")
        y_in = tf.add(tf.multiply(a, x_in), b, name="y_in")
        asset_dir = os.path.join(out, "assets_src")
        os.makedirs(asset_dir)
        asset_path = os.path.join(asset_dir, "foo.txt")
        with open(asset_path, "w") as f:
            f.write("asset-file-contents")
        asset = tf.constant(asset_path, name="filename_tensor")
        tf.add_to_collection(tf.GraphKeys.ASSET_FILEPATHS, asset)
        filename = tf.Variable("", name="filename", trainable=False)
        main_op = tf.group(tf.saved_model.main_op.main_op(), tf.assign(filename, asset))
        # `c` is what the main op sets; a graph without it would keep c's initial value.
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sigs = tf.saved_model.signature_def_utils
            target = os.path.join(out, "half_plus_two", "00000123")
            builder = tf.saved_model.Builder(target)
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={
                "regress_x_to_y": sigs.regression_signature_def(serialized, y),
                "regress_x_to_y2": sigs.regression_signature_def(serialized, y2),
                "regress_x2_to_y3": sigs.regression_signature_def(serialized, y3),
                "classify_x_to_y": sigs.classification_signature_def(serialized, None, y),
                "serving_default": sigs.predict_signature_def({"x": x_in}, {"y": y_in}),
            }, assets_collection=tf.get_collection(tf.GraphKeys.ASSET_FILEPATHS),
               main_op=main_op, strip_default_attrs=True)
            builder.save()
    # Written by TensorFlow 1.0 (GraphDef producer 20): SignatureDef tensors carry no shape,
    # and an empty placeholder shape means "unknown", not "scalar".
    pb = os.path.join(target, "saved_model.pb")
    model = saved_model_pb2.SavedModel()
    with open(pb, "rb") as f:
        model.ParseFromString(f.read())
    meta = model.meta_graphs[0]
    meta.graph_def.versions.producer = 20
    meta.meta_info_def.tensorflow_version = "1.0.1"
    for node in meta.graph_def.node:
        if node.name == "tf_example":
            node.attr["shape"].shape.CopyFrom(tensor_shape_pb2.TensorShapeProto())
    for key, sig in meta.signature_def.items():
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            if info.name.startswith("tf_example"):
                info.ClearField("tensor_shape")
    with open(pb, "wb") as f:
        f.write(model.SerializeToString())
    shutil.copytree(target, os.path.join(out, "half_plus_two", "00000007"))

    # A TF1 Hub module's layout: one MetaGraph, of the empty tag set, signature 'default'.
    graph = tf.Graph()
    with graph.as_default():
        hx = tf.placeholder(tf.float32, (None, 2), name="x")
        hw = tf.Variable(np.array([[1.0, -1.0], [0.5, 2.0]], np.float32), name="w")
        hy = tf.matmul(hx, hw, name="y")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            builder = tf.saved_model.Builder(os.path.join(out, "hub_module"))
            sigs = tf.saved_model.signature_def_utils
            builder.add_meta_graph_and_variables(sess, [], signature_def_map={
                "default": sigs.predict_signature_def({"x": hx}, {"y": hy})})
            builder.save()

    # A TF1 batch norm as tutorials trained it: an is_training placeholder switches, in a
    # tf.cond, between the batch's mean (updating the moving mean with an Assign) and the
    # moving mean; dropout on keep_prob. With reference and with resource variables.
    for kind in ("ref", "resource"):
        graph = tf.Graph()
        with graph.as_default():
            bx = tf.placeholder(tf.float32, (None, 4), name="x")
            training = tf.placeholder(tf.bool, (), name="is_training")
            keep = tf.placeholder(tf.float32, (), name="keep_prob")
            moving = tf.get_variable(
                "bn/moving_mean", initializer=np.arange(4, dtype=np.float32),
                trainable=False, use_resource=kind == "resource")
            batch_mean, _ = tf.nn.moments(bx, [0])

            def train():
                update = tf.assign(moving, moving * 0.9 + batch_mean * 0.1)
                with tf.control_dependencies([update]):
                    return tf.identity(batch_mean)

            centred = bx - tf.cond(training, train, lambda: tf.identity(moving))
            tf.identity(tf.nn.dropout(centred, rate=1 - keep), name="out")
            saver = tf.train.Saver()
            os.makedirs(os.path.join(out, f"batchnorm_{kind}"))
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                saver.save(sess, os.path.join(out, f"batchnorm_{kind}", "model.ckpt"))
                if kind == "ref":  # frozen as it trained: RefSwitch and Assign on a constant
                    frozen_bn = tf.graph_util.convert_variables_to_constants(
                        sess, graph.as_graph_def(), ["out"])
                    with open(os.path.join(out, "batchnorm_frozen.pb"), "wb") as f:
                        f.write(frozen_bn.SerializeToString())

    # A TF1 signature that fetches a variable itself: its output is of type float32_ref.
    graph = tf.Graph()
    with graph.as_default():
        rx = tf.placeholder(tf.float32, (None, 2), name="x")
        rw = tf.Variable(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), name="w")
        ry = tf.matmul(rx, rw, name="y")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            info = tf.saved_model.utils.build_tensor_info
            sig = tf.saved_model.signature_def_utils.build_signature_def(
                {"x": info(rx)}, {"y": info(ry), "weights": info(rw)},
                "tensorflow/serving/predict")
            assert sig.outputs["weights"].dtype == 101  # DT_FLOAT_REF
            builder = tf.saved_model.Builder(os.path.join(out, "ref_output"))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()

    # freeze_graph of a layer with 128 KiB of weights, as real files hold them: the `read`
    # Identity keeps `_class: loc:@big/kernel`, and a constant that large is read as a variable.
    graph = tf.Graph()
    with graph.as_default():
        xb = tf.placeholder(tf.float32, (None, 256), name="xb")
        big = np.linspace(-1, 1, 256 * 128, dtype=np.float32).reshape(256, 128)
        kernel = tf.Variable(big, name="big/kernel")
        tf.nn.relu(tf.matmul(xb, kernel), name="big/out")
        saver = tf.train.Saver()
        os.makedirs(os.path.join(out, "big_ckpt"))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            big_prefix = saver.save(sess, os.path.join(out, "big_ckpt", "model.ckpt"))
        big_def = graph.as_graph_def()
    freeze_graph.freeze_graph_with_def_protos(
        input_graph_def=big_def, input_saver_def=None, input_checkpoint=big_prefix,
        output_node_names="big/out", restore_op_name=None, filename_tensor_name=None,
        output_graph=os.path.join(out, "freeze_graph_large.pb"), clear_devices=True,
        initializer_nodes="")
""")


def save_tf1_wild(out: Path) -> Path:
    """`freeze_graph.pb` and `folded.pb` (variables folded by a graph transform, colocation
    attrs naming nodes that are gone); `freeze_graph_large.pb` (a 256x128 kernel = linspace(-1,
    1) whose `read` is colocated with it, input `xb`, output `big/out` = relu(xb @ kernel));
    `hub_module` (one MetaGraph, of the empty tag set: y = x @ [[1, -1], [0.5, 2]]);
    `batchnorm_ref/model.ckpt`, `batchnorm_resource/model.ckpt` (out = dropout(x - mean) where
    the mean is the batch's when `is_training`, else the moving mean arange(4)), and the
    reference one frozen as it trained (`batchnorm_frozen.pb`, holding RefSwitch and Assign);
    `ref_output` (outputs y = x @ w and the variable w = [[1, 2], [3, 4]] itself, float32_ref);
    `ckpt/model.ckpt-16329`; `half_plus_two/00000123`
    (and an older `00000007`). Weights: kernel = linspace(-1, 1, 12).reshape(4, 3),
    bias = [0.1, 0, -0.1], embedding = arange(15).reshape(5, 3) / 10."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", TF1_WILD, str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def wild_probs(images: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The TF1 classifier's output at keep_prob 1 and is_training False, in numpy."""
    kernel = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    bias = np.array([0.1, 0.0, -0.1], np.float32)
    emb = np.arange(15, dtype=np.float32).reshape(5, 3) / 10
    hidden = np.maximum(images.reshape(-1, 4) @ kernel + bias, 0)
    logits = hidden + emb[ids].sum(axis=1)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Counter(tf.Module):
    """TensorFlow Serving's counter model: stateful signatures, none named serving_default,
    one without inputs, and a stateless one beside them."""

    def __init__(self):
        super().__init__()
        self.counter = tf.Variable(0.0)

    @tf.function(input_signature=[])
    def get_counter(self):
        return {"output_0": self.counter.read_value()}

    @tf.function(input_signature=[])
    def incr_counter(self):
        self.counter.assign_add(1.0)
        return {"output_0": self.counter.read_value()}

    @tf.function(input_signature=[tf.TensorSpec((), tf.float32, name="delta")])
    def incr_counter_by(self, delta):
        self.counter.assign_add(delta)
        return {"output_0": self.counter.read_value()}

    @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="x")])
    def double(self, x):
        return {"output_0": x * 2.0, "total": tf.reduce_sum(x, axis=1)}


def save_counter(path: Path) -> Path:
    module = Counter()
    tf.saved_model.save(
        module,
        str(path),
        signatures={
            "get_counter": module.get_counter,
            "incr_counter": module.incr_counter,
            "incr_counter_by": module.incr_counter_by,
            "double": module.double,
        },
    )
    return path


class Lookup(tf.Module):
    """Vocabulary lookups: a static table from constants and one from a vocabulary file."""

    def __init__(self, vocab: Path):
        super().__init__()
        keys = tf.constant(["cat", "dog", "bird"])
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, tf.constant([3, 5, 7], tf.int64)), -1
        )
        self.vocab = tf.lookup.StaticVocabularyTable(
            tf.lookup.TextFileInitializer(
                str(vocab),
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            ),
            num_oov_buckets=1,
        )

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name="words")])
    def serve(self, words):
        return {"ids": self.table.lookup(words), "index": self.vocab.lookup(words)}


def save_lookup(path: Path) -> Path:
    vocab = path.parent / f"{path.name}_vocab.txt"
    vocab.write_text("dog\ncat\nfish\n")
    module = Lookup(vocab)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    vocab.unlink()  # the SavedModel carries its own copy in assets/
    return path


class ParseExamples(tf.Module):
    """A TF2 serving signature over serialized tf.Example protos: dense and sparse features."""

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name="examples")])
    def serve(self, examples):
        parsed = tf.io.parse_example(
            examples,
            {
                "age": tf.io.FixedLenFeature([1], tf.int64),
                "scores": tf.io.FixedLenFeature([3], tf.float32),
                "tags": tf.io.VarLenFeature(tf.string),
            },
        )
        tags = tf.sparse.to_dense(parsed["tags"], default_value="")
        return {
            "score": tf.reduce_sum(parsed["scores"], axis=1)
            + tf.cast(parsed["age"][:, 0], tf.float32),
            "tag_count": tf.reduce_sum(tf.cast(tf.strings.length(tags) > 0, tf.int32), axis=1),
        }


class OneValuePerExample(tf.Module):
    """The TFX pattern: a sparse feature read as one value per example (a reshape to
    [batch]), added to a dense one; an example with two values would not fit."""

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name="examples")])
    def serve(self, examples):
        parsed = tf.io.parse_example(
            examples,
            {"bucket": tf.io.VarLenFeature(tf.int64), "x": tf.io.FixedLenFeature([1], tf.float32)},
        )
        bucket = tf.reshape(tf.sparse.to_dense(parsed["bucket"]), [-1])
        return {"y": parsed["x"][:, 0] + tf.cast(bucket, tf.float32)}


def save_one_value_per_example(path: Path) -> Path:
    module = OneValuePerExample()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def save_parse_examples(path: Path) -> Path:
    module = ParseExamples()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path
