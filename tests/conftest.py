"""Session fixtures: each test model is built and exported once, in this one process (importing
TensorFlow costs seconds per process)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests import models  # noqa: E402

# Every export fixture; each passes parity, so every check must find it loadable.
EXPORTS = [
    "demo_export",
    "multi_export",
    "split_export",
    "tf1_split_export",
    "keras_export",
    "gamma_export",
    "dtypes_export",
]


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sources")


def _export(built: Path, tmp_path_factory, name: str, src: Path, **kwargs) -> Path:
    from exporter.commands.export import export

    out = tmp_path_factory.mktemp("exports") / name
    export(src, out, name=name, **kwargs)
    return out


@pytest.fixture(scope="session")
def demo_source(built) -> Path:
    from exporter.commands import demo_model

    return demo_model.save(built / "demo")


@pytest.fixture(scope="session")
def demo_export(built, tmp_path_factory, demo_source) -> Path:
    return _export(built, tmp_path_factory, "bert_classifier", demo_source)


@pytest.fixture(scope="session")
def multi_source(built) -> Path:
    return models.save_module(models.MultiDtype(), built / "multi")


@pytest.fixture(scope="session")
def dtypes_export(built, tmp_path_factory) -> Path:
    src = models.save_module(models.EveryDtype(), built / "every_dtype")
    return _export(built, tmp_path_factory, "every_dtype", src)


@pytest.fixture(scope="session")
def image_export(built, tmp_path_factory) -> Path:
    src = models.save_image_classifier(built / "classifier.keras")
    return _export(built, tmp_path_factory, "classifier", src)


@pytest.fixture(scope="session")
def multi_export(built, tmp_path_factory, multi_source) -> Path:
    return _export(built, tmp_path_factory, "multi_dtype", multi_source)


@pytest.fixture(scope="session")
def split_source(built) -> Path:
    return models.save_module(models.Split(), built / "split")


@pytest.fixture(scope="session")
def split_export(built, tmp_path_factory, split_source) -> Path:
    return _export(built, tmp_path_factory, "split", split_source)


@pytest.fixture(scope="session")
def tf1_split_source(built) -> Path:
    return models.save_tf1_split(built / "tf1_split")


@pytest.fixture(scope="session")
def tf1_split_export(built, tmp_path_factory, tf1_split_source) -> Path:
    return _export(built, tmp_path_factory, "tf1_split", tf1_split_source)


@pytest.fixture(scope="session")
def keras_source(built) -> Path:
    return models.save_keras(built / "two_heads.keras")


@pytest.fixture(scope="session")
def keras_export(built, tmp_path_factory, keras_source) -> Path:
    return _export(built, tmp_path_factory, "two_heads", keras_source)


@pytest.fixture(scope="session")
def gamma_source(built) -> Path:
    return models.save_module(models.StatelessGamma(), built / "gamma")


@pytest.fixture(scope="session")
def gamma_export(built, tmp_path_factory, gamma_source) -> Path:
    return _export(built, tmp_path_factory, "gamma", gamma_source)


@pytest.fixture(scope="session")
def custom_op_export(tmp_path_factory) -> Path:
    return models.write_custom_op_export(tmp_path_factory.mktemp("custom") / "export")


@pytest.fixture(scope="session")
def tf1_dir(built) -> Path:
    return models.save_tf1_formats(built / "tf1")


@pytest.fixture(scope="session")
def keras_h5(built) -> dict:
    (built / "h5").mkdir()
    return models.save_keras_h5(built / "h5")


CUSTOM_LAYERS = """
import keras


class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
"""


@pytest.fixture(scope="session")
def custom_keras(built) -> Path:
    """A .keras model with a custom layer that is not registered for serialization, defined
    in a module (built/custom/tf2java_test_layers.py) that is not importable afterwards."""
    import importlib
    import sys

    import keras

    folder = built / "custom"
    folder.mkdir()
    (folder / "tf2java_test_layers.py").write_text(CUSTOM_LAYERS)
    sys.path.insert(0, str(folder))
    try:
        layers = importlib.import_module("tf2java_test_layers")
        x = keras.Input((3,), name="x")
        y = layers.Scale(3.0, name="scale")(keras.layers.Dense(2, name="dense")(x))
        keras.Model(x, y).save(folder / "custom.keras")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("tf2java_test_layers", None)
    return folder / "custom.keras"


@pytest.fixture(scope="session")
def edges_export(built, tmp_path_factory) -> Path:
    src = models.save_module(models.Edges(), built / "edges")
    return _export(built, tmp_path_factory, "edges", src)
