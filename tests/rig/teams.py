"""Act as people in Teams: build activities as Teams sends them and post them to the bot over loopback."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.rig.fake_connector import FakeConnector, Sent

TENANT_ID = "72f988bf-0000-0000-0000-00000000cafe"
BOT = {"id": "28:safespace-bot", "name": "Safe Space"}
_ids = itertools.count(1)


@dataclass(frozen=True)
class Person:
    name: str
    aad_object_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def teams_id(self) -> str:
        return f"29:{self.aad_object_id}"

    def account(self) -> dict[str, Any]:
        return {"id": self.teams_id, "name": self.name, "aadObjectId": self.aad_object_id}


def base_activity(
    kind: str, *, person: Person, conversation: dict[str, Any], service_url: str, channel_data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"act-{next(_ids)}",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "localTimestamp": dt.datetime.now(dt.UTC).isoformat(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": person.account(),
        "conversation": conversation,
        "recipient": dict(BOT),
        "locale": "en-GB",
        "channelData": channel_data,
    }


class Chat:
    """One conversation as one person sees it: a 1:1 chat, a group chat or a channel thread."""

    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        bot_url: str,
        connector: FakeConnector,
        person: Person,
        conversation_id: str,
        conversation_type: str,
        team_id: str | None = None,
        channel_id: str | None = None,
        auth_header: str | None = None,
        membership_type: str | None = None,
    ) -> None:
        self.http = http
        self.bot_url = bot_url
        self.connector = connector
        self.person = person
        self.conversation_id = conversation_id
        self.conversation_type = conversation_type
        self.team_id = team_id
        self.channel_id = channel_id
        self.auth_header = auth_header
        self.membership_type = membership_type  # a channel's "standard" | "private" | "shared", as Teams says
        self._mark = connector.mark()

    def as_person(self, person: Person) -> Chat:
        """The same conversation, typed into by someone else."""
        other = Chat(
            http=self.http,
            bot_url=self.bot_url,
            connector=self.connector,
            person=person,
            conversation_id=self.conversation_id,
            conversation_type=self.conversation_type,
            team_id=self.team_id,
            channel_id=self.channel_id,
            auth_header=self.auth_header,
            membership_type=self.membership_type,
        )
        other._mark = self._mark
        return other

    # Building activities ------------------------------------------------------------------------------

    def _conversation(self) -> dict[str, Any]:
        conv: dict[str, Any] = {
            "id": self.conversation_id,
            "conversationType": self.conversation_type,
            "tenantId": TENANT_ID,
        }
        if self.conversation_type != "personal":
            conv["isGroup"] = True
        return conv

    def _channel_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
        if self.team_id:
            data["team"] = {"id": self.team_id, "name": "Safeguarding"}
        if self.channel_id:
            data["channel"] = {"id": self.channel_id, "name": "Cases"}
            if self.membership_type:
                data["channel"]["membershipType"] = self.membership_type
        return data

    def activity(self, kind: str, **fields: Any) -> dict[str, Any]:
        activity = base_activity(
            kind,
            person=self.person,
            conversation=self._conversation(),
            service_url=self.connector.url,
            channel_data=self._channel_data(),
        )
        activity.update(fields)
        return activity

    def message(self, text: str, *, mention: bool | None = None) -> dict[str, Any]:
        mention = self.conversation_type != "personal" if mention is None else mention
        fields: dict[str, Any] = {"text": text, "textFormat": "plain"}
        if mention:
            at = f"<at>{BOT['name']}</at>"
            fields["text"] = f"{at} {text}"
            fields["entities"] = [{"type": "mention", "text": at, "mentioned": dict(BOT)}]
        return self.activity("message", **fields)

    # Sending ------------------------------------------------------------------------------------------

    async def post(
        self, payload: Any, *, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        all_headers = {"Content-Type": content_type}
        if self.auth_header:
            all_headers["Authorization"] = self.auth_header
        all_headers.update(headers or {})
        data = payload if isinstance(payload, (str, bytes)) else None
        json_body = None if data is not None else payload
        async with self.http.post(self.bot_url, data=data, json=json_body, headers=all_headers) as resp:
            text = await resp.text()
            try:
                body = await resp.json(content_type=None) if text else None
            except ValueError:
                body = text
            return resp.status, body

    async def say(self, text: str, *, mention: bool | None = None) -> int:
        self._mark = self.connector.mark()
        status, _ = await self.post(self.message(text, mention=mention))
        return status

    async def submit(self, data: dict[str, Any]) -> int:
        """Press an Action.Submit button: Teams sends a message whose value holds the card's data."""
        self._mark = self.connector.mark()
        status, _ = await self.post(self.activity("message", value=data, text=""))
        return status

    async def press_im_back(self, value: str) -> int:
        """Press an imBack button: Teams posts the button's value as the person's own message."""
        return await self.say(value)

    async def execute(
        self, verb: str, data: dict[str, Any] | None = None, *, reply_to_id: str | None = None
    ) -> tuple[int, Any]:
        """Press an Action.Execute button: an adaptiveCard/action invoke whose HTTP reply is the new card."""
        self._mark = self.connector.mark()
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data or {}}, "trigger": "manual"}
        payload = self.activity("invoke", name="adaptiveCard/action", value=value)
        if reply_to_id:
            payload["replyToId"] = reply_to_id
        return await self.post(payload)

    async def invoke(self, name: str, value: Any = None) -> tuple[int, Any]:
        self._mark = self.connector.mark()
        return await self.post(self.activity("invoke", name=name, value=value))

    async def install(self) -> int:
        """The bot is added to this conversation (a personal install, or to a team or group chat)."""
        self._mark = self.connector.mark()
        status, _ = await self.post(self.activity("conversationUpdate", membersAdded=[dict(BOT)]))
        return status

    # Reading replies ----------------------------------------------------------------------------------

    async def replies(self, count: int = 1, *, timeout: float = 10.0) -> list[Sent]:
        """The bot's next `count` messages to this conversation since the last thing this person did."""
        found = await self.connector.wait_count(
            count, after=self._mark, conversation_id=self.conversation_id, timeout=timeout
        )
        return found

    def replies_so_far(self) -> list[Sent]:
        return self.connector.since(self._mark, self.conversation_id)
