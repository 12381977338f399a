"""Validate Teams app manifests in tests against Microsoft's official JSON schema (ajv, under Node).

`tests/manifestcheck/validate.js` picks the schema that the pinned npm package `@microsoft/app-manifest`
bundles for the manifest's own `manifestVersion` and checks it with ajv the way that package does. Python's
`jsonschema` cannot be used: it cannot compile the `\\p{L}` patterns of schema v1.23 and later.

Usage::

    from tests.manifest_validator import assert_valid_manifest
    assert_valid_manifest(manifest)  # AssertionError lists every schema error

Needs `node` and `npm` on PATH; the first call runs `npm ci` in tests/manifestcheck if node_modules is missing
or holds other versions than package.json pins.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.npm_pins import ensure_npm_ci, require_tool

MANIFESTCHECK_DIR = Path(__file__).resolve().parent / "manifestcheck"
VALIDATE_JS = MANIFESTCHECK_DIR / "validate.js"

_NODE_TIMEOUT_S = 120


class ManifestCheckSetupError(RuntimeError):
    """Node/npm are missing, `npm ci` failed, or validate.js misbehaved: a harness problem, not a manifest one."""


@dataclass(frozen=True)
class ManifestResult:
    ok: bool
    schema: str | None  # e.g. "teams/v1.30": the bundled schema the manifest was checked against
    errors: tuple[str, ...]


_WHY = "Manifest validation runs Microsoft's schema (npm @microsoft/app-manifest) with ajv under Node.js."


def _require_tool(name: str) -> str:
    return require_tool(name, ManifestCheckSetupError, _WHY)


def ensure_node_modules() -> Path:
    """Return tests/manifestcheck/node_modules, running `npm ci` first if it is missing or out of date."""
    return ensure_npm_ci(MANIFESTCHECK_DIR, ManifestCheckSetupError, _WHY)


def validate_manifest(manifest: Any) -> ManifestResult:
    """Check one manifest (a dict, or the text of manifest.json as str/bytes) against its official schema."""
    if isinstance(manifest, bytes):
        payload = manifest.decode("utf-8")
    elif isinstance(manifest, str):
        payload = manifest
    else:
        payload = json.dumps(manifest, allow_nan=False)
    ensure_node_modules()
    node = _require_tool("node")
    try:
        proc = subprocess.run(
            [node, str(VALIDATE_JS)],
            cwd=MANIFESTCHECK_DIR,
            input=payload,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=_NODE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ManifestCheckSetupError(f"validate.js timed out after {_NODE_TIMEOUT_S}s") from exc
    if proc.returncode not in (0, 1):
        raise ManifestCheckSetupError(f"validate.js failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    try:
        result = json.loads(proc.stdout)
    except ValueError as exc:
        raise ManifestCheckSetupError(f"validate.js wrote invalid JSON: {proc.stdout[:500]!r}") from exc
    ok = bool(result.get("ok"))
    if ok != (proc.returncode == 0):
        raise ManifestCheckSetupError(f"validate.js exit {proc.returncode} disagrees with its result {result!r:.500}")
    return ManifestResult(ok=ok, schema=result.get("schema"), errors=tuple(str(e) for e in result.get("errors", [])))


def assert_valid_manifest(manifest: Any) -> ManifestResult:
    """Raise AssertionError listing every schema error; return the result (which schema was used) when valid."""
    result = validate_manifest(manifest)
    if not result.ok:
        lines = "\n".join(f"  - {error}" for error in result.errors)
        raise AssertionError(f"manifest is invalid against {result.schema or 'its schema'}:\n{lines}")
    return result
