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
    CASE_REOPEN = "case.reopen"
    CASE_REFRESH = "case.refresh"
    STAFF_FORM_SUBMIT = "staff_form.submit"
    LIVE_QUIZ_JOIN = "live_quiz.join"
    LIVE_QUIZ_BEGIN = "live_quiz.begin"
    LIVE_QUIZ_ANSWER = "live_quiz.answer"
    LIVE_QUIZ_NEXT = "live_quiz.next"
    LIVE_QUIZ_END = "live_quiz.end"
    TRAINING_RECORD = "training.record"
    SURVEY_ANSWER = "survey.answer"
    DEBATE_VOTE = "debate.vote"
    DEBATE_VOTE_AGAIN = "debate.vote_again"
    DEBATE_END = "debate.end"
    # Issue 11: the safeguarding team's records in Teams.
    RECORDS_QUEUE = "records.queue"
    RECORDS_CASE = "records.case"
    RECORDS_CONVERSATION = "records.conversation"
    CASE_LEGAL_HOLD = "case.legal_hold"
    CASE_LEGAL_HOLD_RELEASE = "case.legal_hold_release"
