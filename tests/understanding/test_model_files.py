"""The model files are the ones that were measured, loaded once per process, and the test split stays frozen."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from content.directory import Directory
from tests.rig.safeguarding import services
from understanding.artifacts import MODEL_DIR, ModelIntegrityError, load_manifest, sha256_of
from understanding.corpus_files import TEST_DIR, TRAIN_DIR, frozen_files_intact, read_split
from understanding.lexicon import DEFAULT_TRIAGE_PATH, Triage
from understanding.reader import Understanding

SIGNPOSTS = {entry.id for entry in Directory.load().entries()}


def test_the_frozen_test_split_is_unchanged() -> None:
    assert frozen_files_intact() == []
    assert len(read_split(TEST_DIR)) >= 700


def test_no_risky_or_look_alike_test_message_is_in_the_training_data() -> None:
    # Independent writers do type the same "hiya" or "what counts as extremism"; the evaluation leaves those
    # out. A risk or look-alike message in both would mean the split leaked.
    train = {" ".join(m.text.lower().split()) for m in read_split(TRAIN_DIR)}
    test = read_split(TEST_DIR)
    shared = [m for m in test if " ".join(m.text.lower().split()) in train]
    assert [m.text for m in shared if m.category not in ("question", "chat")] == []
    assert len(shared) < 45  # 40 with fifteen training writers: greetings and the commonest questions


def test_every_model_file_matches_the_manifest() -> None:
    manifest = load_manifest()
    for name, digest in manifest.data["files"].items():
        assert sha256_of(MODEL_DIR / name) == digest, name


def _copy_of_model(tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    copy.mkdir()
    for path in MODEL_DIR.iterdir():
        if path.is_file():
            (copy / path.name).symlink_to(path)  # large files are shared, not copied
    return copy


def test_a_model_file_with_the_wrong_hash_refuses_to_load(tmp_path: Path) -> None:
    copy = _copy_of_model(tmp_path)
    (copy / "static_tokenizer.json").unlink()
    shutil.copy(MODEL_DIR / "static_tokenizer.json", copy / "static_tokenizer.json")
    with (copy / "static_tokenizer.json").open("a") as handle:
        handle.write(" ")  # one byte more: still valid JSON, but not the file that was measured
    with pytest.raises(ModelIntegrityError, match=r"static_tokenizer\.json has sha256"):
        Understanding.load(Triage.load(DEFAULT_TRIAGE_PATH), SIGNPOSTS, model_dir=copy)


def test_a_missing_or_unlisted_model_file_refuses_to_load(tmp_path: Path) -> None:
    copy = _copy_of_model(tmp_path)
    (copy / "risk.onnx").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        Understanding.load(Triage.load(DEFAULT_TRIAGE_PATH), SIGNPOSTS, model_dir=copy)
    (copy / "risk.onnx").symlink_to(MODEL_DIR / "risk.onnx")
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["static.safetensors"]
    (copy / "manifest.json").unlink()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match="not listed"):
        Understanding.load(Triage.load(DEFAULT_TRIAGE_PATH), SIGNPOSTS, model_dir=copy)


async def test_the_model_is_loaded_once_per_process(make_rig) -> None:
    first = await make_rig()
    loads = Understanding.loads
    second = await make_rig()
    assert Understanding.loads == loads, "a second app in the same process reuses the loaded model"
    assert services(first).understanding is services(second).understanding
