"""Signs staff can note on the concern form (domain brief, section 7): groups of indicators and 999 flags.

The list is prompts for professional judgement, not a score: the form pairs every tick with free text and
nothing here counts ticks. Keys are stored with each case, so they are checked unique across the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from content.common import DEFAULT_CONTENT_DIR, Source, StrictModel, content_error, load_model

INDICATORS_FILE = "indicators.yaml"


def _one_line(text: str) -> str:
    # Labels sit beside a tick box on a phone-width card; a stray YAML block scalar would break the layout.
    if "\n" in text or "\r" in text:
        raise ValueError("must be a single line")
    return text


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
OneLine = Annotated[Text, AfterValidator(_one_line)]
# Keys become Adaptive Card input ids (sf_ind_<key>), so they stay short, lower case and id-safe.
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
SourceKey = Annotated[str, StringConstraints(pattern=r"^S[0-9]+[a-z]?$")]


class Indicator(StrictModel):
    key: Key
    label: OneLine


class IndicatorGroup(StrictModel):
    key: Key
    title: OneLine
    sources: tuple[SourceKey, ...] = Field(min_length=1)
    items: tuple[Indicator, ...] = Field(min_length=1)


class Escalation(StrictModel):
    """Situations where the answer is 999 now, not a form."""

    title: OneLine
    sources: tuple[SourceKey, ...] = Field(min_length=1)
    flags: tuple[Indicator, ...] = Field(min_length=1)


class IndicatorsFile(StrictModel):
    sources: dict[SourceKey, Source]
    groups: tuple[IndicatorGroup, ...] = Field(min_length=1)
    escalation: Escalation


def _check(path: Path, data: IndicatorsFile) -> None:
    """Checks across entries, which pydantic cannot place on a line by itself."""
    seen: dict[str, str] = {}

    def claim(key: str, where: str, loc: tuple[int | str, ...]) -> None:
        if key in seen:
            raise content_error(path, loc, f"duplicate key {key} (already used by {seen[key]})")
        seen[key] = where

    def check_sources(sources: tuple[str, ...], loc: tuple[int | str, ...]) -> None:
        for j, source in enumerate(sources):
            if source not in data.sources:
                raise content_error(path, (*loc, j), f"unknown source {source}: list it under 'sources:'")

    for i, group in enumerate(data.groups):
        claim(group.key, f"group {i + 1}", ("groups", i, "key"))
        check_sources(group.sources, ("groups", i, "sources"))
        for j, item in enumerate(group.items):
            claim(item.key, f"{group.key} item {j + 1}", ("groups", i, "items", j, "key"))
    check_sources(data.escalation.sources, ("escalation", "sources"))
    for j, flag in enumerate(data.escalation.flags):
        claim(flag.key, f"escalation flag {j + 1}", ("escalation", "flags", j, "key"))


class Indicators:
    """The staff concern-form indicators. Build it with `Indicators.load`."""

    def __init__(self, data: IndicatorsFile) -> None:
        self._data = data
        self._labels: dict[str, str] = {item.key: item.label for group in data.groups for item in group.items}

    @classmethod
    def load(cls, content_dir: Path = DEFAULT_CONTENT_DIR) -> Indicators:
        """Load and check indicators.yaml; raise ContentError naming file, line and field."""
        path = content_dir / INDICATORS_FILE
        data = load_model(path, IndicatorsFile)
        _check(path, data)
        return cls(data)

    @property
    def groups(self) -> tuple[IndicatorGroup, ...]:
        return self._data.groups

    @property
    def escalation(self) -> Escalation:
        return self._data.escalation

    @property
    def sources(self) -> dict[str, Source]:
        return dict(self._data.sources)

    def items(self) -> Iterator[Indicator]:
        """Every indicator (not the 999 flags), in form order."""
        for group in self._data.groups:
            yield from group.items

    def __contains__(self, key: object) -> bool:
        return key in self._labels

    def label(self, key: str) -> str:
        try:
            return self._labels[key]
        except KeyError:
            raise KeyError(f"no indicator {key!r} in {INDICATORS_FILE}") from None

    def sources_for(self, group: IndicatorGroup | Escalation) -> list[Source]:
        return [self._data.sources[key] for key in group.sources]
