"""The locks (requirements/*.lock) agree with pyproject.toml, so `dev.py` installs what pyproject.toml asks for.

Every dependency pyproject.toml names (with its extras' own dependencies) must be pinned in the lock, to a version
its specifier allows, with hashes; the two locks must pin shared packages alike. Rebuild the locks with
`python3 scripts/refresh_locks.py` when this fails.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
SERVICE_LOCK = ROOT / "requirements" / "service.lock"
TEST_LOCK = ROOT / "requirements" / "test.lock"
LOCKED_EXTRAS = {SERVICE_LOCK: (), TEST_LOCK: ("test", "bench")}
NEVER_LOCKED_EXTRA = "train"  # torch: only scripts/train_understanding.py's own venv installs it

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: frozenset[str]


def parse_lock(text: str) -> dict[str, Pin]:
    """pip-compile's output: `name==version \\` then `--hash=sha256:...` lines; comments and options skipped."""
    pins: dict[str, Pin] = {}
    entries = re.sub(r"\\\n", " ", text).splitlines()  # one line per requirement, continuations joined
    for raw in entries:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _PIN.match(line)
        if match is None:
            raise AssertionError(f"not an exact pin: {line!r}")
        name = canonicalize_name(match["name"])
        if name in pins:
            raise AssertionError(f"{name} is pinned twice")
        pins[name] = Pin(Version(match["version"]), frozenset(_HASH.findall(line)))
    return pins


def top_level(pyproject: dict, extras: tuple[str, ...]) -> list[Requirement]:
    """What pyproject.toml asks for: the service's dependencies, the given extras' and the build requirements."""
    project = pyproject["project"]
    lines = [*project["dependencies"], *pyproject["build-system"]["requires"]]
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [req for req in map(Requirement, lines) if req.marker is None or req.marker.evaluate()]


def disagreements(pyproject: dict, extras: tuple[str, ...], pins: dict[str, Pin]) -> list[str]:
    """Each top-level requirement missing from the lock, pinned outside its specifier, or pinned without hashes."""
    problems = []
    for req in top_level(pyproject, extras):
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req} but the lock pins {pin.version}")
    problems += [f"{name}=={pin.version} has no hash" for name, pin in pins.items() if not pin.hashes]
    return problems


def load(path: Path) -> dict[str, Pin]:
    return parse_lock(path.read_text(encoding="utf-8"))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lock", [SERVICE_LOCK, TEST_LOCK], ids=lambda p: p.name)
def test_every_dependency_in_pyproject_is_pinned_with_hashes_and_satisfies_its_specifier(lock: Path) -> None:
    assert disagreements(pyproject(), LOCKED_EXTRAS[lock], load(lock)) == []


def test_the_service_lock_pins_exactly_what_the_tests_ran_on() -> None:
    service, test = load(SERVICE_LOCK), load(TEST_LOCK)
    differ = {name: (pin.version, test[name].version if name in test else None) for name, pin in service.items()}
    assert {name: pair for name, pair in differ.items() if pair[1] is None or pair[0] != pair[1]} == {}
    assert all(service[name].hashes == test[name].hashes for name in service)


def test_the_train_extra_is_in_neither_lock() -> None:
    train = {canonicalize_name(Requirement(r).name) for r in pyproject()["project"]["optional-dependencies"]["train"]}
    assert "torch" in train
    assert train & set(load(SERVICE_LOCK)) == set()
    assert train & set(load(TEST_LOCK)) == set()


def test_a_disagreement_is_caught() -> None:
    """The check itself can fail: a dependency pyproject gains, a specifier the pin no longer meets, a lost hash."""
    pins = load(TEST_LOCK)
    changed = pyproject()
    changed["project"]["dependencies"] = [
        *changed["project"]["dependencies"],
        "some-new-library>=1",
        "aiohttp>=99",
    ]
    pins["pyyaml"] = Pin(pins["pyyaml"].version, frozenset())
    assert disagreements(changed, ("test", "bench"), pins) == [
        "some-new-library>=1 is not in the lock",
        f"aiohttp>=99 but the lock pins {pins['aiohttp'].version}",
        f"pyyaml=={pins['pyyaml'].version} has no hash",
    ]
    assert "pytest>=8.3 is not in the lock" in disagreements(pyproject(), ("test",), load(SERVICE_LOCK))
    with pytest.raises(AssertionError, match="not an exact pin"):
        parse_lock("aiohttp>=3.10 \\\n    --hash=sha256:" + "0" * 64 + "\n")


def _installed_matches(pins: dict[str, Pin]) -> list[str]:
    mismatched = []
    for name, pin in pins.items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            mismatched.append(f"{name} (not installed)")
            continue
        if installed != pin.version:
            mismatched.append(f"{name} {installed} (lock: {pin.version})")
    return mismatched


def test_the_test_lock_is_closed_under_what_each_locked_package_needs() -> None:
    """Walks the installed packages' own metadata from pyproject.toml's requirements (extras such as
    sqlalchemy[asyncio] included): everything reached is pinned, to a version allowed, and nothing pinned is
    unreachable. Needs an environment installed from the lock, as `dev.py test` and CI make."""
    pins = load(TEST_LOCK)
    mismatched = [m for m in _installed_matches(pins) if not m.startswith(("setuptools", "wheel"))]
    if mismatched:
        pytest.skip(f"this environment was not installed from {TEST_LOCK.name}: {', '.join(mismatched[:5])}")
    problems: list[str] = []
    reached: set[str] = set()
    walked: set[tuple[str, frozenset[str]]] = set()
    queue = list(top_level(pyproject(), LOCKED_EXTRAS[TEST_LOCK]))
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{req} (needed) is not in the lock")
            continue
        if not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req} (needed) but the lock pins {pin.version}")
        reached.add(name)
        if (name, frozenset(req.extras)) in walked:
            continue
        walked.add((name, frozenset(req.extras)))
        if name in {"setuptools", "wheel"}:
            continue  # build requirements: pip's own venv may hold other versions
        for line in importlib.metadata.requires(name) or []:
            dependency = Requirement(line)
            wanted = dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in ("", *req.extras)
            )
            if wanted:
                queue.append(dependency)
    assert problems == []
    assert set(pins) - reached == set(), "pinned but needed by nothing: run python3 scripts/refresh_locks.py"
