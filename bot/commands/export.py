"""`python -m bot export`: a case for a referral, a handover or an inspection, or the list of cases.

    export --case SS-2026-0042 [--format json|html] [--out FILE] [--by NAME]
    export --cases [--format csv] [--out FILE] [--by NAME]

A case export holds the case, its whole chronology (with the hash chain and whether it holds) and the
conversation it was reported from. Its `content_sha256` is the SHA-256 of the canonical JSON of `content`, so a
copy can be checked against the chronology's "exported" event, which records who exported it, when, in what form
and that hash. Exporting the case list is noted in the audit log.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

from bot.commands import record_html as h
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
from storage.chain import first_break
from storage.models import Case
from storage.records import CaseBundle, plain
from storage.types import utcnow

_REFERENCE = re.compile(r"^SS-\d{4}-\d{4,}$")
CASE_FORMATS = ("json", "html")
LIST_COLUMNS = (
    "reference",
    "category",
    "status",
    "urgent",
    "source",
    "created_at",
    "acknowledged_at",
    "owner_name",
    "decision",
    "decided_at",
    "closed_at",
    "legal_hold",
)
# Fields that are the store's own bookkeeping, not part of the record.
_INTERNAL = frozenset({"card_conversation_id", "card_activity_id"})


def add_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = one_line_errors(
        commands.add_parser(
            "export",
            help="export a case (JSON or a printable HTML document) or the case list (CSV)",
            description="Export one case with its chronology and conversation, or the list of every case.",
        )
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--case", metavar="REF", help="the case's reference, e.g. SS-2026-0042")
    which.add_argument("--cases", action="store_true", help="the list of every case (CSV)")
    parser.add_argument("--format", help="json or html for a case (default json); csv for --cases")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of standard output")
    parser.add_argument("--by", metavar="NAME", help="who is exporting (default: the operating-system user)")


def canonical_sha256(content: Any) -> str:
    text = json.dumps(content, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def case_content(bundle: CaseBundle) -> dict[str, Any]:
    case = bundle.case
    fields = {name: plain(getattr(case, name)) for name in Case.model_fields if name not in _INTERNAL}
    chronology = []
    for event in bundle.events:
        detail: Any = event.detail
        if detail is not None:
            try:
                detail = json.loads(detail)
            except ValueError:
                pass
        chronology.append(
            {
                "id": event.id,
                "seq": event.seq,
                "at": plain(event.at),
                "kind": event.kind,
                "actor_aad_id": event.actor_aad_id,
                "actor_name": event.actor_name,
                "detail": detail,
                "corrects": event.corrects,
                "prev_hash": event.prev_hash,
                "event_hash": event.event_hash,
            }
        )
    found = first_break(bundle.events, event_count=case.event_count, chain_head=case.chain_head)
    chain: dict[str, Any] = {"intact": found is None}
    if found is not None:
        chain |= {"first_broken_event": found.event_id, "seq": found.seq, "reason": found.reason}
    conversation = [
        {
            "at": plain(entry.created_at),
            "direction": entry.direction,
            "type": entry.activity_type,
            "from": entry.user_name,
            "from_aad_id": entry.user_aad_id,
            "text": entry.text,
            "payload": entry.payload,
        }
        for entry in bundle.conversation
    ]
    return {"case": fields, "chronology": chronology, "chain": chain, "conversation": conversation}


def _case_html(content: dict[str, Any], bundle: CaseBundle, meta: dict[str, Any]) -> str:
    case = bundle.case
    report = h.facts(
        [
            ("Category", case.category),
            ("Urgent", "yes" if case.urgent else "no"),
            ("Source", case.source),
            ("About", case.about),
            ("Subject's name", case.subject_name),
            (
                "Subject under 18",
                {True: "yes", False: "no"}.get(case.subject_under_18) if case.subject_under_18 is not None else None,
            ),
            ("Subject's date of birth", case.subject_date_of_birth.isoformat() if case.subject_date_of_birth else None),
            ("When", case.incident_when),
            ("Where", case.incident_where),
            ("Reported by", f"{case.reporter_name or 'not known'} ({case.reporter_role})"),
            ("Reporter asked to be hidden on the card", "yes" if case.reporter_hidden else None),
            ("Contact", (case.contact_how or "yes") if case.contact_ok else "no"),
            ("What happened", case.description),
            ("Indicators", case.indicators),
            ("Action taken", case.action_taken),
            ("Others aware", case.others_aware),
            ("Spoken to", case.spoken_to),
            ("Fears", case.fears),
            ("Parents or carers told", case.parents_told),
            ("Other agencies", case.other_agencies),
            ("How online activity came to light", case.online_how),
        ]
    )
    status = h.facts(
        [
            ("Status", case.status),
            ("Received", h.uk_time(case.created_at)),
            ("Picked up", h.uk_time(case.acknowledged_at)),
            ("Owner", case.owner_name),
            ("Decision", case.decision),
            ("Reason", case.decision_reason),
            ("Decided by", case.decided_by),
            ("Confirmed by (director)", case.decision_confirmed_by),
            ("Decided", h.uk_time(case.decided_at)),
            ("Closed", h.uk_time(case.closed_at)),
            ("Outcome", case.outcome_note),
            ("Legal hold", "yes: retention will not remove this case" if case.legal_hold else None),
        ]
    )
    chain = content["chain"]
    chain_note = (
        h.paragraph(f"The chronology's hash chain holds: {len(bundle.events)} events, each linked to the one before.")
        if chain["intact"]
        else h.paragraph(
            f"The chronology's hash chain is BROKEN at event {chain['seq']}: {chain['reason']}.", css="note broken"
        )
    )
    chronology = h.table(
        ["#", "When (UK)", "Who", "What", "Detail"],
        [
            (
                e.seq,
                h.uk_time(e.at),
                e.actor_name or e.actor_aad_id or "Safe Space",
                e.kind.replace("_", " ") + (f" (corrects event id {e.corrects})" if e.corrects else ""),
                h.detail_text(e.detail),
            )
            for e in bundle.events
        ],
        text_columns=frozenset({4}),
    )
    talk = (
        h.table(
            ["When (UK)", "From", "Message"],
            [
                (
                    h.uk_time(m.created_at),
                    m.user_name or ("Safe Space" if m.direction == "out" else ""),
                    m.text or f"[{m.activity_type}]",
                )
                for m in bundle.conversation
            ],
            text_columns=frozenset({2}),
        )
        if bundle.conversation
        else h.paragraph("No conversation is linked to this case.")
    )
    return h.document(
        title=f"Safeguarding case {case.reference}",
        provider=meta["provider"],
        subtitle=f"Case record for a referral, handover or inspection. Reference {case.reference}.",
        generated_at=meta["generated"],
        generated_by=meta["by"],
        sha256=meta["sha256"],
        sections=[
            h.section("Status", status),
            h.section("The report", report),
            h.section("Chronology", chain_note + chronology),
            h.section("Conversation the report came from", talk),
        ],
        footer=(
            "Sensitive: a safeguarding record. Share it only with those who need it to keep someone safe. "
            "The SHA-256 above is of this case's content as `python -m bot export --format json` gives it "
            '(its "content"); the case\'s chronology records this export with the same hash.'
        ),
    )


def _csv_safe(value: object) -> str:
    text = "" if value is None else str(plain(value))
    # A spreadsheet runs a cell starting with one of these as a formula: a name from Teams must stay text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def case_list_csv(rows: list[Case]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LIST_COLUMNS)
    for case in rows:
        writer.writerow([_csv_safe(getattr(case, name)) for name in LIST_COLUMNS])
    return buffer.getvalue()


def export_command(database_url: str, args: argparse.Namespace, provider: str) -> int:
    async def work() -> int:
        by = who_ran(args.by)
        check_writable(args.out)
        if args.cases:
            if (args.format or "csv") != "csv":
                raise CommandError(f"--cases gives CSV only, not {args.format!r}")
            async with open_store(database_url) as sessions, sessions.begin() as session:
                listed = await records.all_cases(session=session)
                body = case_list_csv(listed)
                await records.record_audit(
                    session=session,
                    action="export_case_list",
                    actor=by,
                    detail={"cases": len(listed), "sha256": hashlib.sha256(body.encode()).hexdigest()},
                )
            write_output(body, args.out)
            return 0
        form = args.format or "json"
        if form not in CASE_FORMATS:
            raise CommandError(f"--format must be json or html for a case, not {form!r}")
        reference = args.case.strip().upper()
        if not _REFERENCE.match(reference):
            raise CommandError(f"{args.case!r} is not a case reference (they look like SS-2026-0042)")
        async with open_store(database_url) as sessions, sessions.begin() as session:
            bundle = await records.case_bundle(session=session, reference=reference)
            if bundle is None:
                raise CommandError(f"there is no case {reference} in the case store")
            content = case_content(bundle)
            sha = canonical_sha256(content)
            generated = utcnow()
            meta = {"provider": provider, "generated": generated, "by": by, "sha256": sha}
            if form == "html":
                output = _case_html(content, bundle, meta)
            else:
                document = {
                    "provider": provider,
                    "reference": bundle.case.reference,
                    "generated_at": plain(generated),
                    "generated_by": by,
                    "content_sha256": sha,
                    "content": content,
                }
                output = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            # Recorded before it is written out: a record can say it was exported and not have been, never the
            # other way round.
            assert bundle.case.id is not None
            await cases.record_event(
                session=session,
                case_id=bundle.case.id,
                kind="exported",
                actor_aad_id=None,
                actor_name=by,
                detail={"format": form, "sha256": sha, "by": by, "via": "python -m bot export"},
                now=generated,
            )
        write_output(output, args.out)
        return 0

    return run_command("export", work)
