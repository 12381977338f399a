"""Evaluate the triage lexicon against the hand-labelled messages, and time it.

    .venv/bin/python benchmarks/triage_eval.py            # figures only
    .venv/bin/python benchmarks/triage_eval.py --misses   # also list every message it got wrong

How the figures are counted (the tests use the same definitions):
- high: a message is positive when labelled high; predicted positive when assessed HIGH. So a HIGH for
  a medium or benign message is a false positive for high.
- medium recall: a medium message counts as found when it is flagged at all (MEDIUM or HIGH): the DSO
  still sees it. "exact" counts only MEDIUM.
- medium precision: of the messages assessed MEDIUM, how many were labelled medium.
- none: benign messages that fired anything are false alarms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from understanding.lexicon import Assessment, Severity, Triage  # noqa: E402

LABELLED = ROOT / "tests" / "triage" / "labelled_messages.yaml"


@dataclass(frozen=True)
class Labelled:
    text: str
    severity: Severity
    category: str | None


@dataclass(frozen=True)
class Scores:
    high_recall: float
    high_precision: float
    medium_recall: float
    medium_exact_recall: float
    medium_precision: float
    none_false_alarm_rate: float
    category_agreement: float
    counts: dict[str, int]


def load_labelled(path: Path = LABELLED) -> list[Labelled]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Labelled(m["text"], Severity[m["severity"].upper()], m.get("category")) for m in data["messages"]]


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


def score(messages: list[Labelled], results: list[Assessment]) -> Scores:
    pairs = list(zip(messages, results, strict=True))
    high = [r for m, r in pairs if m.severity is Severity.HIGH]
    medium = [r for m, r in pairs if m.severity is Severity.MEDIUM]
    benign = [r for m, r in pairs if m.severity is Severity.NONE]
    predicted_high = [m for m, r in pairs if r.severity is Severity.HIGH]
    predicted_medium = [m for m, r in pairs if r.severity is Severity.MEDIUM]
    flagged = [(m, r) for m, r in pairs if m.severity is not Severity.NONE and r.flagged]
    return Scores(
        high_recall=_ratio(sum(r.severity is Severity.HIGH for r in high), len(high)),
        high_precision=_ratio(sum(m.severity is Severity.HIGH for m in predicted_high), len(predicted_high)),
        medium_recall=_ratio(sum(r.flagged for r in medium), len(medium)),
        medium_exact_recall=_ratio(sum(r.severity is Severity.MEDIUM for r in medium), len(medium)),
        medium_precision=_ratio(sum(m.severity is Severity.MEDIUM for m in predicted_medium), len(predicted_medium)),
        none_false_alarm_rate=_ratio(sum(r.flagged for r in benign), len(benign)),
        category_agreement=_ratio(sum(m.category in r.categories for m, r in flagged), len(flagged)),
        counts={"high": len(high), "medium": len(medium), "none": len(benign)},
    )


def time_messages(triage: Triage, texts: list[str], rounds: int) -> list[float]:
    """Microseconds per message: the median over `rounds` timings of each message."""
    per_message: list[float] = []
    for text in texts:
        samples = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            triage.assess(text)
            samples.append((time.perf_counter_ns() - start) / 1000)
        per_message.append(statistics.median(samples))
    return per_message


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="list every message assessed differently")
    parser.add_argument("--rounds", type=int, default=50, help="timings per message (median is kept)")
    args = parser.parse_args()

    start = time.perf_counter()
    triage = Triage.load()
    load_ms = (time.perf_counter() - start) * 1000
    messages = load_labelled()
    results = [triage.assess(m.text) for m in messages]
    s = score(messages, results)

    print(f"labelled messages: {s.counts['high']} high, {s.counts['medium']} medium, {s.counts['none']} none")
    print(f"{'severity':<10}{'recall':>10}{'precision':>12}")
    print(f"{'high':<10}{s.high_recall:>10.3f}{s.high_precision:>12.3f}")
    exact = f"(exact-medium recall {s.medium_exact_recall:.3f})"
    print(f"{'medium':<10}{s.medium_recall:>10.3f}{s.medium_precision:>12.3f}   {exact}")
    print(f"{'none':<10}{'':>10}{'':>12}   false alarms on benign: {s.none_false_alarm_rate:.3f}")
    print(f"category agreement on flagged risky messages: {s.category_agreement:.3f}")

    timings = time_messages(triage, [m.text for m in messages], args.rounds)
    long_text = " ".join(m.text for m in messages)[:10_000]
    long_us = statistics.median(time_messages(triage, [long_text], max(5, args.rounds // 10)))
    print(
        f"timing per message: p50 {_percentile(timings, 50):.0f} µs, p99 {_percentile(timings, 99):.0f} µs, "
        f"max {max(timings):.0f} µs; a 10,000-character message: {long_us:.0f} µs; load {load_ms:.0f} ms"
    )

    if args.misses:
        print("\nmisses (label -> assessed):")
        for m, r in zip(messages, results, strict=True):
            wrong_severity = r.severity is not m.severity
            wrong_category = m.category is not None and r.flagged and m.category not in r.categories
            if wrong_severity or wrong_category:
                got = f"{r.severity.name.lower()} {','.join(r.categories)} [{' '.join(r.matched)}]"
                print(f"  {m.severity.name.lower():>6} {m.category or '':<20} -> {got}\n         {m.text!r}")


if __name__ == "__main__":
    main()
