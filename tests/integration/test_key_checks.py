"""The check value of a data key id, recorded by the first process that starts with it, whichever."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import KeyStoreError
from connector.security.key_checks import check_data_keys, check_value
from connector.security.keys import KeyRing
from connector.security.models import IndexState


@pytest.fixture
def overlapping(container: Container) -> Container:
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN: the two never overlap")
    return container


def _started_together(container: Container, first: KeyRing, second: KeyRing) -> list[BaseException]:
    """Two processes starting with a key id no check value is recorded for yet: the second reads none
    while the first has recorded its own and not committed. What the second raised."""
    first_recorded, raised = threading.Event(), []

    def start_second() -> None:
        first_recorded.wait()
        try:
            with unit_of_work(container.sessions) as session:
                check_data_keys(session, second, "the ring of the second process")
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=start_second)
    worker.start()
    with unit_of_work(container.sessions) as session:
        check_data_keys(session, first, "the ring of the first process")
        first_recorded.set()
        time.sleep(0.5)  # the second finds no value recorded, and records its own behind this one
    worker.join(10)
    return raised


def test_processes_starting_together_with_a_new_key_all_start_and_its_check_value_is_recorded_once(
    overlapping: Container,
) -> None:
    ring = overlapping.keyring.rotated()  # added to the ring of replicas restarted together

    assert _started_together(overlapping, ring, ring) == []
    with unit_of_work(overlapping.sessions) as session:
        recorded = session.scalars(select(IndexState.value).where(IndexState.name.like("data key %"))).all()
    assert recorded.count(check_value(ring.keys[ring.active_id])) == 1


def test_a_process_starting_meanwhile_with_other_bytes_under_the_same_new_key_id_is_refused(
    overlapping: Container,
) -> None:
    ring = overlapping.keyring.rotated()
    other = replace(ring, keys={**ring.keys, ring.active_id: bytes(32)})  # a replica given another key

    raised = _started_together(overlapping, ring, other)

    assert [type(exc) for exc in raised] == [KeyStoreError]
    assert "of the ring of the second process is not the key" in str(raised[0])
