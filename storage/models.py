"""SQLModel tables. Alembic migrations in storage/migrations are generated from this metadata."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


class BotStateRecord(SQLModel, table=True):
    """One botbuilder state bag (conversation, user or dialog state), with an eTag for optimistic concurrency."""

    __tablename__ = "bot_state"

    key: str = Field(sa_column=Column(Text, primary_key=True))
    data: str = Field(sa_column=Column(Text, nullable=False))
    etag: str = Field(max_length=64)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ConversationLogBase(SQLModel):
    conversation_id: str = Field(sa_column=Column(Text, nullable=False))
    direction: str = Field(max_length=3)  # "in" from a person or Teams, "out" from the bot
    activity_type: str = Field(max_length=64)
    activity_id: str | None = Field(default=None, sa_column=Column(Text))
    reply_to_id: str | None = Field(default=None, sa_column=Column(Text))
    channel_id: str = Field(default="", max_length=64)
    conversation_type: str | None = Field(default=None, max_length=32)
    user_id: str | None = Field(default=None, sa_column=Column(Text))
    user_aad_id: str | None = Field(default=None, max_length=64)
    user_name: str | None = Field(default=None, sa_column=Column(Text))
    text: str | None = Field(default=None, sa_column=Column(Text))
    # JSON of whatever else the activity carried: card attachments, submitted values, invoke bodies.
    payload: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ConversationLogEntry(ConversationLogBase, table=True):
    """Every activity in and out, so a case can link the transcript that led to it."""

    __tablename__ = "conversation_log"
    __table_args__ = (Index("ix_conversation_log_conversation_time", "conversation_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)


class ConversationRefRecord(SQLModel, table=True):
    """Where to reach a conversation later (proactive messages to a DSO, a reporter, a trainer)."""

    __tablename__ = "conversation_ref"

    conversation_id: str = Field(sa_column=Column(Text, primary_key=True))
    conversation_type: str = Field(default="personal", max_length=32)
    user_aad_id: str | None = Field(default=None, max_length=64, index=True)
    tenant_id: str | None = Field(default=None, max_length=64)
    service_url: str = Field(sa_column=Column(Text, nullable=False))
    reference: str = Field(sa_column=Column(Text, nullable=False))  # JSON of the conversation reference
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class QuizAttemptBase(SQLModel):
    user_aad_id: str | None = Field(default=None, max_length=64, index=True)
    conversation_id: str = Field(sa_column=Column(Text, nullable=False))
    mode: str = Field(max_length=16)  # "self" (1:1) or "live" (a trainer's session)
    value: str = Field(max_length=32)  # a British value, or "mixed"
    question_count: int
    score: int
    started_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    finished_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class QuizAttempt(QuizAttemptBase, table=True):
    """One finished quiz by one learner, for their own record and the directors' report."""

    __tablename__ = "quiz_attempt"
    __table_args__ = (Index("ix_quiz_attempt_finished_at", "finished_at"),)  # the directors' report (0008)

    id: int | None = Field(default=None, primary_key=True)


class QuizAnswerBase(SQLModel):
    question_id: str = Field(max_length=16)
    value: str = Field(max_length=32)  # the question's own value, so mixed quizzes still count per value
    chosen: int
    correct: bool


class QuizAnswer(QuizAnswerBase, table=True):
    __tablename__ = "quiz_answer"

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="quiz_attempt.id", index=True)


# Safeguarding cases -----------------------------------------------------------------------------------------


class CaseBase(SQLModel):
    """What a report says. Dialogs and forms build a CaseCreate; only the store makes a Case."""

    source: str = Field(max_length=16)  # learner | staff | triage
    urgent: bool = False
    incomplete: bool = False  # an urgent report abandoned part-way: sent on so nobody in danger is missed
    category: str = Field(max_length=32)  # radicalisation | bullying | online_safety | abuse | wellbeing | other
    about: str = Field(max_length=16)  # self | learner | staff | outside | not_say (learner form); or subject kind
    subject_name: str | None = Field(default=None, sa_column=Column(Text))
    subject_under_18: bool | None = None
    description: str = Field(sa_column=Column(Text, nullable=False))  # verbatim, never edited
    incident_when: str | None = Field(default=None, sa_column=Column(Text))  # as the reporter put it
    incident_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))  # kept apart from created_at
    incident_where: str | None = Field(default=None, sa_column=Column(Text))
    reporter_aad_id: str | None = Field(default=None, max_length=64, index=True)
    reporter_name: str | None = Field(default=None, sa_column=Column(Text))
    reporter_role: str = Field(default="learner", max_length=16)
    reporter_conversation_id: str | None = Field(default=None, sa_column=Column(Text))  # links the transcript
    reporter_hidden: bool = False  # asked to be kept off the DSO card; identity is still stored
    contact_ok: bool = False
    contact_how: str | None = Field(default=None, sa_column=Column(Text))
    # Staff form only: JSON list of {"indicator": key, "detail": free text}, action taken, who else knows.
    indicators: str | None = Field(default=None, sa_column=Column(Text))
    action_taken: str | None = Field(default=None, sa_column=Column(Text))
    others_aware: str | None = Field(default=None, sa_column=Column(Text))
    # False when only the day of `incident_at` is known (it is then midnight UK time), so a card never shows a
    # made-up 00:00.
    incident_time_known: bool | None = None
    # Staff form, the rest of a referral's content (policy 4.4; DfE's list in the domain brief, section 1):
    spoken_to: str | None = Field(default=None, max_length=16)  # dso | director | both | not_yet
    fears: str | None = Field(default=None, sa_column=Column(Text))  # what they fear may happen
    parents_told: str | None = Field(default=None, max_length=16)  # yes | no | not_applicable (under 18s)
    other_agencies: str | None = Field(default=None, sa_column=Column(Text))
    online_how: str | None = Field(default=None, sa_column=Column(Text))  # how online activity came to light


class CaseCreate(CaseBase):
    pass


REPORT_COLUMNS = (
    "category",
    "status",
    "decision",
    "urgent",
    "escalated_at",
    "decision_confirmed_by",
    "acknowledged_at",
)
OPEN_QUEUE_COLUMNS = ("status", "urgent", "reference", "category", "owner_aad_id", "owner_name", "version")


class Case(CaseBase, table=True):
    __tablename__ = "safeguarding_case"
    # Issue 11's views at 100,000 cases (migration 0008): the open queue reads only open cases, and on PostgreSQL
    # from the index alone (everything the queue shows is included); the report reads one period of created_at.
    __table_args__ = (
        Index(
            "ix_safeguarding_case_open_created",
            "created_at",
            "id",
            postgresql_include=list(OPEN_QUEUE_COLUMNS),
            postgresql_where=sql_text("status <> 'closed'"),
            sqlite_where=sql_text("status <> 'closed'"),
        ),
        Index("ix_safeguarding_case_created_at", "created_at", postgresql_include=list(REPORT_COLUMNS)),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=16, unique=True, index=True)
    # 32, not 16: "awaiting_director" is 17 characters, which PostgreSQL refused until migration 0008.
    status: str = Field(default="new", max_length=32)  # new | acknowledged | awaiting_director | decided | closed
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    owner_aad_id: str | None = Field(default=None, max_length=64)
    owner_name: str | None = Field(default=None, sa_column=Column(Text))
    acknowledged_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    decision: str | None = Field(default=None, max_length=32)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    decided_by: str | None = Field(default=None, sa_column=Column(Text))
    decision_confirmed_by: str | None = Field(default=None, sa_column=Column(Text))
    decided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    outcome_note: str | None = Field(default=None, sa_column=Column(Text))
    card_conversation_id: str | None = Field(default=None, sa_column=Column(Text))
    card_activity_id: str | None = Field(default=None, sa_column=Column(Text))
    reminded_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    escalated_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    version: int = 1  # bumped on every change: compare-and-swap so two DSOs pressing at once cannot both win
    # Records (issue 11). The subject's date of birth, when known, sets how long the case is kept (retention).
    subject_date_of_birth: dt.date | None = None
    legal_hold: bool = False  # a DSO's hold: retention never removes the case while it is set
    # The chronology's hash chain (storage/chain.py): how many events it has and the newest one's hash. Every
    # append updates these, which also locks the case row, so two instances appending at once queue up.
    event_count: int = 0
    chain_head: str | None = Field(default=None, max_length=64)


class CaseEvent(SQLModel, table=True):
    """The chronology: append-only, one row per thing that happened to a case, who did it and when."""

    __tablename__ = "case_event"
    # A case's history, in order, a page at a time (migration 0008); each event's place in its case's hash chain
    # is unique (migration 0007).
    __table_args__ = (
        Index("ix_case_event_case_time", "case_id", "at", "id"),
        UniqueConstraint("case_id", "seq", name="uq_case_event_case_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="safeguarding_case.id", index=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    actor_aad_id: str | None = Field(default=None, max_length=64)
    actor_name: str | None = Field(default=None, sa_column=Column(Text))
    kind: str = Field(max_length=32)
    detail: str | None = Field(default=None, sa_column=Column(Text))  # JSON
    # Idempotency for Teams' invoke retries: the same action id is recorded once.
    action_id: str | None = Field(default=None, max_length=128, unique=True)
    # The hash chain (storage/chain.py): place in the case, the previous event's hash, this event's hash.
    seq: int
    prev_hash: str | None = Field(default=None, max_length=64)
    event_hash: str = Field(max_length=64)
    # A correction is a new event naming the one it corrects; nothing is ever edited in place.
    corrects: int | None = Field(default=None, foreign_key="case_event.id")


class SafeguardingChannel(SQLModel, table=True):
    """Where new cases are posted: a channel (or group chat) whose every member is a DSO or director."""

    __tablename__ = "safeguarding_channel"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(sa_column=Column(Text, nullable=False))
    team_id: str | None = Field(default=None, sa_column=Column(Text))
    channel_id: str | None = Field(default=None, sa_column=Column(Text))
    service_url: str = Field(sa_column=Column(Text, nullable=False))
    tenant_id: str | None = Field(default=None, max_length=64)
    registered_by: str | None = Field(default=None, sa_column=Column(Text))
    registered_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    active: bool = True
    deactivated_reason: str | None = Field(default=None, sa_column=Column(Text))
    # Set while nobody can say who is in the channel (Teams' member API failed): nothing confidential is posted
    # or redrawn there until a roster check succeeds and clears it.
    held_reason: str | None = Field(default=None, sa_column=Column(Text))
    roster_checked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class OutboxMessage(SQLModel, table=True):
    """A message to Teams that must not be lost: kept until delivered, retried with back-off, then escalated."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=128, unique=True)  # enqueueing the same message twice is a no-op
    kind: str = Field(max_length=32)  # case_card | case_card_update | direct | channel_reply
    case_id: int | None = Field(default=None, foreign_key="safeguarding_case.id", index=True)
    target: str = Field(sa_column=Column(Text, nullable=False))  # JSON: where to deliver
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the activity to send
    status: str = Field(default="pending", max_length=16, index=True)  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    lease_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    result_id: str | None = Field(default=None, sa_column=Column(Text))  # e.g. the posted card's activity id
    escalated: bool = False


class CaseCounter(SQLModel, table=True):
    """Per-year reference numbers (SS-2026-0042) handed out atomically, whichever instance asks."""

    __tablename__ = "case_counter"

    year: int = Field(primary_key=True)
    last: int = 0


# Learner voice: pulse surveys and debate polls (policy 3.1.1, 3.1.2) -------------------------------------------


class ServerSecret(SQLModel, table=True):
    """A key the instances share, made once when none is configured (the survey pseudonyms' HMAC key)."""

    __tablename__ = "server_secret"

    name: str = Field(max_length=32, primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))  # hex
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class SurveyRun(SQLModel, table=True):
    """A survey sent out by a director or the DSO: one per survey file, its window copied from the file."""

    __tablename__ = "survey_run"

    id: int | None = Field(default=None, primary_key=True)
    survey_name: str = Field(max_length=48, unique=True)
    started_by: str = Field(max_length=64)
    started_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    closes_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    remind_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reminded_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))  # set once, by one instance
    service_url: str = Field(sa_column=Column(Text, nullable=False))  # to open a 1:1 chat with someone who has none
    tenant_id: str | None = Field(default=None, max_length=64)


class SurveyInvite(SQLModel, table=True):
    """Who a survey was sent to: for the reminder. Never joined to an answer; answers carry only a pseudonym."""

    __tablename__ = "survey_invite"
    __table_args__ = (UniqueConstraint("run_id", "aad_object_id", name="uq_survey_invite_person"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="survey_run.id")
    aad_object_id: str = Field(max_length=64)


class SurveyAnswer(SQLModel, table=True):
    """One answer to one question, under the respondent's per-survey pseudonym (an HMAC), never their identity."""

    __tablename__ = "survey_answer"
    # One answer per person per question: the pseudonym is what stops a second one.
    __table_args__ = (UniqueConstraint("run_id", "respondent", "question_id", name="uq_survey_answer_once"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="survey_run.id", index=True)
    respondent: str = Field(max_length=64)
    question_id: str = Field(max_length=32)
    scale: int | None = None  # 1-5
    choice: int | None = None  # the option's index
    text: str | None = Field(default=None, sa_column=Column(Text))
    skipped: bool = False
    # A comment that showed risk went to the DSO as a case, with the learner's name; it is not kept here too.
    flagged: bool = False
    answered_on: dt.date  # the day only: an exact time could be matched to a 1:1 chat's log


class Debate(SQLModel, table=True):
    """A debate poll in a session's group chat or channel: a motion, voted on before and after the debate."""

    __tablename__ = "debate"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(sa_column=Column(Text, nullable=False))
    conversation_type: str = Field(max_length=32)
    service_url: str = Field(sa_column=Column(Text, nullable=False))
    tenant_id: str | None = Field(default=None, max_length=64)
    trainer_aad_id: str = Field(max_length=64)
    trainer_name: str | None = Field(default=None, sa_column=Column(Text))
    motion: str = Field(sa_column=Column(Text, nullable=False))
    value: str | None = Field(default=None, max_length=32, index=True)  # a British value, for the directors' report
    value_source: str | None = Field(default=None, max_length=16)  # trainer | keywords
    round: int = 1  # 1 before the debate, 2 after "Vote again"
    state: str = Field(default="open", max_length=16)  # open | ended
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    version: int = 1


class DebateVote(SQLModel, table=True):
    """One person's vote in one round, under a pseudonym; changing it replaces it."""

    __tablename__ = "debate_vote"
    __table_args__ = (UniqueConstraint("debate_id", "round", "voter", name="uq_debate_vote_once"),)

    id: int | None = Field(default=None, primary_key=True)
    debate_id: int = Field(foreign_key="debate.id", index=True)
    round: int
    voter: str = Field(max_length=64)
    choice: str = Field(max_length=16)  # for | against | undecided
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


# Records: retention and the audit of administrative commands (issue 11) -------------------------------------


class RetentionRun(SQLModel, table=True):
    """One retention pass that removed records, in counts only: never what was removed or whose it was."""

    __tablename__ = "retention_run"

    id: int | None = Field(default=None, primary_key=True)
    # "daily:2026-12-03" for the service's daily run: unique, so of several instances one runs each day.
    run_key: str | None = Field(default=None, max_length=64, unique=True)
    trigger: str = Field(max_length=16)  # daily | command
    actor: str | None = Field(default=None, sa_column=Column(Text))  # the OS user, for a command
    ran_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    cases_removed: int = 0
    events_removed: int = 0
    outbox_removed: int = 0
    conversation_log_removed: int = 0
    quiz_attempts_removed: int = 0
    quiz_answers_removed: int = 0
    live_quiz_answers_removed: int = 0
    held_cases_kept: int = 0  # past their period, kept because of a legal hold


class RetiredCase(SQLModel, table=True):
    """What is left of a case retention removed: its reference, category and dates; nothing said, nobody named."""

    __tablename__ = "retired_case"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=16, unique=True)
    category: str = Field(max_length=32)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    removed_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    retention_run_id: int = Field(foreign_key="retention_run.id")
    event_count: int = 0
    chain_head: str | None = Field(default=None, max_length=64)  # the removed chronology's last hash


class AuditEntry(SQLModel, table=True):
    """An administrative command that read or released records (a case list export, a subject access request)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    action: str = Field(max_length=32)
    actor: str | None = Field(default=None, sa_column=Column(Text))
    detail: str | None = Field(default=None, sa_column=Column(Text))  # JSON: counts and ids, never anyone's words


class UrgentDraft(SQLModel, table=True):
    """A report in which someone said a person may be in danger, still being written: if the learner goes silent
    for SAFESPACE_URGENT_DRAFT_MINUTES, whichever instance is running sends it on (bot/safeguarding/urgent_drafts)."""

    __tablename__ = "urgent_draft"

    conversation_id: str = Field(sa_column=Column(Text, primary_key=True))
    reference: str = Field(sa_column=Column(Text, nullable=False))  # JSON of the conversation reference
    due_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    # Set by the instance sending it; another takes over only once this has passed (that one crashed).
    claimed_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
