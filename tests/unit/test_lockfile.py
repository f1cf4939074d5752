"""The lockfiles pin what pyproject.toml asks for, and this environment was installed from them."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCKS = {"requirements.lock": PROJECT["dependencies"],
         "requirements-test.lock": [*PROJECT["dependencies"],
                                    *PROJECT["optional-dependencies"]["test"]]}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)"
                 r"\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")


def pins(lockfile: str) -> dict[str, tuple[str, str | None]]:
    found = {}
    for line in (ROOT / lockfile).read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match["name"])] = (match["version"], match["marker"])
    return found


def applies(marker: str | None) -> bool:
    return marker is None or Marker(marker).evaluate()


def test_lockfiles_were_made_from_the_current_dependency_lists():
    lists = {"dependencies": PROJECT["dependencies"],
             **PROJECT.get("optional-dependencies", {})}
    digest = hashlib.sha256(json.dumps(lists, sort_keys=True).encode()).hexdigest()
    for lockfile in LOCKS:
        first = (ROOT / lockfile).read_text().splitlines()[0]
        assert digest in first, f"{lockfile} is older than pyproject.toml: run deploy/lock"


@pytest.mark.parametrize("lockfile", sorted(LOCKS))
def test_every_dependency_is_pinned_within_its_range_with_hashes(lockfile):
    pinned = pins(lockfile)
    for text in LOCKS[lockfile]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lockfile} does not pin {name}: run deploy/lock"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), \
            f"{lockfile} pins {name}=={version}, outside {requirement.specifier}"
    body = (ROOT / lockfile).read_text()
    assert len(re.findall(r"^[A-Za-z0-9._-]+==", body, flags=re.MULTILINE)) == len(pinned)
    assert body.count("--hash=sha256:") >= len(pinned), f"{lockfile} lacks hashes"


def test_this_environment_holds_exactly_the_pinned_versions():
    # ./coinlog installs from requirements-test.lock; a version that differs means an install
    # that bypassed it (or a lockfile changed without reinstalling).
    wrong = {}
    for name, (version, marker) in pins("requirements-test.lock").items():
        if not applies(marker):
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if canonicalize_name(installed) != canonicalize_name(version):
            wrong[name] = f"{installed} (locked {version})"
    assert not wrong, f"installed versions differ from requirements-test.lock: {wrong}"
