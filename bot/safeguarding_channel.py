"""Registering the safeguarding team's channel, and keeping it safe.

Cases go only where every member is a DSO or a director. The roster is read from Teams when the channel is
registered and again whenever members are added; if it stops being safe, posting stops and the DSOs are told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema.teams import TeamsChannelAccount

from bot.delivery import DIRECT, DeliveryWorker, direct_text
from bot.people import People
from bot.roles import Role, RoleDirectory
from bot.teams_context import aad_object_id, is_personal
from content.texts import Texts
from storage import channels, outbox
from storage.db import Database

log = logging.getLogger(__name__)

_ALLOWED = frozenset({Role.DSO, Role.DIRECTOR})


@dataclass(frozen=True, slots=True)
class RosterCheck:
    outsiders: tuple[str, ...]  # display names of members who may not see cases

    @property
    def safe(self) -> bool:
        return not self.outsiders


class SafeguardingChannels:
    def __init__(
        self, *, database: Database, roles: RoleDirectory, texts: Texts, delivery: DeliveryWorker, people: People
    ) -> None:
        self._db = database
        self._roles = roles
        self._texts = texts
        self._delivery = delivery
        self._people = people

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"channel.{key}", **values)

    async def _members(self, context: TurnContext) -> list[TeamsChannelAccount]:
        members: list[TeamsChannelAccount] = []
        token = None
        while True:
            page = await TeamsInfo.get_paged_members(context, token, 200)
            members.extend(page.members or [])
            token = page.continuation_token
            if not token:
                return members

    async def check_roster(self, context: TurnContext) -> RosterCheck:
        outsiders = []
        for member in await self._members(context):
            self._people.saw(member)
            if not (await self._roles.roles_of(member.aad_object_id)) & _ALLOWED:
                outsiders.append(member.name or member.aad_object_id or member.id or "?")
        return RosterCheck(outsiders=tuple(outsiders))

    async def register(self, context: TurnContext) -> None:
        activity = context.activity
        if is_personal(activity):
            await context.send_activity(self._t("personal_not_allowed"))
            return
        if Role.DSO not in await self._roles.roles_of(aad_object_id(activity)):
            await context.send_activity(self._t("dso_only"))
            return
        try:
            check = await self.check_roster(context)
        except Exception:
            log.exception("could not read the roster of %s", activity.conversation.id)
            await context.send_activity(self._t("roster_unreadable"))
            return
        if not check.safe:
            await context.send_activity(self._t("refused", names=", ".join(check.outsiders)))
            return
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team_id = (data.get("team") or {}).get("id")
        channel_id = (data.get("channel") or {}).get("id")
        person = activity.from_property
        async with self._db.sessions.begin() as session:
            await channels.register_channel(
                session=session,
                conversation_id=channels.base_conversation_id(activity.conversation.id),
                team_id=team_id,
                channel_id=channel_id,
                service_url=activity.service_url,
                tenant_id=activity.conversation.tenant_id,
                registered_by=person.name if person else None,
            )
        log.info("safeguarding channel registered: %s", activity.conversation.id)
        await context.send_activity(self._t("registered"))

    async def members_added(self, context: TurnContext) -> None:
        """Someone joined a conversation: if it is the safeguarding channel's, check it is still safe."""
        activity = context.activity
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team_id = (data.get("team") or {}).get("id")
        async with self._db.read_sessions() as session:
            registered = await channels.find_by_conversation(
                session=session, conversation_id_or_team_id=team_id or activity.conversation.id
            )
        if registered is None or not registered.active:
            return
        try:
            check = await self.check_roster(context)
        except Exception:
            log.exception("could not re-check the safeguarding channel's roster")
            return
        if check.safe:
            return
        names = ", ".join(check.outsiders)
        dsos = sorted(await self._roles.members(Role.DSO))
        async with self._db.sessions.begin() as session:
            assert registered.id is not None
            await channels.deactivate(
                session=session, channel_row_id=registered.id, reason=f"roster no longer safe: {names}"
            )
            for aad in dsos:
                await outbox.enqueue(
                    session=session,
                    dedupe_key=f"roster-failed:{registered.id}:{aad}:{activity.id}",
                    kind=DIRECT,
                    target={"aad_object_id": aad},
                    payload=direct_text(self._t("roster_failed", names=names)),
                )
        log.warning("safeguarding channel deactivated: %s can now see it", names)
        self._delivery.wake()
