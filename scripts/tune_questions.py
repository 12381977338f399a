"""Choose the question matcher's constants (understanding/questions.py) on writers the model never saw.

    .venv/bin/python scripts/tune_questions.py

For each question, chat and look-alike message of the held-out writers named in understanding/model/manifest.json
(`thresholds_chosen_on`), it scores every knowledge-base entry as the service does: words and the static vector
against the knowledge base and the *other* writers' questions, plus TOPIC_WEIGHT times the model's topic head. It
prints, for a grid of weights and thresholds, the share of questions answered right and wrong, and the share of
chat and look-alikes given an answer. The frozen test split is never read.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from content.directory import Directory  # noqa: E402
from understanding import questions  # noqa: E402
from understanding.artifacts import MODEL_DIR, load_manifest  # noqa: E402
from understanding.corpus_files import TRAIN_DIR, read_split  # noqa: E402
from understanding.knowledge import KnowledgeBase  # noqa: E402
from understanding.risk_model import RiskModel  # noqa: E402
from understanding.static_encoder import StaticEncoder  # noqa: E402


def main() -> int:
    manifest = load_manifest()
    data = manifest.data
    held_out = set(data["thresholds_chosen_on"]["writers"])
    model = RiskModel.load(
        manifest.path("risk.onnx"),
        manifest.path("risk_tokenizer.json"),
        tuple(data["categories"]),
        int(data["max_tokens"]),
        tuple(data.get("topics", ())),
    )
    encoder = StaticEncoder.load(MODEL_DIR / "static.safetensors", MODEL_DIR / "static_tokenizer.json")
    knowledge = KnowledgeBase.load({entry.id for entry in Directory.load().entries()})
    ids = [entry.id for entry in knowledge.entries]
    corpus = read_split(TRAIN_DIR)
    asked = [m for m in corpus if m.category == "question" and m.topic]
    matchers = {
        writer: questions.QuestionMatcher(knowledge, encoder, [(m.text, m.topic) for m in asked if m.writer != writer])
        for writer in held_out
    }
    rows = []
    for m in corpus:
        if m.writer in held_out and m.category in ("question", "chat", "lookalike"):
            topics = model.read(" ".join(m.text.split())).topics
            topic_vector = np.array([topics.get(i, 0.0) for i in ids], dtype=np.float32)
            rows.append((m, matchers[m.writer].scores(m.text), topic_vector))
    n_questions = sum(m.category == "question" for m, _, _ in rows)
    print(f"{n_questions} questions and {len(rows) - n_questions} chat and look-alikes from {sorted(held_out)}")
    for weight, answer_at, margin in itertools.product((0.0, 0.5, 1.0, 1.5), (0.45, 0.5, 0.55), (0.0, 0.02, 0.05)):
        right = wrong = answered_other = 0
        for m, scores, topic_vector in rows:
            blended = scores + weight * topic_vector
            order = np.argsort(-blended)
            answers = blended[order[0]] >= answer_at and blended[order[0]] - blended[order[1]] >= margin
            if m.category != "question":
                answered_other += answers
            elif answers:
                right += ids[order[0]] == m.topic
                wrong += ids[order[0]] != m.topic
        others = len(rows) - n_questions
        print(
            f"weight {weight:.1f} answer_at {answer_at:.2f} margin {margin:.2f}: right {right / n_questions:.3f} "
            f"wrong {wrong / n_questions:.3f} chat/look-alikes answered {answered_other / others:.3f}"
        )
    print(
        f"now: TOPIC_WEIGHT {questions.TOPIC_WEIGHT}, TOPIC_ANSWER_AT {questions.TOPIC_ANSWER_AT}, "
        f"CLEAR_MARGIN {questions.CLEAR_MARGIN}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
