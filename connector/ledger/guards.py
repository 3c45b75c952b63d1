"""Append-only enforcement inside the application: posted entries and postings cannot change.

Registered on every `Session`: the ORM unit of work (`before_flush`) and bulk UPDATE/DELETE
statements executed through a session (`do_orm_execute`) are both refused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, event, inspect
from sqlalchemy.orm import ORMExecuteState, Session

from connector.errors import CustomerError, ImmutableEntryError
from connector.ledger.models import Customer, JournalEntry, Posting

_APPEND_ONLY = (JournalEntry, Posting)
_APPEND_ONLY_TABLES = frozenset(model.__table__.name for model in _APPEND_ONLY)  # type: ignore[attr-defined]


def _describe(obj: object) -> str:
    if isinstance(obj, JournalEntry):
        return f"journal entry {obj.id} ({obj.source} {obj.external_id})"
    if isinstance(obj, Posting):
        return f"posting {obj.id} of journal entry {obj.entry_id}"
    return repr(obj)


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_posted_entries(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, _APPEND_ONLY):
            raise ImmutableEntryError(f"{_describe(obj)} is posted and cannot be deleted; post a reversal")
    for obj in session.dirty:
        if isinstance(obj, _APPEND_ONLY) and session.is_modified(obj, include_collections=False):
            raise ImmutableEntryError(f"{_describe(obj)} is posted and cannot be changed; post a reversal")
        if isinstance(obj, Customer):
            replaced = inspect(obj).attrs.account_no.history.deleted
            if replaced:
                raise CustomerError(
                    f"customer account number {replaced[0]} is immutable; it is never changed or reused"
                )


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if isinstance(table, Table) and table.name in _APPEND_ONLY_TABLES:
        verb = "updated" if state.is_update else "deleted"
        raise ImmutableEntryError(f"rows of {table.name} are posted and cannot be {verb}; post a reversal")
