"""Keras files that carry code, as they are found in the wild or made by an attacker: a `.keras`
whose weights archive holds a pickled object, a `.keras` whose config makes Keras call
`os.system`, and a Keras-2 `.h5` whose Lambda layer holds marshaled Python bytecode. Each
payload, when it runs, writes `marker`; a test asserts it never does unless the user trusts
the file. Built here from scratch; nothing is downloaded."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np


class _Payload:
    """Unpickling this runs `exec` of the code it carries (pickle stores builtins.exec)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _touch(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


def _small_model(layer_name: str = "dense"):
    import keras

    inputs = keras.Input((3,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2, name=layer_name)(inputs))


def _rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in entries:
            zf.writestr(info, replace.get(info.filename, data))


def pickled_npz_keras(path: Path, marker: Path) -> Path:
    """A `.keras` with its weights as `model.weights.npz` (Keras' npz store: pickled dicts of
    arrays, read with pickling allowed), one of whose entries is an object that writes `marker`
    when it is unpickled."""
    from keras.src.saving import saving_lib

    saving_lib.save_model(_small_model(), str(path), weights_format="npz")
    with zipfile.ZipFile(path) as zf:
        arrays = dict(np.load(io.BytesIO(zf.read("model.weights.npz")), allow_pickle=True))
    first = sorted(arrays)[0]
    arrays[first] = np.array([_Payload(_touch(marker))], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    _rewrite_zip(path, {"model.weights.npz": buffer.getvalue()})
    return path


def os_system_keras(path: Path, marker: Path) -> Path:
    """A `.keras` whose config names `os.system` as a Lambda layer's function and calls the
    layer on a string: rebuilding the model runs the command (Keras imports any module a
    config names)."""
    _small_model().save(path)
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
    lam = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "shell",
            "function": {
                "module": "os",
                "class_name": "function",
                "config": "system",
                "registered_name": "system",
            },
            "arguments": {},
        },
        "registered_name": None,
        "name": "shell",
        "inbound_nodes": [{"args": [], "kwargs": {"inputs": f"touch {marker}"}}],
    }
    config["config"]["layers"].insert(1, lam)
    _rewrite_zip(path, {"config.json": json.dumps(config).encode()})
    return path


def lambda_bytecode_h5(path: Path, marker: Path) -> Path:
    """A whole-model `.h5` written by Keras 2 (tf_keras), whose Lambda layer holds marshaled
    bytecode (`function_type` 'lambda') that writes `marker` when the layer is called, as
    rebuilding the model does."""
    import tf_keras

    double = eval(f"lambda t: ({_touch(marker)}, t * 2)[1]")  # no closure: the path is a constant
    model = tf_keras.Sequential([tf_keras.layers.Lambda(double, input_shape=(3,), name="double")])
    model.save(path)
    return path
