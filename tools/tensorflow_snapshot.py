"""Takes what tf2java reads of TensorFlow without importing it, from the installed TensorFlow:

    python tools/tensorflow_snapshot.py    (or: make tensorflow-snapshot)

- exporter/core/schema/tensorflow.binpb: the descriptors of TensorFlow's SavedModel, GraphDef
  and OpDef messages and every file they import (a FileDescriptorSet), which `tfproto` builds
  its message classes from;
- exporter/checks/registries/touches.json: the ops of TensorFlow's registry that reach outside
  the model when they run, by the rules of `scan.touches_in`.

tests/test_scan.py and tests/test_safety.py check that both are the installed TensorFlow's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.checks.scan import TOUCHES_SNAPSHOT, touches_in  # noqa: E402
from exporter.core.tfproto import DESCRIPTORS, ROOT_FILES  # noqa: E402


def descriptor_set() -> bytes:
    """The FileDescriptorSet of ROOT_FILES and what they import, imports first."""
    from google.protobuf import descriptor_pb2, descriptor_pool
    from tensorflow.core.framework import op_def_pb2  # noqa: F401  (registers its file)
    from tensorflow.core.protobuf import saved_model_pb2  # noqa: F401

    pool = descriptor_pool.Default()
    out, seen = descriptor_pb2.FileDescriptorSet(), set()

    def add(file) -> None:
        if file.name in seen:
            return
        for dependency in file.dependencies:
            add(dependency)
        seen.add(file.name)
        file.CopyToProto(out.file.add())

    for name in ROOT_FILES:
        add(pool.FindFileByName(name))
    return out.SerializeToString(deterministic=True)


def live_touches() -> dict:
    """The touches snapshot of the installed TensorFlow's op registry."""
    import tensorflow as tf
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    buffer = pywrap_tf_session.TF_GetAllOpList()
    try:
        ops = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetBuffer(buffer))
    finally:
        pywrap_tf_session.TF_DeleteBuffer(buffer)
    return {"tensorflow_core": tf.__version__, "ops": touches_in(ops)}


def main() -> None:
    DESCRIPTORS.write_bytes(descriptor_set())
    TOUCHES_SNAPSHOT.write_text(json.dumps(live_touches(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {DESCRIPTORS} and {TOUCHES_SNAPSHOT}")


if __name__ == "__main__":
    main()
