"""The identity rules' questions answered from the database, one record at a time."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.ledger.customers import CustomerDirectory, CustomerView, survivor_of
from connector.master.identity import Candidate
from connector.master.models import CustomerBinding


class DirectoryLookup:
    """The identity rules' questions answered from the customer directory (blind indexes, bindings)."""

    def __init__(self, session: Session, directory: CustomerDirectory) -> None:
        self.session = session
        self.directory = directory

    def bound(self, backend: str, external_id: str) -> int | None:
        return self.session.scalar(
            select(CustomerBinding.customer_id).where(
                CustomerBinding.backend == backend, CustomerBinding.external_id == external_id
            )
        )

    def by_email(self, email: str) -> list[Candidate]:
        return _candidates(self._survivors(self.directory.find_by_email(email)))

    def by_phone(self, phone: str) -> list[Candidate]:
        return _candidates(self._survivors(self.directory.find_by_phone(phone)))

    def _survivors(self, views: Iterable[CustomerView]) -> list[CustomerView]:
        """Each customer, or the one it went into by merges (an e-mail or phone a person merged is the
        survivor's), once each."""
        found: dict[int, CustomerView] = {}
        for view in views:
            if view.status == "merged" and (survivor := survivor_of(self.session, view.id)) is not None:
                view = self.directory.view(survivor.id)
            found.setdefault(view.id, view)
        return list(found.values())

    def by_name_region(
        self, name: str, region: str, backend: str, core: str | None = None
    ) -> list[Candidate]:
        return _candidates(self.directory.find_by_name(name, region, unbound_in=backend, core=core))


def _candidates(views: Iterable[CustomerView]) -> list[Candidate]:
    return [
        Candidate(view.id, view.email, view.phone, view.backends) for view in views if view.status != "merged"
    ]
