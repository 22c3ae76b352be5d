"""Files as Keras 2 (TensorFlow 1.x to 2.15) wrote them, the ones backend teams are handed
most: whole-model HDF5 of a Sequential MLP declared with `batch_input_shape`, a seq2seq with
TimeDistributed, an LSTM, a JSON architecture with its weights, and a Lambda layer holding
marshaled bytecode. Built here with tf_keras (the Keras 2 of TensorFlow 2.18); nothing is
downloaded."""

from __future__ import annotations

from pathlib import Path


def _keras2():
    import tf_keras

    tf_keras.utils.set_random_seed(3)
    return tf_keras


def mlp_h5(path: Path) -> Path:
    keras = _keras2()
    model = keras.Sequential(
        [
            keras.layers.Dense(16, activation="relu", batch_input_shape=(None, 784)),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.save(path)
    return path


def seq2seq_h5(path: Path) -> Path:
    keras = _keras2()
    inputs = keras.Input((10, 8), name="frames")
    hidden = keras.layers.LSTM(6, return_sequences=True)(inputs)
    outputs = keras.layers.TimeDistributed(keras.layers.Dense(3, activation="softmax"))(hidden)
    keras.Model(inputs, outputs).save(path)
    return path


def lstm_h5(path: Path) -> Path:
    keras = _keras2()
    model = keras.Sequential([keras.layers.LSTM(4, input_shape=(5, 3)), keras.layers.Dense(1)])
    model.save(path)
    return path


def json_and_weights(folder: Path) -> tuple[Path, Path]:
    """model.json (to_json) and model.weights.h5 (save_weights), as tutorials wrote them."""
    keras = _keras2()
    model = keras.Sequential(
        [keras.layers.Dense(5, activation="tanh", input_shape=(4,)), keras.layers.Dense(2)]
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(model.to_json())
    model.save_weights(folder / "weights.h5")
    return folder / "model.json", folder / "weights.h5"


def lambda_h5(path: Path) -> Path:
    keras = _keras2()
    model = keras.Sequential(
        [keras.layers.Lambda(lambda t: t * 2, input_shape=(3,), name="double")]
    )
    model.save(path)
    return path


def saved_model_with_optimizer(path: Path) -> Path:
    """A SavedModel as Keras 2 saved a model trained one step with Adam: its object graph
    holds the optimizer's slot variables, which only Keras 2 can revive."""
    import numpy as np

    keras = _keras2()
    model = keras.Sequential(
        [
            keras.layers.Dense(3, activation="relu", input_shape=(4,), name="hidden"),
            keras.layers.Dense(1, name="score"),
        ]
    )
    model.compile(optimizer=keras.optimizers.legacy.Adam(), loss="mse")
    data = np.random.default_rng(3).random((8, 4), np.float32)
    model.fit(data, data[:, :1], epochs=1, verbose=0)
    model.save(path, save_format="tf")
    return path
