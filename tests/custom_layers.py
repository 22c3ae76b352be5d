"""A custom Keras layer that is not registered for serialization: loading a model that uses it
needs --custom-objects tests.custom_layers."""

from __future__ import annotations

import keras

__all__ = ["Scale"]


class Scale(keras.layers.Layer):
    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
