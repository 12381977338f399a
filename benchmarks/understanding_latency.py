"""Time the understanding layer on one core: what the safety net and the question matcher cost per message.

    .venv/bin/python benchmarks/understanding_latency.py [--messages N]

Understanding is loaded exactly as bot/app.py loads it (content from Settings' content_dir, the lexicon from
triage.yaml, the directory's entries as the answers' signposts). The process is pinned to one core first, as the
model's one thread per call would be on a busy server. The messages are the training writers' own texts
(understanding/corpus/train/*.yaml) of 5 to 40 words, each read once, with the reader's cache emptied before each
read so the model runs every time. For each message it times:

  lexicon        Triage.assess alone (content/triage.yaml's patterns)
  read           Understanding.read: the lexicon and the int8 ONNX classifier, as the safety net runs it
  answer         Understanding.answer: the question matcher (static encoder and word overlap)
  read+answer    both, i.e. the understanding a free-text turn costs

and prints p50, p90, p99, max and mean in milliseconds, read by message length, and the resident memory (VmRSS)
before and after loading.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIN_WORDS, MAX_WORDS = 5, 40
WARM_UP = 20
LENGTHS = ((5, 10), (11, 20), (21, 40))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def messages(limit: int | None) -> list[str]:
    from understanding.corpus_files import TRAIN_DIR, read_split

    seen: dict[str, None] = {}
    for message in read_split(TRAIN_DIR):
        if MIN_WORDS <= len(message.text.split()) <= MAX_WORDS:
            seen.setdefault(message.text, None)
    texts = list(seen)
    return texts[:limit] if limit else texts


def row(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name:<13} {percentile(ms, 50):>8.2f} {percentile(ms, 90):>8.2f} {percentile(ms, 99):>8.2f} "
        f"{max(ms):>8.2f} {statistics.fmean(ms):>8.2f}"
    )


def main(limit: int | None) -> None:
    load_before = os.getloadavg()[0]  # other work on the machine, on core 0 too, skews the timings
    pinned = "not pinned (no sched_setaffinity here)"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # before onnxruntime makes any thread
        pinned = "pinned to core 0"

    from bot.config import Settings
    from content.directory import Directory
    from understanding.lexicon import TRIAGE_FILE, Triage
    from understanding.reader import Understanding

    texts = messages(limit)
    rss_before = rss_mb()
    started = time.perf_counter()
    # As bot/app.py's build_services does it.
    settings = Settings(_env_file=None)
    triage = Triage.load(settings.content_dir / TRIAGE_FILE)
    directory = Directory.load(settings.content_dir)
    understanding = Understanding.shared(triage, {e.id for e in directory.entries()}, settings.content_dir)
    loaded = time.perf_counter() - started
    rss_loaded = rss_mb()

    # Warm-up on texts that are not measured: first calls allocate onnxruntime's and numpy's buffers.
    for n in range(WARM_UP):
        understanding.read(f"warming up the reader with message number {n} before timing")
        understanding.answer(f"warming up the question matcher with message number {n}")

    lexicon: list[float] = []
    read: list[float] = []
    answer: list[float] = []
    flagged = 0
    by_length: dict[tuple[int, int], list[float]] = {bucket: [] for bucket in LENGTHS}
    clock = time.perf_counter
    for text in texts:
        t0 = clock()
        triage.assess(text)
        t1 = clock()
        understanding._cache.clear()  # so the model runs: the reader would answer a repeat from its cache
        t2 = clock()
        reading = understanding.read(text)
        t3 = clock()
        understanding.answer(text)
        t4 = clock()
        lexicon.append(t1 - t0)
        read.append(t3 - t2)
        answer.append(t4 - t3)
        flagged += reading.flagged
        words = len(text.split())
        for low, high in LENGTHS:
            if low <= words <= high:
                by_length[(low, high)].append(t3 - t2)
    both = [r + a for r, a in zip(read, answer, strict=True)]

    counts = [len(t.split()) for t in texts]
    print(
        f"\n{len(texts)} messages of {min(counts)}-{max(counts)} words (median {statistics.median(counts):.0f}) "
        f"from understanding/corpus/train, each read once, reader cache emptied before each read; {pinned}\n"
    )
    print(f"{'ms/message':<13} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    print(row("lexicon", lexicon))
    print(row("read", read))
    print(row("answer", answer))
    print(row("read+answer", both))
    print()
    for (low, high), seconds in by_length.items():
        if seconds:
            print(row(f"read {low}-{high} w", seconds) + f"   ({len(seconds)} messages)")
    print(
        f"\nload (lexicon, directory, Understanding.shared): {loaded:.2f} s; "
        f"RSS {rss_before:.0f} MiB before loading, {rss_loaded:.0f} MiB after, {rss_mb():.0f} MiB at the end"
    )
    print(f"flagged by read(): {flagged} of {len(texts)} (the corpus holds risky messages on purpose)")
    print(f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=None, help="time only the first N messages (default: all)")
    args = parser.parse_args()
    main(args.messages)
