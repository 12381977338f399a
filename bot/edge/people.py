"""Display names of people the bot has met, so cards can say "Claire Lewis" rather than an object id.

Fed from every activity and roster the bot sees; the Microsoft Graph lookup replaces it later.
"""

from __future__ import annotations

from botbuilder.schema import ChannelAccount

_MAX_PEOPLE = 100_000


class People:
    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def saw(self, account: ChannelAccount | None) -> None:
        if account is None or not account.aad_object_id or not account.name:
            return
        if len(self._names) >= _MAX_PEOPLE:
            self._names.clear()
        self._names[account.aad_object_id.lower()] = account.name

    def remember(self, aad_object_id: str, name: str) -> None:
        self._names[aad_object_id.lower()] = name

    def name_of(self, aad_object_id: str | None) -> str | None:
        return self._names.get((aad_object_id or "").lower())
