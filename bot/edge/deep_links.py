"""Links that open a message in Teams, for pointing someone at a case card from somewhere else."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

TEAMS_LINK_BASE = "https://teams.microsoft.com/l/message"


def message_link(conversation_id: str, activity_id: str, *, tenant_id: str | None = None) -> str | None:
    """A deep link to one message: a channel thread's first post, or a message in a group chat.

    A channel thread's conversation id is "<channel id>;messageid=<first post's id>"; Teams opens the thread
    from the channel id and that id. None when there is nothing to link to.
    """
    channel_id, _, thread_id = conversation_id.partition(";messageid=")
    if thread_id:
        params: dict[str, str] = {"parentMessageId": thread_id}
        if tenant_id:
            params["tenantId"] = tenant_id
        return f"{TEAMS_LINK_BASE}/{quote(channel_id, safe='')}/{quote(thread_id, safe='')}?{urlencode(params)}"
    if not conversation_id or not activity_id:
        return None
    context = json.dumps({"contextType": "chat"}, separators=(",", ":"))
    query = urlencode({"context": context})
    return f"{TEAMS_LINK_BASE}/{quote(conversation_id, safe='')}/{quote(activity_id, safe='')}?{query}"
