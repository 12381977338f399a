#!/usr/bin/env python3
"""One command to run Safe Space and one to test it, on a machine with only Python 3.11+ and pip.

    python3 dev.py run     # creates .venv, installs requirements/service.lock, serves on http://127.0.0.1:3978
    python3 dev.py test    # installs requirements/test.lock; lint, types, then the whole test suite (Node 20+
                           # is needed for card checks)

Uses only the standard library, so it works before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
# Exact versions with hashes (scripts/refresh_locks.py): the service alone, and with the test and bench extras.
SERVICE_LOCK = ROOT / "requirements" / "service.lock"
TEST_LOCK = ROOT / "requirements" / "test.lock"


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def run(*args: str | Path, cwd: Path = ROOT) -> None:
    subprocess.run([str(a) for a in args], cwd=cwd, check=True)


def ensure_venv(lock: Path) -> None:
    """Install exactly what `lock` pins, hashes checked, then Safe Space itself without resolving anything.

    Reinstalls only when pyproject.toml or the lock changes; otherwise starts at once. The locks are rebuilt with
    scripts/refresh_locks.py (see the README), never by hand.
    """
    if sys.version_info < (3, 11):
        sys.exit(f"Safe Space needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + lock.read_bytes()).hexdigest()
    marker = VENV / ".safespace-installed"
    installed = marker.read_text().split() if marker.exists() else []
    if wanted in installed:
        return
    say(f"installing {lock.relative_to(ROOT)} into .venv (first run takes a minute or two)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock)
    # Everything it needs, setuptools included, came from the lock: nothing is resolved or fetched here.
    run(PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", ".")
    marker.write_text(" ".join([*installed, wanted]))


def cmd_run(extra_args: list[str]) -> int:
    ensure_venv(SERVICE_LOCK)
    os.execv(str(PYTHON), [str(PYTHON), "-m", "bot", *extra_args])
    return 0  # not reached


def cmd_test(extra_args: list[str]) -> int:
    ensure_venv(TEST_LOCK)
    if shutil.which("node") is None or shutil.which("npm") is None:
        say("Node.js 20+ and npm are needed: cards are checked with the official adaptivecards renderer")
        return 1
    run("npm", "ci", "--no-audit", "--no-fund", "--silent", cwd=ROOT / "tests" / "cardcheck")
    say("ruff (lint and format)")
    run(PYTHON, "-m", "ruff", "check", ".")
    run(PYTHON, "-m", "ruff", "format", "--check", ".")
    say("mypy")
    run(PYTHON, "-m", "mypy")
    say("pytest")
    result = subprocess.run([str(PYTHON), "-m", "pytest", *extra_args], cwd=ROOT, check=False)
    if result.returncode == 5:
        say("pytest collected no tests: that is a failure")
        return 1
    return result.returncode


def main() -> int:
    commands = {"run": cmd_run, "test": cmd_test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    try:
        return commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        say(f"failed: {' '.join(map(str, exc.cmd))} (exit {exc.returncode})")
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
