"""Leases: a job (the imports, an inbox pass, a push) runs in one process at a time, across the
processes and replicas that share one database.

A lease is a row of `job_leases`: taking it inserts the row, or takes over one whose holder let it
expire (a process that died); the holder renews it from a thread every third of `LEASE_SECONDS` while it
works and deletes it when done. A process that cannot take a lease waits for it (`wait`), or says who
holds it (`LeaseHeldError`). A turn (`take_turn`) is a lease kept until it lapses: the replicas of a
scheduled job run it once per interval between them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from connector import retry
from connector.db import clock_ms, fitted, unit_of_work
from connector.errors import LeaseHeldError, LeaseLostError, StoppedWaitingError
from connector.sync.models import JobLease
from connector.sync.runs import gone_here, held_by, progress, this_process

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
MAX_NAME = 200  # characters of `job_leases.name` and `.holder`
IMPORTS = "imports"  # every import: a receipt's two records pair only when imported one after the other
KEY_ROTATION = "keys rotate"  # two at once would each save the key file without the other's new key


@dataclass(frozen=True)
class Held:
    """A lease held: a writer that must not write once another process took it over confirms it in each
    transaction it commits (`confirm`)."""

    name: str
    holder: str
    span: int

    def confirm(self, session: Session) -> None:
        """Renew the lease in `session`'s transaction, or raise `LeaseLostError` (rolling it back) when
        another process holds it now: a process that stalled past its lease commits nothing more."""
        renewed = session.execute(
            update(JobLease)
            .where(JobLease.name == self.name, JobLease.holder == self.holder)
            .values(expires_at=clock_ms(session) + self.span)
        )
        if not renewed.rowcount:  # type: ignore[attr-defined]
            raise LeaseLostError(
                f"{self.name}: this process stalled past its lease and another took it over; "
                "nothing more is written here (the other process goes on)"
            )


@dataclass(frozen=True)
class Holder:
    """Who holds a lease another process asked for, and how long until it lapses (by the database's
    clock; None: not known)."""

    holder: str
    left_ms: int | None = None

    def __str__(self) -> str:
        return self.holder

    @property
    def gone(self) -> bool:
        """Whether the holder is a process of this host that no longer runs."""
        return gone_here(self.holder) is not None

    def _gone(self) -> str | None:
        """When the holder is a process of this host that no longer runs (a kill -9): what to say of it.
        Its lease is still not taken over before it lapses: a pid proves nothing across containers
        sharing a host name, and the wait is at most one lease."""
        pid = gone_here(self.holder)
        if pid is None:
            return None
        gone = f"is held by a process of this host that is gone ({self.holder}: pid {pid} no longer runs)"
        return gone if self.left_ms is None else f"{gone}; its lease is free in {-(-self.left_ms // 1000)} s"

    def refusal(self) -> str:
        gone = self._gone()
        if gone is None:
            return f"is running elsewhere now ({self.holder}); try again when it is done"
        return f"{gone}: try again then"

    def waiting(self) -> str:
        gone = self._gone()
        if gone is None:
            return f"is running elsewhere ({self.holder}): waiting for it to finish"
        return f"{gone}: waiting for it to lapse"


@contextmanager
def lease(
    sessions: sessionmaker[Session],
    name: str,
    *,
    wait: bool = True,
    poll_seconds: float = 0.5,
    lease_seconds: float = LEASE_SECONDS,
) -> Iterator[Held]:
    """Hold the lease `name` for the block: waiting for it, or raising `LeaseHeldError` if not `wait`."""
    name = fitted(name, MAX_NAME)  # an inbox's deep path may be longer than the table keeps
    holder = f"{this_process()} {uuid.uuid4().hex[:8]}"[:MAX_NAME]
    span = int(lease_seconds * 1000)
    _release_left_behind(sessions, name)
    told = False
    while (other := _take(sessions, name, holder, span)) is not None:
        if not wait:
            raise LeaseHeldError(f"{name} {other.refusal()}", holder_gone=other.gone)
        if not told:
            log.info("%s %s", name, other.waiting())
            told = True
        if retry.STOPPING.wait(poll_seconds):  # the process stops: the wait is the next run's
            raise StoppedWaitingError(
                f"{name} was running elsewhere ({other}) and this process stopped waiting for it: "
                "nothing of it was done here; run it again"
            )
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(sessions, name, holder, span, stop), name=f"lease {name}", daemon=True
    )
    renewer.start()
    holding = held_by.set(holder)  # the runs started in the block are this lease's
    try:
        yield Held(name, holder, span)
    finally:
        held_by.reset(holding)
        stop.set()
        renewer.join()
        with _left_behind_lock:
            _left_behind.add((name, holder))
        _release_left_behind(sessions, name)


# Leases this process held whose release failed (the database was out): released at the next asking,
# not left to lapse while this process, taking the lease again, would wait for itself.
_left_behind: set[tuple[str, str]] = set()
_left_behind_lock = threading.Lock()  # the daemon's jobs take and give back leases from their threads


def _release_left_behind(sessions: sessionmaker[Session], name: str) -> None:
    """Delete the leases of `name` this process left behind; a database still out raises (as any
    first statement would)."""
    with _left_behind_lock:
        mine = [left for left in _left_behind if left[0] == name]
    for left in mine:
        with unit_of_work(sessions) as session:
            session.execute(delete(JobLease).where(JobLease.name == left[0], JobLease.holder == left[1]))
        with _left_behind_lock:
            _left_behind.discard(left)


def turn_holder() -> str:
    """Who takes a turn: this process, now."""
    return f"{this_process()} at {time.strftime('%H:%M:%S')}"[:MAX_NAME]


def give_back_turns(sessions: sessionmaker[Session]) -> None:
    """Every turn this process holds, for the next process to run its jobs at once (it is stopping)."""
    with unit_of_work(sessions) as session:
        session.execute(
            delete(JobLease).where(
                JobLease.name.startswith("turn ", autoescape=True),
                JobLease.holder.startswith(f"{this_process()} at ", autoescape=True),
            )
        )


def take_turn(sessions: sessionmaker[Session], name: str, seconds: float, holder: str) -> str | None:
    """Claim the turn `name` for `seconds` (a scheduled job's interval, less some slack) as `holder`:
    None when this process has it, else who took it. A turn is kept until it lapses (replicas running
    one job on the same interval take turns, the first to come after it runs the job), unless given back
    by a run that did nothing (`give_back_turn`)."""
    taken = _take(sessions, fitted(name, MAX_NAME), holder, int(seconds * 1000))
    return None if taken is None else taken.holder


def give_back_turn(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """The turn `holder` took, for another run to take at once (this one did not do the job)."""
    with unit_of_work(sessions) as session:
        session.execute(
            delete(JobLease).where(JobLease.name == fitted(name, MAX_NAME), JobLease.holder == holder)
        )


def _take(sessions: sessionmaker[Session], name: str, holder: str, span: int) -> Holder | None:
    """Take the lease; None when taken, else who holds it."""
    try:
        with unit_of_work(sessions) as session:
            now = clock_ms(session)
            expired = session.execute(  # a holder that stopped renewing it is gone: taken over
                update(JobLease)
                .where(JobLease.name == name, JobLease.expires_at < now)
                .values(holder=holder, expires_at=now + span)
            )
            if expired.rowcount:  # type: ignore[attr-defined]
                return None
            held = session.execute(
                select(JobLease.holder, JobLease.expires_at - now).where(JobLease.name == name)
            ).first()
            if held is not None:
                return Holder(held[0], int(held[1]))
            session.execute(insert(JobLease).values(name=name, holder=holder, expires_at=now + span))
    except IntegrityError:  # another process inserted it first
        return Holder("another process")
    return None


def _renew(
    sessions: sessionmaker[Session],
    name: str,
    holder: str,
    span: int,
    stop: threading.Event,
) -> None:
    missed = 0
    while not stop.wait(span / 3000):
        try:
            with unit_of_work(sessions) as session:
                session.execute(
                    update(JobLease)
                    .where(JobLease.name == name, JobLease.holder == holder)
                    .values(expires_at=clock_ms(session) + span)
                )
                progress(session, holder)  # the runs under it live on, until when it lapses
            missed = 0
        except OperationalError as exc:  # SQLite's write lock, held by this holder's own batch (which
            missed += 1  # renews the lease in its transaction, `Held.confirm`): the next renewal tries again
            if missed >= 2:  # one more miss and the lease lapses, unless a batch renews it meanwhile
                log.warning("the lease of %s was not renewed twice running: %s", name, exc.orig or exc)
        except Exception:  # the next renewal tries again; the lease lasts three of these
            log.warning("the lease of %s could not be renewed", name, exc_info=True)
