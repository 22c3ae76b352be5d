"""tf2java: export TensorFlow models for the JVM, generate typed Java loaders, prove parity.

Importing this package does not import TensorFlow; the modules that need it import it lazily,
so the Java worker process can use the package without loading a second TensorFlow runtime.
"""

from __future__ import annotations

__version__ = "0.1.0"
GENERATOR = "tf2java"
