"""A line sent after a report went ("oh and he said he has a knife"): added to that report, not misunderstood.

Someone who has just reported often remembers more. When nothing else understood a message (no command, no
question the knowledge base answers) and the person raised a case in the last few hours that is still open, the
message joins that case as a chronology entry, the card is redrawn to show it, and the person is told which report
it went to. The safety net has read the message first: a high-risk line has already shown the emergency contacts
and reached the team (joining a case that is still waiting, or as an urgent case of its own), so it is not added
twice here.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from botbuilder.core import TurnContext

from bot.edge.teams_context import aad_object_id, is_personal
from bot.safeguarding.case_cards import REPORTER_ADDED
from bot.safeguarding.report_intake import ReportIntake
from content.texts import Texts
from storage import cases
from storage.db import Database
from storage.types import utcnow

# Long enough for "I forgot to say" later the same day; short enough that an unrelated message next week does not
# land in an old case.
ADD_WITHIN: Final = dt.timedelta(hours=4)


class FollowUps:
    def __init__(self, *, database: Database, intake: ReportIntake, texts: Texts) -> None:
        self._db = database
        self._intake = intake
        self._texts = texts

    async def add(self, context: TurnContext, text: str) -> bool:
        """Add `text` to the person's recent open case and say so; False (nothing done) when they have none."""
        activity = context.activity
        reporter = (aad_object_id(activity) or "").lower()
        if not text.strip() or not reporter or not is_personal(activity):
            return False
        async with self._db.read_sessions() as session:
            case_id = await cases.recent_open_case_of(
                session=session, reporter_aad_id=reporter, since=utcnow() - ADD_WITHIN
            )
        if case_id is None:
            return False
        action_id = f"follow-up:{activity.id}"[:128] if activity.id else None
        # Verbatim, as typed: it is the reporter's own account.
        added = await self._intake.add_to_case(
            context, case_id, REPORTER_ADDED, activity.text or text, action_id=action_id
        )
        if added is None:
            return False
        await context.send_activity(self._texts.get("report.added_later", reference=added.reference))
        return True
