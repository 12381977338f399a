"""Offline triage of every message a learner types: signs of immediate danger or serious risk.

The lexicon is data (`content/triage.yaml`); this module only normalises text and runs the compiled
patterns. It must stay plain Python with no Bot Framework imports, so it can be tested and benchmarked
on its own, and it must stay fast (well under a millisecond a message): it runs on every turn.

A match is a reason for a person to look, never a verdict. The caller decides what to show, using the
category's `emergency_entry_ids` from the same file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints

from content.common import DEFAULT_CONTENT_DIR, StrictModel, content_error, load_model

TRIAGE_FILE = "triage.yaml"
DEFAULT_TRIAGE_PATH = DEFAULT_CONTENT_DIR / TRIAGE_FILE


class Severity(IntEnum):
    """How urgent a message is. Ordered, so `max()` picks the most urgent."""

    NONE = 0
    MEDIUM = 1
    HIGH = 2


@dataclass(frozen=True, slots=True)
class Assessment:
    """The result for one message. `matched` names every pattern and combination that fired, for audit."""

    severity: Severity
    categories: tuple[str, ...]
    matched: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return self.severity is not Severity.NONE


NO_RISK = Assessment(Severity.NONE, (), ())


# --- the YAML file -----------------------------------------------------------------------------------

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+$")]
Word = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?: [a-z0-9]+)*$")]
Template = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class CategoryConfig(StrictModel):
    label: str
    emergency_entry_ids: tuple[Name, ...] = Field(min_length=1)


class FuzzyConfig(StrictModel):
    min_length: int = Field(ge=4)
    words: tuple[Word, ...]
    never_correct: tuple[Word, ...] = ()


class NormaliseConfig(StrictModel):
    emoji: dict[str, Word]
    replacements: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")], Word]
    phrases: dict[Word, Word]
    fuzzy: FuzzyConfig
    known_words: tuple[Word, ...]


class PatternConfig(StrictModel):
    id: RuleId
    category: Name | None = None
    severity: Literal["high", "medium", "signal"]
    pattern: Template
    tags: tuple[Name, ...] = ()
    negatable: StrictBool = True


class ExceptionConfig(StrictModel):
    id: RuleId
    pattern: Template


class CombinationConfig(StrictModel):
    id: RuleId
    all_of: tuple[Name, ...] = Field(min_length=2)
    category: Name
    severity: Literal["high", "medium"]


class TriageConfig(StrictModel):
    version: Literal[1]
    categories: dict[Name, CategoryConfig] = Field(min_length=1)
    normalise: NormaliseConfig
    negators: tuple[Word, ...]
    subjects: tuple[Word, ...]
    fillers: tuple[Word, ...]
    lexicon: dict[Name, tuple[Template, ...]]
    exceptions: tuple[ExceptionConfig, ...]
    patterns: tuple[PatternConfig, ...] = Field(min_length=1)
    combinations: tuple[CombinationConfig, ...] = ()


# --- pattern templates -------------------------------------------------------------------------------


class TemplateError(ValueError):
    """A pattern template that cannot be compiled; the loader turns it into a ContentError with a line.

    `loc` is set when the fault is inside a lexicon group, so the error points at the group, not at the
    first pattern that happened to use it.
    """

    def __init__(self, message: str, loc: tuple[int | str, ...] | None = None) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True, slots=True)
class _Trigger:
    """Words of which at least one must be in a sentence for an item to match: a cheap pre-filter."""

    words: frozenset[str]
    prefixes: tuple[str, ...]

    def present(self, tokens: frozenset[str]) -> bool:
        if not self.words.isdisjoint(tokens):
            return True
        return any(token.startswith(prefix) for prefix in self.prefixes for token in tokens)

    def __or__(self, other: _Trigger) -> _Trigger:
        return _Trigger(self.words | other.words, self.prefixes + other.prefixes)


# Words so common that a trigger made of them filters out almost nothing.
_COMMON = frozenset(
    "i a an the to is are am be my me you your it this that of in on at and or he she they we his her them "
    "him will would going not do for with so have has was if all up out just".split()
)


def _selectivity(trigger: _Trigger) -> tuple[int, int]:
    """Lower is more selective: fewer common words, then fewer words in all."""
    return (
        sum(w in _COMMON for w in trigger.words) + len(trigger.prefixes),
        len(trigger.words) + len(trigger.prefixes),
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    regex: str
    # Triggers of the required items, in order; a None entry means "cannot pre-filter this item".
    required: tuple[_Trigger | None, ...]

    @property
    def best(self) -> _Trigger | None:
        """The most selective trigger: every match needs one of its words, so it is enough to index on."""
        triggers = [t for t in self.required if t is not None]
        return min(triggers, key=_selectivity) if triggers else None


_GAP = re.compile(r"~([0-9])")
_ANY_WORD = r"[^ ]+"


def _split_items(template: str) -> list[str]:
    """Split a template on spaces, keeping parenthesised alternatives ("(a b|c)?") as one item."""
    items: list[str] = []
    i, n = 0, len(template)
    while i < n:
        if template[i] == " ":
            i += 1
            continue
        if template[i] == "(":
            depth, j = 0, i
            while j < n:
                depth += {"(": 1, ")": -1}.get(template[j], 0)
                if depth == 0:
                    break
                j += 1
            if depth:
                raise TemplateError(f"unbalanced '(' in {template!r}")
            j += 1
            if j < n and template[j] == "?":
                j += 1
            if j < n and template[j] != " ":
                raise TemplateError(f"put a space after ')' in {template!r}")
        else:
            j = template.find(" ", i)
            j = n if j == -1 else j
        items.append(template[i:j])
        i = j
    return items


def _split_alternatives(body: str) -> list[str]:
    parts: list[str] = []
    depth, start = 0, 0
    for k, ch in enumerate(body):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "|" and depth == 0:
            parts.append(body[start:k])
            start = k + 1
    parts.append(body[start:])
    return [p.strip() for p in parts]


class _Compiler:
    """Turns templates into regex source over normalised text (words joined by single spaces)."""

    def __init__(self, lexicon: Mapping[str, Sequence[str]], negators: Iterable[str], fillers: Iterable[str]) -> None:
        self._lexicon = lexicon
        self._groups: dict[str, _Compiled] = {}
        self._compiling: list[str] = []
        self.vocabulary: set[str] = set()
        negator_alt = "|".join(re.escape(w) for w in sorted(negators, key=len, reverse=True))
        # A gap word may be anything except a negator, so "i am not going to" never reads as "i am going to".
        self._gap_word = f"(?!(?:{negator_alt})(?![^ ])){_ANY_WORD}"
        filler_alt = "|".join(re.escape(w) for w in sorted(fillers, key=len, reverse=True))
        self._start = f"^(?:(?:{filler_alt}) )*"

    def compile(self, template: str) -> _Compiled:
        items = _split_items(template)
        if not items:
            raise TemplateError("empty pattern")
        prefix = ""
        if items[0] == "^":
            prefix, items = self._start, items[1:]
            if not items:
                raise TemplateError("'^' needs something after it")
        if "^" in items:
            raise TemplateError("'^' may only come first")
        parts: list[str] = [prefix]
        required: list[_Trigger | None] = []
        for position, item in enumerate(items):
            gap = _GAP.fullmatch(item)
            if gap:
                if position == 0:
                    raise TemplateError(f"{template!r} cannot start with a gap")
                parts.append(f"(?: {self._gap_word}){{0,{gap.group(1)}}}")
                continue
            optional = item.endswith("?") and len(item) > 1
            regex, trigger = self._item(item[:-1] if optional else item)
            if optional:
                if position == 0:
                    raise TemplateError(f"{template!r} cannot start with an optional item")
                parts.append(f"(?: {regex})?")
                continue
            parts.append(regex if position == 0 else f" {regex}")
            required.append(trigger)
        return _Compiled("".join(parts), tuple(required))

    def _item(self, item: str) -> tuple[str, _Trigger | None]:
        if item.startswith("(") and item.endswith(")"):
            return self._alternatives([self.compile(alt) for alt in _split_alternatives(item[1:-1])])
        if item.startswith("!@"):
            group = self._group(item[2:])
            return f"(?!(?:{group.regex})(?![^ ])){_ANY_WORD}", None
        if item.startswith("@"):
            group = self._group(item[1:])
            return f"(?:{group.regex})", group.best
        if len(item) > 2 and item.startswith("/") and item.endswith("/"):
            try:
                re.compile(item[1:-1])
            except re.error as exc:
                raise TemplateError(f"bad regular expression {item!r}: {exc}") from exc
            return f"(?:{item[1:-1]})(?![^ ])", None
        words: set[str] = set()
        prefixes: list[str] = []
        alternatives: list[str] = []
        for word in item.split("|"):
            stem = word[:-1] if word.endswith("*") else word
            if not re.fullmatch(r"[a-z0-9_]+", stem):
                raise TemplateError(f"{word!r} is not a lower-case word (write multi-word choices in brackets)")
            if word.endswith("*"):
                prefixes.append(stem)
                alternatives.append(re.escape(stem) + "[^ ]*")
            else:
                words.add(word)
                alternatives.append(re.escape(word))
        self.vocabulary |= words
        ordered = sorted(alternatives, key=len, reverse=True)
        return f"(?:{'|'.join(ordered)})", _Trigger(frozenset(words), tuple(prefixes))

    def _alternatives(self, compiled: Sequence[_Compiled]) -> tuple[str, _Trigger | None]:
        trigger: _Trigger | None = _Trigger(frozenset(), ())
        for alt in compiled:
            best = alt.best
            trigger = None if best is None or trigger is None else trigger | best
        return f"(?:{'|'.join(c.regex for c in compiled)})", trigger

    def _group(self, name: str) -> _Compiled:
        if name in self._groups:
            return self._groups[name]
        if name not in self._lexicon:
            raise TemplateError(f"unknown lexicon group @{name}")
        if name in self._compiling:
            raise TemplateError(f"lexicon group @{name} refers to itself ({' -> '.join([*self._compiling, name])})")
        self._compiling.append(name)
        compiled_phrases: list[_Compiled] = []
        try:
            for index, phrase in enumerate(self._lexicon[name]):
                try:
                    compiled_phrases.append(self.compile(phrase))
                except TemplateError as exc:
                    exc.loc = exc.loc or ("lexicon", name, index)
                    raise
        finally:
            self._compiling.pop()
        regex, trigger = self._alternatives(compiled_phrases)
        compiled = _Compiled(regex, (trigger,))
        self._groups[name] = compiled
        return compiled


# --- normalisation -----------------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_APOSTROPHE_S = re.compile(r"(?<=[a-z])'s(?![a-z])")
# Marks left after NFKD decomposition (accents); a regex is much faster than a per-character loop.
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# "..." and "…" are pauses in chat ("i want to... die"), not sentence ends.
_ELLIPSIS = re.compile(r"\.{2,}|\u2026")
_SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)|[\r\n]+")
_TOKEN = re.compile(r"[a-z0-9@$]+")
_HAS_LETTER = re.compile(r"[a-z]")
_HAS_LEET = re.compile(r"[0-9@$]")
_RUN3 = re.compile(r"(.)\1{2,}")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_CACHE_LIMIT = 50_000
# Unpunctuated pasted text can be one "sentence" of thousands of words, which every rule's pre-filter
# would pass. Overlapping windows keep the work per window small; the overlap is wider than any pattern's
# reach (the longest spans about 25 words), so a match is never cut in two.
_WINDOW = 80
_OVERLAP = 32


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _within_one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion, substitution or adjacent swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


class _Normaliser:
    def __init__(self, config: NormaliseConfig, vocabulary: set[str]) -> None:
        self._replacements: dict[str, tuple[str, ...]] = {k: tuple(v.split()) for k, v in config.replacements.items()}
        self._vocabulary = vocabulary | set(config.known_words) | set(self._replacements)
        for words in self._replacements.values():
            self._vocabulary.update(words)
        self._emoji = dict(config.emoji)
        self._emoji_re = (
            re.compile("|".join(re.escape(e) for e in sorted(self._emoji, key=len, reverse=True)))
            if self._emoji
            else None
        )
        self._phrases = dict(config.phrases)
        self._phrase_re = (
            re.compile(
                r"(?<![^ ])(?:"
                + "|".join(re.escape(p) for p in sorted(self._phrases, key=len, reverse=True))
                + r")(?![^ ])"
            )
            if self._phrases
            else None
        )
        self._fuzzy_min = config.fuzzy.min_length
        self._never_correct = frozenset(config.fuzzy.never_correct)
        self._fuzzy_index: dict[str, set[str]] = {}
        for target in config.fuzzy.words:
            for key in {target} | _deletes(target):
                self._fuzzy_index.setdefault(key, set()).add(target)
        self._cache: dict[str, tuple[str, ...]] = {}

    def sentences(self, text: str) -> list[str]:
        """Normalised sentences, each a string of words joined by single spaces."""
        if self._emoji_re is not None:
            text = self._emoji_re.sub(lambda m: f" {self._emoji[m.group(0)]} ", text)
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()
        text = _APOSTROPHES.sub("'", text)
        # In chat "'s" is nearly always "is" ("she's", "it's"); read as a possessive it only adds a word.
        text = _APOSTROPHE_S.sub(" is", text).replace("'", "")
        text = _ELLIPSIS.sub(" ", text)
        out: list[str] = []
        for part in _SENTENCE_END.split(text):
            words: list[str] = []
            for token in _TOKEN.findall(part):
                words.extend(self._fix(token))
            for start in range(0, max(1, len(words) - _OVERLAP), _WINDOW - _OVERLAP):
                sentence = " ".join(words[start : start + _WINDOW])
                if self._phrase_re is not None:
                    sentence = self._phrase_re.sub(lambda m: self._phrases[m.group(0)], sentence)
                if sentence:
                    out.append(sentence)
        return out

    def _fix(self, token: str) -> tuple[str, ...]:
        cached = self._cache.get(token)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:
                # Bounded so a flood of unique junk tokens cannot grow memory without limit.
                self._cache.clear()
            cached = self._cache[token] = self._fix_uncached(token)
        return cached

    def _fix_uncached(self, token: str) -> tuple[str, ...]:
        word = token.strip("@$")
        if not word:
            return ()
        if word in self._replacements:
            return self._replacements[word]
        if _HAS_LETTER.search(word) and _HAS_LEET.search(word):
            unleet = word.translate(_LEET)
            if unleet in self._replacements:
                return self._replacements[unleet]
            if unleet.isalpha():
                word = unleet
        word = word.replace("@", "").replace("$", "")
        if _RUN3.search(word):
            word = self._collapse(word)
            if word in self._replacements:
                return self._replacements[word]
        if word in self._vocabulary:
            return (word,)
        # Dropped "g" is the commonest spelling in chat: "plannin", "thinkin", "goin".
        if word.endswith("in") and word + "g" in self._vocabulary:
            return (word + "g",)
        if len(word) < self._fuzzy_min or word in self._never_correct:
            return (word,)
        corrected = self._correct(word)
        return (corrected,) if corrected else (word,)

    def _collapse(self, word: str) -> str:
        # "killll" keeps a double letter, "sooo" keeps one: whichever is a known word wins.
        double = _RUN3.sub(r"\1\1", word)
        if double in self._vocabulary:
            return double
        single = _RUN3.sub(r"\1", word)
        return single if single in self._vocabulary else double

    def _correct(self, word: str) -> str | None:
        candidates = set(self._fuzzy_index.get(word, ()))
        for shorter in _deletes(word):
            candidates |= self._fuzzy_index.get(shorter, set())
        # Typos rarely hit the first letter, and keeping it stops "filling" becoming "killing".
        fits = [c for c in candidates if c[0] == word[0] and _within_one_edit(word, c)]
        return min(fits, key=lambda c: (abs(len(c) - len(word)), c)) if fits else None


# --- the engine --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    category: str | None
    severity: Severity | None  # None for a signal: it only contributes tags
    tags: frozenset[str]
    regex: re.Pattern[str]
    required: tuple[_Trigger, ...]
    key: _Trigger | None
    negatable: bool

    def possible(self, tokens: frozenset[str]) -> bool:
        return all(trigger.present(tokens) for trigger in self.required)


class _RuleIndex:
    """Finds the few rules worth running on a sentence from its words, instead of trying all of them.

    Each rule is filed under the words of its most selective trigger; a sentence with none of those
    words cannot match the rule. This keeps a message well under a millisecond with 100+ rules.
    """

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._rules = tuple(rules)
        self._by_word: dict[str, list[int]] = {}
        self._by_prefix: list[tuple[str, int]] = []
        self._always: list[int] = []
        for n, rule in enumerate(self._rules):
            if rule.key is None:
                self._always.append(n)
                continue
            for word in rule.key.words:
                self._by_word.setdefault(word, []).append(n)
            self._by_prefix += [(prefix, n) for prefix in rule.key.prefixes]

    def candidates(self, tokens: frozenset[str]) -> list[_Rule]:
        found = set(self._always)
        for token in tokens:
            found.update(self._by_word.get(token, ()))
        for prefix, n in self._by_prefix:
            if n not in found and any(token.startswith(prefix) for token in tokens):
                found.add(n)
        # File order, so results and audit ids come out the same way every time.
        return [rule for n in sorted(found) if (rule := self._rules[n]).possible(tokens)]


@dataclass(frozen=True, slots=True)
class _Combination:
    id: str
    all_of: frozenset[str]
    category: str
    severity: Severity


_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM}
_NEGATION_WINDOW = 3


class Triage:
    """Compiled lexicon. Build it once with `Triage.load` and call `assess` for every message."""

    def __init__(self, config: TriageConfig, path: Path) -> None:
        self._categories = config.categories
        self._category_order = {name: i for i, name in enumerate(config.categories)}
        self._negators = frozenset(config.negators)
        self._subjects = frozenset(config.subjects)
        compiler = _Compiler(config.lexicon, config.negators, config.fillers)
        self._exceptions = _RuleIndex(
            [
                self._rule(path, ("exceptions", i, "pattern"), compiler, e.id, e.pattern, None, None, (), False)
                for i, e in enumerate(config.exceptions)
            ]
        )
        rules = tuple(
            self._rule(
                path,
                ("patterns", i, "pattern"),
                compiler,
                p.id,
                p.pattern,
                p.category,
                None if p.severity == "signal" else _SEVERITY[p.severity],
                p.tags,
                p.negatable,
            )
            for i, p in enumerate(config.patterns)
        )
        self._order = {rule.id: n for n, rule in enumerate(rules)}
        self._rules = _RuleIndex(rules)
        # Every lexicon group is compiled even if no pattern uses it yet, so a typo in one fails at start-up.
        for name in config.lexicon:
            try:
                compiler.compile(f"@{name}")
            except TemplateError as exc:
                raise content_error(path, exc.loc or ("lexicon", name), str(exc)) from exc
        self._combinations = tuple(
            _Combination(c.id, frozenset(c.all_of), c.category, _SEVERITY[c.severity]) for c in config.combinations
        )
        vocabulary = compiler.vocabulary | set(config.negators) | set(config.subjects) | set(config.fillers)
        _check(path, config, vocabulary)
        self._normaliser = _Normaliser(config.normalise, vocabulary)

    @classmethod
    def load(cls, path: Path = DEFAULT_TRIAGE_PATH) -> Triage:
        """Load and compile `triage.yaml`; raise ContentError naming file, line and field on any problem."""
        return cls(load_model(path, TriageConfig), path)

    @staticmethod
    def _rule(
        path: Path,
        loc: tuple[int | str, ...],
        compiler: _Compiler,
        rule_id: str,
        template: str,
        category: str | None,
        severity: Severity | None,
        tags: Iterable[str],
        negatable: bool,
    ) -> _Rule:
        try:
            compiled = compiler.compile(template)
            regex = re.compile(f"(?<![^ ])(?:{compiled.regex})(?![^ ])")
        except TemplateError as exc:
            raise content_error(path, exc.loc or loc, str(exc)) from exc
        except re.error as exc:
            raise content_error(path, loc, str(exc)) from exc
        required = tuple(t for t in compiled.required if t is not None)
        return _Rule(rule_id, category, severity, frozenset(tags), regex, required, compiled.best, negatable)

    def categories(self) -> tuple[str, ...]:
        return tuple(self._categories)

    def label(self, category: str) -> str:
        return self._categories[category].label

    def emergency_entry_ids(self, category: str) -> tuple[str, ...]:
        """Signposting ids to show for `category` (the directory always puts 999 first)."""
        return self._categories[category].emergency_entry_ids

    def normalise(self, text: str) -> str:
        """The text as the patterns see it, sentences separated by " . " (for tests and debugging)."""
        return " . ".join(self._normaliser.sentences(text))

    def assess(self, text: str) -> Assessment:
        found: dict[str, _Rule] = {}
        seen: set[str] = set()
        for sentence in self._normaliser.sentences(text):
            # Long pasted text often repeats itself; each distinct sentence only needs checking once.
            if sentence in seen:
                continue
            seen.add(sentence)
            self._scan(sentence, found)
        if not found:
            return NO_RISK
        tags: set[str] = set()
        flags: list[tuple[str, str, Severity]] = []
        for rule in sorted(found.values(), key=lambda r: self._order[r.id]):
            tags |= rule.tags
            if rule.severity is not None and rule.category is not None:
                flags.append((rule.id, rule.category, rule.severity))
        flags += [(c.id, c.category, c.severity) for c in self._combinations if c.all_of <= tags]
        if not flags:
            return NO_RISK
        severity = max(flag[2] for flag in flags)
        worst: dict[str, Severity] = {}
        for _, category, level in flags:
            worst[category] = max(level, worst.get(category, Severity.NONE))
        categories = sorted(worst, key=lambda c: (-worst[c], self._category_order[c]))
        return Assessment(severity, tuple(categories), tuple(flag[0] for flag in flags))

    def _scan(self, sentence: str, found: dict[str, _Rule]) -> None:
        tokens = frozenset(sentence.split())
        blanked = False
        for exception in self._exceptions.candidates(tokens):
            sentence, count = exception.regex.subn(_blank, sentence)
            blanked = blanked or count > 0
        if blanked:
            tokens = frozenset(sentence.split())
        for rule in self._rules.candidates(tokens):
            if rule.id in found:
                continue
            for match in rule.regex.finditer(sentence):
                if not (rule.negatable and self._negated(sentence, match.start())):
                    found[rule.id] = rule
                    break

    def _negated(self, sentence: str, start: int) -> bool:
        first = sentence[start:].split(" ", 1)[0]
        if first in self._subjects:
            return False
        for word in reversed(sentence[:start].split()[-_NEGATION_WINDOW:]):
            if word in self._subjects:
                return False
            if word in self._negators:
                return True
        return False


def _blank(match: re.Match[str]) -> str:
    # One placeholder per word keeps word counts, so gaps in later patterns measure the same distance.
    return " ".join(["_"] * len(match.group(0).split()))


def _check(path: Path, config: TriageConfig, vocabulary: set[str]) -> None:
    """Cross-references pydantic cannot see: ids, categories, tags and fuzzy targets."""
    seen: set[str] = set()
    rules: list[tuple[tuple[int | str, ...], str]] = [
        (("exceptions", i, "id"), e.id) for i, e in enumerate(config.exceptions)
    ]
    rules += [(("patterns", i, "id"), p.id) for i, p in enumerate(config.patterns)]
    rules += [(("combinations", i, "id"), c.id) for i, c in enumerate(config.combinations)]
    for loc, rule_id in rules:
        if rule_id in seen:
            raise content_error(path, loc, f"duplicate id {rule_id}")
        seen.add(rule_id)
    tags: set[str] = set()
    for i, p in enumerate(config.patterns):
        if p.severity == "signal":
            if p.category is not None:
                raise content_error(
                    path, ("patterns", i, "category"), "a signal has no category: combinations give it one"
                )
            if not p.tags:
                raise content_error(
                    path, ("patterns", i, "tags"), "a signal needs at least one tag, or it does nothing"
                )
        elif p.category not in config.categories:
            raise content_error(
                path,
                ("patterns", i, "category"),
                f"unknown category {p.category!r}: list it under 'categories:'",
            )
        tags.update(p.tags)
    for i, c in enumerate(config.combinations):
        if c.category not in config.categories:
            raise content_error(path, ("combinations", i, "category"), f"unknown category {c.category!r}")
        for j, tag in enumerate(c.all_of):
            if tag not in tags:
                raise content_error(path, ("combinations", i, "all_of", j), f"no pattern sets tag {tag!r}")
    for j, word in enumerate(config.normalise.fuzzy.words):
        # Correcting towards a word no pattern uses would change text for nothing.
        if word not in vocabulary:
            raise content_error(
                path, ("normalise", "fuzzy", "words", j), f"{word!r} is not a word in any pattern or group"
            )
