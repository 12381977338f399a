"""Shared pieces for every content file: sources, and YAML loading that names file, line and field on error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, HttpUrl, ValidationError

M = TypeVar("M", bound=BaseModel)

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent


class ContentError(Exception):
    """A content file is missing, malformed or fails validation. The message names file, line and field."""


class StrictModel(BaseModel):
    """Content models reject unknown keys so a typo in a field name is caught at start-up, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(StrictModel):
    """Where a fact comes from, and when someone last checked it."""

    title: str
    url: HttpUrl
    checked: dt.date


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers the line of every mapping key, so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[str(key)] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k not in ("__lines__", "__line__")}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _line_of(raw: Any, loc: tuple[int | str, ...]) -> int | None:
    """Walk the raw (line-annotated) data along a pydantic error location and return the nearest line."""
    line: int | None = raw.get("__line__") if isinstance(raw, dict) else None
    node = raw
    for part in loc:
        if isinstance(node, dict):
            lines = node.get("__lines__", {})
            if str(part) in lines:
                line = lines[str(part)]
            node = node.get(part) if part in node else node.get(str(part))
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, dict):
                line = node.get("__line__", line)
        else:
            break
    return line


def content_error(path: Path, loc: tuple[int | str, ...], message: str, *, raw: Any = None) -> ContentError:
    """A ContentError naming the file, the line and the field at `loc`, for checks beyond a model's own.

    Without `raw` the file is parsed again: only on this error path, to recover the line the validated model
    no longer has.
    """
    line = _line_of(read_yaml(path) if raw is None else raw, loc)
    where = f"{path}:{line}" if line is not None else str(path)
    field = ".".join(str(part) for part in loc) or "(top level)"
    return ContentError(f"{where}: field '{field}': {message}")


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with line annotations kept (use `load_model` unless you need the raw data)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContentError(f"{path}: cannot read content file ({exc.strerror})") from exc
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ContentError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc


def load_model(path: Path, model: type[M]) -> M:
    """Load one YAML file into `model`, raising ContentError naming file, line and field on any problem.

    A good file is read once with libyaml (fast: start-up reads every content file); only a file that fails is
    read again with line numbers kept, to say where the problem is.
    """
    fast_loader = getattr(yaml, "CSafeLoader", None)
    if fast_loader is not None:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=fast_loader)  # noqa: S506 - a safe loader
            return model.model_validate(data)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError):
            pass  # the slow path below explains what is wrong, with the line
    raw = read_yaml(path)
    try:
        return model.model_validate(_strip_lines(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        line = _line_of(raw, loc)
        field = ".".join(str(p) for p in loc) or "(top level)"
        where = f"{path}:{line}" if line is not None else str(path)
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ContentError(f"{where}: field '{field}': {first['msg']}{more}") from exc
