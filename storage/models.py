"""SQLModel tables. Alembic migrations in storage/migrations are generated from this metadata."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Text
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
