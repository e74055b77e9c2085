"""POT, imported with only the backends this project uses (NumPy and PyTorch).

POT imports JAX, CuPy and TensorFlow at import time whenever they are installed, and JAX
then reserves 75 % of the GPU's memory for itself (measured on an H200 beside the
experiment's trainings: one diagnostics process held 105 GiB and the evaluations beside
it ran out of memory). Every module that needs POT imports it through :func:`import_pot`.
"""

from __future__ import annotations

import os
from types import ModuleType

# POT reads these once, when ``ot`` is first imported; a value the user set is kept.
UNUSED_BACKENDS = ("POT_BACKEND_DISABLE_JAX", "POT_BACKEND_DISABLE_CUPY", "POT_BACKEND_DISABLE_TENSORFLOW")


def import_pot() -> ModuleType:
    """``import ot`` with POT's JAX, CuPy and TensorFlow backends disabled (unless the
    environment already says otherwise); returns the module."""
    for key in UNUSED_BACKENDS:
        os.environ.setdefault(key, "1")
    import ot

    return ot
