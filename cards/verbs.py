"""Every Action.Execute verb a Safe Space card can send. The bot has exactly one handler per verb (tested)."""

from __future__ import annotations

from enum import StrEnum


class Verb(StrEnum):
    CASE_ACKNOWLEDGE = "case.acknowledge"
    CASE_ASSIGN = "case.assign"
    CASE_NOTE = "case.note"
    CASE_REVEAL = "case.reveal"
    CASE_DECIDE = "case.decide"
    CASE_CONFIRM_DECISION = "case.confirm_decision"
    CASE_CLOSE = "case.close"
    CASE_REFRESH = "case.refresh"
    STAFF_FORM_SUBMIT = "staff_form.submit"
