"""What each risk category means for the people who act on it (`content/risk_categories.yaml`)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Literal

from content.common import DEFAULT_CONTENT_DIR, StrictModel, content_error, load_model
from understanding.corpus_files import CATEGORIES, NONE_CATEGORIES

RISK_CATEGORIES_FILE = "risk_categories.yaml"
CASE_CATEGORIES = ("radicalisation", "bullying", "online_safety", "abuse", "wellbeing", "other")


class CategoryMeaning(StrictModel):
    label: str
    route: str
    case_category: Literal["radicalisation", "bullying", "online_safety", "abuse", "wellbeing", "other"]


class RiskCategoriesFile(StrictModel):
    version: Literal[1]
    categories: dict[str, CategoryMeaning]


class RiskCategories:
    def __init__(self, meanings: dict[str, CategoryMeaning]) -> None:
        self._meanings = meanings

    def label(self, category: str) -> str:
        return self._meanings[category].label if category in self._meanings else category.replace("_", " ")

    def route(self, category: str) -> str | None:
        return self._meanings[category].route if category in self._meanings else None

    def case_category(self, category: str) -> str:
        return self._meanings[category].case_category if category in self._meanings else "other"

    @classmethod
    def load(cls, routes: Collection[str], content_dir: Path = DEFAULT_CONTENT_DIR) -> RiskCategories:
        """`routes`: the emergency route names triage.yaml defines."""
        path = content_dir / RISK_CATEGORIES_FILE
        data = load_model(path, RiskCategoriesFile)
        wanted = [c for c in CATEGORIES if c not in NONE_CATEGORIES]
        for category in wanted:
            if category not in data.categories:
                raise content_error(path, ("categories",), f"category {category!r} has no entry")
        for name, meaning in data.categories.items():
            if name not in wanted:
                raise content_error(path, ("categories", name), f"{name!r} is not a risk or worry category")
            if meaning.route not in routes:
                raise content_error(path, ("categories", name, "route"), f"{meaning.route!r} is not a triage route")
        return cls(dict(data.categories))
