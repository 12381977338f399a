"""Turn what someone typed (or a button "typed") into an intent. Offline and deterministic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    HELP = "help"
    MENU = "menu"
    CANCEL = "cancel"
    GREETING = "greeting"
    FLOW = "flow"
    REGISTER_CHANNEL = "register_channel"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Routed:
    intent: Intent
    flow_id: str | None = None


_HELP = {"help", "help me", "what can you do", "what do you do", "?", "commands"}
_MENU = {"menu", "main menu", "home", "start", "start over", "back", "options"}
_CANCEL = {"cancel", "stop", "quit", "exit", "never mind", "nevermind", "forget it"}
_REGISTER = {"register safeguarding channel", "register channel", "register this channel"}
_GREETING = {"hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening", "hey there"}


def normalise(text: str) -> str:
    """Lower case, no surrounding punctuation, single spaces: how people type on a phone."""
    lowered = text.strip().lower().replace("\u2019", "'")
    lowered = re.sub(r"\s+", " ", lowered)
    return lowered.strip(" .!,;:")


class Router:
    """Exact commands first; each feature registers the words that start it."""

    def __init__(self) -> None:
        self._flow_words: dict[str, str] = {}

    def register_flow(self, flow_id: str, words: list[str]) -> None:
        for word in words:
            self._flow_words[normalise(word)] = flow_id

    def route(self, text: str) -> Routed:
        said = normalise(text)
        if said in _HELP:
            return Routed(Intent.HELP)
        if said in _MENU:
            return Routed(Intent.MENU)
        if said in _CANCEL:
            return Routed(Intent.CANCEL)
        if said in _REGISTER:
            return Routed(Intent.REGISTER_CHANNEL)
        if said in self._flow_words:
            return Routed(Intent.FLOW, self._flow_words[said])
        if said in _GREETING or not said:
            return Routed(Intent.GREETING)
        return Routed(Intent.UNKNOWN)
