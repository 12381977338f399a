"""Reading the labelled corpus (`understanding/corpus/`): the training writers and the frozen test split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
TRAIN_DIR = CORPUS_DIR / "train"
TEST_DIR = CORPUS_DIR / "test"
FROZEN = TEST_DIR / "FROZEN.sha256"

Severity = Literal["none", "medium", "high"]
SEVERITIES: tuple[Severity, ...] = ("none", "medium", "high")

# The categories a message can have (README.md beside the corpus says what each means).
RISK_CATEGORIES = (
    "self_harm",
    "harm_to_others",
    "attack_planning",
    "radicalisation",
    "sexual_abuse",
    "exploitation",
    "domestic_abuse",
    "honour_based_abuse",
    "modern_slavery",
    "immediate_danger",
)
WORRY_CATEGORIES = (
    "bullying",
    "hate_incident",
    "low_mood",
    "eating",
    "coercive_control",
    "scams",
    "gambling",
    "worrying_views",
)
NONE_CATEGORIES = ("lookalike", "question", "chat")
CATEGORIES = RISK_CATEGORIES + WORRY_CATEGORIES + NONE_CATEGORIES


@dataclass(frozen=True, slots=True)
class Message:
    writer: str
    text: str
    severity: Severity
    category: str
    topic: str | None = None


def read_corpus_file(path: Path) -> list[Message]:
    # libyaml's loader when present: the service reads the training questions at start-up.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    writer = str(data["writer"])
    messages = []
    for item in data["messages"]:
        severity, category = item["severity"], item["category"]
        if severity not in SEVERITIES or category not in CATEGORIES:
            raise ValueError(f"{path}: bad label {severity}/{category} on {item['text']!r}")
        messages.append(Message(writer, str(item["text"]), severity, category, item.get("topic")))
    return messages


def read_split(directory: Path) -> list[Message]:
    messages: list[Message] = []
    for path in sorted(directory.glob("*.yaml")):
        messages.extend(read_corpus_file(path))
    return messages


def frozen_files_intact() -> list[str]:
    """Names of test files whose SHA-256 differs from FROZEN.sha256 (empty when the split is untouched)."""
    broken = []
    for line in FROZEN.read_text(encoding="utf-8").splitlines():
        digest, name = line.split()
        if hashlib.sha256((TEST_DIR / name).read_bytes()).hexdigest() != digest:
            broken.append(name)
    listed = {line.split()[1] for line in FROZEN.read_text(encoding="utf-8").splitlines()}
    broken += [p.name for p in TEST_DIR.glob("*.yaml") if p.name not in listed]
    return broken


def corpus_digest(directory: Path) -> str:
    """One hash over a split's files, recorded with a model so you can tell what it was trained on."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
