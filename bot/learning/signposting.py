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
# A topic whose card also offers a second route under its own heading: bullying can be a hate crime, which has its
# own places to report (Stop Hate UK, the police), and "Bullying or hate" is what the button says.
_SECOND_ROUTES = {"bullying": "hate_crime"}
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


def topic_command(tag: str) -> str:
    """What a topic button on the "who can I talk to" card types."""
    return f"who can I talk to about {tag}"


class Signposting:
    def __init__(self, directory: Directory, texts: Texts) -> None:
        self._directory = directory
        self._texts = texts
        self._topic_tags = {tag for entry in directory.entries() for tag in entry.topics}
        texts.require(*(f"signposting.routes.{route}" for route in _SECOND_ROUTES.values()))

    @staticmethod
    def button_commands() -> tuple[tuple[str, str], ...]:
        """The topic buttons' texts with the topic each carries, so the router knows them exactly."""
        return tuple((topic_command(tag), tag) for tag in SIGNPOST_TOPICS)

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

    def second_route(self, roles: frozenset[Role], route: str, shown: list[Entry]) -> list[Entry]:
        """The services for `route` (a directory topic) not already on the card; 999 and the team are shown above."""
        audience: Viewer = "staff" if Role.STAFF in roles else "learner"
        return [
            entry
            for entry in self._directory.for_audience(audience, topic=route)
            if entry not in shown and "emergency" not in entry.topics and entry.id not in _TEAM
        ]

    def _intro(self, tag: str | None) -> str:
        if not tag:
            return self._t("intro")
        # Some topics need more than "people who can help with ...": feeling low gets a gentle word first.
        key = f"signposting.intros.{tag}"
        return self._texts.get(key) if self._texts.has(key) else self._t("intro_topic", topic=tag.replace("_", " "))

    async def who_can_i_talk_to(self, context: TurnContext, roles: frozenset[Role], argument: str | None) -> bool:
        tag = self._tag(argument)
        entries = self.entries_for(roles, tag)
        route = _SECOND_ROUTES.get(tag or "")
        extra = self.second_route(roles, route, entries) if route else []
        sections = [(self._t(f"routes.{route}"), extra)] if route and extra else []
        card = signpost_card(self._t("title"), self._intro(tag), entries, sections=sections)
        if not tag:
            card["actions"] = [im_back(self._t(f"topics.{t}"), topic_command(t)) for t in SIGNPOST_TOPICS]
        await _send(context, card)
        return True


class OnlineSafety:
    def __init__(self, directory: Directory, texts: Texts) -> None:
        self._directory = directory
        self._texts = texts
        texts.require(*(f"online_safety.{key}" for key in ("title", "intro", "source", "contacts", "talk", "who")))

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
        # The loader refuses a topic without a checked source, so there is always one to name.
        sources = self._directory.sources_for(topic)
        checked = max(s.checked for s in sources).strftime("%d %b %Y")
        return self._t("source", sources="; ".join(s.title for s in sources), checked=checked)

    async def show(self, context: TurnContext, roles: frozenset[Role], argument: str | None) -> bool:
        topic = self._topic(argument)
        if topic is None:
            card = topics_card(self._t("title"), self._t("intro"), self._directory.topics(), "online safety")
        else:
            # Every service the advice names comes with its number or link, from the directory.
            contacts = [self._directory.entry(entry_id) for entry_id in topic.related]
            card = topic_card(
                topic,
                self.source_line(topic),
                contacts=(self._t("contacts"), contacts),
                talk=(self._t("talk"), f"report about {topic.id}"),
                who=(self._t("who"), topic_command(topic.id)),
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
