"""Make user-supplied text safe to show in an Adaptive Card or a markdown message.

TextBlocks render a markdown subset in Teams, so a learner typing `**x**` or `[link](http://...)` would otherwise
change how a DSO's card looks, or plant a link on it. `${...}` is Adaptive Card template syntax: escaping `$`
keeps it literal should a card ever be expanded as a template.
"""

from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that change rendering.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$=])")
# Control characters, plus bidi overrides and isolates, which could make text on a DSO's card read backwards
# or hide part of it. The stored report keeps them; only the card drops them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def escape_markdown(text: str) -> str:
    """Escape markdown and template syntax, drop control characters; line breaks are kept."""
    cleaned = _CONTROL.sub("", text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", cleaned)


def truncate(text: str, limit: int, marker: str = "…") -> str:
    """Cut long text for a card preview; the full text stays in the case store."""
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker
