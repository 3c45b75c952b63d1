"""Builders shared by the ledger tests."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.ledger.customers import NewCustomer
from connector.ledger.entries import EntryDraft, Line, Voucher
from connector.money import Money


def add_customer(container: Container, name: str = "上海明远贸易有限公司", **overrides: object) -> str:
    fields: dict[str, object] = {"customer_type": "KA", "region": "SH", "currency": "CNY"} | overrides
    with unit_of_work(container.sessions) as session:
        return container.customers(session).create(NewCustomer(name=name, **fields)).account_no  # type: ignore[arg-type]


def invoice(number: str, customer: str, amount: str, currency: str = "CNY", day: int = 1) -> EntryDraft:
    money = Money.of(amount, currency)
    return EntryDraft(
        source="zoho_books",
        external_id=number,
        posting_date=date(2026, 3, day),
        document_date=date(2026, 3, day),
        voucher=Voucher("invoice", "invoices.csv", day + 1),
        lines=(Line.debit("1122", money, customer), Line.credit("6001", money)),
    )


def receipt(reference: str, customer: str, amount: str, currency: str = "CNY", day: int = 5) -> EntryDraft:
    money = Money.of(amount, currency)
    return EntryDraft(
        source="bank",
        external_id=reference,
        posting_date=date(2026, 3, day),
        value_date=date(2026, 3, day),
        voucher=Voucher("bank_line", "statement.xml", day),
        lines=(Line.debit("1002", money), Line.credit("1122", money, customer)),
    )


def at_once(*calls: Callable[[], object]) -> list[BaseException]:
    """Run each call in a thread of its own, all released together (as processes racing each other);
    what each raised, in no particular order."""
    start, raised = threading.Barrier(len(calls)), []

    def run(call: Callable[[], object]) -> None:
        start.wait()
        try:
            call()
        except BaseException as exc:  # what each met is the caller's finding
            raised.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


@contextmanager
def disk_full_on_commit(
    container: Container, monkeypatch: pytest.MonkeyPatch, owner: object, name: str, session_at: int, nth: int
) -> Iterator[None]:
    """The transaction of the `nth` call of `owner.name` (its session the argument at `session_at`)
    fails to commit, as on a full disk."""
    calls = 0
    original = getattr(owner, name)

    def numbered(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        args[session_at].info["call"] = calls
        return original(*args, **kwargs)

    def disk_full(session: Session) -> None:
        if session.info.get("call") == nth and not session.in_nested_transaction():  # its own, no savepoint
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(owner, name, numbered)
    event.listen(container.sessions, "before_commit", disk_full)
    try:
        yield
    finally:
        event.remove(container.sessions, "before_commit", disk_full)
