"""Build the DSO's case card from what the case store holds right now."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from bot.edge.people import People
from cards.case_card import CaseCardView, case_card, case_moved_card, uk_time
from cards.elements import Card
from content.indicators import Indicators
from content.texts import Texts
from dialogs.report_worry_dialog import DANGER_NOT_SURE
from storage.models import Case, CaseEvent
from storage.types import utcnow

# Chronology entries shown on the card as notes: the DSOs' own, the safety net's, and what the reporter added later.
REPORTER_ADDED = "reporter_added"  # a line the reporter sent after their report went
REPORT_FINISHED = "report_finished"  # the rest of a report whose first part went early because it was urgent
NOTE_KINDS = ("note", "flagged_again", REPORTER_ADDED, REPORT_FINISHED)


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

    def view(
        self,
        case: Case,
        events: list[CaseEvent],
        now: dt.datetime | None = None,
        mentions: Sequence[tuple[str, str]] = (),
    ) -> CaseCardView:
        """`mentions` ((aad object id, name)) are @mentioned on an urgent case nobody has picked up yet."""
        assert case.id is not None
        notes = tuple(
            (
                self._note_author(case, event),
                uk_time(event.at, self._texts),
                self._note_text(event),
            )
            for event in events
            if event.kind in NOTE_KINDS
        )
        created = next((e for e in events if e.kind == "created"), None)
        created_detail = json.loads(created.detail or "{}") if created is not None else {}
        flagged_by = created_detail.get("flagged_by")
        closed = next((e for e in reversed(events) if e.kind == "closed"), None) if case.status == "closed" else None
        indicators = tuple(
            (self._indicators.label(item["indicator"]), item.get("detail", ""))
            for item in json.loads(case.indicators or "[]")
        )
        dsos = sorted(self._dso_ids)
        reveals = tuple(
            (event.actor_name or "?", uk_time(event.at, self._texts))
            for event in events
            if event.kind == "reporter_revealed"
        )
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
            # Shown once it is fixed (picked up); a count drawn now would be stale by the time anyone reads it.
            waited=waited(case, now or utcnow()) if case.acknowledged_at is not None else "",
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
            incident_at=case.incident_at,
            incident_time_known=case.incident_time_known,
            spoken_to=case.spoken_to,
            fears=case.fears,
            online_how=case.online_how,
            parents_told=case.parents_told,
            other_agencies=case.other_agencies,
            reveals=reveals,
            mentions=tuple(mentions) if case.urgent and case.status == "new" else (),
            contact_ok=case.contact_ok if case.source == "learner" else None,
            contact_how=case.contact_how,
            danger_unconfirmed=created_detail.get("danger") == DANGER_NOT_SURE,
            closed_by=(closed.actor_name or None) if closed is not None else None,
            closed_at=case.closed_at,
            legal_hold=case.legal_hold,
        )

    def _note_author(self, case: Case, event: CaseEvent) -> str:
        if event.kind in (REPORTER_ADDED, REPORT_FINISHED) and case.reporter_hidden:
            return self._texts.get("cards.case.the_reporter")  # their words, never their name
        return event.actor_name or "?"

    def _note_text(self, event: CaseEvent) -> str:
        detail = json.loads(event.detail or "{}")
        text = str(detail.get("text", ""))
        if event.kind == "flagged_again":
            return self._texts.get("cards.case.flagged_again", why=detail.get("flagged_by", ""), text=text)
        if event.kind == REPORTER_ADDED:
            return self._texts.get("cards.case.reporter_added", text=text)
        if event.kind == REPORT_FINISHED:
            return self._texts.get("cards.case.report_finished", text=text)
        return text

    def card(
        self,
        case: Case,
        events: list[CaseEvent],
        now: dt.datetime | None = None,
        mentions: Sequence[tuple[str, str]] = (),
    ) -> Card:
        return case_card(self.view(case, events, now, mentions), self._texts)

    def activity(
        self,
        case: Case,
        events: list[CaseEvent],
        now: dt.datetime | None = None,
        mentions: Sequence[tuple[str, str]] = (),
    ) -> Activity:
        return MessageFactory.attachment(CardFactory.adaptive_card(self.card(case, events, now, mentions)))

    def mentions_of(self, aad_object_ids: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """(aad object id, display name) for each person to @mention, as the reminders name them."""
        fallback = self._texts.get("cards.case.dso_fallback_name")
        return tuple((aad, self._people.name_of(aad) or fallback) for aad in sorted(aad_object_ids))

    def moved_activity(self) -> Activity:
        return MessageFactory.attachment(CardFactory.adaptive_card(case_moved_card(self._texts)))
