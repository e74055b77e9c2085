"""POT is imported without the JAX/CuPy/TensorFlow backends (JAX would reserve most of a
GPU's memory), and a value the user set is kept. Each case runs in a fresh interpreter:
POT reads the variables once, at its first import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fusion.gw.pot import UNUSED_BACKENDS

PROBE = ("import json, os; from fusion.gw.pot import import_pot; ot = import_pot(); "
         f"print(json.dumps({{'env': {{k: os.environ.get(k) for k in {UNUSED_BACKENDS!r}}}, "
         "'jax': bool(ot.backend.jax), "
         "'backends': [type(b).__name__ for b in ot.backend.get_backend_list()]}))")


def _probe(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in UNUSED_BACKENDS}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_unused_backends_are_disabled_before_pot_is_imported():
    got = _probe({})
    assert got["env"] == {k: "1" for k in UNUSED_BACKENDS}
    assert not got["jax"]
    assert set(got["backends"]) <= {"NumpyBackend", "TorchBackend"} and "NumpyBackend" in got["backends"]


def test_a_value_the_user_set_is_kept():
    got = _probe({"POT_BACKEND_DISABLE_JAX": ""})
    assert got["env"]["POT_BACKEND_DISABLE_JAX"] == ""
    assert got["env"]["POT_BACKEND_DISABLE_CUPY"] == "1"
