"""Transactions committed on a worker thread while the caller gets the next one ready."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from connector.batching import CommitBehind
from connector.bootstrap import Container
from connector.db import make_engine, session_factory, unit_of_work
from connector.sync.models import SyncRun
from connector.sync.runs import start_run

SOURCE = "commit-behind test"


def runs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.source == SOURCE)) or 0


def committed_runs(container: Container) -> int:
    with unit_of_work(container.sessions) as session:
        return runs(session)


@contextmanager
def commit_fails(container: Container, which: int) -> Iterator[None]:
    """The `which`-th commit (1-based) of the container's sessions fails."""
    commits = 0

    def count(_session: Session) -> None:
        nonlocal commits
        commits += 1
        if commits == which:
            raise RuntimeError("the disk is full")

    event.listen(container.sessions, "before_commit", count)
    try:
        yield
    finally:
        event.remove(container.sessions, "before_commit", count)


def test_each_transaction_sees_every_one_before_it_and_leaving_waits_for_the_last_commit(
    container: Container,
) -> None:
    seen = []
    with CommitBehind(container.sessions) as commits:
        for _ in range(3):
            with commits.transaction() as session:
                seen.append(runs(session))
                start_run(session, "import", SOURCE, "")
    assert seen == [0, 1, 2]
    assert committed_runs(container) == 3


def test_a_failed_commit_is_raised_by_the_next_transaction_and_nothing_after_it_is_written(
    container: Container,
) -> None:
    entered = []
    failing = commit_fails(container, which=2)
    with (
        pytest.raises(RuntimeError, match="the disk is full"),
        failing,
        CommitBehind(container.sessions) as commits,
    ):
        for number in range(1, 4):
            with commits.transaction() as session:
                entered.append(number)
                start_run(session, "import", SOURCE, "")
    assert entered == [1, 2]
    assert committed_runs(container) == 1


def test_a_failed_last_commit_is_raised_when_leaving_the_block(container: Container) -> None:
    failing = commit_fails(container, which=2)
    with (
        pytest.raises(RuntimeError, match="the disk is full"),
        failing,
        CommitBehind(container.sessions) as commits,
    ):
        for _ in range(2):
            with commits.transaction() as session:
                start_run(session, "import", SOURCE, "")
    assert committed_runs(container) == 1


def test_a_transaction_that_raises_is_rolled_back_and_the_ones_before_it_are_kept(
    container: Container,
) -> None:
    with pytest.raises(ValueError, match="a bad batch"), CommitBehind(container.sessions) as commits:
        with commits.transaction() as session:
            start_run(session, "import", SOURCE, "")
        with commits.transaction() as session:
            start_run(session, "import", SOURCE, "")
            session.flush()
            raise ValueError("a bad batch")
    assert committed_runs(container) == 1


def test_an_in_memory_database_whose_connection_stays_in_its_thread_commits_in_place() -> None:
    engine = make_engine("sqlite://")
    sessions = session_factory(engine)
    try:
        with CommitBehind(sessions) as commits:
            with commits.transaction() as session:
                session.execute(text("CREATE TABLE batches (n INTEGER)"))
            for number in range(3):
                with commits.transaction() as session:
                    session.execute(text("INSERT INTO batches VALUES (:n)"), {"n": number})
        with sessions() as session:
            assert session.scalar(text("SELECT count(*) FROM batches")) == 3
    finally:
        engine.dispose()


def test_a_transaction_is_told_it_committed_once_its_commit_is_done_and_never_when_it_failed(
    container: Container,
) -> None:
    told: list[int] = []
    failing = commit_fails(container, which=2)
    with (
        pytest.raises(RuntimeError, match="the disk is full"),
        failing,
        CommitBehind(container.sessions) as commits,
    ):
        for number in range(1, 4):
            with commits.transaction(partial(told.append, number)) as session:
                start_run(session, "import", SOURCE, "")
    assert (told, committed_runs(container)) == ([1], 1)
