"""Build the DSO's case card from what the case store holds right now."""

from __future__ import annotations

import datetime as dt
import json

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from bot.edge.people import People
from cards.case_card import CaseCardView, case_card, case_moved_card, uk_time
from cards.elements import Card
from content.indicators import Indicators
from content.texts import Texts
from storage.models import Case, CaseEvent
from storage.types import utcnow


def waited(case: Case, now: dt.datetime) -> str:
    """How long the case has waited for someone to pick it up (or took, once picked up)."""
    end = case.acknowledged_at or now
    minutes = max(0, int((end - case.created_at).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min"
    return f"{hours // 24} days"


class CaseCards:
    def __init__(self, texts: Texts, dso_ids: frozenset[str], people: People, indicators: Indicators) -> None:
        self._texts = texts
        self._dso_ids = dso_ids
        self._people = people
        self._indicators = indicators

    def view(self, case: Case, events: list[CaseEvent], now: dt.datetime | None = None) -> CaseCardView:
        assert case.id is not None
        notes = tuple(
            (
                event.actor_name or "?",
                uk_time(event.at, self._texts),
                self._note_text(event),
            )
            for event in events
            if event.kind in ("note", "flagged_again")
        )
        created = next((e for e in events if e.kind == "created"), None)
        flagged_by = json.loads(created.detail or "{}").get("flagged_by") if created is not None else None
        indicators = tuple(
            (self._indicators.label(item["indicator"]), item.get("detail", ""))
            for item in json.loads(case.indicators or "[]")
        )
        dsos = sorted(self._dso_ids)
        return CaseCardView(
            case_id=case.id,
            version=case.version,
            reference=case.reference,
            category=case.category,
            urgent=case.urgent,
            incomplete=case.incomplete,
            source=case.source,
            about=case.about,
            subject_name=case.subject_name,
            subject_under_18=case.subject_under_18,
            reporter_display=None if case.reporter_hidden else (case.reporter_name or "?"),
            reporter_hidden=case.reporter_hidden,
            raised_at=case.created_at,
            waited=waited(case, now or utcnow()),
            description=case.description,
            incident_when=case.incident_when,
            incident_where=case.incident_where,
            status=case.status,
            owner_name=case.owner_name,
            decision=case.decision,
            decision_reason=case.decision_reason,
            decided_by=case.decided_by,
            decision_confirmed_by=case.decision_confirmed_by,
            outcome_note=case.outcome_note,
            notes=notes,
            dso_choices=tuple((aad, self._people.name_of(aad) or aad) for aad in dsos),
            indicators=indicators,
            action_taken=case.action_taken,
            others_aware=case.others_aware,
            flagged_by=flagged_by if isinstance(flagged_by, str) else None,
        )

    def _note_text(self, event: CaseEvent) -> str:
        detail = json.loads(event.detail or "{}")
        text = str(detail.get("text", ""))
        if event.kind == "flagged_again":
            return self._texts.get("cards.case.flagged_again", why=detail.get("flagged_by", ""), text=text)
        return text

    def card(self, case: Case, events: list[CaseEvent], now: dt.datetime | None = None) -> Card:
        return case_card(self.view(case, events, now), self._texts)

    def activity(self, case: Case, events: list[CaseEvent], now: dt.datetime | None = None) -> Activity:
        return MessageFactory.attachment(CardFactory.adaptive_card(self.card(case, events, now)))

    def moved_activity(self) -> Activity:
        return MessageFactory.attachment(CardFactory.adaptive_card(case_moved_card(self._texts)))
