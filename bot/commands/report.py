"""`python -m bot report --from DATE --to DATE --format html [--exact] [--out FILE]`: the directors' report as one
standalone HTML page for the governors' pack, with the same charts as the Teams card drawn as inline SVG (no script,
no style sheet or font from anywhere else). Counts under 5 are shown as "fewer than 5" unless --exact is given, so
a small number in a shared pack cannot point to a person. Bad input exits 2 with one line on standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from cards.case_card import uk_time
from cards.case_queue_card import label
from cards.report_card import debate_value
from content.texts import Texts
from dialogs.report_period import PeriodError, ReportPeriod, between
from storage import case_report
from storage.case_report import NO_DECISION, ReportFigures
from storage.db import DatabaseUrlError, open_database
from storage.types import utcnow

SMALL = 5
_COLOURS = ("#4f6bed", "#e3008c", "#00a5af", "#ca5010", "#8764b8", "#498205", "#986f0b", "#c50f1f")


class ReportInputError(Exception):
    """Bad input for the report command; the message is one line."""


def add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("report", help="the directors' report for a period, as a standalone HTML page")
    # Checked by report_command rather than argparse, so a missing one is one line on standard error, not a usage.
    parser.add_argument("--from", dest="first", default=None, help="first day, YYYY-MM-DD (or YYYY-MM); required")
    parser.add_argument("--to", dest="last", default=None, help="last day, YYYY-MM-DD (or YYYY-MM), included; required")
    parser.add_argument("--format", dest="format", default="html", choices=["html"])
    parser.add_argument("--exact", action="store_true", help="show every count, even those under 5")
    parser.add_argument("--out", type=Path, default=None, help="write here instead of standard output")


def _day(text: str, *, end: bool) -> dt.date:
    try:
        if len(text) == 7:
            year, month = map(int, text.split("-"))
            first = dt.date(year, month, 1)
            return (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)) if end else first
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ReportInputError(f"{text!r} is not a date like 2026-09-01 or 2026-09") from None


def period_of(first: str, last: str) -> ReportPeriod:
    try:
        return between(_day(first, end=False), _day(last, end=True))
    except PeriodError as exc:
        raise ReportInputError(str(exc)) from None


def _count(value: int, exact: bool) -> str:
    return str(value) if exact or value == 0 or value >= SMALL else f"fewer than {SMALL}"


def _bars_svg(title: str, points: Sequence[tuple[str, float]], shown: Sequence[str]) -> str:
    """A vertical bar chart; each bar is labelled with what the table shows (so a suppressed count stays so)."""
    width, height, top, bottom = 600, 240, 30, 40
    peak = max((v for _, v in points), default=0) or 1
    slot = (width - 40) / max(1, len(points))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<line x1="20" y1="{height - bottom}" x2="{width - 20}" y2="{height - bottom}" stroke="#999"/>',
    ]
    for index, ((name, value), text) in enumerate(zip(points, shown, strict=True)):
        # A suppressed count is drawn at the threshold's height, never at its true one.
        drawn = SMALL if text.startswith("fewer than") else value
        bar = (height - top - bottom) * drawn / peak
        x = 20 + index * slot + slot * 0.15
        y = height - bottom - bar
        colour = _COLOURS[index % len(_COLOURS)]
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar:.1f}" fill="{colour}"/>')
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 6:.1f}" font-size="12" text-anchor="middle">'
            f"{html.escape(text)}</text>"
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" font-size="10" text-anchor="middle">'
            f"{html.escape(name if len(name) <= 18 else name[:17] + '…')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _donut_svg(title: str, points: Sequence[tuple[str, int]], shown: Sequence[str]) -> str:
    # A suppressed count is drawn as the threshold, so the slice's size cannot give the number away.
    drawn = [SMALL if text.startswith("fewer than") else value for (_, value), text in zip(points, shown, strict=True)]
    total = sum(drawn) or 1
    size, radius, hole = 220, 100, 60
    centre = size / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(title)}" '
        f'viewBox="0 0 {size + 300} {size}" width="{size + 300}" height="{size}">'
    ]
    angle = -math.pi / 2
    for index, ((name, _), text, value) in enumerate(zip(points, shown, drawn, strict=True)):
        colour = _COLOURS[index % len(_COLOURS)]
        sweep = 2 * math.pi * value / total
        if value == total:
            parts.append(f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="{colour}"/>')
        elif value:
            x1, y1 = centre + radius * math.cos(angle), centre + radius * math.sin(angle)
            x2, y2 = centre + radius * math.cos(angle + sweep), centre + radius * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            parts.append(
                f'<path d="M{centre},{centre} L{x1:.2f},{y1:.2f} A{radius},{radius} 0 {large} 1 {x2:.2f},{y2:.2f} Z" '
                f'fill="{colour}"/>'
            )
        angle += sweep
        parts.append(f'<rect x="{size + 10}" y="{20 + index * 22}" width="14" height="14" fill="{colour}"/>')
        parts.append(
            f'<text x="{size + 30}" y="{32 + index * 22}" font-size="13">'
            f"{html.escape(name)}: {html.escape(text)}</text>"
        )
    parts.append(f'<circle cx="{centre}" cy="{centre}" r="{hole}" fill="#fff"/></svg>')
    return "".join(parts)


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def render_html(
    figures: ReportFigures,
    texts: Texts,
    *,
    period: str,
    generated: dt.datetime,
    exact: bool,
    provider: str = "Qualitrain",
) -> str:
    t = texts.get

    def counts(prefix: str, items: Sequence[case_report.Count]) -> list[tuple[str, int]]:
        return [
            (t("records.report.decision_none") if c.key == NO_DECISION else label(texts, prefix, c.key), c.count)
            for c in items
        ]

    sections = [
        _table(
            [
                (t("records.report.cases"), _count(figures.cases, exact)),
                (t("records.report.urgent"), _count(figures.urgent, exact)),
                (t("records.report.overdue"), _count(figures.overdue, exact)),
                (t("records.report.escalated"), _count(figures.escalated, exact)),
            ]
        )
    ]
    for title, prefix, items, chart in (
        (t("records.report.by_category"), "cards.categories", figures.by_category, "donut"),
        (t("records.report.by_status"), "cards.case.status", figures.by_status, "bars"),
        (t("records.report.by_decision"), "cards.case.decisions", figures.by_decision, "bars"),
    ):
        points = counts(prefix, items)
        if not points:
            continue
        shown = [_count(v, exact) for _, v in points]
        svg = (
            _donut_svg(title, points, shown)
            if chart == "donut"
            else _bars_svg(title, [(n, float(v)) for n, v in points], shown)
        )
        sections.append(
            f"<h2>{html.escape(title)}</h2><figure>{svg}</figure>"
            + _table([(name, text) for (name, _), text in zip(points, shown, strict=True)])
        )
    minutes = figures.median_minutes_to_acknowledge, figures.p90_minutes_to_acknowledge
    sections.append(
        f"<h2>{html.escape(t('records.report.acknowledge_heading'))}</h2>"
        + _table(
            [
                (t("records.report.acknowledged"), _count(figures.acknowledged, exact)),
                (
                    t("records.report.median"),
                    "-" if minutes[0] is None else t("records.report.minutes", minutes=minutes[0]),
                ),
                (
                    t("records.report.p90"),
                    "-" if minutes[1] is None else t("records.report.minutes", minutes=minutes[1]),
                ),
            ]
        )
    )
    sections.append(
        f"<h2>{html.escape(t('records.report.channel_heading'))}</h2>"
        + _table(
            [
                (t("records.report.channel_referrals"), _count(figures.channel_referrals, exact)),
                (t("records.report.channel_confirmed"), _count(figures.channel_confirmed, exact)),
            ]
        )
    )
    quiz = [
        (t("records.report.quiz_attempts"), _count(figures.quiz_attempts, exact)),
        (t("records.report.quiz_participants"), _count(figures.quiz_participants, exact)),
    ]
    values = [(label(texts, "quiz.values", s.value), s.percent) for s in figures.value_scores]
    value_text = [f"{s.percent}%" for s in figures.value_scores]
    quiz_html = _table(quiz)
    if values:
        title = t("records.report.value_scores")
        quiz_html += f"<h3>{html.escape(title)}</h3><figure>{_bars_svg(title, values, value_text)}</figure>"
        quiz_html += _table(
            [
                (n, f"{s.percent}% of {_count(s.answered, exact)} answers")
                for (n, _), s in zip(values, figures.value_scores, strict=True)
            ]
        )
    sections.append(f"<h2>{html.escape(t('records.report.quiz_heading'))}</h2>{quiz_html}")
    debates = [(debate_value(texts, c.key), _count(c.count, exact)) for c in figures.debates_by_value]
    debates_html = _table(debates) if debates else f"<p>{html.escape(t('records.report.no_debates'))}</p>"
    sections.append(f"<h2>{html.escape(t('records.report.debates_heading'))}</h2>{debates_html}")
    note = "" if exact else f"<p class=note>Counts under {SMALL} are shown as “fewer than {SMALL}”.</p>"
    title = t("records.report.title", period=period)
    return (
        "<!doctype html><html lang=en-GB><head><meta charset=utf-8>"
        f"<title>{html.escape(provider)}: {html.escape(title)}</title>"
        "<style>body{font-family:Segoe UI,Arial,sans-serif;max-width:620px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}"
        "th{font-weight:600;background:#f5f5f5}figure{margin:.5em 0}.note{color:#555;font-size:.9em}"
        "@media print{body{margin:0}}</style></head><body>"
        f"<p>{html.escape(provider)}</p><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(t('records.report.intro'))}</p>{note}{''.join(sections)}"
        f"<p class=note>{html.escape(t('records.report.generated', when=uk_time(generated, texts)))}</p>"
        "</body></html>"
    )


async def _figures(database_url: str, period: ReportPeriod, ack: int, urgent_ack: int) -> ReportFigures:
    database = open_database(database_url)
    try:
        start, end = period.bounds()
        async with database.read_sessions() as session:
            return await case_report.report_figures(
                session=session, start=start, end=end, now=utcnow(), ack_minutes=ack, urgent_ack_minutes=urgent_ack
            )
    finally:
        await database.dispose()


def report_command(
    *,
    database_url: str,
    content_dir: Path,
    first: str | None,
    last: str | None,
    exact: bool,
    out: Path | None,
    ack: int,
    urgent_ack: int,
) -> int:
    try:
        if not first or not last:
            raise ReportInputError(
                "give the period with --from DATE and --to DATE, e.g. --from 2026-09-01 --to 2026-11-30"
            )
        period = period_of(first, last)
        if database_url.startswith("sqlite") and not _sqlite_exists(database_url):
            raise ReportInputError(f"no case store at {database_url}")
        try:
            figures = asyncio.run(_figures(database_url, period, ack, urgent_ack))
        except DatabaseUrlError:
            raise
        except Exception as exc:  # the driver's own error names what is wrong (no such table, refused)
            raise ReportInputError(f"cannot read the case store: {str(exc).splitlines()[0][:200]}") from None
        page = render_html(figures, Texts.load(content_dir), period=period.label, generated=utcnow(), exact=exact)
        if out is None:
            sys.stdout.write(page)
        else:
            out.write_text(page, encoding="utf-8")
    except (ReportInputError, DatabaseUrlError, OSError) as exc:
        print(f"safespace report: {exc}", file=sys.stderr)
        return 2
    return 0


def _sqlite_exists(url: str) -> bool:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return database is not None and (database == ":memory:" or Path(database).exists())
