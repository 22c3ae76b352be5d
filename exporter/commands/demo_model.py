"""The built-in example: the seed document's BERT-style text classifier, small enough to build
in a second. int32 input_ids, input_mask, segment_ids of shape (-1, 128) in; float32
`loss/pred_prob` of shape (-1, 7) out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

SEQ_LEN = 128
VOCAB = 1000
HIDDEN = 32
HEADS = 2
LABELS = 7


class BertClassifier(tf.Module):
    """Embeddings, one transformer encoder block, a [CLS] pooler and a softmax classifier."""

    def __init__(self, seed: int = 0):
        super().__init__(name="bert_classifier")
        rng = np.random.default_rng(seed)

        def weight(*shape: int, scale: float = 0.02, name: str | None = None) -> tf.Variable:
            return tf.Variable(rng.normal(0.0, scale, size=shape).astype(np.float32), name=name)

        self.word_embeddings = weight(VOCAB, HIDDEN, name="word_embeddings")
        self.segment_embeddings = weight(2, HIDDEN, name="segment_embeddings")
        self.position_embeddings = weight(SEQ_LEN, HIDDEN, name="position_embeddings")
        self.query, self.key, self.value, self.attention_output = (
            weight(HIDDEN, HIDDEN, scale=0.2) for _ in range(4)
        )
        self.intermediate = weight(HIDDEN, 4 * HIDDEN, scale=0.2)
        self.output_dense = weight(4 * HIDDEN, HIDDEN, scale=0.2)
        self.pooler = weight(HIDDEN, HIDDEN, scale=0.2)
        self.classifier = weight(HIDDEN, LABELS, scale=0.5)
        self.classifier_bias = tf.Variable(np.zeros(LABELS, np.float32))

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, SEQ_LEN), tf.int32, name="input_ids"),
            tf.TensorSpec((None, SEQ_LEN), tf.int32, name="input_mask"),
            tf.TensorSpec((None, SEQ_LEN), tf.int32, name="segment_ids"),
        ]
    )
    def serve(self, input_ids, input_mask, segment_ids):
        x = (
            tf.gather(self.word_embeddings, input_ids)
            + tf.gather(self.segment_embeddings, segment_ids)
            + self.position_embeddings
        )
        x = _layer_norm(x)
        x = _layer_norm(x + self._attention(x, input_mask))
        hidden = tf.nn.gelu(tf.einsum("bsh,hi->bsi", x, self.intermediate))
        x = _layer_norm(x + tf.einsum("bsi,ih->bsh", hidden, self.output_dense))
        pooled = tf.tanh(x[:, 0, :] @ self.pooler)
        logits = pooled @ self.classifier + self.classifier_bias
        return {"loss/pred_prob": tf.nn.softmax(logits, name="pred_prob")}

    def _attention(self, x, input_mask):
        def heads(w):
            y = tf.einsum("bsh,hk->bsk", x, w)
            y = tf.reshape(y, [tf.shape(x)[0], SEQ_LEN, HEADS, HIDDEN // HEADS])
            return tf.transpose(y, [0, 2, 1, 3])

        q, k, v = heads(self.query), heads(self.key), heads(self.value)
        scores = tf.matmul(q, k, transpose_b=True) / np.sqrt(HIDDEN // HEADS).astype(np.float32)
        mask = tf.cast(input_mask, tf.float32)[:, tf.newaxis, tf.newaxis, :]
        scores += (1.0 - mask) * -10000.0
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [tf.shape(x)[0], SEQ_LEN, HIDDEN])
        return tf.einsum("bsh,hk->bsk", context, self.attention_output)


def _layer_norm(x):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-12)


def save(path: Path, seed: int = 0) -> Path:
    """Writes the example as a TF2 SavedModel with a `serving_default` signature."""
    model = BertClassifier(seed)
    tf.saved_model.save(model, str(path), signatures={"serving_default": model.serve})
    return path


def example_inputs(batch: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """Token ids within the vocabulary, a padding mask and two segments, as a tokenizer gives."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(SEQ_LEN // 4, SEQ_LEN + 1, size=batch)
    positions = np.arange(SEQ_LEN)[np.newaxis, :]
    mask = (positions < lengths[:, np.newaxis]).astype(np.int32)
    ids = rng.integers(1, VOCAB, size=(batch, SEQ_LEN)).astype(np.int32) * mask
    segments = ((positions >= lengths[:, np.newaxis] // 2) & (mask == 1)).astype(np.int32)
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments}
