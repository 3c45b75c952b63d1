"""One sandbox org: its records, tokens, limits, faults and channels, plus the Python-side test helpers.

The HTTP layer and the helpers both go through the `write_*` methods, so an edit "made by a CRM user"
(`edit_as_user`) moves Modified_Time and fires watch callbacks exactly like an API write, and a user's
delete lands in the deleted-records list like one made through the API. Everything that mutates holds
`lock` (the server's event loop and a test thread share it).
"""

from __future__ import annotations

import copy
import gc
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from adapters.zoho.sandbox.auth import Accounts
from adapters.zoho.sandbox.config import SandboxConfig
from adapters.zoho.sandbox.directory import User, build_users, full_name
from adapters.zoho.sandbox.faults import FaultInjector
from adapters.zoho.sandbox.fields import FieldDef, ModuleDef, build_modules
from adapters.zoho.sandbox.generator import Generator, Users
from adapters.zoho.sandbox.limits import Limits
from adapters.zoho.sandbox.paging import PageTokens
from adapters.zoho.sandbox.render import encode_record
from adapters.zoho.sandbox.store import Deleted, ModuleStore, Record, whole_number
from adapters.zoho.sandbox.timeutil import format_time, zone
from adapters.zoho.sandbox.values import FieldError, Resolvers, invalid
from adapters.zoho.sandbox.watch import Delivery, Notifier, WatchRegistry
from adapters.zoho.sandbox.writes import (
    Source,
    WriteEvent,
    already_modified,
    check_values,
    invalid_id,
    record_locked,
    success,
)

DAY_S = 86_400


@dataclass
class WriteResult:
    """Per-record answer plus, on success, the record and the values that changed."""

    body: dict[str, Any]
    record: Record | None = None
    changes: dict[str, Any] | None = None


def _plain(value: Any) -> Any:
    return copy.deepcopy(value)


class Sandbox:
    """State and behaviour of one sandbox org, shared by the ASGI app and the tests."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.tz = zone(config.utc_offset_minutes)
        self.faults = copy.deepcopy(config.faults)
        self.lock = threading.RLock()
        self.base_url = "http://127.0.0.1"
        self.users: tuple[User, ...] = build_users(config.org_id_prefix)
        self.api_user = self.users[0]
        self.crm_user = self.users[1]
        self.modules: dict[str, ModuleDef] = build_modules(config.org_id_prefix, config.ledger_fields)
        self.stores = {name: ModuleStore(module) for name, module in self.modules.items()}
        self.accounts = Accounts(config, self.clock, self.api_user.id)
        self.limits = Limits(
            config.concurrency(), config.sub_concurrency_limit, config.credit_budget(), self.clock
        )
        self.injector = FaultInjector(self.faults, config.seed)
        self.page_tokens = PageTokens(config.page_token_lifetime_s, self.clock)
        self.notifier = Notifier()
        self.watch = WatchRegistry(
            {n: m.id for n, m in self.modules.items()}, config.utc_offset_minutes, self.notifier
        )
        self.writes: list[WriteEvent] = []
        self._field_sequence = 0
        self._seed()

    # ----------------------------------------------------------------- set-up

    def _seed(self) -> None:
        """Generate the seeded records with the cyclic GC paused: it would walk the growing heap over
        and over for nothing (nothing generated is garbage), which costs a third of the time. One
        collection afterwards moves the records to the oldest generation now, instead of during the
        first requests, where the pending young objects would cost the first pass a second per 100k."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._generate()
        finally:
            if was_enabled:
                gc.enable()
                gc.collect()

    def _generate(self) -> None:
        config = self.config
        end = int(config.epoch.timestamp())
        start = end - config.history_days * DAY_S
        generator = Generator(
            config.seed, config.org_id_prefix, self.tz, Users(tuple(u.ref() for u in self.users))
        )
        accounts, contacts = generator.generate(config.account_count(), config.contacts, start, end)
        self._generator = generator
        for name, records in (("Accounts", accounts), ("Contacts", contacts)):
            empty = dict.fromkeys(self.modules[name].names())
            for record in records:  # every field present (None when empty): rendering relies on it
                record.values = {**empty, **record.values}
            self.stores[name].load(records)

    def now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        self.notifier.stop()

    # ------------------------------------------------------------ resolution

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def resolvers(self) -> Resolvers:
        def lookup(module: str, record_id: str) -> dict[str, Any] | None:
            store = self.stores.get(module)
            number = whole_number(record_id)
            if store is None or number is None:
                return None
            record = store.get(number)
            if record is None:
                return None
            return {"name": record.values[store.module.display_field], "id": record.values["id"]}

        def owner(user_id: str) -> dict[str, Any] | None:
            found = self.user(user_id)
            return found.ref() if found else None

        return Resolvers(lookup, owner, self.tz)

    def store(self, module: str) -> ModuleStore:
        found = self.stores.get(module)
        if found is None:
            raise KeyError(f"the sandbox serves {sorted(self.stores)}, not {module!r}")
        return found

    # ---------------------------------------------------------------- writes

    def _touched(
        self, module: str, current: dict[str, Any], changes: dict[str, Any], actor: User, now: int
    ) -> dict[str, Any]:
        """Changes plus what the CRM updates with them: audit fields and the derived Full_Name."""
        modified = format_time(now, self.tz)
        result = {
            **changes,
            "Modified_By": actor.ref(),
            "Modified_Time": modified,
            "Last_Activity_Time": modified,
        }
        if module == "Contacts" and ({"First_Name", "Last_Name"} & changes.keys()):
            merged = {**current, **changes}
            result["Full_Name"] = full_name(merged.get("First_Name"), merged.get("Last_Name"))
        return result

    def _log(self, event: WriteEvent) -> None:
        self.writes.append(event)

    def write_insert(
        self, module: str, raw: Mapping[str, Any], index: int, actor: User, source: Source
    ) -> WriteResult:
        store = self.store(module)
        try:
            changes = check_values(
                store.module, raw, index, self.resolvers(), self.config.strict_fields, True
            )
        except FieldError as exc:
            return WriteResult(exc.body())
        now = self.now()
        with self.lock:
            record_id = self._generator.next_id()
            values: dict[str, Any] = {f.api_name: None for f in store.module.fields}
            values.update(
                {
                    "id": str(record_id),
                    "Owner": actor.ref(),
                    "Created_By": actor.ref(),
                    "Created_Time": format_time(now, self.tz),
                    "Record_Status__s": "Available",
                    "Locked__s": False,
                    "$approval_state": "approved",
                    "$editable": True,
                    "Tag": [],
                    "Currency": self.config.base_currency,
                    "Exchange_Rate": Decimal(1),
                }
            )
            values.update(self._touched(module, values, changes, actor, now))
            record = Record(record_id, now, now, values)
            store.insert(record)
            self._log(WriteEvent(module, "insert", str(record_id), _plain(changes), source, actor.id, now))
        return WriteResult(success(record, "record added"), record, changes)

    def write_update(
        self,
        module: str,
        raw: Mapping[str, Any],
        index: int,
        actor: User,
        source: Source,
        unmodified_since: int | None = None,
    ) -> WriteResult:
        store = self.store(module)
        raw_id = raw.get("id")
        if raw_id in (None, ""):
            return WriteResult(
                FieldError(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    {"api_name": "id", "json_path": f"$.data[{index}].id"},
                ).body()
            )
        text_id = str(raw_id)
        with self.lock:
            number = whole_number(text_id)
            record = store.get(number) if number is not None else None
            if record is None:
                return WriteResult(invalid_id(index).body())
            if source == "api":
                failure = self._injected_failure(store.module, text_id, index)
                if failure is not None:
                    return WriteResult(failure.body())
            if unmodified_since is not None and record.modified > unmodified_since:
                return WriteResult(already_modified(record).body())
            try:
                changes = check_values(
                    store.module, raw, index, self.resolvers(), self.config.strict_fields, False
                )
            except FieldError as exc:
                return WriteResult(exc.body())
            now = self.now()
            store.update(record, self._touched(module, record.values, changes, actor, now), now)
            if module == "Accounts" and "Account_Name" in changes:
                self._rename_lookups(text_id, changes["Account_Name"])
            self._log(WriteEvent(module, "update", text_id, _plain(changes), source, actor.id, now))
        return WriteResult(success(record, "record updated"), record, changes)

    def _injected_failure(self, module: ModuleDef, record_id: str, index: int) -> FieldError | None:
        """The fault knobs' per-record refusals: locked records and records whose data is "invalid"."""
        if record_id in self.faults.locked_ids:
            return record_locked(index)
        field_name = self.faults.invalid_data.get(record_id)
        if field_name is not None:
            definition = module.get(field_name)
            expected = definition.data_type if definition else "text"
            return invalid(field_name, f"$.data[{index}].{field_name}", expected)
        return None

    def _rename_lookups(self, account_id: str, name: str) -> None:
        """Contacts show the account's current name in their Account_Name lookup."""
        contacts = self.stores["Contacts"]
        for contact_id in contacts.find_by("Account_Name", {"id": account_id}):
            contact = contacts.records[contact_id]
            contact.values["Account_Name"] = {"name": name, "id": account_id}
            contacts.cache.forget(contact_id)

    def write_delete(self, module: str, raw_id: str, actor: User, source: Source) -> WriteResult:
        store = self.store(module)
        with self.lock:
            number = whole_number(raw_id)
            record = store.get(number) if number is not None else None
            if record is None:
                return WriteResult(
                    {
                        "code": "INVALID_DATA",
                        "details": {"id": raw_id},
                        "message": "record not deleted",
                        "status": "error",
                    }
                )
            if source == "api" and raw_id in self.faults.locked_ids:
                body = record_locked(0).body()
                body["details"] = {"id": raw_id, "action": "record_locking"}
                return WriteResult(body)
            now = self.now()
            entry = Deleted(
                record.id,
                record.values.get(store.module.display_field),
                {"name": record.values["Created_By"]["name"], "id": record.values["Created_By"]["id"]},
                {"name": actor.full_name, "id": actor.id},
                now,
            )
            store.delete(record.id, entry)
            self._log(WriteEvent(module, "delete", raw_id, {}, source, actor.id, now))
        body = {
            "code": "SUCCESS",
            "details": {"id": raw_id},
            "message": "record deleted",
            "status": "success",
        }
        return WriteResult(body, record, {})

    def notify(self, module: str, operation: str, changed: Mapping[str, Mapping[str, Any]]) -> int:
        """Fire watch callbacks for one batch of changes (record id → changed values)."""
        return self.watch.dispatch(module, operation, changed, int(self.clock() * 1000), self.base_url)

    def add_field(self, module: str, definition: FieldDef) -> FieldDef:
        with self.lock:
            self._field_sequence += 1
            numbered = replace(
                definition, id=self.config.org_id_prefix * 10**12 + 9000 + self._field_sequence
            )
            store = self.store(module)
            store.module.add(numbered)
            for record in store.records.values():
                record.values.setdefault(numbered.api_name, None)
        return numbered

    # ---------------------------------------------------------- test helpers

    def prerender(self, module: str, fields: tuple[str, ...]) -> int:
        """Encode every record of `module` for this field set now (as listing would on first use).

        A performance knob, not CRM behaviour: a throughput test calls it before its clock starts so the
        first pass costs what later passes do. Returns the number of records rendered.
        """
        store = self.store(module)
        wanted = tuple(dict.fromkeys(f for f in fields if f in store.module.names() and f != "id"))
        with self.lock:
            plan, cache = store.cache.for_fields(wanted, store.module.decimal_fields())
            for record in store.records.values():
                if record.id not in cache:
                    cache[record.id] = encode_record(record.values, plan)
            return len(cache)

    def edit_as_user(
        self, module: str, record_id: str, changes: Mapping[str, Any], user: User | None = None
    ) -> dict[str, Any]:
        """Edit a record as a CRM user would in the web UI (Modified_By = that user); fires callbacks.

        Returns the per-record result body; raises ValueError if the edit is refused.
        """
        result = self.write_update(module, {**changes, "id": record_id}, 0, user or self.crm_user, "user")
        if result.record is None:
            raise ValueError(f"edit refused: {result.body}")
        self.notify(module, "update", {record_id: result.changes or {}})
        return result.body

    def create_as_user(self, module: str, values: Mapping[str, Any], user: User | None = None) -> str:
        result = self.write_insert(module, values, 0, user or self.crm_user, "user")
        if result.record is None:
            raise ValueError(f"create refused: {result.body}")
        record_id = result.record.values["id"]
        self.notify(module, "insert", {record_id: result.changes or {}})
        return str(record_id)

    def delete_as_user(self, module: str, record_id: str, user: User | None = None) -> None:
        result = self.write_delete(module, record_id, user or self.crm_user, "user")
        if result.record is None:
            raise ValueError(f"delete refused: {result.body}")
        self.notify(module, "delete", {record_id: {}})

    def purge_deleted(self, module: str, record_id: str) -> None:
        """Empty a record out of the recycle bin: it is listed as a `permanent` deletion from now on."""
        with self.lock:
            for entry in self.store(module).deleted:
                if str(entry.id) == record_id and entry.purged_at is None:
                    entry.purged_at = self.now()

    def record(self, module: str, record_id: str) -> dict[str, Any] | None:
        """A copy of a live record's values as stored (money as Decimal), or None."""
        with self.lock:
            number = whole_number(record_id)
            found = self.store(module).get(number) if number is not None else None
            return _plain(found.values) if found else None

    def record_ids(self, module: str) -> list[str]:
        with self.lock:
            return [str(i) for i in sorted(self.store(module).records)]

    def count(self, module: str) -> int:
        with self.lock:
            return len(self.store(module))

    def written(self, module: str | None = None, source: Source | None = "api") -> list[WriteEvent]:
        """Changes made so far (by default those that came through the API, i.e. by the connector)."""
        with self.lock:
            return [
                w
                for w in self.writes
                if (module is None or w.module == module) and (source is None or w.source == source)
            ]

    def grant_code(self, scopes: tuple[str, ...] | None = None) -> str:
        return self.accounts.grant_code(scopes)

    def expire_access_tokens(self) -> None:
        self.accounts.expire_all()

    def callbacks(self, wait_s: float = 5.0) -> list[Delivery]:
        """Callbacks delivered so far, after waiting (up to `wait_s`) for queued ones to go out."""
        self.notifier.wait_idle(wait_s)
        return list(self.notifier.deliveries)
