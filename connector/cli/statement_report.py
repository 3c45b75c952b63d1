"""The bank reconciliation report (`connector reconcile statement`) as text and as JSON."""

from __future__ import annotations

from typing import Any

from connector.cli.output import money_json, money_text
from connector.documents import Document, Problem
from connector.imports.statement_check import (
    BankEntry,
    MatchedLine,
    MissingEntry,
    MissingLine,
    StatementReport,
)
from connector.imports.statement_reconcile import FileReconciliation
from connector.money import Money

BALANCES_NOTE = (
    "movements over the period are compared, not balances: the ledger's bank accounts hold only what "
    "the connector posted (customer receipts)"
)


def reconciliation_text(result: FileReconciliation) -> list[str]:
    count = len(result.statements)
    texts = [
        f"{result.name} ({result.format}): {count} statement{'' if count == 1 else 's'}, "
        f"amount-and-date window ±{result.window_days} days"
    ]
    for report in result.statements:
        texts += ["", *_statement_text(report)]
    if result.stray:
        texts += ["", f"After its last statement, what could not be read ({len(result.stray)}):"]
        texts += [f"  {_problem_text(problem)}" for problem in result.stray]
    verdict = "every statement reconciles" if result.reconciles else "NOT reconciled"
    if result.reconciles and (unchecked := _unchecked(result)):
        verdict += f" in its own currency; {', '.join(unchecked)} not checked (kept out of the balances)"
    return [*texts, "", f"{result.name}: {verdict}"]


def _unchecked(result: FileReconciliation) -> list[str]:
    """The currencies of lines and entries that no statement of the file states balances in."""
    return sorted({currency for report in result.statements for currency in report.other_currencies})


def _statement_text(report: StatementReport) -> list[str]:
    statement, period = report.statement, report.period
    when = f"{period.start} to {period.end}" if period else "no period"
    texts = [
        f"Statement {statement.statement_id or '(no id)'} · account {statement.account} · {when} · "
        f"{statement.currency} · against ledger account {report.ledger_account}"
    ]
    if report.ledger_note:
        texts.append(f"  ({report.ledger_note})")
    if not report.header_read and any(problem.header for problem in report.unreadable):
        texts.append("  the statement's header could not be read (below): nothing to trust")
    elif not report.header_read:
        texts.append("  no statement header follows these lines (the file is cut short?): nothing to trust")
    texts += _section("Matched lines", [_matched_text(m) for m in report.matched])
    texts += _section("Lines missing from the ledger", [_missing_text(m) for m in report.missing_lines])
    if report.replaced:
        texts += _section(
            "Lines an OFX correction takes out, in no balance", [_missing_text(m) for m in report.replaced]
        )
    texts += _section(
        "Ledger entries missing from the bank", [_entry_missing_text(m) for m in report.missing_entries]
    )
    others = [_matched_text(m) for m in report.other_matched] + [
        _missing_text(m) for m in report.other_missing
    ]
    if others:
        texts += _section(
            f"Lines in other currencies than {statement.currency}, kept out of the balances", others
        )
    if report.other_missing_entries:
        texts += _section(
            f"Ledger entries in other currencies than {statement.currency} missing from the bank, kept out "
            "of the balances",
            [_entry_missing_text(m) for m in report.other_missing_entries],
        )
    if report.unreadable:
        texts += _section("Unreadable entries", [_problem_text(p) for p in report.unreadable])
    return texts + _balances_text(report)


def _section(title: str, rows: list[str]) -> list[str]:
    return [f"  {title} ({len(rows)})", *(f"    {row}" for row in rows)]


def _line_text(line: Document, said: str = "") -> str:
    """A line as a person finds it on the statement, and the reason the bank gives for a return, its
    code and its own words (read from the file: the import keeps no words), unless `said`, what follows
    the line, says it already."""
    row = f"row {line.origin.row}" if line.origin.row is not None else "row ?"
    about = line.party.name or (line.references[0] if line.references else "")
    text = f"{row}  {line.date}  {money_text(line.amount)}" + (f"  {about}" if about else "")
    told = [said_of for said_of in (line.return_reason, line.return_words) if said_of and said_of not in said]
    return text + (f"  returned ({'; '.join(told)})" if told else "")


def _entry_text(entry: BankEntry) -> str:
    return f"entry {entry.entry_id} ({entry.source} {_short(entry.external_id)})"


def _matched_text(matched: MatchedLine) -> str:
    how = matched.how
    if matched.import_status == "unapplied":
        how += ", payer not identified yet (unapplied receipts)"
    elif matched.import_status == "rejected":
        how += ", no customer's receipt: rejected in the reconciliation queue (unapplied receipts)"
    if not matched.in_period:
        how += f", entry dated {matched.entry.posting_date}: outside the period"
    entry = matched.entry
    if entry.counterpart_id is not None and not entry.is_reversal:
        how += f", reversed by entry {entry.counterpart_id} on {entry.counterpart_date}"
    return f"{_line_text(matched.line)}  → {_entry_text(matched.entry)}: {how}"


def _missing_text(missing: MissingLine) -> str:
    return f"{_line_text(missing.line, missing.reason)}: {missing.reason}"


def _entry_missing_text(missing: MissingEntry) -> str:
    entry = missing.entry
    texts = [f"{_entry_text(entry)}  {entry.posting_date}  {money_text(entry.amount)}"]
    texts += [
        text
        for text in (entry.memo, f"voucher {entry.voucher}" if entry.voucher else "", missing.note)
        if text
    ]
    return "  ".join(texts)


def _problem_text(problem: Problem) -> str:
    where = f"row {problem.origin.row}" if problem.origin.row is not None else problem.origin.file
    return f"{where}: {problem.reason}"


def _short(text: str, keep: int = 24) -> str:
    """Hashed ids (`sha256:…`) cut to what a person can compare by eye."""
    return text if len(text) <= keep else f"{text[:keep]}…"


def _balances_text(report: StatementReport) -> list[str]:
    b = report.balances

    def row(label: str, money: Money | None) -> str:
        value = "—" if money is None else f"{money.amount:,}"
        return f"    {label:<48}{value:>20}"

    texts = [
        f"  Balances ({report.statement.currency})",
        f"    ({BALANCES_NOTE})",
        row("statement opening", b.opening),
        row("statement closing", b.closing),
        row(
            "statement movement" + ("" if b.self_check is not None else " (sum of its lines)"),
            b.statement_movement,
        ),
        row("ledger bank movement over the period", b.ledger_movement),
        row("difference", b.difference),
        row("  lines missing from the ledger", b.missing_lines),
        row("  − entries missing from the bank", b.missing_entries),
        row("  + lines matched to entries outside the period", b.timing),
        row("unexplained", b.unexplained),
    ]
    check = b.self_check
    if check is None:
        texts.append(
            "    statement check: not possible, the statement does not state both opening and closing"
        )
    elif check.minor == 0:
        texts.append("    statement check: opening + lines = closing")
    else:
        texts.append(
            f"    statement check: opening + lines − closing = {money_text(check)}: the lines do not add up"
        )
    if report.reconciles and report.other_currencies:
        texts.append(
            f"  Reconciles in {report.statement.currency}: every difference is explained by the lines above; "
            f"{', '.join(report.other_currencies)} not checked: the statement states no balance in "
            + ("it" if len(report.other_currencies) == 1 else "them")
        )
    elif report.reconciles:
        texts.append("  Reconciles: every difference is explained by the lines above")
    elif b.unexplained.minor == 0 and report.unchecked:
        texts.append(
            f"  Does NOT reconcile: {len(report.unchecked)} unreadable entr"
            f"{'y' if len(report.unchecked) == 1 else 'ies'} that no balance accounts for"
        )
    elif b.unexplained.minor == 0 and not report.header_read:
        texts.append("  Does NOT reconcile: without the statement's header there is nothing to check against")
    elif b.unexplained.minor == 0 and any(m.changed for m in report.missing_lines):
        texts.append(f"  Does NOT reconcile: {_changed_text(report.missing_lines)} (see above)")
    else:
        texts.append(f"  Does NOT reconcile: {money_text(b.unexplained)} unexplained")
    return texts


def _changed_text(missing: tuple[MissingLine, ...]) -> str:
    """The lines the ledger holds other money for, by why: the bank sent them again otherwise, or the
    receipt they are linked to changed since."""
    resent = sum(m.changed and not m.receipt_changed for m in missing)
    linked = sum(m.receipt_changed for m in missing)
    texts = []
    if resent:
        texts.append(
            f"{resent} line(s) the bank sent again otherwise since this statement: the ledger holds the "
            "later version"
        )
    if linked:
        texts.append(
            f"{linked} line(s) linked to a receipt that changed since to other money: the ledger holds none "
            "of theirs"
        )
    return "; ".join(texts)


def reconciliation_json(result: FileReconciliation) -> dict[str, Any]:
    return {
        "file": result.name,
        "format": result.format,
        "window_days": result.window_days,
        "reconciles": result.reconciles,  # each statement in its own currency
        "unchecked_currencies": _unchecked(result),
        "statements": [_statement_json(report) for report in result.statements],
        "stray": [_problem_json(problem) for problem in result.stray],
    }


def _statement_json(report: StatementReport) -> dict[str, Any]:
    statement, period, b = report.statement, report.period, report.balances
    return {
        "statement_id": statement.statement_id,
        "account": statement.account,
        "ledger_account": report.ledger_account,
        "ledger_note": report.ledger_note,
        "currency": statement.currency,
        "source": statement.source,
        "header_read": report.header_read,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()} if period else None,
        "reconciles": report.reconciles,  # in `currency`
        "unchecked_currencies": list(report.other_currencies),
        "matched": [_matched_json(m) for m in report.matched],
        "missing_from_ledger": [_missing_json(m) for m in report.missing_lines],
        "missing_from_bank": [_missing_entry_json(m) for m in report.missing_entries],
        "replaced": [_missing_json(m) for m in report.replaced],  # by an OFX correction: in no balance
        "other_currencies": {
            "matched": [_matched_json(m) for m in report.other_matched],
            "missing_from_ledger": [_missing_json(m) for m in report.other_missing],
            "missing_from_bank": [_missing_entry_json(m) for m in report.other_missing_entries],
        },
        "unreadable": [_problem_json(problem) for problem in report.unreadable],
        "balances": {
            "note": BALANCES_NOTE,
            "opening": _optional_money(b.opening),
            "closing": _optional_money(b.closing),
            "lines_total": money_json(b.lines_total),
            "statement_movement": money_json(b.statement_movement),
            "ledger_movement": money_json(b.ledger_movement),
            "difference": money_json(b.difference),
            "missing_from_ledger": money_json(b.missing_lines),
            "missing_from_bank": money_json(b.missing_entries),
            "matched_outside_period": money_json(b.timing),
            "explained": money_json(b.explained),
            "unexplained": money_json(b.unexplained),
            "self_check": _optional_money(b.self_check),
        },
    }


def _line_json(line: Document) -> dict[str, Any]:
    return {
        "source": line.source,
        "external_id": line.external_id,
        "row": line.origin.row,
        "date": line.date.isoformat(),
        "value_date": line.value_date.isoformat() if line.value_date else None,
        "amount": money_json(line.amount),
        "party": line.party.name,
        "references": list(line.references),
        "return_reason": "; ".join(filter(None, (line.return_reason, line.return_words))) or None,
    }


def _entry_json(entry: BankEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "source": entry.source,
        "external_id": entry.external_id,
        "posting_date": entry.posting_date.isoformat(),
        "amount": money_json(entry.amount),
        "memo": entry.memo,
        "voucher": entry.voucher,
        "reversal_pair": _pair_json(entry),
    }


def _missing_entry_json(missing: MissingEntry) -> dict[str, Any]:
    return {**_entry_json(missing.entry), "note": missing.note}


def _pair_json(entry: BankEntry) -> dict[str, Any] | None:
    """The other entry of the entry + reversal pair: the one it reverses, or the one reversing it."""
    if entry.counterpart_id is None:
        return None
    on = entry.counterpart_date.isoformat() if entry.counterpart_date else None
    return {"reverses" if entry.is_reversal else "reversed_by": entry.counterpart_id, "posting_date": on}


def _matched_json(matched: MatchedLine) -> dict[str, Any]:
    return {
        "line": _line_json(matched.line),
        "entry": _entry_json(matched.entry),
        "by": "import" if matched.by_import else "amount_and_date",
        "how": matched.how,
        "days": matched.days,
        "entry_in_period": matched.in_period,
        "import_status": matched.import_status,
    }


def _missing_json(missing: MissingLine) -> dict[str, Any]:
    return {
        "line": _line_json(missing.line),
        "reason": missing.reason,
        "changed": missing.changed,
        "receipt_changed": missing.receipt_changed,
    }


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {"row": problem.origin.row, "reason": problem.reason}


def _optional_money(money: Money | None) -> dict[str, Any] | None:
    return None if money is None else money_json(money)
