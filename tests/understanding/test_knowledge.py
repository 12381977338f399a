"""The knowledge base: sourced, honest about confidentiality, and never a number the directory doesn't have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.answers import ACTION_FLOWS
from content.common import ContentError
from content.directory import Directory
from understanding.knowledge import KNOWLEDGE_FILE, KnowledgeBase

DIRECTORY = Directory.load()
SIGNPOSTS = {entry.id for entry in DIRECTORY.entries()}
KB = KnowledgeBase.load(SIGNPOSTS)


def test_at_least_eighty_entries_each_with_a_source_and_paraphrases() -> None:
    assert len(KB.entries) >= 80
    for entry in KB.entries:
        assert entry.sources and len(entry.paraphrases) >= 3, entry.id


def test_every_phone_number_in_an_answer_comes_from_the_directory() -> None:
    known = {re.sub(r"\D", "", c.value) for e in DIRECTORY.entries() for c in e.contacts}
    for entry in KB.entries:
        for number in re.findall(r"\b\d[\d ]{2,}\d\b", entry.answer):
            digits = re.sub(r"\D", "", number)
            if len(digits) >= 3 and not (len(digits) == 4 and 1000 <= int(digits) <= 2099):  # years (Magna Carta)
                assert digits in known, f"{entry.id}: {number} is not in signposting.yaml"


def test_no_answer_promises_secrecy() -> None:
    promises = re.compile(r"\b(completely|totally|100%) (confidential|anonymous|secret)|\bno one will (know|find out)")
    for entry in KB.entries:
        assert not promises.search(entry.answer.lower()), entry.id
    assert (
        "can't promise" in KB.entry("confidentiality").answer.lower()
        or "cannot promise" in KB.entry("confidentiality").answer.lower()
    )


def test_every_action_starts_a_flow_the_bot_has() -> None:
    for entry in KB.entries:
        if entry.action is not None:
            assert entry.action in ACTION_FLOWS, entry.id


def test_a_signpost_that_is_not_in_the_directory_stops_start_up(tmp_path: Path) -> None:
    source = (Path(__file__).resolve().parents[2] / "content" / KNOWLEDGE_FILE).read_text(encoding="utf-8")
    (tmp_path / KNOWLEDGE_FILE).write_text(source.replace("signposts: [samaritans]", "signposts: [samaritanz]", 1))
    with pytest.raises(ContentError, match="samaritanz"):
        KnowledgeBase.load(SIGNPOSTS, tmp_path)
