"""One-turn features: "Who can I talk to?", "Staying safe online" and "My reports"."""

from __future__ import annotations

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot.edge.teams_context import aad_object_id
from cards.elements import Card, im_back
from cards.escape import escape_markdown
from cards.signpost_card import signpost_card
from cards.topic_card import topic_card, topics_card
from content.directory import Directory, Entry, Topic, Viewer
from content.texts import Texts
from dialogs.roles import Role
from dialogs.router import normalise
from storage import cases
from storage.db import Database

# Topic shortcuts offered on the "who can I talk to" card: (directory topic tag, wording key).
SIGNPOST_TOPICS = ("bullying", "self_harm", "radicalisation", "abuse", "online_safety")
_ALIASES = {
    "bullied": "bullying",
    "hate": "hate_crime",
    "self harm": "self_harm",
    "suicide": "self_harm",
    "feeling low": "mental_health",
    "mental health": "mental_health",
    "extremism": "radicalisation",
    "online": "online_safety",
    "something online": "online_safety",
    "fraud": "fraud",
    "scam": "fraud",
    "careers": "careers",
    "grooming": "grooming",
    "sextortion": "sextortion",
    "nudes": "sextortion",
}
# Qualitrain's own people come straight after 999; staff also get their Prevent advice lines (policy 2.0.8).
_TEAM = ("safeguarding_team", "dso", "deputy_dso")
_STAFF_TEAM = ("regional_prevent_coordinator", "dfe_counter_extremism_helpline")
_MAX_ENTRIES = 8


async def _send(context: TurnContext, card: Card) -> None:
    await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))


class Signposting:
    def __init__(self, directory: Directory, texts: Texts) -> None:
        self._directory = directory
        self._texts = texts
        self._topic_tags = {tag for entry in directory.entries() for tag in entry.topics}

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"signposting.{key}", **values)

    def _tag(self, argument: str | None) -> str | None:
        if not argument:
            return None
        said = normalise(argument).replace("about ", "", 1)
        if said.replace(" ", "_") in self._topic_tags:
            return said.replace(" ", "_")
        if said in _ALIASES:
            return _ALIASES[said]
        topic = self._directory.find_topic(said)
        if topic is not None:
            return "online_safety"
        return None

    def entries_for(self, roles: frozenset[Role], tag: str | None) -> list[Entry]:
        """999 first, then Qualitrain's own safeguarding team, then the services that fit."""
        audience: Viewer = "staff" if Role.STAFF in roles else "learner"
        everything = self._directory.for_audience(audience)
        emergency = [e for e in everything if "emergency" in e.topics]
        wanted = _TEAM + (_STAFF_TEAM if audience == "staff" else ())
        team = [self._directory.entry(i) for i in wanted if any(e.id == i for e in everything)]
        rest = self._directory.for_audience(audience, topic=tag) if tag else everything
        chosen: list[Entry] = []
        for entry in [*emergency, *team, *rest]:
            if entry not in chosen:
                chosen.append(entry)
        return chosen[:_MAX_ENTRIES]

    async def who_can_i_talk_to(self, context: TurnContext, roles: frozenset[Role], argument: str | None) -> bool:
        tag = self._tag(argument)
        intro = self._t("intro_topic", topic=tag.replace("_", " ")) if tag else self._t("intro")
        card = signpost_card(self._t("title"), intro, self.entries_for(roles, tag))
        if not tag:
            card["actions"] = [im_back(self._t(f"topics.{t}"), f"who can I talk to about {t}") for t in SIGNPOST_TOPICS]
        await _send(context, card)
        return True


class OnlineSafety:
    def __init__(self, directory: Directory, texts: Texts) -> None:
        self._directory = directory
        self._texts = texts

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"online_safety.{key}", **values)

    def _topic(self, argument: str | None) -> Topic | None:
        if not argument:
            return None
        said = normalise(argument)
        for topic in self._directory.topics():
            if said in (topic.id, normalise(topic.title)):
                return topic
        return self._directory.find_topic(said)

    def source_line(self, topic: Topic) -> str:
        sources = self._directory.sources_for(topic)
        if not sources or not topic.verified:
            return self._t("unverified")
        checked = max(s.checked for s in sources).strftime("%d %b %Y")
        return self._t("source", sources="; ".join(s.title for s in sources), checked=checked)

    async def show(self, context: TurnContext, roles: frozenset[Role], argument: str | None) -> bool:
        topic = self._topic(argument)
        if topic is None:
            card = topics_card(self._t("title"), self._t("intro"), self._directory.topics(), "online safety")
        else:
            card = topic_card(
                topic,
                self.source_line(topic),
                talk=(self._t("talk"), f"report about {topic.id}"),
                who=(self._t("who"), f"who can I talk to about {topic.id}"),
            )
        await _send(context, card)
        return True


class MyReports:
    """A person sees their own reports and where each one is; never anyone else's, never the decision."""

    def __init__(self, database: Database, texts: Texts) -> None:
        self._db = database
        self._texts = texts

    async def show(self, context: TurnContext, roles: frozenset[Role], argument: str | None) -> bool:
        me = aad_object_id(context.activity)
        async with self._db.read_sessions() as session:
            mine = await cases.cases_reported_by(session=session, reporter_aad_id=me) if me else []
        if not mine:
            await context.send_activity(self._texts.get("my_reports.none"))
            return True
        lines = [self._texts.get("my_reports.heading")]
        for case in mine:
            status = self._texts.get(f"my_reports.status.{case.status}")
            date = case.created_at.strftime("%d %b %Y")
            lines.append(
                "- "
                + escape_markdown(
                    self._texts.get("my_reports.item", reference=case.reference, date=date, status=status)
                )
            )
        await context.send_activity("\n".join(lines))
        return True
