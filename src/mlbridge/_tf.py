"""Import TensorFlow and Keras quietly, once, only when a stage needs them.

TensorFlow takes about ten seconds to import on a small machine and prints log
noise, so nothing imports it at module level: validation of input happens first.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType


def quiet_tensorflow() -> tuple[ModuleType, ModuleType]:
    """Return `(tensorflow, keras)` with C++ and Python logging turned down."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # The converter imports tensorflow_decision_forests, whose welcome banner imports
    # IPython (not installed) whenever stdout is not a plain file, e.g. under pytest.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    warnings.filterwarnings("ignore", message=".*pkg_resources is deprecated.*")
    if "tensorflow" not in sys.modules:
        with captured_output():  # XLA registers CUDA plugins and logs about it from C++
            import tensorflow  # noqa: F401
    import absl.logging
    import keras
    import tensorflow as tf

    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel(logging.ERROR)
    return tf, keras


@contextmanager
def captured_output() -> Iterator[Path]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to a file.

    The converter's imports and TensorFlow's C++ grappler print banners and log lines
    that Python logging cannot turn off; they are kept in the file for error messages.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.NamedTemporaryFile(prefix="mlbridge-convert-", suffix=".log") as log:
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield Path(log.name)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
