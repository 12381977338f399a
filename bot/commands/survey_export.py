"""`python -m bot survey-export NAME --format csv|xlsx [--out FILE]`: a survey's answers for analysis (policy 3.1.1,
"learner surveys are completed and analysed"), one row per answer, without names.

Respondents are numbered R1, R2, ... in this file only: the stored pseudonyms are not written out, so two exports
cannot be joined person by person. A survey fewer than five people answered is not exported at all, for the same
reason its results card shows "fewer than 5": with so few, answers can be matched to people. Comments that went to
the safeguarding team (they suggested risk) are not in the survey's answers, and the file says how many there were.
Reads only; nothing else starts.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cards.survey_card import MASK_BELOW
from content.surveys import CHOICE, SCALE, Survey, SurveyBook
from storage import surveys
from storage.db import open_database
from storage.models import SurveyAnswer

HEADER: Final = ("respondent", "question_id", "question", "kind", "answer", "answered_on")


class ExportRefused(Exception):
    """Nothing was written; the message says why."""


@dataclass(frozen=True, slots=True)
class Export:
    survey: Survey
    rows: list[tuple[str, ...]]
    respondents: int
    flagged: int


def answer_text(survey: Survey, answer: SurveyAnswer) -> str:
    question = survey.question(answer.question_id)
    if answer.skipped:
        return "(skipped)"
    if question is not None and question.kind == SCALE and answer.scale is not None:
        return str(answer.scale)
    if question is not None and question.kind == CHOICE and answer.choice is not None:
        return question.options[answer.choice] if 0 <= answer.choice < len(question.options) else str(answer.choice)
    return answer.text or ""


async def gather(database_url: str, survey: Survey) -> Export:
    database = open_database(database_url)
    try:
        async with database.read_sessions() as session:
            run = await surveys.run_named(session=session, survey_name=survey.name)
            if run is None or run.id is None:
                raise ExportRefused(f"{survey.name} has not been sent, so there is nothing to export")
            answers = await surveys.answers(session=session, run_id=run.id)
    finally:
        await database.dispose()
    kept = [a for a in answers if not a.flagged]
    numbers: dict[str, int] = {}
    for answer in kept:
        if not answer.skipped:
            numbers.setdefault(answer.respondent, len(numbers) + 1)
    if len(numbers) < MASK_BELOW:
        raise ExportRefused(
            f"{survey.name}: fewer than {MASK_BELOW} people have answered, so nothing is exported "
            f"(with so few, answers could be matched to people)"
        )
    order = {q.id: i for i, q in enumerate(survey.questions)}
    rows: list[tuple[str, ...]] = []
    for answer in sorted(kept, key=lambda a: (numbers.get(a.respondent, 0), order.get(a.question_id, 99))):
        if answer.respondent not in numbers:
            continue  # skipped everything: there is nothing of theirs to analyse
        question = survey.question(answer.question_id)
        rows.append(
            (
                f"R{numbers[answer.respondent]}",
                answer.question_id,
                question.prompt if question else "",
                question.kind if question else "",
                answer_text(survey, answer),
                answer.answered_on.isoformat(),
            )
        )
    return Export(survey=survey, rows=rows, respondents=len(numbers), flagged=sum(1 for a in answers if a.flagged))


def to_csv(export: Export) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(_safe(row) for row in export.rows)
    return buffer.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 correctly only with the BOM


def _safe(row: tuple[str, ...]) -> tuple[str, ...]:
    # A learner's comment starting with "=" would run as a formula when the file is opened in Excel.
    return tuple("'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell for cell in row)


def to_xlsx(export: Export) -> bytes:
    from openpyxl import Workbook  # imported here: only this command needs it

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Answers"
    sheet.append(list(HEADER))
    for row in export.rows:
        sheet.append(list(_safe(row)))
    about = book.create_sheet("About")
    about.append(["survey", export.survey.title])
    about.append(["policy", export.survey.policy])
    about.append(["respondents", export.respondents])
    about.append(["comments sent to the safeguarding team instead", export.flagged])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def survey_export_command(database_url: str, content_dir: Path, name: str, fmt: str, out: Path | None) -> int:
    survey = SurveyBook.load(content_dir).get(name)
    if survey is None:
        print(f"safespace: no survey called {name!r}", file=sys.stderr)
        return 2
    try:
        export = asyncio.run(gather(database_url, survey))
    except ExportRefused as exc:
        print(f"safespace: {exc}", file=sys.stderr)
        return 1
    data = to_xlsx(export) if fmt == "xlsx" else to_csv(export)
    target = out or Path(f"survey-{survey.name}.{fmt}")
    target.write_bytes(data)
    print(f"{target}: {len(export.rows)} answers from {export.respondents} respondents")
    return 0
