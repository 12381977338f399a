#!/usr/bin/env python3
"""Rebuild requirements/*.lock from pyproject.toml: every dependency pinned to one version, with its hashes.

    python3 scripts/refresh_locks.py                         # keep today's pins; add, drop or move only what
                                                             # pyproject.toml's changes need
    python3 scripts/refresh_locks.py --upgrade-package msal  # move one package (and what it needs) to its newest
    python3 scripts/refresh_locks.py --upgrade               # move everything to its newest allowed version

Two locks, for CPython 3.11 on Linux x86_64 (markers are evaluated for the interpreter running this, so run it
with that; it refuses anything else):

    requirements/test.lock     the service, the `test` and `bench` extras, and the build requirements
    requirements/service.lock  the service and the build requirements, with the very same pins as test.lock

`python3 dev.py run`, `python3 dev.py test` and CI install only from these (`pip install --require-hashes`), so
what the tests passed on is what runs. pip-tools (`pip-compile --generate-hashes`) does the resolving; it is
installed into a throw-away venv, never into the project's. Packages come from PyPI itself: this machine's pip
configuration (mirrors, find-links, constraints) is ignored so the hashes are PyPI's. The `train` extra (torch)
is in neither lock; scripts/train_understanding.py's venv installs it as the README says.

Afterwards run `python3 dev.py test`: tests/test_locks.py checks that the locks and pyproject.toml agree.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
TEST_LOCK = LOCKS / "test.lock"
SERVICE_LOCK = LOCKS / "service.lock"
PIP_TOOLS = "pip-tools==7.7.0"
THIS_COMMAND = "python3 scripts/refresh_locks.py"


def pypi_only_environment() -> dict[str, str]:
    """pip's settings with every local mirror, find-links and constraint removed: PyPI's files and hashes only."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_") or key == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["CUSTOM_COMPILE_COMMAND"] = THIS_COMMAND  # the locks' header says how to rebuild them
    return env


def compile_lock(
    pip_compile: Path, output: Path, extras: list[str], passthrough: list[str], env: dict[str, str]
) -> None:
    args = [
        str(pip_compile),
        "pyproject.toml",
        *[f"--extra={extra}" for extra in extras],
        # setuptools and wheel too, so `pip install --no-build-isolation -e .` needs nothing unhashed.
        "--build-deps-for=editable",
        "--generate-hashes",
        "--allow-unsafe",
        "--strip-extras",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--quiet",
        f"--output-file={output.relative_to(ROOT)}",
        *passthrough,
    ]
    subprocess.run(args, cwd=ROOT, env=env, check=True)  # noqa: S603 - our scratch venv's pip-compile, fixed arguments


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upgrade", action="store_true", help="move every package to its newest allowed version")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME", help="move this one")
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11) or sys.platform != "linux" or platform.machine() != "x86_64":
        sys.exit(
            f"the locks are for CPython 3.11 on Linux x86_64; this is {platform.python_version()} "
            f"on {sys.platform} {platform.machine()}"
        )

    env = pypi_only_environment()
    with tempfile.TemporaryDirectory(prefix="safespace-lock-") as scratch:
        tools = Path(scratch) / "venv"
        venv.EnvBuilder(with_pip=True).create(tools)
        install = [tools / "bin" / "python", "-m", "pip", "install", "--quiet", PIP_TOOLS]
        subprocess.run(install, env=env, check=True)  # noqa: S603 - the scratch venv's pip, a pinned tool
        pip_compile = tools / "bin" / "pip-compile"

        passthrough = ["--upgrade"] if args.upgrade else []
        for name in args.upgrade_package:
            passthrough += ["--upgrade-package", name]
        print(f"resolving {TEST_LOCK.relative_to(ROOT)} (service, test and bench extras)", flush=True)
        compile_lock(pip_compile, TEST_LOCK, ["test", "bench"], passthrough, env)
        # pip-compile keeps the pins already in its output file: starting the service lock from the test lock gives
        # both the same versions, so the service runs exactly what the tests passed on.
        shutil.copyfile(TEST_LOCK, SERVICE_LOCK)
        print(f"resolving {SERVICE_LOCK.relative_to(ROOT)} (service only)", flush=True)
        compile_lock(pip_compile, SERVICE_LOCK, [], [], env)
    print("done: now run `python3 dev.py test` (tests/test_locks.py checks the locks against pyproject.toml)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
