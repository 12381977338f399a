"""`python -m bot subject-access --user AAD_ID [--format json|html] [--out FILE] [--name NAME...] [--by NAME]`

Everything Safe Space keeps about or by one person, for a subject access request: the reports they made, what
they wrote to Safe Space, their quiz results, and cases that name them as the person a report is about.

Cases store the subject as the name the reporter typed, not an Entra id, so those are matched by name (the names
the person has been seen under in Teams and in their own reports, and any --name given), and the response says
so: check each one really is this person before release. In those cases other people's identities are taken out:
the reporter, staff, and their names wherever they appear in the text. In the person's own reports the
safeguarding team's notes are listed by date and author with their text withheld, since notes can name third
parties; the DSO can release them after review.

The run is written to the audit log, and each case included gets a "subject_access" chronology event.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from bot.commands import record_html as h
from bot.commands.export import canonical_sha256
from bot.commands.store import (
    CommandError,
    check_writable,
    one_line_errors,
    open_store,
    run_command,
    who_ran,
    write_output,
)
from storage import cases, records
from storage.models import CaseEvent
from storage.records import CaseBundle, SubjectRecords, plain
from storage.types import utcnow

_AAD_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
REDACTED = "[redacted]"
NAME_MATCH_NOTE = (
    "Matched by name only: cases keep the name the reporter typed, not an account. Check each of these is about "
    "this person before release."
)
NOTES_WITHHELD = (
    "Notes and actions by the safeguarding team are listed by date and author; their text is withheld for review "
    "because it can name other people."
)
# What a reporter gave in their own report (and its outcome), shown to them.
_OWN_REPORT_FIELDS = (
    "reference",
    "created_at",
    "category",
    "urgent",
    "about",
    "subject_name",
    "description",
    "incident_when",
    "incident_where",
    "contact_ok",
    "contact_how",
    "reporter_hidden",
    "status",
    "closed_at",
)
# What a person named in someone else's report may see: the concern, never who raised it or handled it.
_ABOUT_FIELDS = ("reference", "created_at", "category", "subject_name", "description", "incident_when", "status")


def add_subject_access_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = one_line_errors(
        commands.add_parser(
            "subject-access",
            help="everything kept about or by one person (their Entra object id), as JSON or HTML",
            description="Gather a person's reports, messages, quiz results and the cases that name them.",
        )
    )
    parser.add_argument("--user", required=True, metavar="AAD_ID", help="the person's Entra object id")
    parser.add_argument("--format", default="json", help="json (default) or html")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of standard output")
    parser.add_argument(
        "--name", action="append", default=[], metavar="NAME", help="another name they may be reported under"
    )
    parser.add_argument("--by", metavar="NAME", help="who is running it (default: the operating-system user)")


def _redact(text: str | None, names: set[str]) -> str | None:
    if text is None:
        return None
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b", REDACTED, text, flags=re.IGNORECASE)
    return text


def _others(bundle: CaseBundle, subject_names: list[str]) -> set[str]:
    """Everyone but the subject that the case names: the reporter, the owner, whoever acted on it."""
    case = bundle.case
    names = {case.reporter_name, case.owner_name, case.decided_by, case.decision_confirmed_by}
    names |= {e.actor_name for e in bundle.events}
    mine = {n.lower() for n in subject_names}
    # A shared surname stays: taking it out would take the subject's own name out of the text as well.
    my_parts = {part.lower() for n in subject_names for part in n.split()}
    found = set()
    for name in names:
        if name and name.strip() and name.strip().lower() not in mine:
            found.add(name.strip())
            found.update(part for part in name.split() if len(part) > 2 and part.lower() not in my_parts)
    return found


def _event(event: CaseEvent, *, show_detail: bool, actor: str | None) -> dict[str, Any]:
    shown: dict[str, Any] = {"at": plain(event.at), "what": event.kind, "by": actor}
    if show_detail and event.detail:
        try:
            shown["detail"] = json.loads(event.detail)
        except ValueError:
            shown["detail"] = event.detail
    return shown


def subject_content(found: SubjectRecords) -> dict[str, Any]:
    own = []
    for bundle in found.reported:
        fields = {name: plain(getattr(bundle.case, name)) for name in _OWN_REPORT_FIELDS}
        history = [
            _event(e, show_detail=(e.actor_aad_id or "") == found.aad_id, actor=e.actor_name or "Safe Space")
            for e in bundle.events
        ]
        own.append({**fields, "history": history, "note": NOTES_WITHHELD})
    about = []
    for bundle in found.about_by_name:
        others = _others(bundle, found.names)
        fields = {name: plain(getattr(bundle.case, name)) for name in _ABOUT_FIELDS}
        fields["description"] = _redact(bundle.case.description, others)
        fields["incident_when"] = _redact(bundle.case.incident_when, others)
        history = [_event(e, show_detail=False, actor=REDACTED) for e in bundle.events]
        about.append({**fields, "matched_by": "name", "history": history})
    messages = [
        {"at": plain(m.created_at), "conversation_type": m.conversation_type, "type": m.activity_type, "text": m.text}
        for m in found.messages
    ]
    quiz = [
        {
            "finished_at": plain(attempt.finished_at),
            "mode": attempt.mode,
            "value": attempt.value,
            "questions": attempt.question_count,
            "score": attempt.score,
            "answers": [{"question": a.question_id, "value": a.value, "correct": a.correct} for a in answers],
        }
        for attempt, answers in found.quiz
    ]
    return {
        "subject": {"aad_id": found.aad_id, "names_seen": found.names},
        "reports_made": own,
        "cases_about_them": {"note": NAME_MATCH_NOTE, "cases": about},
        "messages_sent": messages,
        "quiz_results": quiz,
    }


def _html(content: dict[str, Any], meta: dict[str, Any]) -> str:
    reports = "".join(
        h.facts([(k.replace("_", " ").capitalize(), r[k]) for k in _OWN_REPORT_FIELDS])
        + h.table(
            ["When (UTC)", "What", "By", "Detail"],
            [
                (e["at"], e["what"], e["by"], json.dumps(e.get("detail"), ensure_ascii=False) if "detail" in e else "")
                for e in r["history"]
            ],
            text_columns=frozenset({3}),
        )
        for r in content["reports_made"]
    ) or h.paragraph("No reports made by this person are kept.")
    about_cases = content["cases_about_them"]["cases"]
    about = (
        h.paragraph(NAME_MATCH_NOTE)
        + "".join(
            h.facts([(k.replace("_", " ").capitalize(), c[k]) for k in _ABOUT_FIELDS])
            + h.table(["When (UTC)", "What", "By"], [(e["at"], e["what"], e["by"]) for e in c["history"]])
            for c in about_cases
        )
        if about_cases
        else h.paragraph("No case names this person as the one it is about.")
    )
    messages = (
        h.table(
            ["When (UTC)", "Where", "Message"],
            [(m["at"], m["conversation_type"], m["text"] or f"[{m['type']}]") for m in content["messages_sent"]],
            text_columns=frozenset({2}),
        )
        if content["messages_sent"]
        else h.paragraph("No messages from this person are kept.")
    )
    quiz = (
        h.table(
            ["Finished (UTC)", "Quiz", "Value", "Score", "Answers"],
            [
                (
                    q["finished_at"],
                    q["mode"],
                    q["value"],
                    f"{q['score']} of {q['questions']}" if q["mode"] == "self" else q["score"],
                    ", ".join(f"{a['question']} {'right' if a['correct'] else 'wrong'}" for a in q["answers"]),
                )
                for q in content["quiz_results"]
            ],
        )
        if content["quiz_results"]
        else h.paragraph("No quiz results for this person are kept.")
    )
    subject = content["subject"]
    return h.document(
        title="Subject access: what Safe Space keeps about one person",
        provider=meta["provider"],
        subtitle=f"Entra object id {subject['aad_id']}; seen as {', '.join(subject['names_seen']) or 'no name'}.",
        generated_at=meta["generated"],
        generated_by=meta["by"],
        sha256=meta["sha256"],
        sections=[
            h.section("Reports they made", h.paragraph(NOTES_WITHHELD) + reports),
            h.section("Cases about them (other people's identities removed)", about),
            h.section("What they wrote to Safe Space", messages),
            h.section("Quiz results", quiz),
        ],
        footer="Review before release: free text can still mention other people. The SHA-256 above is of the "
        'JSON form of this response (`--format json`, its "content").',
    )


def subject_access_command(database_url: str, args: argparse.Namespace, provider: str) -> int:
    async def work() -> int:
        if args.format not in ("json", "html"):
            raise CommandError(f"--format must be json or html, not {args.format!r}")
        if not _AAD_ID.match(args.user.strip()):
            raise CommandError(f"{args.user!r} is not an Entra object id (a GUID such as 0a1b2c3d-...)")
        check_writable(args.out)
        by = who_ran(args.by)
        async with open_store(database_url) as sessions, sessions.begin() as session:
            found = await records.subject_records(session=session, aad_id=args.user, extra_names=args.name)
            content = subject_content(found)
            sha = canonical_sha256(content)
            generated = utcnow()
            await records.record_audit(
                session=session,
                action="subject_access",
                actor=by,
                detail={
                    "subject_aad_id": found.aad_id,
                    "format": args.format,
                    "sha256": sha,
                    "reports": len(found.reported),
                    "cases_about": len(found.about_by_name),
                    "messages": len(found.messages),
                    "quiz_attempts": len(found.quiz),
                },
            )
            included = [(b, "reporter") for b in found.reported] + [
                (b, "subject, by name") for b in found.about_by_name
            ]
            for bundle, role in included:
                assert bundle.case.id is not None
                await cases.record_event(
                    session=session,
                    case_id=bundle.case.id,
                    kind="subject_access",
                    actor_aad_id=None,
                    actor_name=by,
                    detail={"sha256": sha, "as": role},
                    now=generated,
                )
        meta = {"provider": provider, "generated": generated, "by": by, "sha256": sha}
        if args.format == "html":
            output = _html(content, meta)
        else:
            document = {
                "provider": provider,
                "generated_at": plain(generated),
                "generated_by": by,
                "content_sha256": sha,
                "content": content,
            }
            output = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        write_output(output, args.out)
        return 0

    return run_command("subject-access", work)
