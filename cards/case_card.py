"""The case card the DSO and deputy see in their private channel, updated in place as they act on it.

Every action is an Action.Execute carrying the case id and the version the card was built from, so the bot
can refuse a press made on a stale card (two DSOs acting at once) instead of applying it twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from zoneinfo import ZoneInfo

from cards.elements import Action, Card, Element, adaptive_card, execute, text_block
from cards.escape import escape_markdown, truncate
from cards.verbs import Verb
from content.texts import Texts

UK_TIME: Final = ZoneInfo("Europe/London")
DESCRIPTION_PREVIEW_CHARS: Final = 1500
FIELD_PREVIEW_CHARS: Final = 500  # each note, staff observation, reason and outcome
NAME_PREVIEW_CHARS: Final = 200
# Teams refuses a message over about 28 KB, and a card that fails to post is a concern nobody sees. The
# budget leaves room for the activity around the card; past it, long texts are cut shorter, tier by tier.
CARD_BUDGET_BYTES: Final = 24_000
_PREVIEW_TIERS: Final = (  # (description, each other long text, each name)
    (DESCRIPTION_PREVIEW_CHARS, FIELD_PREVIEW_CHARS, NAME_PREVIEW_CHARS),
    (1000, 250, NAME_PREVIEW_CHARS),
    (500, 120, 100),
    (250, 60, 60),
    (100, 20, 40),
    (60, 10, 30),
)
NOTES_SHOWN: Final = 5
REVEALS_SHOWN: Final = 3  # the latest; every one is in the chronology
# Teams shows six top-level actions, but the official renderer's default host config (which our validator
# uses) allows five; keeping to five satisfies both. Reveal lives in the body, beside the reporter fact.
MAX_TOP_LEVEL_ACTIONS: Final = 5
NOTE_MAX_CHARS: Final = 4000
REASON_MAX_CHARS: Final = 1000

# Teams merges every input on the card into the invoke data, so each ShowCard's inputs get their own names.
INPUT_ASSIGN_TO: Final = "assign_to"
INPUT_NOTE: Final = "note_text"
INPUT_REVEAL_REASON: Final = "reveal_reason"
INPUT_DECISION: Final = "decision"
INPUT_DECISION_REASON: Final = "decision_reason"
INPUT_CLOSE_NOTE: Final = "close_note"
INPUT_REOPEN_REASON: Final = "reopen_reason"
INPUT_HOLD_REASON: Final = "hold_reason"

CATEGORIES: Final = ("radicalisation", "bullying", "online_safety", "abuse", "wellbeing", "other")
DECISIONS: Final = ("channel", "social_care", "police", "internal_support", "signposted", "no_further_action")
STATUSES: Final = ("new", "acknowledged", "awaiting_director", "decided", "closed")


@dataclass(frozen=True, slots=True)
class CaseCardView:
    """Everything the card shows, as plain data, so building it needs no storage and no I/O."""

    case_id: int
    version: int
    reference: str
    category: str
    urgent: bool
    incomplete: bool
    source: str
    about: str
    subject_name: str | None
    subject_under_18: bool | None
    reporter_display: str | None  # None: the reporter asked not to be named
    reporter_hidden: bool
    raised_at: dt.datetime  # aware, UTC
    waited: str
    description: str  # verbatim, as stored
    incident_when: str | None
    incident_where: str | None
    status: str
    owner_name: str | None
    decision: str | None
    decision_reason: str | None
    decided_by: str | None
    decision_confirmed_by: str | None
    outcome_note: str | None
    notes: tuple[tuple[str, str, str], ...] = ()  # (who, when as shown, text), oldest first
    dso_choices: tuple[tuple[str, str], ...] = ()  # (aad object id, display name)
    indicators: tuple[tuple[str, str], ...] = ()  # (label, free text), staff reports only
    action_taken: str | None = None
    others_aware: str | None = None
    flagged_by: str | None = None  # the safety net's reason ("model: Harm to other people, 0.93"), triage cases only
    incident_at: dt.datetime | None = None  # aware, UTC: the day (and time, if known) it happened
    incident_time_known: bool | None = None  # False: only the day of incident_at is known
    # Staff form, the rest of a referral's content (policy 4.4): keys as stored, free text verbatim.
    spoken_to: str | None = None
    fears: str | None = None
    online_how: str | None = None
    parents_told: str | None = None
    other_agencies: str | None = None
    reveals: tuple[tuple[str, str], ...] = ()  # (who was sent the hidden reporter's name, when as shown)
    mentions: tuple[tuple[str, str], ...] = ()  # (aad object id, display name) to @mention on the card
    # A learner's report: whether and how they may be contacted (None: not asked, as on staff and triage cases).
    # How is kept with the identity: shown only when the reporter's name is.
    contact_ok: bool | None = None
    contact_how: str | None = None
    danger_unconfirmed: bool = False  # urgent because the reporter was not sure whether someone is in danger now
    closed_by: str | None = None
    closed_at: dt.datetime | None = None  # aware, UTC
    legal_hold: bool = False  # retention will not remove the case (records, issue 11)


def case_card(view: CaseCardView, texts: Texts) -> Card:
    """The card for `view`; long texts are previews, cut shorter if needed to stay within CARD_BUDGET_BYTES."""
    for limits in _PREVIEW_TIERS:
        card = _build(view, texts, _Limits(*limits))
        if card_size(card) <= CARD_BUDGET_BYTES:
            break
    return card


def case_moved_card(texts: Texts) -> Card:
    """What replaces a case card in a conversation that is no longer safe: no reference, no words, no buttons."""
    return adaptive_card(
        [
            text_block(texts.get("cards.case.moved_title"), weight="Bolder", size="Medium"),
            text_block(texts.get("cards.case.moved_text"), is_subtle=True),
        ]
    )


def card_size(card: Card) -> int:
    """Bytes on the wire, counting non-ASCII as JSON \\u escapes: the most a serialiser can make of it."""
    return len(json.dumps(card, separators=(",", ":"), ensure_ascii=True))


@dataclass(frozen=True, slots=True)
class _Limits:
    description: int
    field: int
    name: int


def _build(view: CaseCardView, texts: Texts, limits: _Limits) -> Card:
    # A name is cut like any other text, once, so each @mention tag still matches its entity exactly.
    view = replace(view, mentions=tuple((aad, truncate(name, limits.name)) for aad, name in view.mentions))
    body: list[Element] = [_header(view, texts), _facts(view, texts, limits)]
    body += _reveals(view, texts, limits)
    if view.reporter_hidden and view.status != "closed":
        body.append({"type": "ActionSet", "actions": [_reveal_action(texts, _action_data(view))]})
    body += _description(view, texts, limits)
    body += _incident(view, texts, limits)
    body += _staff_observations(view, texts, limits)
    body += _decision(view, texts, limits)
    body += _closed(view, texts, limits)
    if view.legal_hold:
        body.append(text_block(texts.get("records.hold.on_card"), weight="Bolder", color="Attention"))
    body += _notes(view, texts, limits)
    card = adaptive_card(body=body, actions=_actions(view, texts))
    if view.mentions:
        card["msteams"] = {**card.get("msteams", {}), "entities": _mention_entities(view)}
    return card


def uk_time(moment: dt.datetime, texts: Texts) -> str:
    """A moment as UK wall-clock time in the wording's format, e.g. "Wed 25 Nov 2026, 15:04"."""
    # A naive datetime here can only have come from the store, which keeps UTC.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return texts.get("cards.case.raised_at_format", when=aware.astimezone(UK_TIME))


# Body --------------------------------------------------------------------------------------------------------


def _header(view: CaseCardView, texts: Texts) -> Element:
    items: list[Element] = [
        text_block(
            texts.get("cards.case.title", reference=escape_markdown(view.reference)), size="Large", weight="Bolder"
        )
    ]
    if view.urgent:
        items.append(text_block(texts.get(_urgent_key(view)), weight="Bolder", color="Attention"))
    if view.incomplete:
        items.append(text_block(texts.get("cards.case.incomplete"), color="Warning"))
    if view.mentions:
        # Teams notifies whoever a card @mentions when it is posted: an urgent case must not wait to be noticed.
        tags = " ".join(_mention_tag(name) for _, name in view.mentions)
        items.append(text_block(texts.get("cards.case.urgent_mention", mentions=tags), weight="Bolder"))
    items.append(text_block(_label(texts, "cards.case.source", view.source), is_subtle=True, size="Small"))
    return {"type": "Container", "style": "emphasis", "bleed": True, "items": items}


def _urgent_key(view: CaseCardView) -> str:
    # Say why it is urgent as it happened: the safety net flagged a message (nobody was asked), the reporter said
    # someone may be at risk, or the reporter was not sure and it is treated as urgent until someone checks.
    if view.source == "triage":
        return "cards.case.urgent_flagged"
    return "cards.case.urgent_unconfirmed" if view.danger_unconfirmed else "cards.case.urgent"


def _facts(view: CaseCardView, texts: Texts, limits: _Limits) -> Element:
    facts: list[tuple[str, str]] = [("category", _label(texts, "cards.categories", view.category))]
    if view.flagged_by:
        facts.append(("flagged_by", escape_markdown(truncate(view.flagged_by, limits.field))))
    facts.append(("about", _about(view, texts)))
    if view.subject_name:
        facts.append(("subject", _name(view.subject_name, limits)))
    facts += [
        ("under_18", _yes_no(view.subject_under_18, texts)),
        (
            "reporter",
            _name(view.reporter_display, limits)
            if view.reporter_display is not None
            else texts.get("cards.case.reporter_not_named"),
        ),
    ]
    if view.contact_ok is not None:
        facts.append(("contact", _contact(view, texts, limits)))
    facts.append(("raised_at", uk_time(view.raised_at, texts)))
    if view.waited:
        # Only once known for good (how long it took to be picked up): a count drawn when the card was posted
        # would still say "0 min" hours later. Until then "Raised" says when it came in.
        facts.append(("waited", escape_markdown(view.waited)))
    facts += [
        ("status", _label(texts, "cards.case.status", view.status)),
        (
            "owner",
            _name(view.owner_name, limits) if view.owner_name else texts.get("cards.case.owner_none"),
        ),
        (
            "decision",
            _label(texts, "cards.case.decisions", view.decision)
            if view.decision
            else texts.get("cards.case.decision_none"),
        ),
    ]
    return _fact_set([(texts.get(f"cards.case.facts.{key}"), value) for key, value in facts])


def _contact(view: CaseCardView, texts: Texts, limits: _Limits) -> str:
    if not view.contact_ok:
        return texts.get("cards.case.contact_no")
    if view.reporter_hidden:
        return texts.get("cards.case.contact_hidden")  # a phone number names someone as surely as their name
    if view.contact_how and view.contact_how.strip():
        return escape_markdown(truncate(view.contact_how, limits.field))
    return texts.get("cards.case.contact_teams")


def _about(view: CaseCardView, texts: Texts) -> str:
    if view.source == "triage":
        return texts.get("cards.case.about_not_asked")  # the safety net read a message; nobody asked who it is about
    # The staff form asks what the person concerned is ("A learner"), not who they are to a learner reporting
    # ("Another learner").
    prefix = "cards.case.subject_role" if view.source == "staff" else "cards.case.about"
    return _label(texts, prefix, view.about)


def _reveals(view: CaseCardView, texts: Texts, limits: _Limits) -> list[Element]:
    # Everyone on the card sees that a hidden reporter's name was sent to someone, so the deputy is not left
    # guessing; the name itself never appears here, and each reason is in the chronology.
    return [
        text_block(
            texts.get("cards.case.revealed_to", who=_name(who, limits), when=escape_markdown(when)),
            is_subtle=True,
            size="Small",
        )
        for who, when in view.reveals[-REVEALS_SHOWN:]
    ]


def _description(view: CaseCardView, texts: Texts, limits: _Limits) -> list[Element]:
    shown = truncate(view.description, limits.description)
    # A member of staff writes what they saw or heard: "In their own words" would pass it off as the person's.
    heading = "cards.case.description_heading_staff" if view.source == "staff" else "cards.case.description_heading"
    elements = [_heading(texts.get(heading)), text_block(_paragraphs(shown, texts))]
    if shown != view.description:
        elements.append(
            text_block(
                texts.get("cards.case.description_truncated", limit=f"{limits.description:,}"),
                is_subtle=True,
                size="Small",
            )
        )
    return elements


def _incident(view: CaseCardView, texts: Texts, limits: _Limits) -> list[Element]:
    when = _incident_when(view, texts, limits)
    if not when and not view.incident_where:
        return []
    return [
        _fact_set(
            [
                (texts.get("cards.case.incident_when"), when or texts.get("cards.answers.not_given")),
                (texts.get("cards.case.incident_where"), _or_not_given(view.incident_where, texts, limits.field)),
            ],
            separator=True,
        )
    ]


def _incident_when(view: CaseCardView, texts: Texts, limits: _Limits) -> str | None:
    """The day (and time, when known) it happened in UK time, then the reporter's own words for when."""
    words = (view.incident_when or "").strip()
    described = escape_markdown(truncate(view.incident_when or "", limits.field)) if words else None
    if view.incident_at is None:
        return described
    moment = view.incident_at if view.incident_at.tzinfo is not None else view.incident_at.replace(tzinfo=dt.UTC)
    key = "cards.case.incident_at_format" if view.incident_time_known else "cards.case.incident_day_format"
    at = texts.get(key, when=moment.astimezone(UK_TIME))
    return texts.get("cards.case.incident_at_and_words", at=at, words=described) if described else at


def _staff_observations(view: CaseCardView, texts: Texts, limits: _Limits) -> list[Element]:
    elements: list[Element] = []
    if view.indicators:
        elements.append(_heading(texts.get("cards.case.indicators_heading")))
        for label, detail in view.indicators:
            elements.append(text_block(escape_markdown(label), weight="Bolder", size="Small"))
            elements.append(text_block(_paragraphs(truncate(detail, limits.field), texts)))
    for key, value in (("fears", view.fears), ("online_how", view.online_how)):
        if value:
            elements.append(_heading(texts.get(f"cards.case.{key}")))
            elements.append(text_block(_paragraphs(truncate(value, limits.field), texts)))
    answers = [
        (texts.get(f"cards.case.{key}"), _label(texts, f"cards.staff_form.{key}_choices", value))
        for key, value in (("spoken_to", view.spoken_to), ("parents_told", view.parents_told))
        if value
    ]
    if answers:
        elements.append(_fact_set(answers, separator=True))
    for key, value in (
        ("action_taken", view.action_taken),
        ("others_aware", view.others_aware),
        ("other_agencies", view.other_agencies),
    ):
        if value:
            elements.append(_heading(texts.get(f"cards.case.{key}")))
            elements.append(text_block(_paragraphs(truncate(value, limits.field), texts)))
    return elements


def _decision(view: CaseCardView, texts: Texts, limits: _Limits) -> list[Element]:
    if not view.decision:
        return []
    facts = [(texts.get("cards.case.facts.decision"), _label(texts, "cards.case.decisions", view.decision))]
    if view.decision_reason:
        facts.append(
            (
                texts.get("cards.case.decision_reason"),
                escape_markdown(truncate(view.decision_reason, limits.field)),
            )
        )
    if view.decided_by:
        facts.append((texts.get("cards.case.decided_by"), escape_markdown(view.decided_by)))
    if view.decision_confirmed_by:
        facts.append((texts.get("cards.case.confirmed_by"), escape_markdown(view.decision_confirmed_by)))
    elements = [_heading(texts.get("cards.case.decision_heading")), _fact_set(facts)]
    if view.status == "awaiting_director":
        elements.append(text_block(texts.get("cards.case.awaiting_director"), color="Warning", weight="Bolder"))
    return elements


def _closed(view: CaseCardView, texts: Texts, limits: _Limits) -> list[Element]:
    if view.status != "closed":
        return []
    facts = [(texts.get("cards.case.outcome"), _or_not_given(view.outcome_note, texts, limits.field))]
    if view.closed_by:
        facts.append((texts.get("cards.case.closed_by"), _name(view.closed_by, limits)))
    if view.closed_at is not None:
        facts.append((texts.get("cards.case.closed_at"), uk_time(view.closed_at, texts)))
    return [_heading(texts.get("cards.case.closed_heading")), _fact_set(facts)]


def _notes(view: CaseCardView, texts: Texts, limits: _Limits) -> list[Element]:
    if not view.notes:
        return []
    shown = view.notes[-NOTES_SHOWN:]
    elements: list[Element] = [_heading(texts.get("cards.case.notes_heading"))]
    if len(view.notes) > len(shown):
        elements.append(
            text_block(
                texts.get("cards.case.notes_more", shown=len(shown), total=len(view.notes)),
                is_subtle=True,
                size="Small",
            )
        )
    for who, when, text in shown:
        byline = texts.get("cards.case.note_byline", who=escape_markdown(who), when=escape_markdown(when))
        elements.append({**text_block(byline, is_subtle=True, size="Small"), "spacing": "Medium"})
        elements.append({**text_block(_paragraphs(truncate(text, limits.field), texts)), "spacing": "None"})
    return elements


# Actions -----------------------------------------------------------------------------------------------------


def _actions(view: CaseCardView, texts: Texts) -> list[Action]:
    """What can be done next: only Reopen once closed, Acknowledge only while new, Confirm only awaiting a director."""
    data = _action_data(view)
    if view.status == "closed":
        # Retention only ever removes closed cases, so the hold is offered where it matters.
        return [_reopen_action(texts, data), _legal_hold_action(view, texts, data)]
    actions: list[Action] = []
    if view.status == "new":
        actions.append(
            execute(texts.get("cards.case.actions.acknowledge"), Verb.CASE_ACKNOWLEDGE, dict(data), style="positive")
        )
    if view.status == "awaiting_director":
        # Shown to everyone in the channel; the bot accepts the press only from a director (policy 4.5).
        actions.append(
            execute(texts.get("cards.case.actions.confirm"), Verb.CASE_CONFIRM_DECISION, dict(data), style="positive")
        )
    if view.dso_choices:
        actions.append(_assign_action(view, texts, data))
    actions.append(_note_action(texts, data))
    actions.append(_decide_action(view, texts, data))
    actions.append(_close_action(texts, data))
    # Teams drops actions past its limit without telling anyone: fail loudly in tests instead.
    assert len(actions) <= MAX_TOP_LEVEL_ACTIONS, f"{len(actions)} actions; the limit is {MAX_TOP_LEVEL_ACTIONS}"
    return actions


def _action_data(view: CaseCardView) -> dict[str, Any]:
    # The version lets the bot refuse a press made on a card that someone else has already changed.
    return {"case_id": view.case_id, "version": view.version}


def _assign_action(view: CaseCardView, texts: Texts, data: dict[str, Any]) -> Action:
    # Choice titles are plain text in Teams (no markdown), so display names go in unescaped.
    choice_set: Element = {
        "type": "Input.ChoiceSet",
        "id": INPUT_ASSIGN_TO,
        "label": texts.get("cards.case.actions.assign_label"),
        "style": "compact",
        "isRequired": True,
        "errorMessage": texts.get("cards.case.actions.assign_required"),
        "choices": [{"title": name, "value": aad_id} for aad_id, name in view.dso_choices],
    }
    return _show_card(
        texts.get("cards.case.actions.assign"),
        [choice_set],
        execute(texts.get("cards.case.actions.assign_submit"), Verb.CASE_ASSIGN, dict(data)),
    )


def _note_action(texts: Texts, data: dict[str, Any]) -> Action:
    note = _text_input(
        INPUT_NOTE,
        texts.get("cards.case.actions.note_label"),
        texts.get("cards.case.actions.note_required"),
        max_length=NOTE_MAX_CHARS,
        multiline=True,
        placeholder=texts.get("cards.case.actions.note_placeholder"),
    )
    return _show_card(
        texts.get("cards.case.actions.note"),
        [note],
        execute(texts.get("cards.case.actions.note_submit"), Verb.CASE_NOTE, dict(data)),
    )


def _reveal_action(texts: Texts, data: dict[str, Any]) -> Action:
    reason = _text_input(
        INPUT_REVEAL_REASON,
        texts.get("cards.case.actions.reveal_label"),
        texts.get("cards.case.actions.reveal_required"),
        max_length=REASON_MAX_CHARS,
        multiline=True,
    )
    return _show_card(
        texts.get("cards.case.actions.reveal"),
        [text_block(texts.get("cards.case.actions.reveal_explain")), reason],
        execute(texts.get("cards.case.actions.reveal_submit"), Verb.CASE_REVEAL, dict(data)),
    )


def _decide_action(view: CaseCardView, texts: Texts, data: dict[str, Any]) -> Action:
    choice_set: Element = {
        "type": "Input.ChoiceSet",
        "id": INPUT_DECISION,
        "label": texts.get("cards.case.actions.decision_label"),
        "style": "expanded",
        "isRequired": True,
        "errorMessage": texts.get("cards.case.actions.decision_required"),
        "choices": [{"title": texts.get(f"cards.case.decisions.{key}"), "value": key} for key in DECISIONS],
    }
    if view.decision in DECISIONS:
        choice_set["value"] = view.decision
    body: list[Element] = []
    if view.subject_under_18:
        body.append(text_block(texts.get("cards.case.actions.under_18_prompt"), weight="Bolder", color="Attention"))
    body += [
        choice_set,
        text_block(texts.get("cards.case.actions.channel_needs_director"), is_subtle=True, size="Small"),
        _text_input(
            INPUT_DECISION_REASON,
            texts.get("cards.case.actions.decision_reason_label"),
            texts.get("cards.case.actions.decision_reason_required"),
            max_length=NOTE_MAX_CHARS,
            multiline=True,
        ),
    ]
    return _show_card(
        texts.get("cards.case.actions.decide"),
        body,
        execute(texts.get("cards.case.actions.decide_submit"), Verb.CASE_DECIDE, dict(data)),
    )


def _close_action(texts: Texts, data: dict[str, Any]) -> Action:
    note = _text_input(
        INPUT_CLOSE_NOTE,
        texts.get("cards.case.actions.close_label"),
        texts.get("cards.case.actions.close_required"),
        max_length=NOTE_MAX_CHARS,
        multiline=True,
    )
    return _show_card(
        texts.get("cards.case.actions.close"),
        [text_block(texts.get("cards.case.actions.close_explain"), is_subtle=True), note],
        execute(texts.get("cards.case.actions.close_submit"), Verb.CASE_CLOSE, dict(data)),
    )


def _reopen_action(texts: Texts, data: dict[str, Any]) -> Action:
    reason = _text_input(
        INPUT_REOPEN_REASON,
        texts.get("cards.case.actions.reopen_label"),
        texts.get("cards.case.actions.reopen_required"),
        max_length=REASON_MAX_CHARS,
        multiline=True,
    )
    return _show_card(
        texts.get("cards.case.actions.reopen"),
        [text_block(texts.get("cards.case.actions.reopen_explain"), is_subtle=True), reason],
        execute(texts.get("cards.case.actions.reopen_submit"), Verb.CASE_REOPEN, dict(data)),
    )


def _legal_hold_action(view: CaseCardView, texts: Texts, data: dict[str, Any]) -> Action:
    part = "release" if view.legal_hold else "place"
    reason = _text_input(
        INPUT_HOLD_REASON,
        texts.get(f"records.hold.{part}_label"),
        texts.get(f"records.hold.{part}_required"),
        max_length=REASON_MAX_CHARS,
        multiline=True,
    )
    verb = Verb.CASE_LEGAL_HOLD_RELEASE if view.legal_hold else Verb.CASE_LEGAL_HOLD
    return _show_card(
        texts.get(f"records.hold.{part}"),
        [text_block(texts.get(f"records.hold.{part}_explain"), is_subtle=True), reason],
        execute(texts.get(f"records.hold.{part}_submit"), verb, dict(data)),
    )


def notice_block(text: str) -> Element:
    """A one-line explanation shown above a card that is sent back instead of acting (stale or closed)."""
    return text_block(text, weight="Bolder", color="Attention")


# Pieces ------------------------------------------------------------------------------------------------------


def _show_card(title: str, body: list[Element], submit: Action) -> Action:
    # A nested card takes no version or $schema: it inherits the outer card's.
    return {
        "type": "Action.ShowCard",
        "title": title,
        "card": {"type": "AdaptiveCard", "body": body, "actions": [submit]},
    }


def _text_input(
    input_id: str,
    label: str,
    error_message: str,
    *,
    max_length: int,
    multiline: bool = False,
    placeholder: str | None = None,
) -> Element:
    element: Element = {
        "type": "Input.Text",
        "id": input_id,
        "label": label,
        "isRequired": True,
        "errorMessage": error_message,
        "maxLength": max_length,
        "isMultiline": multiline,
    }
    if placeholder:
        element["placeholder"] = placeholder
    return element


def _heading(text: str) -> Element:
    return {**text_block(text, weight="Bolder"), "separator": True, "spacing": "Medium"}


def _fact_set(facts: Sequence[tuple[str, str]], *, separator: bool = False) -> Element:
    element: Element = {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in facts]}
    if separator:
        element["separator"] = True
    return element


def _label(texts: Texts, prefix: str, key: str) -> str:
    # A value added elsewhere before its wording (a new category, say) must not stop an urgent card reaching
    # the DSO: show the raw key rather than fail.
    full = f"{prefix}.{key}"
    return texts.get(full) if texts.has(full) else escape_markdown(key)


def _name(name: str, limits: _Limits) -> str:
    return escape_markdown(truncate(name, limits.name))


def _mention_tag(name: str) -> str:
    # The tag's text must match its mention entity exactly; angle brackets in a name would end the tag early.
    return f"<at>{name.replace('<', '').replace('>', '')}</at>"


def _mention_entities(view: CaseCardView) -> list[dict[str, Any]]:
    """Teams mention entities for the card's @mentions; an Entra object id is enough for Teams to find them."""
    return [
        {"type": "mention", "text": _mention_tag(name), "mentioned": {"id": aad_id, "name": name}}
        for aad_id, name in view.mentions
    ]


def _yes_no(value: bool | None, texts: Texts) -> str:
    if value is None:
        return texts.get("cards.answers.not_known")
    return texts.get("cards.answers.yes" if value else "cards.answers.no")


def _or_not_given(value: str | None, texts: Texts, limit: int) -> str:
    return escape_markdown(truncate(value, limit)) if value and value.strip() else texts.get("cards.answers.not_given")


def _paragraphs(text: str, texts: Texts) -> str:
    """User text for a TextBlock: escaped, with each line its own paragraph.

    Teams' markdown joins single line breaks into one line, which would run a reporter's separate points
    together; a blank line between them keeps them apart.
    """
    lines = [escape_markdown(line) for line in text.splitlines() if line.strip()]
    return "\n\n".join(lines) if lines else texts.get("cards.answers.not_given")
