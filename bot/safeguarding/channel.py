"""Registering the safeguarding team's channel, and keeping it safe.

Cases go only where every member is a DSO or a director. The roster is read from Teams when the channel is
registered, whenever members are added, on a schedule, and before a new case is posted if the last check is
older than a few minutes. The check fails closed: if Teams cannot say who is there, the channel is *held*
(nothing confidential is posted or redrawn there, new cases go to the DSOs 1:1) until a check succeeds. If
someone who may not see cases is there, the channel is deactivated, every card it holds is redrawn as a
neutral "this case has moved" stub, and the open cases go to the DSOs 1:1.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.schema.teams import TeamsChannelAccount
from sqlalchemy.ext.asyncio import AsyncSession

from bot.edge.adapter import RetryableTurnError
from bot.edge.background import Periodic
from bot.edge.people import People
from bot.edge.proactive import DeliveryError, Messenger, read_roster, reference_for
from bot.edge.teams_context import aad_object_id, conversation_tag, is_personal
from bot.safeguarding.case_cards import CaseCards
from bot.safeguarding.delivery import CARD_UPDATE, DIRECT, DeliveryWorker, case_card_key, direct_text
from content.texts import Texts
from dialogs.roles import Role, RoleDirectory
from storage import cases, channels, outbox
from storage.db import Database
from storage.models import SafeguardingChannel
from storage.types import utcnow

log = logging.getLogger(__name__)

_ALLOWED = frozenset({Role.DSO, Role.DIRECTOR})


class RosterUnavailable(RetryableTurnError):
    """Teams could not say who is in the channel. The turn answers 503, so Teams sends the event again."""


@dataclass(frozen=True, slots=True)
class RosterCheck:
    outsiders: tuple[str, ...]  # display names of members who may not see cases

    @property
    def safe(self) -> bool:
        return not self.outsiders


class SafeguardingChannels:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        delivery: DeliveryWorker,
        people: People,
        messenger: Messenger,
        cards: CaseCards,
        recheck_seconds: float = 900.0,
        trust_seconds: float = 300.0,
    ) -> None:
        self._db = database
        self._roles = roles
        self._texts = texts
        self._delivery = delivery
        self._people = people
        self._messenger = messenger
        self._cards = cards
        # How long a successful roster check is trusted before a new case is posted without asking Teams again.
        self._trust = dt.timedelta(seconds=trust_seconds)
        self._loop = Periodic("channel-roster", self._scheduled_check, recheck_seconds)
        delivery.channel_guard = self.safe_to_post

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"channel.{key}", **values)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    # Reading the roster -----------------------------------------------------------------------------------

    async def _judge(self, members: Iterable[TeamsChannelAccount]) -> RosterCheck:
        outsiders = []
        for member in members:
            self._people.saw(member)
            if not (await self._roles.roles_of(member.aad_object_id)) & _ALLOWED:
                outsiders.append(member.name or member.aad_object_id or member.id or "?")
        return RosterCheck(outsiders=tuple(outsiders))

    async def check_roster(self, context: TurnContext) -> RosterCheck:
        return await self._judge(await read_roster(context))

    async def _check_from_outside(self, channel: SafeguardingChannel) -> RosterCheck | None:
        """The roster of a registered channel, read without a turn; None when Teams did not answer."""
        reference = reference_for(channel.conversation_id, channel.service_url, tenant_id=channel.tenant_id)
        try:
            members = await self._messenger.roster(reference, channel.team_id)
        except DeliveryError as exc:
            log.warning("could not read the safeguarding channel's roster (%s)", exc.status or "no answer")
            return None
        return await self._judge(members)

    # Registering -----------------------------------------------------------------------------------------

    async def register(self, context: TurnContext) -> None:
        activity = context.activity
        if is_personal(activity):
            await context.send_activity(self._t("personal_not_allowed"))
            return
        if Role.DSO not in await self._roles.roles_of(aad_object_id(activity)):
            log.warning("refused to register a safeguarding channel for a user without the DSO role")
            await context.send_activity(self._t("dso_only"))
            return
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        channel = data.get("channel")
        channel_data = channel if isinstance(channel, dict) else {}
        if activity.conversation.conversation_type == "channel" or data.get("team") or channel_data:
            # The roster check below reads the *team's* members (Teams answers for the team whenever a team is
            # present), so it only describes who can see a standard channel. A shared channel can hold people
            # from outside the team, and a private one is not what we checked either: refuse both, and any
            # channel Teams does not say is standard, before reading anything.
            kind = channel_data.get("membershipType")
            if kind != "standard":
                log.warning("refused to register a %s channel: %s", kind or "unknown", conversation_tag(activity))
                if kind in ("shared", "private"):
                    await context.send_activity(self._t("not_standard", kind=kind))
                else:
                    await context.send_activity(self._t("kind_unknown"))
                return
        try:
            check = await self.check_roster(context)
        except Exception:
            log.exception("could not read the roster of %s", conversation_tag(activity))
            await context.send_activity(self._t("roster_unreadable"))
            return
        if not check.safe:
            await context.send_activity(self._t("refused", names=", ".join(check.outsiders)))
            return
        team_id = (data.get("team") or {}).get("id")
        channel_id = channel_data.get("id")
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

    # Keeping it safe -------------------------------------------------------------------------------------

    async def _registered_here(self, context: TurnContext) -> SafeguardingChannel | None:
        activity = context.activity
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team_id = (data.get("team") or {}).get("id")
        async with self._db.read_sessions() as session:
            registered = await channels.find_by_conversation(
                session=session, conversation_id_or_team_id=team_id or activity.conversation.id
            )
        return registered if registered is not None and registered.active else None

    async def is_registered_here(self, context: TurnContext) -> bool:
        """Whether this conversation is the safeguarding team's registered channel (or group chat)."""
        return await self._registered_here(context) is not None

    async def members_added(self, context: TurnContext) -> None:
        """Someone joined a conversation: if it is the safeguarding channel's, check it is still safe."""
        registered = await self._registered_here(context)
        if registered is None:
            return
        try:
            check = await self.check_roster(context)
        except Exception as exc:
            await self.joined_but_unreadable(context, exc)
        else:
            await self._apply(registered, check, event=context.activity.id or "")

    async def joined_but_unreadable(self, context: TurnContext, error: Exception) -> None:
        """Someone joined and Teams could not say who: hold the channel, tell the DSOs, and raise so the turn
        answers 503 and Teams sends the event again. Does nothing outside the safeguarding channel."""
        registered = await self._registered_here(context)
        if registered is None:
            return
        log.error("could not check who joined the safeguarding channel (%s); holding it", type(error).__name__)
        await self._hold(registered, "roster unreadable after a member joined", event=context.activity.id or "")
        raise RosterUnavailable from error

    async def safe_to_post(self, channel: SafeguardingChannel) -> bool:
        """Asked before a new case is posted: trust a recent check, otherwise ask Teams now."""
        if channels.is_safe_now(channel, now=utcnow(), max_age=self._trust):
            return True
        check = await self._check_from_outside(channel)
        if check is None:
            await self._hold(channel, "roster unreadable before posting a case", event="post")
            return False
        return await self._apply(channel, check, event="post")

    async def _scheduled_check(self) -> int:
        async with self._db.read_sessions() as session:
            channel = await channels.active_channel(session=session)
        if channel is None:
            return 0
        check = await self._check_from_outside(channel)
        if check is None:
            await self._hold(channel, "roster unreadable at the scheduled check", event="schedule")
        else:
            await self._apply(channel, check, event="schedule")
        return 0

    async def _apply(self, channel: SafeguardingChannel, check: RosterCheck, *, event: str) -> bool:
        """Act on a roster that Teams did answer. True when the channel is safe to post to."""
        assert channel.id is not None
        if check.safe:
            async with self._db.sessions.begin() as session:
                await channels.roster_confirmed(session=session, channel_row_id=channel.id)
                if channel.held_reason is not None:
                    await self._tell_dsos(
                        session, f"roster-restored:{channel.id}:{_stamp()}", self._t("roster_restored")
                    )
            if channel.held_reason is not None:
                log.info("safeguarding channel roster readable again; hold lifted")
                self._delivery.wake()
            return True
        await self._deactivate(channel, check.outsiders, event=event)
        return False

    async def _hold(self, channel: SafeguardingChannel, reason: str, *, event: str) -> None:
        assert channel.id is not None
        async with self._db.sessions.begin() as session:
            fresh = await channels.find_by_conversation(
                session=session, conversation_id_or_team_id=channel.conversation_id
            )
            if fresh is None or not fresh.active or fresh.held_reason is not None:
                return  # already held (say so once), or already deactivated
            await channels.hold(session=session, channel_row_id=channel.id, reason=reason)
            await self._tell_dsos(session, f"roster-held:{channel.id}:{event}:{_stamp()}", self._t("roster_held"))
        log.error("safeguarding channel held: %s", reason)
        self._delivery.wake()

    async def _deactivate(self, channel: SafeguardingChannel, outsiders: tuple[str, ...], *, event: str) -> None:
        assert channel.id is not None
        names = ", ".join(outsiders)
        dsos = sorted(await self._roles.members(Role.DSO))
        async with self._db.sessions.begin() as session:
            await channels.deactivate(
                session=session, channel_row_id=channel.id, reason=f"roster no longer safe: {names}"
            )
            await self._tell_dsos(session, f"roster-failed:{channel.id}:{event}", self._t("roster_failed", names=names))
            moved = await self._move_cases_out(session, channel, dsos)
        log.warning("safeguarding channel deactivated (%d outsiders); %d case cards moved", len(outsiders), moved)
        self._delivery.wake()

    async def _move_cases_out(self, session: AsyncSession, channel: SafeguardingChannel, dsos: list[str]) -> int:
        """Redraw every case card posted in the channel as a stub, and send the open cases to the DSOs 1:1."""
        assert channel.id is not None
        here = {channel.conversation_id, *([channel.channel_id] if channel.channel_id else [])}
        moved = 0
        for posted in await outbox.sent_of_kind(session=session, kind="case_card"):
            where = json.loads(posted.result_id) if posted.result_id else {}
            conversation = where.get("conversation_id") if isinstance(where, dict) else None
            if posted.case_id is None or not conversation or channels.base_conversation_id(conversation) not in here:
                continue
            if posted.dedupe_key != case_card_key(posted.case_id):
                continue
            await outbox.enqueue(
                session=session,
                dedupe_key=f"card-moved:{posted.case_id}:{channel.id}",
                kind=CARD_UPDATE,
                target={"case_id": posted.case_id},
                payload={"moved": True},
                case_id=posted.case_id,
            )
            case = await cases.get_case(session=session, case_id=posted.case_id)
            if case is not None and case.status != "closed":
                events = await cases.chronology(session=session, case_id=posted.case_id)
                card = {"activity": self._cards.activity(case, events).serialize()}
                for aad in dsos:
                    await outbox.enqueue(
                        session=session,
                        dedupe_key=f"case-card-moved:{posted.case_id}:{channel.id}:{aad}",
                        kind=DIRECT,
                        target={"aad_object_id": aad},
                        payload=card,
                        case_id=posted.case_id,
                    )
            moved += 1
        return moved

    async def _tell_dsos(self, session: AsyncSession, key: str, text: str) -> None:
        """`key` is "what:channel:when"; each DSO's copy gets its own key, with the DSO before anything long."""
        what, _, rest = key.partition(":")
        for aad in sorted(await self._roles.members(Role.DSO)):
            await outbox.enqueue(
                session=session,
                dedupe_key=f"{what}:{aad}:{rest}"[:128],
                kind=DIRECT,
                target={"aad_object_id": aad},
                payload=direct_text(text),
            )


def _stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%S%f")
