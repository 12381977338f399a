"""Turn what someone typed (or a button "typed") into an intent. Offline and deterministic."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    HELP = "help"
    MENU = "menu"
    CANCEL = "cancel"
    GREETING = "greeting"
    THANKS = "thanks"
    BYE = "bye"
    FLOW = "flow"
    REGISTER_CHANNEL = "register_channel"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Routed:
    intent: Intent
    flow_id: str | None = None
    argument: str | None = None  # e.g. the topic in "who can I talk to about bullying"
    exact: bool = False  # the whole message was a known command or phrase (a button, "help", "quiz")


_HELP = {"help", "help me", "what can you do", "what do you do", "?", "commands"}
_MENU = {"menu", "main menu", "home", "start", "start over", "back", "options"}
_CANCEL = {"cancel", "stop", "quit", "exit", "never mind", "nevermind", "forget it"}
_REGISTER = {"register safeguarding channel", "register channel", "register this channel"}
_GREETING = {"hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening", "hey there"}
# Small talk that deserves a short, kind reply rather than "did you mean...?".
_THANKS = {
    "thank you", "thanks", "thankyou", "thank u", "thanks a lot", "thank you so much", "thanks so much",
    "thanks very much", "thank you very much", "cheers", "ta", "thx", "ty", "many thanks", "thanks safe space",
    "thank you safe space", "ok thanks", "ok thank you", "okay thanks", "okay thank you", "ok, thanks",
    "ok, thank you",
}  # fmt: skip
_BYE = {
    "bye", "goodbye", "good bye", "bye bye", "byee", "see you", "see ya", "cya", "see you later", "later",
    "good night", "goodnight", "night", "ttyl", "bye safe space", "thanks bye", "thank you bye", "ok bye",
}  # fmt: skip


def normalise(text: str) -> str:
    """Lower case, no surrounding punctuation, single spaces: how people type on a phone."""
    lowered = text.strip().lower().replace("\u2019", "'")
    lowered = re.sub(r"\s+", " ", lowered)
    return lowered.strip(" .!?,;:")


TopicFinder = Callable[[str], str | None]


class Router:
    """Exact commands first, then each feature's phrases, then its patterns, then online-safety topics."""

    def __init__(self, topic_flow: str | None = None, find_topic: TopicFinder | None = None) -> None:
        self._flow_words: dict[str, str] = {}
        self._commands: dict[str, tuple[str, str]] = {}  # exact button text -> (flow, argument)
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        self._topic_flow = topic_flow
        self._find_topic = find_topic

    def register_flow(self, flow_id: str, words: Iterable[str], patterns: Iterable[str] = ()) -> None:
        for word in words:
            self._flow_words[normalise(word)] = flow_id
        self._patterns.extend((re.compile(pattern), flow_id) for pattern in patterns)

    def register_command(self, text: str, flow_id: str, argument: str) -> None:
        """An exact command that carries an argument: what a card's button types ("who can I talk to about
        self_harm"). Known for certain, so it is exact, unlike the same words matched by a pattern."""
        self._commands[normalise(text)] = (flow_id, argument)

    def route(self, text: str) -> Routed:
        said = normalise(text)
        if said in _HELP:
            return Routed(Intent.HELP, exact=True)
        if said in _MENU:
            return Routed(Intent.MENU, exact=True)
        if said in _CANCEL:
            return Routed(Intent.CANCEL, exact=True)
        if said in _REGISTER:
            return Routed(Intent.REGISTER_CHANNEL, exact=True)
        if said in self._flow_words:
            return Routed(Intent.FLOW, self._flow_words[said], exact=True)
        if said in self._commands:
            command_flow, command_argument = self._commands[said]
            return Routed(Intent.FLOW, command_flow, command_argument, exact=True)
        if said in _GREETING or not said:
            return Routed(Intent.GREETING, exact=True)
        if said in _THANKS:
            return Routed(Intent.THANKS, exact=True)
        if said in _BYE:
            return Routed(Intent.BYE, exact=True)
        for pattern, flow_id in self._patterns:
            match = pattern.search(said)
            if match:
                argument = match.groupdict().get("arg")
                return Routed(Intent.FLOW, flow_id, argument.strip() if argument else None)
        if self._topic_flow and self._find_topic and (topic := self._find_topic(said)):
            return Routed(Intent.FLOW, self._topic_flow, topic)
        return Routed(Intent.UNKNOWN)
