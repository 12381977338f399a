"""Measure the safety net and the question matcher on the frozen test split, per category and per writer.

    .venv/bin/python scripts/evaluate_understanding.py            # the frozen test split (the result)
    .venv/bin/python scripts/evaluate_understanding.py --train    # the training writers (tuned on: not a result)
    .venv/bin/python scripts/evaluate_understanding.py --misses   # also list every miss

It reads each message exactly as the bot does (the lexicon and the model together, then the question matcher),
and counts what the person would get: emergency contacts and a case (high), the offer of a report or someone to
talk to (medium), an answer to a question. The lexicon alone is shown beside it, as main behaved before the model.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from content.directory import Directory  # noqa: E402
from understanding.corpus_files import (  # noqa: E402
    RISK_CATEGORIES,
    TEST_DIR,
    TRAIN_DIR,
    WORRY_CATEGORIES,
    Message,
    frozen_files_intact,
    read_split,
)
from understanding.lexicon import DEFAULT_TRIAGE_PATH, Severity, Triage  # noqa: E402
from understanding.reader import Understanding  # noqa: E402

Verdict = Callable[[str], Severity]


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({hits / total:.3f})" if total else "-"


def evaluate(messages: list[Message], verdict: Verdict, understanding: Understanding | None, misses: bool) -> None:
    severity = {i: verdict(m.text) for i, m in enumerate(messages)}
    high = [i for i, m in enumerate(messages) if m.severity == "high"]
    worry = [i for i, m in enumerate(messages) if m.severity == "medium"]
    look = [i for i, m in enumerate(messages) if m.category == "lookalike"]
    plain = [i for i, m in enumerate(messages) if m.category in ("question", "chat")]

    def at_least(rows: list[int], level: Severity) -> int:
        return sum(severity[i] >= level for i in rows)

    print(f"  high-risk messages given emergency contacts and a case: {rate(at_least(high, Severity.HIGH), len(high))}")
    print(f"  worries offered a report or someone to talk to: {rate(at_least(worry, Severity.MEDIUM), len(worry))}")
    print(f"  look-alikes sent to 999 (false alarms): {rate(at_least(look, Severity.HIGH), len(look))}")
    print(f"  look-alikes flagged at all: {rate(at_least(look, Severity.MEDIUM), len(look))}")
    print(f"  questions and chat flagged: {rate(at_least(plain, Severity.MEDIUM), len(plain))}")
    print("  high-risk recall per category:")
    for category in RISK_CATEGORIES:
        mine = [i for i in high if messages[i].category == category]
        print(f"    {category:20s} {rate(sum(severity[i] is Severity.HIGH for i in mine), len(mine))}")
    print("  worries offered help per category:")
    for category in (*WORRY_CATEGORIES, *RISK_CATEGORIES):
        mine = [i for i in worry if messages[i].category == category]
        if mine:
            print(f"    {category:20s} {rate(sum(severity[i] >= Severity.MEDIUM for i in mine), len(mine))}")
    by_writer: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(messages):
        by_writer[m.writer].append(i)
    print("  per writer (high recall | worries offered | look-alikes to 999):")
    for writer, rows in sorted(by_writer.items()):
        w_high = [i for i in rows if i in set(high)]
        w_worry = [i for i in rows if i in set(worry)]
        w_look = [i for i in rows if i in set(look)]
        print(
            f"    {writer}: {rate(sum(severity[i] is Severity.HIGH for i in w_high), len(w_high))} | "
            f"{rate(sum(severity[i] >= Severity.MEDIUM for i in w_worry), len(w_worry))} | "
            f"{rate(sum(severity[i] is Severity.HIGH for i in w_look), len(w_look))}"
        )
    if understanding is not None:
        questions = [i for i, m in enumerate(messages) if m.category == "question" and m.topic]
        answered = suggested = 0
        wrong: list[str] = []
        for i in questions:
            if severity[i] >= Severity.MEDIUM:
                wrong.append(f"flagged: {messages[i].text!r}")
                continue
            match = understanding.answer(messages[i].text)
            if match.answer is not None and match.answer.id == messages[i].topic:
                answered += 1
            elif any(entry.id == messages[i].topic for entry in match.suggestions):
                suggested += 1
                wrong.append(f"suggested only: {messages[i].text!r} ({messages[i].topic})")
            else:
                got = match.answer.id if match.answer else [e.id for e in match.suggestions]
                wrong.append(f"{messages[i].text!r}: wanted {messages[i].topic}, got {got}")
        print(f"  questions answered correctly: {rate(answered, len(questions))}")
        print(f"  questions where the right answer was among the suggestions: {rate(suggested, len(questions))}")
        if misses:
            for line in wrong:
                print("    " + line)
    if misses:
        print("  misses:")
        for i in high:
            if severity[i] is not Severity.HIGH:
                print(f"    high->{severity[i].name}: [{messages[i].category}] {messages[i].text!r}")
        for i in worry:
            if severity[i] < Severity.MEDIUM:
                print(f"    medium->NONE: [{messages[i].category}] {messages[i].text!r}")
        for i in look:
            if severity[i] is Severity.HIGH:
                print(f"    lookalike->HIGH: {messages[i].text!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true", help="the training writers instead (not a result)")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    if not args.train and (broken := frozen_files_intact()):
        print(f"the frozen test split has changed: {broken}; refusing to report on it", file=sys.stderr)
        return 1
    messages = read_split(TRAIN_DIR if args.train else TEST_DIR)
    if not args.train:
        # Independent writers sometimes typed the very same words ("hiya", "what counts as extremism"): those
        # were seen in training, so they are left out of the result.
        seen = {" ".join(m.text.lower().split()) for m in read_split(TRAIN_DIR)}
        kept = [m for m in messages if " ".join(m.text.lower().split()) not in seen]
        print(f"({len(messages) - len(kept)} test messages also in the training writers' files are left out)")
        messages = kept
    lexicon = Triage.load(DEFAULT_TRIAGE_PATH)
    understanding = Understanding.load(lexicon, {entry.id for entry in Directory.load().entries()})
    split = "training writers (tuned on: NOT a result)" if args.train else "frozen test split"
    print(f"# {split}: {len(messages)} messages")
    print("\n## Lexicon alone (main before the model)")
    evaluate(messages, lambda text: lexicon.assess(text).severity, None, False)
    print("\n## Lexicon and model (Safe Space now)")
    evaluate(messages, lambda text: understanding.read(text).severity, understanding, args.misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
