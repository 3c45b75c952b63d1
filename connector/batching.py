"""What every bulk writer shares: the cyclic garbage collector paused while a batch is built, and
commits written behind while the next batch is read."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch.

    A batch allocates hundreds of thousands of short-lived, acyclic tuples and dicts; the collector's
    passes over them find nothing and cost 20–30 % of the batch's time. Reference counting still frees them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class CommitBehind:
    """Transactions, one after another, each committed on a worker thread while the caller gets the
    next one ready (reads the next rows of a file, maps the next page of records).

    A bulk batch dirties thousands of pages and its commit writes them all: on SQLite a tenth of an
    import, spent in C without holding the GIL, so reading and mapping can go on meanwhile. Order is
    kept: a transaction begins only when the one before it is committed, so it sees everything before
    it; a failed commit is raised by the next `transaction()` or by leaving the block, and nothing after
    it is written. Leaving the block waits for the last commit. What a transaction wrote is told (its
    `committed` callback, on the caller's thread) only once its commit is done: counts kept so are those
    of what is in the database, never of a batch whose commit failed. Where each thread has a connection of
    its own (an in-memory SQLite database), a connection cannot be committed from another thread:
    there each transaction commits in place.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._in_place = isinstance(getattr(sessions.kw.get("bind"), "pool", None), SingletonThreadPool)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit-behind")
        self._pending: Future[None] | None = None
        self._committed: Callable[[], None] | None = None

    def __enter__(self) -> CommitBehind:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.wait()
        finally:
            self._worker.shutdown()

    @contextmanager
    def transaction(self, committed: Callable[[], None] | None = None) -> Iterator[Session]:
        """A session in a new transaction, committed behind when the block ends normally; rolled back
        (and nothing committed) when it raises. `committed` is called once its commit is done (by the
        next `transaction()`, `wait()` or leaving the block), never when it failed."""
        self.wait()
        session = self._sessions()
        try:
            session.begin()
            yield session
        except BaseException:
            session.close()
            raise
        if self._in_place:
            _commit(session)
            if committed is not None:
                committed()
        else:
            self._pending, self._committed = self._worker.submit(_commit, session), committed

    @contextmanager
    def counted(self, total: Counter[str]) -> Iterator[tuple[Session, Counter[str]]]:
        """A `transaction()` with a counter of what it did, added to `total` once its commit is done:
        a run's counts are those of what is stored, never of a batch whose commit failed."""
        counts: Counter[str] = Counter()
        with self.transaction(lambda: _add(total, counts)) as session:
            yield session, counts

    def wait(self) -> None:
        """Until the last commit is done; raises its error if it failed."""
        pending, self._pending = self._pending, None
        committed, self._committed = self._committed, None
        if pending is not None:
            pending.result()
            if committed is not None:
                committed()


def _add(total: Counter[str], counts: Counter[str]) -> None:
    total += counts  # in place: the caller's counter (what is not positive left out, as `+=` does)


def _commit(session: Session) -> None:
    with session:
        session.commit()
