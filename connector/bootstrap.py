"""The composition root: the one place that turns settings into an engine, sessions, keys and services."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.exports.iif import IifParser
from adapters.exports.mapped import MappedExport
from adapters.exports.vouchers import VoucherExport
from adapters.statements.camt053 import Camt053Parser
from adapters.statements.mt940 import Mt940Parser
from adapters.statements.ofx import OfxParser
from adapters.zoho.connection import ZohoConnection, connect
from connector.db import (
    make_engine,
    reading,
    require_current_schema,
    serialize,
    session_factory,
    unit_of_work,
    upgrade_database,
)
from connector.documents import DocumentParser
from connector.errors import ConfigError
from connector.ledger import guards  # noqa: F401  (registers the append-only guards on every Session)
from connector.ledger.chart import ensure_chart
from connector.ledger.customers import CustomerDirectory
from connector.ledger.lookups import keep_indexes_current
from connector.ledger.posting import Ledger
from connector.log import RedactingFormatter, configure_logging
from connector.mapping.files import MappingSet
from connector.mapping.slash_dates import Order
from connector.master.policy import CustomerPolicy
from connector.master.service import CustomerMaster
from connector.ports import RecordSource
from connector.security.cipher import FieldCipher
from connector.security.credentials import CredentialStore
from connector.security.key_checks import check_data_keys, key_problems, refuse_other_keys
from connector.security.keys import KeyRing, load_or_create_keyring, ring_origin
from connector.security.rotation import holds_encrypted
from connector.settings import Settings
from connector.sync.credits import DatabaseSpendingLog
from connector.sync.field_metadata import DatabaseFieldStore
from connector.sync.mapping_sets import mappings_in_force
from connector.sync.runs import close_abandoned_runs


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, for log redaction."""
    values = settings.database.secrets()
    if settings.security.encryption_keys is not None:
        values.append(settings.security.encryption_keys.get_secret_value())
    if settings.zoho.client_secret is not None:
        values.append(settings.zoho.client_secret.get_secret_value())
    return values


log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    log_formatter: RedactingFormatter | None = field(default=None, repr=False)
    record_sources: dict[str, Callable[[], RecordSource]] = field(default_factory=dict)
    _key_file_seen: tuple[int, int] | None = field(default=None, repr=False)

    @cached_property
    def keyring(self) -> KeyRing:
        self._key_file_seen = self._key_file_stamp()
        ring = load_or_create_keyring(self.settings.security, self._holds_encrypted)
        self._redact(ring)
        return ring

    def refresh_keys(self) -> bool:
        """Read the local key file again when it changed since (`keys rotate` in another process): this
        process then seals with its new active key. Whether it did. (Keys given in the settings change
        only with a restart.)"""
        if "keyring" not in self.__dict__ or self.settings.security.encryption_keys is not None:
            return False
        stamp = self._key_file_stamp()
        if stamp == self._key_file_seen:
            return False
        ring = load_or_create_keyring(self.settings.security, self._holds_encrypted)
        self._key_file_seen = stamp
        if ring == self.keyring:
            return False
        with reading(self.sessions) as session:  # `keys rotate` recorded its key's check value
            problems = key_problems(session, ring, ring_origin(self.settings.security))
        refuse_other_keys(problems)
        self._redact(ring)
        self.__dict__["keyring"] = ring
        self.cipher.use(ring)
        log.info("the key file changed: sealing with key %s from now on", ring.active_id)
        return True

    def _key_file_stamp(self) -> tuple[int, int] | None:
        try:
            found = self.settings.security.keys_file.stat()
        except OSError:
            return None
        return (found.st_mtime_ns, found.st_size)

    def _redact(self, ring: KeyRing) -> None:
        if self.log_formatter is not None:
            self.log_formatter.add(
                base64.b64encode(key).decode() for key in [*ring.keys.values(), ring.index_key]
            )

    def _holds_encrypted(self) -> bool:
        # The key ring is first wanted inside a write: a writer's transaction would wait for it.
        with reading(self.sessions) as session:
            return holds_encrypted(session)

    @cached_property
    def cipher(self) -> FieldCipher:
        return FieldCipher(self.keyring)

    @cached_property
    def credentials(self) -> CredentialStore:
        return CredentialStore(self.sessions, self.cipher)

    @cached_property
    def zoho(self) -> ZohoConnection:
        """The configured Zoho CRM org (`zoho.enabled`); closed with the container."""
        if not self.settings.zoho.enabled:
            raise ConfigError(
                "Zoho CRM is not enabled",
                ["set zoho.enabled = true with zoho.client_id and zoho.client_secret"],
            )
        return connect(
            self.settings.zoho,
            self.credentials,
            DatabaseSpendingLog(self.sessions),
            DatabaseFieldStore(self.sessions),
        )

    def ledger(self, session: Session) -> Ledger:
        return Ledger(session)

    def customers(self, session: Session) -> CustomerDirectory:
        return CustomerDirectory(session, self.cipher, self.settings.ledger.account_number_template)

    def master(self, session: Session, policy: CustomerPolicy, actor: str = "connector") -> CustomerMaster:
        return CustomerMaster(
            session, self.customers(session), self.cipher, policy, self.settings.ledger.base_currency, actor
        )

    def mappings_in_force(self) -> MappingSet:
        """The mapping set runs use: the folder's when it validates, else the last valid one, so that a
        typo in one file stops nothing (its problems are logged, each with its file and line)."""
        with unit_of_work(self.sessions) as session:
            in_force = mappings_in_force(session, self.settings.mappings.dir)
        problems = [str(problem) for problem in in_force.problems]
        if in_force.mappings is None:
            raise ConfigError(in_force.describe(), problems)
        if problems:
            log.warning(
                "%d mapping problem(s), using %s: %s", len(problems), in_force.describe(), "; ".join(problems)
            )
        return in_force.mappings

    def document_parsers(self) -> list[DocumentParser]:
        """Every file format the import reads, with the mapping set in force (`parsers_for`)."""
        settings = self.settings
        currency = settings.imports.iif_currency or settings.ledger.base_currency
        return parsers_for(
            self.mappings_in_force(),
            currency,
            settings.imports.iif_date_order,
            index_key=lambda: self.keyring.index_key,
        )

    def record_source(self, backend: str) -> RecordSource:
        """The live connection to `backend`; wired here as each adapter is configured."""
        factory = self.record_sources.get(backend)
        if factory is None:
            configured = ", ".join(sorted(self.record_sources)) or "none"
            raise ConfigError(
                f"backend {backend!r} has no live connection configured (configured: {configured})",
                ["use --sample FILE with an export of its records instead"],
            )
        return factory()

    def close(self) -> None:
        if "zoho" in self.__dict__:
            self.zoho.close()
        self.engine.dispose()


def parsers_for(
    mappings: MappingSet,
    iif_currency: str,
    iif_date_order: Order = "mdy",
    *,
    index_key: Callable[[], bytes],
) -> list[DocumentParser]:
    """Every file format the import reads: bank statements (structured formats first: they are
    recognised by their own markers), QuickBooks IIF (amounts in `iif_currency` where a file names
    none: a single-currency company's; dates in `iif_date_order`; ids keyed with the key ring's
    `index_key`), then each export mapping of `mappings`."""
    iif = IifParser(iif_currency, date_order=iif_date_order, index_key=index_key)
    return [Camt053Parser(), Mt940Parser(), OfxParser(), iif, *export_parsers(mappings)]


def export_parsers(mappings: MappingSet) -> list[DocumentParser]:
    """A parser for each export mapping of `mappings`, the tabular ones first, then the vouchers."""
    exports = [MappedExport(mapping, f"{stem}.toml") for stem, mapping in sorted(mappings.documents.items())]
    vouchers = [VoucherExport(mapping) for _, mapping in sorted(mappings.vouchers.items())]
    return [*exports, *vouchers]


def _check_data_keys(session: Session, container: Container) -> None:
    """Refuse a configured ring whose key differs from the one its id sealed here with, before it seals
    anything; record each key's check value. Without a ring configured yet there is nothing to check
    (the one made on first use has a new id)."""
    security = container.settings.security
    if security.encryption_keys is not None or security.keys_file.exists():
        check_data_keys(session, container.keyring, ring_origin(security))


def build_container(
    settings: Settings, *, migrate: bool = True, upgrade: bool = True, logging: bool = True
) -> Container:
    """Wire everything for `settings`; with `migrate`, bring the chart up to date, the schema to head first
    with `upgrade` (else a database not at head is refused: `require_current_schema`)."""
    formatter = configure_logging(settings.logging, secret_values(settings)) if logging else None
    engine = make_engine(settings.database.url.get_secret_value(), echo=settings.database.echo)
    container = Container(settings, engine, session_factory(engine), formatter)
    if settings.zoho.enabled:
        container.record_sources["zoho"] = lambda: container.zoho.records
    if migrate:
        try:
            if upgrade:
                upgrade_database(engine)
            else:
                require_current_schema(engine)
            with unit_of_work(container.sessions) as session:
                # Replicas starting together on a new database: one adds the chart, the others read it.
                serialize(session, "start-up")
                ensure_chart(session, settings.ledger.chart)
                keep_indexes_current(session, lambda: container.cipher)
                _check_data_keys(session, container)
                close_abandoned_runs(session)
        except BaseException:
            container.close()  # no connection left open behind a start that failed
            raise
    return container
