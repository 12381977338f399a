"""Debate polls (policy 3.1.2): a trainer puts a motion to the group; learners vote before and after, anonymously.

`@Safe Space debate "Voting should be compulsory at 16"` (trainers only) posts a card with For, Against and
Undecided. Each vote is stored under a pseudonym, one per person per round (voting again in the round changes it;
a retried invoke is the same vote again), and the card only ever shows counts. After the debate the trainer presses
"Vote again": round 2 opens and the card shows before, after and the shift. "End debate" closes it and sends the
trainer the results in their 1:1 chat. Each debate is tagged with a British value (named by the trainer after the
motion, or read from the motion's words with content/debate_values.yaml) for the directors' report:
storage.debates.debates_held_by_value.

The press is answered with the card as the database now stands, so it changes in place at once; because presses
answered at the same moment can arrive out of order, the card is also redrawn from the database shortly after the
last vote, so it settles on the true counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from typing import Any, Final

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity

from bot.edge.card_actions import CardAction, CardActionRouter, card_body, message_body
from bot.edge.proactive import DeliveryError, Messenger, reference_for
from bot.edge.teams_context import aad_object_id, conversation_type, typed_text
from bot.safeguarding.delivery import DIRECT, THREAD_REPLY, DeliveryWorker, direct_text
from cards.debate_card import CHOICES, DebateView, debate_card, shift_text
from cards.elements import Card
from cards.escape import escape_markdown
from cards.verbs import Verb
from content.debate_values import DebateValues
from content.texts import Texts
from dialogs.roles import Role, RoleDirectory
from storage import debates, outbox
from storage.channels import base_conversation_id
from storage.db import Database
from storage.models import Debate
from storage.server_secrets import VOICE_KEY, pseudonym, shared_secret
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_MOTION: Final = 200
REDRAW_DELAY_SECONDS: Final = 0.5
_QUOTED = re.compile(r'^\s*["“”\'‘’]\s*(?P<motion>.+?)\s*["“”\'‘’](?P<rest>.*)$', re.DOTALL)
_COMMAND = re.compile(r"\bdebate\b[\s:,-]*", re.IGNORECASE)


REQUIRED_TEXTS: Final = (
    "voice.debates.card.after",
    "voice.debates.card.against",
    "voice.debates.card.before",
    "voice.debates.card.end",
    "voice.debates.card.ended",
    "voice.debates.card.for",
    "voice.debates.card.round_after",
    "voice.debates.card.round_before",
    "voice.debates.card.shift",
    "voice.debates.card.title",
    "voice.debates.card.trainer_controls",
    "voice.debates.card.undecided",
    "voice.debates.card.untagged",
    "voice.debates.card.value",
    "voice.debates.card.vote_again",
    "voice.debates.card.votes",
    "voice.debates.no_motion",
    "voice.debates.not_trainer",
    "voice.debates.reply.bad_vote",
    "voice.debates.reply.ended",
    "voice.debates.reply.not_found",
    "voice.debates.reply.not_trainer",
    "voice.debates.reply.round_over",
    "voice.debates.reply.wrong_chat",
    "voice.debates.results.line",
    "voice.debates.results.no_second",
    "voice.debates.results.stored",
    "voice.debates.results.title",
    "voice.debates.results.totals",
    "voice.debates.too_long",
    "voice.debates.values.democracy",
    "voice.debates.values.individual_liberty",
    "voice.debates.values.mutual_respect",
    "voice.debates.values.rule_of_law",
)


def card_key(debate_id: int) -> str:
    return f"debate:{debate_id}:card"


def parse_motion(text: str) -> tuple[str, str]:
    """(motion, what followed it) from what the trainer typed after the mention: 'debate "X" democracy'."""
    found = _COMMAND.search(text)
    rest = text[found.end() :] if found else text
    quoted = _QUOTED.match(rest)
    if quoted:
        return quoted["motion"].strip(), quoted["rest"].strip(" .,:;-#")
    return rest.strip(), ""


class DebateService:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        values: DebateValues,
        messenger: Messenger,
        delivery: DeliveryWorker,
        secret: str = "",
        redraw_delay: float = REDRAW_DELAY_SECONDS,
    ) -> None:
        texts.require(*REQUIRED_TEXTS)
        self._db = database
        self._roles = roles
        self._texts = texts
        self._values = values
        self._messenger = messenger
        self._delivery = delivery
        self._key: bytes | None = hashlib.sha256(secret.encode()).digest() if secret else None
        self._delay = redraw_delay
        self._redraws: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()

    def register(self, router: CardActionRouter) -> None:
        router.register(Verb.DEBATE_VOTE, self.vote)
        router.register(Verb.DEBATE_VOTE_AGAIN, self.vote_again)
        router.register(Verb.DEBATE_END, self.end)

    async def stop(self) -> None:
        tasks = list(self._redraws.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._redraws.clear()

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"voice.debates.{key}", **values)

    def _value_label(self, value: str | None) -> str | None:
        return self._t(f"values.{value}") if value else None

    async def _voter(self, debate_id: int, person: str) -> str:
        if self._key is None:
            async with self._db.sessions.begin() as session:
                self._key = await shared_secret(session=session, name=VOICE_KEY)
        return pseudonym(self._key, f"debate:{debate_id}", person)

    # "debate ..." ------------------------------------------------------------------------------------------------

    async def start(self, context: TurnContext, rest: str) -> None:
        activity = context.activity
        trainer = (aad_object_id(activity) or "").lower()
        if not trainer or Role.TRAINER not in await self._roles.roles_of(trainer):
            log.info("refused a debate poll to someone who is not a trainer")
            await context.send_activity(self._t("not_trainer"))
            return
        motion, after = parse_motion(typed_text(activity))
        if not motion:
            await context.send_activity(self._t("no_motion"))
            return
        if len(motion) > MAX_MOTION:
            await context.send_activity(self._t("too_long"))
            return
        value = self._values.named(after) if after else None
        source = "trainer" if value else None
        if value is None:
            value = self._values.infer(motion)
            source = "keywords" if value else None
        conversation = activity.conversation
        sender = activity.from_property
        async with self._db.sessions.begin() as session:
            debate = await debates.create_debate(
                session=session,
                debate=Debate(
                    conversation_id=conversation.id,
                    conversation_type=conversation_type(activity),
                    service_url=activity.service_url,
                    tenant_id=conversation.tenant_id,
                    trainer_aad_id=trainer,
                    trainer_name=sender.name if sender else None,
                    motion=motion,
                    value=value,
                    value_source=source,
                ),
            )
            assert debate.id is not None
            card = await self._card(session, debate)
            await outbox.enqueue(
                session=session,
                dedupe_key=card_key(debate.id),
                kind=THREAD_REPLY,
                target={
                    "conversation_id": debate.conversation_id,
                    "service_url": debate.service_url,
                    "tenant_id": debate.tenant_id,
                    "conversation_type": debate.conversation_type,
                },
                payload={"activity": _activity(card).serialize()},
            )
        self._delivery.wake()
        log.info("debate %s started by a trainer (value %s, from %s)", debate.id, value, source)

    # Buttons -----------------------------------------------------------------------------------------------------

    async def _debate_for(self, context: TurnContext, action: CardAction) -> Debate | dict[str, Any]:
        debate_id = action.data.get("debate_id")
        if not isinstance(debate_id, int) or isinstance(debate_id, bool):
            return message_body(self._t("reply.not_found"))
        async with self._db.read_sessions() as session:
            debate = await debates.get_debate(session=session, debate_id=debate_id)
        if debate is None:
            return message_body(self._t("reply.not_found"))
        conversation = context.activity.conversation
        here = base_conversation_id((conversation.id if conversation else None) or "")
        if here != base_conversation_id(debate.conversation_id):
            log.info("refused a debate press from outside the debate's conversation")
            return message_body(self._t("reply.wrong_chat"))
        return debate

    async def vote(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        found = await self._debate_for(context, action)
        if not isinstance(found, Debate):
            return found
        debate = found
        assert debate.id is not None
        choice, round_ = action.data.get("choice"), action.data.get("round")
        if choice not in CHOICES or not isinstance(round_, int):
            return message_body(self._t("reply.bad_vote"))
        if debate.state != "open":
            return message_body(self._t("reply.ended"))
        if round_ != debate.round:
            return message_body(self._t("reply.round_over"))
        sender = context.activity.from_property
        person = (aad_object_id(context.activity) or (sender.id if sender else "") or "").lower()
        if not person:
            return message_body(self._t("reply.bad_vote"))
        voter = await self._voter(debate.id, person)
        async with self._db.sessions.begin() as session:
            # The round is checked again inside the transaction that votes: "Vote again" may have just been pressed.
            current = await debates.get_debate(session=session, debate_id=debate.id)
            if current is None or current.state != "open" or current.round != round_:
                return message_body(self._t("reply.round_over"))
            await debates.cast_vote(session=session, debate_id=debate.id, round=round_, voter=voter, choice=choice)
        self._redraw_soon(debate.id)
        return await self._card_response(debate.id)

    async def _trainer_only(self, context: TurnContext, debate: Debate) -> dict[str, Any] | None:
        presser = (aad_object_id(context.activity) or "").lower()
        if presser and presser == debate.trainer_aad_id:
            return None
        if Role.DIRECTOR in await self._roles.roles_of(presser or None):
            return None
        log.info("refused a debate control to someone who did not start the debate")
        return message_body(self._t("reply.not_trainer"))

    async def vote_again(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        found = await self._debate_for(context, action)
        if not isinstance(found, Debate):
            return found
        if (refused := await self._trainer_only(context, found)) is not None:
            return refused
        assert found.id is not None
        if found.state == "open" and found.round == 1:
            async with self._db.sessions.begin() as session:
                changed = await debates.change(
                    session=session, debate_id=found.id, expected_version=found.version, changes={"round": 2}
                )
            if changed is not None:
                log.info("debate %s: second vote opened", found.id)
                self._redraw_soon(found.id)
        return await self._card_response(found.id)

    async def end(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        found = await self._debate_for(context, action)
        if not isinstance(found, Debate):
            return found
        if (refused := await self._trainer_only(context, found)) is not None:
            return refused
        assert found.id is not None
        if found.state == "open":
            async with self._db.sessions.begin() as session:
                changed = await debates.change(
                    session=session,
                    debate_id=found.id,
                    expected_version=found.version,
                    changes={"state": "ended", "ended_at": utcnow()},
                )
                if changed is not None:
                    await outbox.enqueue(
                        session=session,
                        dedupe_key=f"debate:{found.id}:results",
                        kind=DIRECT,
                        target={
                            "aad_object_id": changed.trainer_aad_id,
                            "service_url": changed.service_url,
                            "tenant_id": changed.tenant_id,
                        },
                        payload=direct_text(await self._results_text(session, changed)),
                    )
            if changed is not None:
                log.info("debate %s ended", found.id)
                self._delivery.wake()
                self._redraw_soon(found.id)
        return await self._card_response(found.id)

    # Drawing -----------------------------------------------------------------------------------------------------

    async def _card(self, session: Any, debate: Debate) -> Card:
        assert debate.id is not None
        before = await debates.counts(session=session, debate_id=debate.id, round=1)
        after = await debates.counts(session=session, debate_id=debate.id, round=2) if debate.round >= 2 else None
        view = DebateView(
            debate_id=debate.id,
            motion=debate.motion,
            value_label=self._value_label(debate.value),
            round=debate.round,
            ended=debate.state != "open",
            before=before,
            after=after,
        )
        return debate_card(view, self._texts)

    async def _render(self, debate_id: int) -> tuple[Card, Debate] | None:
        async with self._db.read_sessions() as session:
            debate = await debates.get_debate(session=session, debate_id=debate_id)
            if debate is None:
                return None
            return await self._card(session, debate), debate

    async def _card_response(self, debate_id: int) -> dict[str, Any]:
        rendered = await self._render(debate_id)
        if rendered is None:
            return message_body(self._t("reply.not_found"))
        return card_body(rendered[0])

    async def _results_text(self, session: Any, debate: Debate) -> str:
        assert debate.id is not None
        before = await debates.counts(session=session, debate_id=debate.id, round=1)
        after = await debates.counts(session=session, debate_id=debate.id, round=2)
        value = self._value_label(debate.value) or self._t("card.untagged")
        lines = [self._t("results.title", motion=escape_markdown(debate.motion), value=value)]
        second = debate.round >= 2
        for choice in CHOICES:
            label = self._t(f"card.{choice}")
            if second:
                shift = shift_text(before, after, choice)
                lines.append(
                    self._t("results.line", label=label, before=before[choice], after=after[choice], shift=shift)
                )
            else:
                lines.append(f"{label}: {before[choice]}")
        if second:
            lines.append(self._t("results.totals", before=sum(before.values()), after=sum(after.values())))
        else:
            lines.append(self._t("results.no_second"))
        lines.append(self._t("results.stored"))
        return "\n\n".join(lines)

    def _redraw_soon(self, debate_id: int) -> None:
        """Redraw the card from the database shortly: many votes in the meantime are one redraw."""
        if debate_id in self._redraws:
            self._again.add(debate_id)
            return
        self._redraws[debate_id] = asyncio.create_task(self._redraw(debate_id), name=f"debate-redraw-{debate_id}")

    async def _redraw(self, debate_id: int) -> None:
        try:
            for _ in range(20):
                await asyncio.sleep(self._delay)
                self._again.discard(debate_id)
                await self._draw(debate_id)
                if debate_id not in self._again:
                    return
        except DeliveryError as exc:
            log.info("debate %s card redraw refused (%s)", debate_id, exc)
        except Exception:
            log.exception("debate %s card redraw failed", debate_id)
        finally:
            self._redraws.pop(debate_id, None)

    async def _draw(self, debate_id: int) -> None:
        for _ in range(40):  # the outbox posts the card within moments; the first votes may come sooner
            async with self._db.read_sessions() as session:
                posted = await outbox.result_of(session=session, dedupe_key=card_key(debate_id))
            if posted is not None and posted.status == "sent" and posted.result_id:
                break
            await asyncio.sleep(0.25)
        else:
            return
        rendered = await self._render(debate_id)
        if rendered is None:
            return
        card, debate = rendered
        reference = reference_for(
            debate.conversation_id,
            debate.service_url,
            tenant_id=debate.tenant_id,
            conversation_type=debate.conversation_type,
        )
        await self._messenger.update(reference, posted.result_id, _activity(card))


def _activity(card: Card) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))
