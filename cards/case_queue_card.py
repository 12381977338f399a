"""The DSO's queue: open cases, overdue first, then urgent, then the longest waiting, a page at a time.

Each line says the case's reference, category, age, owner and status, with a button that opens its history. The
card says how many cases there are and which ones it shows, and offers the next page: a long queue is never cut.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cards.elements import Action, Card, Element, adaptive_card, execute, text_block
from cards.escape import escape_markdown, truncate
from cards.verbs import Verb
from content.texts import Texts
from storage.case_views import QueuePage, QueueRow

OWNER_CHARS = 80


def age(created_at: dt.datetime, now: dt.datetime) -> str:
    """How long ago a case was raised, in the unit a person would use."""
    minutes = max(0, int((now - created_at).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min"
    return f"{hours // 24} days"


def label(texts: Texts, prefix: str, key: str) -> str:
    """The wording for a stored key (a category, a status), or the key itself if it has none yet."""
    full = f"{prefix}.{key}"
    return texts.get(full) if texts.has(full) else escape_markdown(key)


def _row(row: QueueRow, texts: Texts, now: dt.datetime) -> list[Element]:
    t = texts.get
    markers = [t("records.queue.overdue")] if row.overdue else []
    if row.urgent:
        markers.append(t("records.queue.urgent"))
    owner = escape_markdown(truncate(row.owner_name, OWNER_CHARS)) if row.owner_name else t("records.queue.owner_none")
    line = t(
        "records.queue.line",
        reference=row.reference,
        category=label(texts, "cards.categories", row.category),
        age=age(row.created_at, now),
        owner=owner,
        status=label(texts, "cards.case.status", row.status),
    )
    blocks: list[Element] = []
    if markers:
        blocks.append(text_block(" · ".join(markers), weight="Bolder", color="Attention", size="Small"))
    blocks.append(text_block(line))
    return [
        {
            "type": "Container",
            "separator": True,
            "items": [
                *blocks,
                {
                    "type": "ActionSet",
                    "actions": [
                        execute(
                            t("records.queue.open", reference=row.reference),
                            Verb.RECORDS_CASE,
                            {"case_id": row.case_id, "page": 0},
                        )
                    ],
                },
            ],
        }
    ]


def queue_card(page: QueuePage, texts: Texts, *, now: dt.datetime, mine: bool) -> Card:
    t = texts.get
    body: list[Element] = [
        text_block(t("records.queue.title_mine" if mine else "records.queue.title"), size="Medium", weight="Bolder")
    ]
    if page.total == 0:
        body.append(text_block(t("records.queue.empty_mine" if mine else "records.queue.empty")))
    else:
        summary = "records.queue.summary_mine" if mine else "records.queue.summary"
        body.append(text_block(t(summary, total=page.total, overdue=page.overdue)))
        body.append(
            text_block(t("records.queue.showing", first=page.first, last=page.last, total=page.total), is_subtle=True)
        )
    for row in page.rows:
        body.extend(_row(row, texts, now))
    actions: list[Action] = []
    data: dict[str, Any] = {"mine": mine}
    if page.page > 0:
        actions.append(execute(t("records.queue.previous"), Verb.RECORDS_QUEUE, {**data, "page": page.page - 1}))
    if page.has_more:
        count = min(page.page_size, page.total - page.last)
        actions.append(
            execute(t("records.queue.more", count=count), Verb.RECORDS_QUEUE, {**data, "page": page.page + 1})
        )
    return adaptive_card(body, actions)
