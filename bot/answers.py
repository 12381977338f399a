"""Answers to natural questions, and what to say when nothing understood a message.

The knowledge base (content/knowledge.yaml) answers by meaning; an uncertain match offers the closest two or
three; an entry with an `action` starts that flow. A message nobody understood never gets a bare "didn't
understand": distress gets a gentle check-in, anything else the closest matches and the menu.
"""

from __future__ import annotations

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from cards.answer_card import answer_card
from cards.choice_card import Choice, choice_card
from content.directory import Directory
from content.texts import Texts
from understanding.knowledge import KnowledgeEntry
from understanding.questions import QuestionMatch
from understanding.reader import Understanding

# Which flow each knowledge-base action starts (None: the menu).
ACTION_FLOWS: dict[str, str | None] = {
    "report": "report_worry",
    "quiz": "quiz",
    "talk": "who_can_i_talk_to",
    "online_safety": "online_safety",
    "my_reports": "my_reports",
    "menu": None,
}


class Answers:
    def __init__(self, understanding: Understanding, directory: Directory, texts: Texts) -> None:
        self._understanding = understanding
        self._directory = directory
        self._texts = texts
        for entry in understanding.questions.entries:
            if entry.action is not None and entry.action not in ACTION_FLOWS:
                raise ValueError(f"knowledge entry {entry.id} has an action no flow handles: {entry.action}")

    def match(self, text: str) -> QuestionMatch:
        return self._understanding.answer(text)

    def answer(self, entry: KnowledgeEntry) -> Activity:
        entries = [self._directory.entry(signpost) for signpost in entry.signposts]
        sources = self._texts.get("answers.sources", sources="; ".join(entry.sources))
        return _card(answer_card(entry.title, entry.answer, entries, sources))

    def suggestions(self, entries: tuple[KnowledgeEntry, ...] | list[KnowledgeEntry], key: str) -> Activity:
        # Each button types the entry's first paraphrase, which the matcher answers with certainty.
        choices = [Choice(entry.title, entry.paraphrases[0]) for entry in entries]
        choices.append(Choice(self._texts.get("fallback.menu"), "menu"))
        return _card(choice_card(self._texts.get(f"fallback.{key}"), "", choices))

    def closest(self, text: str, match: QuestionMatch | None = None) -> Activity:
        """One card: "not sure I understood", the nearest entries, and the way to the menu. `match`: the
        message's match when it has one already, whose nearest entries are these."""
        nearest = match.nearest if match is not None and match.nearest else self._understanding.questions.closest(text)
        return self.suggestions(list(nearest), "unknown")

    def check_in(self) -> Activity:
        return _card(
            choice_card(
                self._texts.get("fallback.check_in"),
                "",
                [
                    Choice(self._texts.get("fallback.check_in_talk"), "who can I talk to"),
                    Choice(self._texts.get("fallback.check_in_report"), "report"),
                ],
            )
        )


def _card(card: dict[str, object]) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))
