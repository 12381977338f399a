"""User-facing wording, loaded once from content/en.yaml and checked at start-up."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from content.common import ContentError, read_yaml

TEXTS_FILE = "en.yaml"


def _flatten(prefix: str, node: Any, out: dict[str, str], path: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("__lines__", "__line__"):
                continue
            if not isinstance(key, str):
                # YAML reads bare yes/no/on/off keys as booleans: a silent way to lose a sentence.
                raise ContentError(f"{path}: key {key!r} under '{prefix}' is not text; put it in quotes")
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out, path)
    elif isinstance(node, str):
        out[prefix] = node
    else:
        raise ContentError(f"{path}: field '{prefix}': expected text, got {type(node).__name__}")


class Texts:
    """Look up wording by key and fill in named placeholders."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._entries = dict(entries)

    @classmethod
    def load(cls, content_dir: Path) -> Texts:
        """en.yaml, then every en.<part>.yaml beside it (one per area, so wording can be split by feature)."""
        flat: dict[str, str] = {}
        for path in [content_dir / TEXTS_FILE, *sorted(content_dir.glob("en.*.yaml"))]:
            part: dict[str, str] = {}
            _flatten("", read_yaml(path), part, path)
            for key, value in part.items():
                if key in flat:
                    raise ContentError(f"{path}: field '{key}': already defined in another en*.yaml file")
                try:
                    list(string.Formatter().parse(value))
                except ValueError as exc:
                    raise ContentError(f"{path}: field '{key}': bad placeholder ({exc})") from exc
            flat.update(part)
        return cls(flat)

    def has(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str, **values: object) -> str:
        try:
            template = self._entries[key]
        except KeyError:
            raise KeyError(f"no text for {key!r} in {TEXTS_FILE}") from None
        return template.format(**values) if values else template

    def plural(self, key: str, count: int, **values: object) -> str:
        """`<key>.one` for exactly one, `<key>.other` for any other count, with {count} filled in.

        English needs only the two forms; keeping both in the wording file means "1 question" is never "1 questions".
        """
        return self.get(f"{key}.{'one' if count == 1 else 'other'}", count=count, **values)

    def require(self, *keys: str) -> None:
        """Fail start-up, not a conversation, when code needs a key the file lacks."""
        missing = [key for key in keys if key not in self._entries]
        if missing:
            raise ContentError(f"{TEXTS_FILE}: missing text for {', '.join(missing)}")
