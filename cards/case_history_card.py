"""A case's history for the safeguarding team: the case in brief, its decision and who confirmed it, and its
chronology in order (who, what, when), a page at a time.

A long history pages with "More history"; the card says which events it shows of how many. Long texts in an event
(a note, a reason) are shortened on the card with a visible marker, never silently; the case store keeps them whole.
Everything a person wrote, and every name, is escaped before it goes on the card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from cards.case_card import uk_time
from cards.case_queue_card import label
from cards.elements import Action, Card, Element, adaptive_card, execute, text_block
from cards.escape import escape_markdown
from cards.verbs import Verb
from content.texts import Texts
from storage.case_views import HistoryPage
from storage.models import Case, CaseEvent

EVENT_TEXT_CHARS: Final = 600
NAME_CHARS: Final = 100


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    show_conversation: bool  # the case has a linked conversation log


def _cut(texts: Texts, value: object, limit: int = EVENT_TEXT_CHARS) -> str:
    text = str(value or "")
    if len(text) <= limit:
        return escape_markdown(text)
    return escape_markdown(text[:limit]) + "… " + texts.get("records.history.cut")


def _same_person(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and (a or "").strip().lower() == (b or "").strip().lower()


def who(case: Case, event: CaseEvent, texts: Texts) -> str:
    """The actor, except that a reporter who asked not to be named is "The reporter" here too, as on the card."""
    if case.reporter_hidden and _same_person(event.actor_aad_id, case.reporter_aad_id):
        return texts.get("records.history.the_reporter")
    if not event.actor_name and not event.actor_aad_id:
        return texts.get("records.history.system")
    return _cut(texts, event.actor_name or texts.get("records.history.system"), NAME_CHARS)


def what(event: CaseEvent, texts: Texts) -> str:
    try:
        detail: dict[str, Any] = json.loads(event.detail or "{}")
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    key = f"records.history.events.{event.kind}"
    if not texts.has(key):
        return escape_markdown(event.kind)
    decision = str(detail.get("decision") or "")
    return texts.get(
        key,
        to=_cut(texts, detail.get("to_name") or detail.get("to"), NAME_CHARS),
        text=_cut(texts, detail.get("text") or detail.get("note") or detail.get("flagged_by")),
        reason=_cut(texts, detail.get("reason")),
        decision=label(texts, "cards.case.decisions", decision) if decision else "",
    )


def history_card(page: HistoryPage, texts: Texts, options: HistoryOptions) -> Card:
    t = texts.get
    case = page.case
    assert case.id is not None
    facts = [
        (t("records.history.raised"), uk_time(case.created_at, texts)),
        (t("records.history.category"), label(texts, "cards.categories", case.category)),
        (t("records.history.status"), label(texts, "cards.case.status", case.status)),
        (t("records.history.urgent"), t("records.history.yes" if case.urgent else "records.history.no")),
        (
            t("records.history.owner"),
            _cut(texts, case.owner_name, NAME_CHARS) if case.owner_name else t("records.history.nobody"),
        ),
        (
            t("records.history.decision"),
            label(texts, "cards.case.decisions", case.decision)
            if case.decision
            else t("records.history.decision_none"),
        ),
    ]
    if case.decision:
        facts.append((t("records.history.decided_by"), _cut(texts, case.decided_by or "?", NAME_CHARS)))
        confirmed = case.decision_confirmed_by
        if confirmed or case.status == "awaiting_director":
            facts.append(
                (
                    t("records.history.confirmed_by"),
                    _cut(texts, confirmed, NAME_CHARS) if confirmed else t("records.history.not_confirmed"),
                )
            )
    body: list[Element] = [
        text_block(t("records.history.title", reference=case.reference), size="Medium", weight="Bolder"),
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]},
        text_block(t("records.history.heading"), weight="Bolder", size="Default"),
        text_block(t("records.history.showing", first=page.first, last=page.last, total=page.total), is_subtle=True),
    ]
    for event in page.events:
        line = t(
            "records.history.line", when=uk_time(event.at, texts), who=who(case, event, texts), what=what(event, texts)
        )
        body.append({**text_block(line), "separator": True, "spacing": "Small"})
    actions: list[Action] = []
    if page.has_more:
        more = min(page.page_size, page.total - page.last)
        actions.append(
            execute(
                t("records.history.more", count=page.total - page.last if more else 0),
                Verb.RECORDS_CASE,
                {"case_id": case.id, "page": page.page + 1},
            )
        )
    if page.page > 0:
        actions.append(
            execute(t("records.history.previous"), Verb.RECORDS_CASE, {"case_id": case.id, "page": page.page - 1})
        )
    if options.show_conversation:
        actions.append(execute(t("records.history.conversation"), Verb.RECORDS_CONVERSATION, {"case_id": case.id}))
    actions.append(execute(t("records.history.back"), Verb.RECORDS_QUEUE, {"mine": False, "page": 0}))
    return adaptive_card(body, actions)
