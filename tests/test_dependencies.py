"""The install is reproducible and past known advisories: every dependency is pinned in requirements.lock, the
pins satisfy pyproject.toml, the floors exclude versions with published advisories, and this environment runs
exactly the pinned versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# (first version without the advisories we know of, the last one with them); see the comment in pyproject.toml.
ADVISORY_FLOORS = {
    "aiohttp": ("3.14.3", "3.14.2"),  # GHSA-mfx4-hv73-q22v, GHSA-mq44-7p77-q5h7 (3.14.2), GHSA-cq5v-8q36-5273 (3.14.3)
    "starlette": ("1.3.1", "1.3.0"),
    "cryptography": ("50.0.0", "49.0.0"),
    "h11": ("0.16", "0.15.0"),
}
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", re.MULTILINE)


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(spec) for spec in names]


def _pins() -> dict[str, Version]:
    text = (ROOT / "requirements.lock").read_text()
    return {canonicalize_name(name): Version(version) for name, version in _PIN.findall(text)}


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is missing from requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name]), f"lock pins {name}=={pins[name]}, outside {requirement}"


def test_lock_is_hash_checked() -> None:
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 6)[-1])
    unhashed = [block.split()[0] for block in blocks if "==" in block and "--hash=" not in block]
    assert unhashed == []


@pytest.mark.parametrize(("package", "versions"), sorted(ADVISORY_FLOORS.items()))
def test_floors_exclude_versions_with_advisories(package: str, versions: tuple[str, str]) -> None:
    fixed, vulnerable = versions
    requirement = next(r for r in _requirements() if canonicalize_name(r.name) == package)
    assert not requirement.specifier.contains(vulnerable), f"{requirement} still admits {vulnerable}"
    assert requirement.specifier.contains(fixed)


def test_this_environment_runs_the_pinned_versions() -> None:
    mismatched = {}
    for name, pinned in _pins().items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            mismatched[name] = "not installed"
            continue
        if installed != pinned:
            mismatched[name] = f"{installed} installed, {pinned} pinned"
    assert mismatched == {}, "the environment drifted from requirements.lock (rerun make): " + str(mismatched)
