"""The knowledge base: sourced answers to the questions people ask Safe Space (`content/knowledge.yaml`).

Every entry carries paraphrases (how people ask), an answer, and where the answer comes from. Numbers and links
are never written here: an entry names directory entries (`signposts`), whose numbers and sources live in
`content/signposting.yaml`. An entry whose `action` is set starts one of the bot's flows instead of answering.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from content.common import DEFAULT_CONTENT_DIR, StrictModel, content_error, load_model

KNOWLEDGE_FILE = "knowledge.yaml"

EntryId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=300)]
Action = Literal["report", "quiz", "talk", "online_safety", "my_reports", "menu"]


class KnowledgeEntry(StrictModel):
    id: EntryId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=40)]
    paraphrases: tuple[Line, ...] = Field(min_length=3)
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=1200)]
    signposts: tuple[EntryId, ...] = ()
    sources: tuple[Line, ...] = Field(min_length=1)
    action: Action | None = None


class KnowledgeFile(StrictModel):
    version: Literal[1]
    entries: tuple[KnowledgeEntry, ...] = Field(min_length=1)


class KnowledgeBase:
    def __init__(self, entries: tuple[KnowledgeEntry, ...]) -> None:
        self.entries = entries
        self._by_id = {entry.id: entry for entry in entries}

    def entry(self, entry_id: str) -> KnowledgeEntry:
        return self._by_id[entry_id]

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._by_id

    @classmethod
    def load(cls, signpost_ids: Collection[str], content_dir: Path = DEFAULT_CONTENT_DIR) -> KnowledgeBase:
        """Load and check the file: unique ids, no paraphrase twice, every signpost in the directory."""
        path = content_dir / KNOWLEDGE_FILE
        data = load_model(path, KnowledgeFile)
        seen_ids: set[str] = set()
        seen_phrases: dict[str, str] = {}
        for index, entry in enumerate(data.entries):
            if entry.id in seen_ids:
                raise content_error(path, ("entries", index, "id"), f"duplicate id {entry.id!r}")
            seen_ids.add(entry.id)
            for signpost in entry.signposts:
                if signpost not in signpost_ids:
                    raise content_error(
                        path, ("entries", index, "signposts"), f"{signpost!r} is not an entry in signposting.yaml"
                    )
            for phrase in entry.paraphrases:
                key = " ".join(phrase.lower().split())
                if key in seen_phrases and seen_phrases[key] != entry.id:
                    raise content_error(
                        path,
                        ("entries", index, "paraphrases"),
                        f"{phrase!r} is also a paraphrase of {seen_phrases[key]!r}",
                    )
                seen_phrases[key] = entry.id
        return cls(data.entries)
