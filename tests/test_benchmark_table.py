"""benchmarks/run_all.py's table and the README section it regenerates (the benchmark itself is run by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run_all
from benchmarks.run_all import END, START, Row

ROOT = Path(__file__).resolve().parents[1]

ROWS = [
    Row("safespace help", "sqlite", 16, 3000, 200.0, 70.0, 120.0, 1.5, 270.0),
    Row("live-quiz burst", "sqlite", 300, 300, 60.0, 12.0, 30.0, 5.0, 273.0, paced=True),
    Row("agents-echo", "", 16, 1500, 100.0, 150.0, 400.0, 3.0, 80.0),
]


def test_the_readme_has_one_generated_section() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    assert text.index(START) < text.index(END)


def test_the_table_gives_ratios_against_the_agents_sdk_echo() -> None:
    markdown = run_all.table(ROWS, markdown=True).splitlines()
    assert markdown[0].startswith("| bot | database | users | turns | turns/s | p50 ms | p99 ms | CPU ms/turn |")
    assert markdown[2] == "| safespace help | sqlite | 16 | 3000 | 200 | 70.0 | 120.0 | 1.50 | 270 | 2.00x | 0.50x |"
    assert markdown[3].endswith("| - | 1.67x |"), "a paced burst's turns/s is no capacity: no ratio"
    assert markdown[4].endswith("| 1.00x | 1.00x |")
    plain = run_all.table(ROWS, markdown=False)
    assert "safespace help" in plain and "|" not in plain


def test_write_readme_replaces_only_the_section_between_the_markers(tmp_path: Path, monkeypatch) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{START}\nold figures\n{END}\n\nafter\n", encoding="utf-8")
    monkeypatch.setattr(run_all, "README", readme)
    run_all.write_readme(run_all.readme_section(ROWS, "2026-12-03, 2 CPUs", [5.0, 4.0]))
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n\n" + START) and text.endswith(END + "\n\nafter\n")
    assert "old figures" not in text
    assert "| safespace help | sqlite |" in text and "5.0 s on a new database" in text


@pytest.mark.parametrize("short", ["--quick", "--seconds=2"])
def test_a_short_run_never_writes_the_readme(short: str) -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", short, "--write-readme"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "--write-readme takes the full run only" in result.stderr
