"""CRM notifications: verify a callback, keep it in the inbox, then apply the records it names.

A callback (`POST /zoho/notify`) names a channel, echoes that channel's token and lists the ids of
changed records. `receive_callback` accepts it only for a channel of ours whose token matches (compared
in constant time) and stores it before the endpoint answers; nothing else happens on the request.
`process_notifications` (scheduled, and `connector zoho notifications --process`) then works through
the inbox, oldest first: inserts and updates are fetched by id and applied to the customer master like
a pull (`pull_ids`), deletions mark the records' bindings deleted. A failure leaves the notification
pending for the next round (after `MAX_ATTEMPTS` it is given up on: polling covers its records anyway);
a spent API budget, or the process told to stop (`retry.STOPPING`: a Ctrl-C, a SIGTERM), ends the round
between two notifications with everything unprocessed still pending.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from connector import retry
from connector.db import aware, unit_of_work
from connector.errors import (
    BudgetExhaustedError,
    ConfigError,
    DecryptionError,
    LeaseHeldError,
    StoppingError,
)
from connector.mapping.files import MappingSet
from connector.sync.channels import BACKEND, TOKEN_FIELD
from connector.sync.leases import lease
from connector.sync.mapping_sets import mappings_in_force
from connector.sync.notification_models import InboxNotification, NotificationChannel
from connector.sync.pull import pull_ids, pull_lease

if TYPE_CHECKING:
    from connector.bootstrap import Container
    from connector.ports import ContactSource

log = logging.getLogger(__name__)

OPERATIONS = frozenset({"insert", "update", "delete"})
MAX_IDS = 10_000  # ids in one callback; more is not a callback Zoho sends
MAX_ATTEMPTS = 10
BATCH = 200  # notifications per round
_UNKNOWN = "x" * 48  # compared against when the channel is unknown, so both take the same time


@dataclass(frozen=True)
class Callback:
    """A callback body as the CRM sent it; the token is never shown."""

    channel_id: str
    token: str = field(repr=False)
    module: str = ""
    operation: str = ""
    ids: tuple[str, ...] = ()
    server_time: int | None = None


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        return None
    if _UNSTORABLE.search(value):  # a NUL, a control character, a lone surrogate: no database keeps them
        raise ValueError("a field holds control characters or broken Unicode")
    return value.strip() or None


_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_MAX_SERVER_TIME = 2**63 - 1  # milliseconds: what the database keeps


def parse_callback(body: Any) -> Callback:
    """The callback in a decoded JSON body; ValueError (never quoting the token) when it is not one."""
    if not isinstance(body, Mapping):
        raise ValueError("the body is not a JSON object")
    channel_id = _text(body.get("channel_id"))
    if channel_id is None or not channel_id.isdigit() or len(channel_id) > 32:
        raise ValueError("channel_id is missing or not a channel id")
    module, operation = _text(body.get("module")), _text(body.get("operation"))
    if module is None or len(module) > 100:
        raise ValueError("module is missing")
    if operation is None or len(operation) > 20:
        raise ValueError("operation is missing")
    raw_ids = body.get("ids")
    if not isinstance(raw_ids, list) or len(raw_ids) > MAX_IDS:
        raise ValueError("ids is missing or not a list of record ids")
    ids = [_text(i) for i in raw_ids]
    if any(i is None or len(i) > 200 for i in ids):
        raise ValueError("ids holds something that is not a record id")
    token = body.get("token")
    server_time = body.get("server_time")
    if isinstance(server_time, int) and not 0 <= server_time <= _MAX_SERVER_TIME:
        raise ValueError("server_time is out of range")
    return Callback(
        channel_id,
        token if isinstance(token, str) else "",
        module,
        operation,
        tuple(dict.fromkeys(i for i in ids if i is not None)),
        server_time if isinstance(server_time, int) and not isinstance(server_time, bool) else None,
    )


def token_matches(expected: str | None, given: str) -> bool:
    """Constant-time comparison; an unknown channel (`expected` None) never matches, in the same time."""
    reference = expected if expected is not None else _UNKNOWN
    # surrogatepass: a forged token holding a lone surrogate is a mismatch, not an encoding error
    same = hmac.compare_digest(reference.encode(), given.encode(errors="surrogatepass"))
    return same and expected is not None


@dataclass(frozen=True)
class Received:
    stored_id: int | None  # the inbox row, when the callback was accepted
    refused: str | None = None  # why not (for the log: never the token)
    duplicate: bool = False  # stored before: answered again, nothing stored or done twice


def _digest(callback: Callback) -> str | None:
    """What tells one callback from another: its channel, the CRM's clock, operation and ids (none
    without the clock: two changes of one record would look alike)."""
    if callback.server_time is None:
        return None
    said = [callback.channel_id, str(callback.server_time), callback.operation, *sorted(callback.ids)]
    return hashlib.sha256("\x1f".join(said).encode()).hexdigest()


def _channel_token(container: Container, channel: NotificationChannel) -> str:
    """The channel's token. One sealed with a key this process does not have yet (`keys rotate` ran in
    another process) is read again once the key file is read again."""
    try:
        return container.cipher.decrypt(TOKEN_FIELD, channel.token_enc)
    except DecryptionError:
        if not container.refresh_keys():
            raise
    return container.cipher.decrypt(TOKEN_FIELD, channel.token_enc)


def receive_callback(container: Container, callback: Callback) -> Received:
    """Verify the callback against our channels and store it in the inbox (committed on return)."""
    with unit_of_work(container.sessions) as session:
        channel = session.get(NotificationChannel, callback.channel_id)
        expected: str | None = None
        if channel is not None and channel.backend == BACKEND:
            try:
                expected = _channel_token(container, channel)
            except DecryptionError:
                why = "its token cannot be read with the keys of this process (a key not in the key file)"
                return Received(None, f"channel {callback.channel_id}: {why}")
        if not token_matches(expected, callback.token):
            why = "unknown channel" if expected is None else "wrong token"
            return Received(None, f"{why} for channel {callback.channel_id}")
        assert channel is not None
        if callback.module != channel.module:
            return Received(
                None, f"channel {callback.channel_id} watches {channel.module}, not {callback.module!r}"
            )
        digest = _digest(callback)
        if digest is not None:
            earlier = session.scalar(select(InboxNotification.id).where(InboxNotification.digest == digest))
            if earlier is not None:
                return Received(earlier, duplicate=True)
        row = InboxNotification(
            digest=digest,
            backend=BACKEND,
            channel_id=callback.channel_id,
            module=callback.module,
            operation=callback.operation,
            ids_json=json.dumps(list(callback.ids)),
            server_time=callback.server_time,
            status="pending",
            attempts=0,
        )
        session.add(row)
        session.flush()
        return Received(row.id)


# --- processing -------------------------------------------------------------------------------------


@dataclass
class ProcessResult:
    outcomes: Counter[str] = field(
        default_factory=Counter
    )  # processed, retry, failed, skipped, waiting (for a pull)
    applied: Counter[str] = field(default_factory=Counter)  # what the records did: updated, deleted …
    stopped: str | None = None  # why the round ended early (budget spent, told to stop), if it did


def _finish(
    container: Container,
    note_id: int,
    status: str,
    counts: Counter[str] | None = None,
    error: str | None = None,
) -> str:
    with unit_of_work(container.sessions) as session:
        row = session.get_one(InboxNotification, note_id)
        row.attempts += 1
        if status == "retry":
            status = "failed" if row.attempts >= MAX_ATTEMPTS else "pending"
        row.status, row.error = status, error
        if counts is not None:
            row.counts_json = json.dumps(dict(sorted((+counts).items())))
        if status != "pending":
            row.processed_at = datetime.now(UTC)
    return "retry" if status == "pending" else status


def _deletions(
    container: Container, mappings: MappingSet, note_id: int, source: str, ids: list[str]
) -> Counter[str]:
    """Mark the records deleted (when the CRM's clock says they were, else when the notification came)
    and the notification processed, in one transaction."""
    counts: Counter[str] = Counter()
    with unit_of_work(container.sessions) as session:
        master = container.master(session, mappings.policy)
        row = session.get_one(InboxNotification, note_id)
        at = (
            datetime.fromtimestamp(row.server_time / 1000, UTC)
            if row.server_time is not None
            else aware(row.received_at)
        )
        for record_id in ids:
            applied = master.delete(source, record_id, at)
            counts["deleted" if applied.outcome == "updated" else "deletion_unknown_or_repeated"] += 1
        row.status, row.error, row.attempts = "processed", None, row.attempts + 1
        row.counts_json = json.dumps(dict(sorted(counts.items())))
        row.processed_at = datetime.now(UTC)
    return counts


NO_MAPPINGS = "no valid mapping set to apply notifications with: fix the files (`connector mapping check`)"


def process_notifications(
    container: Container,
    mappings: MappingSet | None = None,
    *,
    source: ContactSource | None = None,
    limit: int = BATCH,
) -> ProcessResult:
    """Apply up to `limit` pending notifications, oldest first (see the module's docstring). A module a
    pull is writing now waits, the others go on: the round takes its notifications from them."""
    result = ProcessResult()
    busy: set[str] = set()  # modules whose pull holds their records now
    after, taken = 0, 0
    while taken < limit and result.stopped is None:
        pending = _pending(container, after, busy, limit - taken)
        if not pending:
            return result
        if mappings is None:
            with unit_of_work(container.sessions) as session:
                mappings = mappings_in_force(session, container.settings.mappings.dir).mappings
            if mappings is None:
                raise ConfigError(NO_MAPPINGS)
        for note_id, module, operation, ids_json in pending:
            if retry.STOPPING.is_set():  # between two notifications: those processed stay processed
                result.stopped = _told_to_stop(container)
                break
            after = note_id
            if module in busy:  # waits; the round takes another module's in its place
                result.outcomes["waiting"] += 1
                continue
            if operation != "delete" and source is None:
                source = container.zoho.records  # a ConfigError here is the round's, not the notification's
            if _apply(container, mappings, source, result, note_id, module, operation, ids_json):
                taken += 1
            else:
                busy.add(module)
            if result.stopped is not None or taken == limit:
                break
    return result


def _told_to_stop(container: Container) -> str:
    with unit_of_work(container.sessions) as session:
        left = session.scalar(
            select(func.count()).where(
                InboxNotification.backend == BACKEND, InboxNotification.status == "pending"
            )
        )
    return f"told to stop: {left or 0} notification(s) still pending, processed by the next round"


def _pending(container: Container, after: int, busy: set[str], limit: int) -> list[tuple[int, str, str, str]]:
    with unit_of_work(container.sessions) as session:
        query = (
            select(
                InboxNotification.id,
                InboxNotification.module,
                InboxNotification.operation,
                InboxNotification.ids_json,
            )
            .where(
                InboxNotification.backend == BACKEND,
                InboxNotification.status == "pending",
                InboxNotification.id > after,
            )
            .order_by(InboxNotification.id)
            .limit(limit)
        )
        if busy:
            query = query.where(InboxNotification.module.not_in(sorted(busy)))
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def _apply(
    container: Container,
    mappings: MappingSet,
    source: ContactSource | None,
    result: ProcessResult,
    note_id: int,
    module: str,
    operation: str,
    ids_json: str,
) -> bool:
    """Apply one notification into `result`; False when a pull of its module holds its records now (it
    stays pending, its attempt not counted)."""
    ids = [str(i) for i in json.loads(ids_json)]
    mapping = mappings.for_source(f"{BACKEND}.{module}", "inbound")
    if mapping is None or operation not in OPERATIONS:
        why = (
            f"no inbound mapping for {BACKEND}.{module}"
            if mapping is None
            else f"unknown operation {operation!r}"
        )
        result.outcomes[_finish(container, note_id, "skipped", error=why)] += 1
        return True
    try:
        # Not while a pull writes the module's records: it may hold older versions of them.
        with lease(container.sessions, pull_lease(BACKEND, module), wait=False):
            if operation == "delete":
                counts = _deletions(container, mappings, note_id, mapping.source, ids)
                result.outcomes["processed"] += 1
            else:
                assert source is not None
                counts = pull_ids(container, source, mappings, BACKEND, module, ids)
                result.outcomes[_finish(container, note_id, "processed", counts)] += 1
        result.applied += counts
    except LeaseHeldError:
        result.outcomes["waiting"] += 1
        return False
    except BudgetExhaustedError as exc:
        result.stopped = str(exc)  # the notification stays pending, its attempt not counted
    except StoppingError:  # told to stop while a call waited to be retried: it stays pending, uncounted
        result.stopped = _told_to_stop(container)
    except Exception as exc:  # one bad notification must not stop the others; it is retried
        log.exception("zoho notification %s (%s %s) failed", note_id, operation, module)
        result.outcomes[_finish(container, note_id, "retry", error=f"{type(exc).__name__}: {exc}")] += 1
    return True


# --- listing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationView:
    id: int
    module: str
    operation: str
    ids: list[str]
    received_at: datetime
    status: str
    attempts: int
    counts: dict[str, int]
    error: str | None


def list_notifications(
    container: Container, status: str | None = None, limit: int = 50
) -> list[NotificationView]:
    """The newest notifications (of one status), newest first."""
    query = select(InboxNotification).where(InboxNotification.backend == BACKEND)
    if status is not None:
        query = query.where(InboxNotification.status == status)
    with unit_of_work(container.sessions) as session:
        rows = session.scalars(query.order_by(InboxNotification.id.desc()).limit(limit)).all()
        return [
            NotificationView(
                row.id,
                row.module,
                row.operation,
                [str(i) for i in json.loads(row.ids_json)],
                aware(row.received_at),
                row.status,
                row.attempts,
                json.loads(row.counts_json) if row.counts_json else {},
                row.error,
            )
            for row in rows
        ]
