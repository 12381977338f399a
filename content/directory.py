"""The signposting directory and the staying-safe-online topics: models, loader and queries.

Three files feed it: `signposting.yaml` (services and people), `online_safety.yaml` (short topics for
learners) and the `emergency_entry_ids` of each category in `triage.yaml` (which services to show when
the triage engine flags a message). Everything is cross-checked at load time, because a wrong phone
number or a dangling id must stop the bot starting rather than reach a learner in crisis.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from content.common import (
    DEFAULT_CONTENT_DIR,
    Source,
    StrictModel,
    content_error,
    load_model,
)

SIGNPOSTING_FILE = "signposting.yaml"
ONLINE_SAFETY_FILE = "online_safety.yaml"
TRIAGE_FILE = "triage.yaml"

MAX_TOPIC_WORDS = 120

Audience = Literal["learner", "staff", "both"]
Viewer = Literal["learner", "staff"]
TopicTag = Literal[
    "emergency",
    "radicalisation",
    "self_harm",
    "mental_health",
    "abuse",
    "grooming",
    "sextortion",
    "bullying",
    "hate_crime",
    "online_safety",
    "fraud",
    "careers",
    "general",
]
TOPIC_TAGS: frozenset[str] = frozenset(get_args(TopicTag))
ContactKind = Literal["phone", "text", "email", "web"]

# Action Fraud closed on 4 Dec 2025; signposting a learner to it would send them to a dead service.
_RETIRED_SERVICE = re.compile(r"action\s*fraud", re.IGNORECASE)

# 999 and 101 are the police; 116 xxx are the European helpline numbers (Samaritans is 116 123);
# 18001 is the Relay UK prefix that turns any number into a textphone call.
_PHONE = re.compile(r"(?:999|101|116 \d{3}|(?:18001 )?(?:101|0\d{2,4}(?: \d{3,6}){1,2}))")
# Texts go to a 4 or 5 digit short code (7726, 85258) or to a UK mobile.
_TEXT = re.compile(r"(?:\d{4,5}|07\d{3} \d{3} ?\d{3})")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_WEB = re.compile(r"https://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/\S*)?")
# UK numbers starting 0 have 10 or 11 digits; a few freephone lines (Childline's 0800 1111) have 8.
_SHORT_FREEPHONE = re.compile(r"0800 \d{4}")

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_WORD = re.compile(r"[\W_]+")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def _one_line(text: str) -> str:
    # Names, labels and notes go into single card lines; a stray YAML block scalar would break the layout.
    if "\n" in text or "\r" in text:
        raise ValueError("must be a single line")
    return text


def _one_sentence(text: str) -> str:
    if not text.endswith("."):
        raise ValueError("must be one plain sentence ending with a full stop")
    if len([part for part in _SENTENCE_END.split(text) if part.strip()]) != 1:
        raise ValueError("must be one sentence: split the rest into 'note'")
    return text


def _normalise(text: str) -> str:
    """Fold text for keyword matching: case, accents, apostrophes and punctuation do not matter."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    folded = _APOSTROPHES.sub("", folded)
    return " ".join(_NOT_WORD.sub(" ", folded).split())


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
OneLine = Annotated[Text, AfterValidator(_one_line)]
Sentence = Annotated[OneLine, AfterValidator(_one_sentence)]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
SourceKey = Annotated[str, StringConstraints(pattern=r"^(?:S[0-9]+[a-z]?|POLICY)$")]
Keyword = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9 ]*[a-z0-9]$")]


class Contact(StrictModel):
    """One way to reach a service. `value` is what a person types or dials, formatted for reading."""

    kind: ContactKind
    value: Text
    label: OneLine

    @model_validator(mode="after")
    def _value_fits_kind(self) -> Contact:
        value = self.value
        if self.kind == "phone":
            if not _PHONE.fullmatch(value):
                raise ValueError(f"phone {value!r} is not a UK number written as digits and single spaces")
            digits = value.replace(" ", "")
            if digits.startswith("0") and len(digits) not in (10, 11) and not _SHORT_FREEPHONE.fullmatch(value):
                raise ValueError(f"phone {value!r} has {len(digits)} digits; UK numbers have 10 or 11")
        elif self.kind == "text" and not _TEXT.fullmatch(value):
            raise ValueError(f"text number {value!r} is not a short code or a UK mobile (07xxx xxx xxx)")
        elif self.kind == "email" and not _EMAIL.fullmatch(value):
            raise ValueError(f"email {value!r} is not a plain address that a mailto: link can use")
        elif self.kind == "web" and not _WEB.fullmatch(value):
            raise ValueError(f"web address {value!r} must be a full https:// URL")
        return self

    @property
    def href(self) -> str:
        """A link a card button can open: tel:, sms:, mailto: or the https URL itself."""
        digits = self.value.replace(" ", "")
        if self.kind == "phone":
            return f"tel:{digits}"
        if self.kind == "text":
            return f"sms:{digits}"
        if self.kind == "email":
            return f"mailto:{self.value}"
        return self.value


class Entry(StrictModel):
    """A service or person in the signposting directory."""

    id: Id
    name: OneLine
    purpose: Sentence
    audience: Audience
    topics: tuple[TopicTag, ...] = Field(min_length=1)
    # The oldest age the service is for, e.g. 18 for Childline ("anyone under 19").
    max_age: Annotated[StrictInt, Field(ge=1, le=120)] | None = None
    contacts: tuple[Contact, ...] = Field(min_length=1)
    hours: OneLine | None = None
    verified: StrictBool
    note: OneLine | None = None
    sources: tuple[SourceKey, ...] = Field(min_length=1)
    priority: StrictInt
    # Shorter names advice may use for it ("ACT Early", "CEOP", "101"): a topic that says one must list this entry
    # in `related`, so the card shows how to reach it (checked at load time).
    mentioned_as: tuple[OneLine, ...] = ()

    @model_validator(mode="after")
    def _no_retired_service(self) -> Entry:
        # The note is the one place allowed to name it, to explain what replaced it.
        shown = [self.name, self.purpose, self.hours or ""]
        shown += [f"{c.value} {c.label}" for c in self.contacts]
        if any(_RETIRED_SERVICE.search(text) for text in shown):
            raise ValueError("Action Fraud closed on 4 Dec 2025: signpost Report Fraud (mention it only in 'note')")
        return self


def word_count(text: str) -> int:
    """Words as a reader sees them: bullet markers and stray punctuation do not count."""
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


class Topic(StrictModel):
    """A short staying-safe-online topic for learners."""

    id: Id
    title: OneLine
    keywords: tuple[Keyword, ...] = Field(min_length=1)
    body: Text
    related: tuple[Id, ...] = ()
    sources: tuple[SourceKey, ...]
    verified: StrictBool

    @field_validator("body")
    @classmethod
    def _short_enough(cls, body: str) -> str:
        words = word_count(body)
        if words > MAX_TOPIC_WORDS:
            raise ValueError(f"has {words} words; keep it to {MAX_TOPIC_WORDS} so it fits a phone screen")
        return body

    @model_validator(mode="after")
    def _sourced_and_checked(self) -> Topic:
        # Learners act on this advice: what could not be checked against a source is left out, not shown with a
        # disclaimer ("This advice ... has not been checked" is no help to someone deciding what to do).
        if not self.sources or not self.verified:
            raise ValueError("a topic must cite its sources and say verified: true; leave out advice nobody checked")
        return self


class SignpostingFile(StrictModel):
    sources: dict[SourceKey, Source]
    entries: tuple[Entry, ...] = Field(min_length=1)


class OnlineSafetyFile(StrictModel):
    sources: dict[SourceKey, Source]
    topics: tuple[Topic, ...] = Field(min_length=1)


class _LenientModel(BaseModel):
    # triage.yaml belongs to the triage engine, which validates it strictly; here we read one key of it.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Route(_LenientModel):
    emergency_entry_ids: tuple[Id, ...] = Field(min_length=1)


class _TriageRoutes(_LenientModel):
    categories: dict[Id, _Route] = Field(min_length=1)


class Directory:
    """Signposting entries, online-safety topics and emergency routes. Build it with `Directory.load`."""

    def __init__(
        self,
        entries: Sequence[Entry],
        topics: Sequence[Topic],
        sources: Mapping[str, Source],
        routes: Mapping[str, Sequence[str]],
    ) -> None:
        # Sorted once here so every query returns entries in priority order, 999 first.
        self._entries: tuple[Entry, ...] = tuple(sorted(entries, key=lambda e: (e.priority, e.id)))
        self._by_id: dict[str, Entry] = {e.id: e for e in self._entries}
        self._topics: tuple[Topic, ...] = tuple(topics)
        self._topic_by_id: dict[str, Topic] = {t.id: t for t in self._topics}
        self._sources: dict[str, Source] = dict(sources)
        self._routes: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in routes.items()}
        self._keyword_res: tuple[tuple[Topic, re.Pattern[str]], ...] = tuple(
            (topic, _keyword_pattern(topic.keywords)) for topic in self._topics
        )

    @classmethod
    def load(cls, content_dir: Path = DEFAULT_CONTENT_DIR) -> Directory:
        """Load and cross-check the three files; raise ContentError naming file, line and field."""
        sign_path = content_dir / SIGNPOSTING_FILE
        safety_path = content_dir / ONLINE_SAFETY_FILE
        triage_path = content_dir / TRIAGE_FILE
        signposting = load_model(sign_path, SignpostingFile)
        safety = load_model(safety_path, OnlineSafetyFile)
        routes = load_model(triage_path, _TriageRoutes)
        _check_signposting(sign_path, signposting)
        entries = {e.id: e for e in signposting.entries}
        _check_online_safety(safety_path, safety, signposting.sources, entries)
        _check_routes(triage_path, routes, entries)
        return cls(
            entries=signposting.entries,
            topics=safety.topics,
            sources={**signposting.sources, **safety.sources},
            routes={name: route.emergency_entry_ids for name, route in routes.categories.items()},
        )

    # --- signposting -----------------------------------------------------------------------------

    def entries(self) -> tuple[Entry, ...]:
        """Every entry, staff-only ones included, in priority order."""
        return self._entries

    def entry(self, entry_id: str) -> Entry:
        try:
            return self._by_id[entry_id]
        except KeyError:
            raise KeyError(f"no signposting entry {entry_id!r} in {SIGNPOSTING_FILE}") from None

    def for_audience(self, audience: Viewer, topic: str | None = None, age: int | None = None) -> list[Entry]:
        """Entries to show, in priority order, with the emergency entries always first.

        Learners never see staff-only entries. Staff see every entry, because they signpost learners
        to learner services too. When `age` is known, services for younger people (Childline, CEOP,
        Report Remove) are left out; when it is not known they are kept, since a learner may be 16.
        """
        if audience not in get_args(Viewer):
            raise ValueError(f"audience must be 'learner' or 'staff', got {audience!r}")
        if topic is not None and topic not in TOPIC_TAGS:
            raise ValueError(f"unknown topic {topic!r}; expected one of {sorted(TOPIC_TAGS)}")
        return [
            e
            for e in self._entries
            if _visible(e, audience, age) and (topic is None or topic in e.topics or "emergency" in e.topics)
        ]

    def categories(self) -> tuple[str, ...]:
        """Triage categories that have emergency routes."""
        return tuple(self._routes)

    def emergency_for(self, category: str, *, age: int | None = None) -> list[Entry]:
        """What to show a learner whose message the triage engine flagged under `category`.

        999 always comes first whatever the data says: in immediate danger it is the one right answer.
        """
        try:
            route = self._routes[category]
        except KeyError:
            raise KeyError(f"no emergency route for triage category {category!r} in {TRIAGE_FILE}") from None
        first = [e for e in self._entries if "emergency" in e.topics]
        rest = [self._by_id[i] for i in route if "emergency" not in self._by_id[i].topics]
        return [e for e in first + rest if _visible(e, "learner", age)]

    def sources_for(self, item: Entry | Topic) -> list[Source]:
        return [self._sources[key] for key in item.sources]

    # --- online safety -------------------------------------------------------------------------

    def topics(self) -> tuple[Topic, ...]:
        return self._topics

    def topic(self, topic_id: str) -> Topic:
        try:
            return self._topic_by_id[topic_id]
        except KeyError:
            raise KeyError(f"no online-safety topic {topic_id!r} in {ONLINE_SAFETY_FILE}") from None

    def find_topic(self, text: str) -> Topic | None:
        """The topic whose keywords best match free text: most distinct keywords wins, then file order."""
        folded = f" {_normalise(text)} "
        best: Topic | None = None
        best_hits = 0
        for topic, pattern in self._keyword_res:
            hits = len(set(pattern.findall(folded)))
            if hits > best_hits:
                best, best_hits = topic, hits
        return best


def _visible(entry: Entry, audience: Viewer, age: int | None) -> bool:
    if audience == "learner" and entry.audience == "staff":
        return False
    return age is None or entry.max_age is None or age <= entry.max_age


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so "fake news" is found as one keyword rather than "fake" or "news" alone.
    ordered = sorted({_normalise(k) for k in keywords}, key=len, reverse=True)
    return re.compile(r"(?<= )(?:" + "|".join(re.escape(k) for k in ordered) + r")(?= )")


def _check_signposting(path: Path, data: SignpostingFile) -> None:
    """Checks that need more than one entry, so pydantic cannot place them."""
    seen: set[str] = set()
    for i, entry in enumerate(data.entries):
        if entry.id in seen:
            raise content_error(path, ("entries", i, "id"), f"duplicate id {entry.id}")
        seen.add(entry.id)
        for j, key in enumerate(entry.sources):
            if key not in data.sources:
                raise content_error(
                    path, ("entries", i, "sources", j), f"unknown source {key}: list it under 'sources:'"
                )
    emergency = [(i, e) for i, e in enumerate(data.entries) if "emergency" in e.topics]
    if not emergency:
        raise content_error(path, ("entries",), "no entry has the 'emergency' topic: 999 must be in the directory")
    others = [e.priority for e in data.entries if "emergency" not in e.topics]
    for i, entry in emergency:
        if entry.audience != "both":
            raise content_error(
                path, ("entries", i, "audience"), "an emergency entry must be shown to everyone ('both')"
            )
        if others and entry.priority >= min(others):
            raise content_error(
                path,
                ("entries", i, "priority"),
                f"is {entry.priority} but must be below every other entry's ({min(others)}): 999 sorts first",
            )


def _check_online_safety(
    path: Path,
    data: OnlineSafetyFile,
    signposting_sources: Mapping[str, Source],
    entries: Mapping[str, Entry],
) -> None:
    for key, source in data.sources.items():
        other = signposting_sources.get(key)
        # S-keys are shared across the brief, so one key must mean one page in every file.
        if other is not None and other != source:
            raise content_error(path, ("sources", key), f"{key} differs from its entry in {SIGNPOSTING_FILE}")
    seen: set[str] = set()
    for i, topic in enumerate(data.topics):
        if topic.id in seen:
            raise content_error(path, ("topics", i, "id"), f"duplicate id {topic.id}")
        seen.add(topic.id)
        for j, key in enumerate(topic.sources):
            if key not in data.sources:
                raise content_error(
                    path, ("topics", i, "sources", j), f"unknown source {key}: list it under 'sources:'"
                )
        for j, entry_id in enumerate(topic.related):
            if entry_id not in entries:
                raise content_error(
                    path,
                    ("topics", i, "related", j),
                    f"unknown signposting id {entry_id} in {SIGNPOSTING_FILE}",
                )
            if entries[entry_id].audience == "staff":
                raise content_error(
                    path, ("topics", i, "related", j), f"{entry_id} is staff-only; topics are for learners"
                )
        _check_named_services(path, i, topic, entries)


def _names_in(text: str, names: Sequence[str]) -> list[str]:
    return [name for name in names if re.search(rf"(?<![\w@/.-]){re.escape(name)}(?![\w@-])", text)]


def _check_named_services(path: Path, index: int, topic: Topic, entries: Mapping[str, Entry]) -> None:
    """A service the advice names must be in `related`, or the card names it without saying how to reach it."""
    for entry in entries.values():
        named = _names_in(topic.body, (entry.name, *entry.mentioned_as))
        if named and entry.id not in topic.related:
            raise content_error(
                path,
                ("topics", index, "related"),
                f"the text names {named[0]!r} but related does not list {entry.id}, so the card would not say how "
                "to reach it",
            )


def _check_routes(path: Path, data: _TriageRoutes, entries: Mapping[str, Entry]) -> None:
    for name, route in data.categories.items():
        for j, entry_id in enumerate(route.emergency_entry_ids):
            loc: tuple[int | str, ...] = ("categories", name, "emergency_entry_ids", j)
            if entry_id not in entries:
                raise content_error(path, loc, f"unknown signposting id {entry_id} in {SIGNPOSTING_FILE}")
            if entries[entry_id].audience == "staff":
                raise content_error(path, loc, f"{entry_id} is staff-only but is shown to learners")


# --- readability ---------------------------------------------------------------------------------------

_VOWEL_GROUP = re.compile(r"[aeiouy]+")
_SILENT_ENDING = re.compile(r"(?:[^laeiouy]es|[^laeiouydt]ed|[^laeiouy]e)$")


def count_syllables(word: str) -> int:
    """Estimate syllables in one English word from its vowel groups (good enough for a readability score)."""
    letters = "".join(ch for ch in word.lower() if "a" <= ch <= "z")
    if not letters:
        # Numbers ("7726", "101") are read aloud as a few short words; one syllable keeps scores honest
        # for the text around them without pretending to know how each is said.
        return 1
    if len(letters) <= 3:
        return 1
    # A final silent "e", "es" or "ed" ("make", "shares", "asked") adds no syllable; "le" ("simple") and
    # "ted"/"ded" ("wanted", "needed") do.
    trimmed = _SILENT_ENDING.sub(lambda m: m.group(0)[0], letters)
    trimmed = trimmed.removeprefix("y")
    return max(1, len(_VOWEL_GROUP.findall(trimmed)))


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease (higher is easier; 60+ is plain English). Bullet lines count as sentences."""
    sentences = 0
    words: list[str] = []
    for line in text.splitlines():
        for part in _SENTENCE_END.split(line):
            part_words = [w for w in part.split() if any(ch.isalnum() for ch in w)]
            if part_words:
                sentences += 1
                words.extend(part_words)
    if not words:
        return 0.0
    syllables = sum(count_syllables(w) for w in words)
    return 206.835 - 1.015 * (len(words) / sentences) - 84.6 * (syllables / len(words))
