"""A flow is one feature a person can start: its dialog, its menu entry and the words that start it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.dialogs import Dialog
from botbuilder.schema import Activity

from dialogs.roles import Role


@dataclass(frozen=True)
class Flow:
    # Dialog ids are persisted in conversation state: they are explicit strings, never class names, so a
    # rename cannot strand a conversation mid-flow.
    id: str
    dialog: Dialog | None  # None: a one-turn feature, answered entirely by `start_override`
    menu_label: str
    command: str
    words: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset({"personal"})
    roles: frozenset[Role] | None = None  # None: anyone
    in_menu: bool = True
    in_help: bool = True  # False: not on the help card either (commands for a few, which refuse everyone else)
    extra_dialogs: tuple[Dialog, ...] = field(default=())
    # Called with the dialog's result when it ends normally: the parent persists, dialogs never touch storage.
    on_complete: Callable[[TurnContext, Any], Awaitable[None]] | None = None
    # Runs first, with the roles and any argument from the router ("who can I talk to about bullying"); when it
    # returns True it has answered and the dialog does not start (staff get the concern form, for one).
    start_override: Callable[[TurnContext, frozenset[Role], str | None], Awaitable[bool]] | None = None
    patterns: tuple[str, ...] = ()
    # What this flow's own buttons type, each with the argument it carries: (text, argument). Routed exactly, so a
    # button press is never read as free text.
    commands: tuple[tuple[str, str], ...] = ()
    # Its answer is itself help (999 and people to talk to): a button or command that starts it needs no safety-net
    # card on top, which would only repeat the same contacts (a tapped "Feeling low or self-harm" is not a crisis).
    supportive: bool = False
    # Its dialog decides itself what "back", "menu" and "cancel" mean mid-way (the report keeps what was typed),
    # rather than the bot cancelling it; when it ends, the menu follows as after any dialog.
    handles_interruptions: bool = False
    # Something to show beside the menu, or None (the report: "You have an unfinished report").
    menu_notice: Callable[[TurnContext], Awaitable[Activity | None]] | None = None
    # Said to someone whose roles do not allow the flow, when its words are not everyday ones (staff training):
    # a kind refusal, recorded, rather than "did you mean...?". None: the words are routed as anything else.
    refuse: Callable[[TurnContext], Awaitable[None]] | None = None

    # Called instead of starting, for someone whose roles do not allow it, in a place it runs: the feature says
    # kindly that they can't and records the attempt (the safeguarding team's records). None: treated as unknown.
    on_refused: Callable[[TurnContext, frozenset[Role], str | None], Awaitable[None]] | None = None

    def allowed_for(self, roles: frozenset[Role]) -> bool:
        return self.roles is None or bool(self.roles & roles)
