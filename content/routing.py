"""The phrases and patterns that route typed text to a feature, from content/routing.yaml."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from content.common import StrictModel, load_model

ROUTING_FILE = "routing.yaml"


class FlowRouting(StrictModel):
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns


class Routing(StrictModel):
    flows: dict[str, FlowRouting]
    # Group-chat and channel commands: command id -> the phrases that start it.
    group_commands: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @classmethod
    def load(cls, content_dir: Path) -> Routing:
        return load_model(content_dir / ROUTING_FILE, cls)
