"""Install a folder's pinned npm packages once (`npm ci`), for the Node-based checks the tests run."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

NPM_TIMEOUT_S = 300


def require_tool(name: str, error: type[Exception], why: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise error(f"`{name}` is not on PATH. {why} Install Node 20+ (with npm) to run these tests.")
    return path


def pinned_versions(package_dir: Path) -> dict[str, str]:
    package = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    return {name: str(version) for name, version in package["dependencies"].items()}


def installed_versions(node_modules: Path, names: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = str(json.loads((node_modules / name / "package.json").read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError):
            found[name] = None
    return found


def ensure_npm_ci(package_dir: Path, error: type[Exception], why: str) -> Path:
    """Return package_dir/node_modules, running `npm ci` first if it is missing or not the pinned versions."""
    require_tool("node", error, why)
    npm = require_tool("npm", error, why)
    node_modules = package_dir / "node_modules"
    pinned = pinned_versions(package_dir)
    if installed_versions(node_modules, list(pinned)) == pinned:
        return node_modules
    # Serialise concurrent installs (e.g. parallel test workers) with a lock outside the repository.
    digest = hashlib.sha256(str(package_dir).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"safe-space-npm-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_versions(node_modules, list(pinned)) == pinned:
            return node_modules
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=package_dir,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise error(f"`npm ci` in {package_dir} timed out after {NPM_TIMEOUT_S}s") from exc
        if proc.returncode != 0:
            raise error(f"`npm ci` in {package_dir} failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    installed = installed_versions(node_modules, list(pinned))
    if installed != pinned:
        raise error(f"`npm ci` installed {installed}, expected {pinned}")
    return node_modules
