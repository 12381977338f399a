"""Which British value a debate motion is about, for the directors' report (policy 3.1.2): debate_values.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import StringConstraints, model_validator

from content.common import DEFAULT_CONTENT_DIR, StrictModel, load_model

DEBATE_VALUES_FILE = "debate_values.yaml"
VALUES = ("democracy", "rule_of_law", "individual_liberty", "mutual_respect")

Word = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9']+", text.lower())) + " "


class DebateValues(StrictModel):
    # What a trainer may type after the motion to name its value ("rule of law").
    names: dict[str, tuple[Word, ...]]
    keywords: dict[str, tuple[Word, ...]]

    @model_validator(mode="after")
    def _known(self) -> DebateValues:
        for field in (self.names, self.keywords):
            unknown = sorted(set(field) - set(VALUES))
            if unknown:
                raise ValueError(f"unknown British value {', '.join(unknown)}; use {', '.join(VALUES)}")
        return self

    @classmethod
    def load(cls, content_dir: Path = DEFAULT_CONTENT_DIR) -> DebateValues:
        return load_model(content_dir / DEBATE_VALUES_FILE, cls)

    def named(self, text: str) -> str | None:
        """The value a trainer named ("democracy", "rule of law", "#mutual_respect"), or None."""
        said = _words(text.replace("_", " "))
        if not said.strip():
            return None
        for value, names in self.names.items():
            if said.strip() in {n for n in names} or said.strip() == value.replace("_", " "):
                return value
        return None

    def infer(self, motion: str) -> str | None:
        """The value whose keywords the motion uses most; None on no match or a tie, never a guess."""
        said = _words(motion)
        scores = {value: sum(1 for word in words if f" {word} " in said) for value, words in self.keywords.items()}
        best = max(scores.values(), default=0)
        winners = [value for value, score in scores.items() if score == best]
        return winners[0] if best > 0 and len(winners) == 1 else None
