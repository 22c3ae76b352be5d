"""tf2java's pytest plugin (registered when tf2java is installed): the `tf2java_jvm`
fixture, one JVM with TensorFlow Java for the whole test session.

    def test_the_model_runs_the_same_on_the_jvm(tf2java_jvm, tmp_path):
        assert_parity("model.keras", workdir=tmp_path, jvm=tf2java_jvm)
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tf2java_jvm():
    """One JVM for every `assert_parity(..., jvm=tf2java_jvm)` of the session, started on
    first use and stopped when the session ends."""
    from tf2java.testing import JVM

    with JVM() as jvm:
        yield jvm
