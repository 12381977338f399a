"""Validate Adaptive Cards in tests with the official renderer library (npm `adaptivecards`, run under Node).

There is no JSON schema for Adaptive Cards 1.5, so `tests/cardcheck/validate.js` parses each card with the
library's own object model and reports its parse and validation events. On top of that this module checks,
in Python, what the library lets through but Teams needs:

* the root `type` is "AdaptiveCard";
* `version` is present, a "major.minor" string, and at most 1.5 (the highest Teams renders);
* every Action.Execute has a non-empty string `verb`;
* every Teams chart element (`Chart.*`, which the library does not know) has an element `fallback` and `data` of
  the shape Teams documents: `{"x": text, "y": number}` points for the bar charts, `{"legend": text, "value":
  number}` for Chart.Donut and Chart.Pie; the library then checks the fallback in the chart's place (each chart is
  replaced by its fallback before the library sees the card).

Usage::

    from tests.card_validator import assert_valid_cards
    assert_valid_cards(card1, card2)  # AssertionError names the card index and every error

Needs `node` and `npm` on PATH; the first call runs `npm ci` in tests/cardcheck if node_modules is missing.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.npm_pins import ensure_npm_ci, require_tool

CARDCHECK_DIR = Path(__file__).resolve().parent / "cardcheck"
VALIDATE_JS = CARDCHECK_DIR / "validate.js"
TEAMS_MAX_VERSION: tuple[int, int] = (1, 5)

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")
_NODE_TIMEOUT_S = 120


class CardCheckSetupError(RuntimeError):
    """Node/npm are missing, `npm ci` failed, or validate.js misbehaved: a harness problem, not a card one."""


@dataclass(frozen=True)
class CardResult:
    """Outcome for one card. `ok` is False exactly when there is at least one error; warnings never fail."""

    ok: bool
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


_WHY = "Adaptive Card validation runs the official `adaptivecards` npm package under Node.js."


def _require_tool(name: str) -> str:
    return require_tool(name, CardCheckSetupError, _WHY)


def ensure_node_modules() -> Path:
    """Return tests/cardcheck/node_modules, running `npm ci` first if it is missing or out of date.

    Raises CardCheckSetupError if node or npm is absent or the install fails.
    """
    return ensure_npm_ci(CARDCHECK_DIR, CardCheckSetupError, _WHY)


def _iter_objects(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield (json-path, object) for every JSON object in the card, skipping opaque `data` payloads."""
    if isinstance(value, Mapping):
        yield path, value
        for key, child in value.items():
            if key != "data":
                yield from _iter_objects(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _iter_objects(child, f"{path}[{index}]")


TEAMS_CHARTS = frozenset(
    {"Chart.VerticalBar", "Chart.VerticalBar.Grouped", "Chart.HorizontalBar", "Chart.Donut", "Chart.Pie", "Chart.Line"}
)


def with_chart_fallbacks(value: Any) -> Any:
    """The card as a client without charts sees it: each Teams chart replaced by its fallback element."""
    if isinstance(value, Mapping):
        if value.get("type") in TEAMS_CHARTS and isinstance(value.get("fallback"), Mapping):
            return with_chart_fallbacks(value["fallback"])
        return {k: (v if k == "data" else with_chart_fallbacks(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [with_chart_fallbacks(v) for v in value]
    return value


_CHART_POINTS = {
    "Chart.VerticalBar": ("x", "y"),
    "Chart.HorizontalBar": ("x", "y"),
    "Chart.Donut": ("legend", "value"),
    "Chart.Pie": ("legend", "value"),
}


def _chart_errors(path: str, chart: Mapping[str, Any]) -> list[str]:
    kind = chart["type"]
    errors: list[str] = []
    fallback = chart.get("fallback")
    if not isinstance(fallback, Mapping) or not isinstance(fallback.get("type"), str):
        errors.append(
            f"[Teams:ChartFallback] {kind} at {path} needs an element fallback,"
            " so clients without charts show the figures"
        )
    if kind not in _CHART_POINTS:
        errors.append(f"[Teams:Chart] {kind} at {path}: only {sorted(_CHART_POINTS)} are checked here")
        return errors
    name_key, value_key = _CHART_POINTS[kind]
    data = chart.get("data")
    if not isinstance(data, list) or not data:
        errors.append(f"[Teams:ChartData] {kind} at {path} needs a non-empty data list")
        return errors
    for index, point in enumerate(data):
        ok = (
            isinstance(point, Mapping)
            and isinstance(point.get(name_key), str)
            and isinstance(point.get(value_key), int | float)
            and not isinstance(point.get(value_key), bool)
        )
        if not ok:
            errors.append(
                f"[Teams:ChartData] {kind} at {path}.data[{index}] must be"
                f" {{{name_key!r}: text, {value_key!r}: number}}"
            )
    return errors


def _python_checks(card: Any) -> list[str]:
    """Checks the renderer library does not make (it defaults a missing version to 1.0, for instance)."""
    if not isinstance(card, Mapping):
        return []  # validate.js reports "card is not a JSON object"
    errors: list[str] = []
    if card.get("type") != "AdaptiveCard":
        errors.append(f'[Teams:CardType] root "type" must be "AdaptiveCard", got {card.get("type")!r}')

    version = card.get("version")
    match = _VERSION_RE.match(version) if isinstance(version, str) else None
    if version is None:
        errors.append('[Teams:Version] "version" is missing; Teams needs it (use "1.5")')
    elif match is None:
        errors.append(f'[Teams:Version] "version" must be a string like "1.5", got {version!r}')
    elif (int(match[1]), int(match[2])) > TEAMS_MAX_VERSION:
        limit = ".".join(map(str, TEAMS_MAX_VERSION))
        errors.append(f'[Teams:Version] "version" {version} is above {limit}, the highest Teams renders')

    for path, obj in _iter_objects(card, "$"):
        if isinstance(obj.get("type"), str) and obj["type"].startswith("Chart."):
            errors.extend(_chart_errors(path, obj))
        if obj.get("type") == "Action.Execute":
            verb = obj.get("verb")
            if not isinstance(verb, str) or not verb.strip():
                errors.append(f'[Teams:ExecuteVerb] Action.Execute at {path} needs a non-empty string "verb"')
    return errors


def _run_validate_js(payloads: list[str]) -> list[dict[str, Any]]:
    ensure_node_modules()
    node = _require_tool("node")
    try:
        proc = subprocess.run(
            [node, str(VALIDATE_JS)],
            cwd=CARDCHECK_DIR,
            input="[" + ",".join(payloads) + "]",
            capture_output=True,
            text=True,
            timeout=_NODE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CardCheckSetupError(f"validate.js timed out after {_NODE_TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        raise CardCheckSetupError(f"validate.js failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    try:
        results = json.loads(proc.stdout)
    except ValueError as exc:
        raise CardCheckSetupError(f"validate.js wrote invalid JSON: {proc.stdout[:500]!r}") from exc
    if not isinstance(results, list) or len(results) != len(payloads):
        raise CardCheckSetupError(f"validate.js returned {results!r:.500} for {len(payloads)} cards")
    return results


def validate_cards(cards: list[dict[str, Any]]) -> list[CardResult]:
    """Validate every card in one Node process; results are in the same order as `cards`."""
    errors: list[list[str]] = [[] for _ in cards]
    warnings: list[list[str]] = [[] for _ in cards]
    payloads: list[str] = []
    sent: list[int] = []  # index into `cards` of each payload
    for index, card in enumerate(cards):
        try:
            payloads.append(json.dumps(with_chart_fallbacks(card), allow_nan=False))
        except (TypeError, ValueError) as exc:
            errors[index].append(f"[Python:NotJson] card is not JSON-serialisable: {exc}")
            continue
        sent.append(index)
        errors[index].extend(_python_checks(card))

    if payloads:
        for index, result in zip(sent, _run_validate_js(payloads), strict=True):
            errors[index].extend(str(e) for e in result.get("errors", []))
            warnings[index].extend(str(w) for w in result.get("warnings", []))

    return [
        CardResult(ok=not errs, errors=tuple(errs), warnings=tuple(warns))
        for errs, warns in zip(errors, warnings, strict=True)
    ]


def assert_valid_cards(*cards: dict[str, Any]) -> None:
    """Raise AssertionError listing, per failing card index, every error. Warnings do not fail."""
    failures = [
        f"card[{index}]:\n" + "\n".join(f"  - {error}" for error in result.errors)
        for index, result in enumerate(validate_cards(list(cards)))
        if not result.ok
    ]
    if failures:
        summary = f"{len(failures)} of {len(cards)} Adaptive Card(s) invalid:"
        raise AssertionError("\n".join([summary, *failures]))
