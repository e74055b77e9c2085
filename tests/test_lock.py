"""The lock (``constraints.txt``): every dependency pyproject.toml names is pinned there, at
a version its floor allows, and the bootstrapped ``.venv`` holds exactly the locked
versions (``make setup`` installs with ``-c constraints.txt``)."""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, Version]:
    pins = {}
    for number, line in enumerate((REPO / "constraints.txt").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt:{number}: not a pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in [*project["dependencies"], *extras]]


def test_every_declared_dependency_is_locked_within_its_floor():
    pins = _lock()
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is not in constraints.txt (run make lock)"
        assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt pins {name}=={pins[name]}, " \
                                                                      f"outside pyproject's {req}"


def test_the_environment_is_the_lock():
    pins = _lock()
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version) for d in md.distributions()}
    missing = sorted(n for n in pins if n not in installed)
    differ = {n: (str(pins[n]), str(installed[n])) for n in pins if n in installed
              and Version(installed[n].public) != pins[n]}
    assert not missing and not differ, f"not installed: {missing}; locked vs installed: {differ}"
