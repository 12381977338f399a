"""Model files: where they are, and proof they are the ones that were trained and measured.

`understanding/model/manifest.json` lists every file with its SHA-256. Loading checks each hash before the file
is used: a swapped, truncated or half-copied model refuses to load rather than quietly changing what the safety
net catches. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_DIR = Path(__file__).resolve().parent / "model"
MANIFEST = "manifest.json"


class ModelIntegrityError(RuntimeError):
    """A model file is missing or is not the file the manifest names."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Manifest:
    directory: Path
    data: dict[str, Any]

    def path(self, name: str) -> Path:
        """The file's path, after checking its hash against the manifest."""
        expected = (self.data.get("files") or {}).get(name)
        if not expected:
            raise ModelIntegrityError(f"{name} is not listed in {self.directory / MANIFEST}")
        path = self.directory / name
        if not path.is_file():
            raise ModelIntegrityError(f"model file {path} is missing")
        actual = sha256_of(path)
        if actual != expected:
            raise ModelIntegrityError(f"model file {path} has sha256 {actual}, expected {expected}")
        return path


def load_manifest(directory: Path = MODEL_DIR) -> Manifest:
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelIntegrityError(f"{path} is not a JSON object")
    return Manifest(directory=directory, data=data)
