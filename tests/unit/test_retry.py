from __future__ import annotations

import time

import httpx
import pytest

from connector.errors import PermanentRemoteError, StoppingError, TransientRemoteError
from connector.retry import STOPPING, RetryPolicy, retry_after_seconds, transport_errors_are_transient


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def policy(waits: list[float], attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, initial_wait=0.5, max_wait=8.0, sleep=waits.append)


def test_transient_failures_are_retried_until_the_call_succeeds() -> None:
    waits: list[float] = []
    flaky = Flaky([TransientRemoteError("503"), TransientRemoteError("429")])
    assert policy(waits).call(flaky) == "done"
    assert flaky.calls == 3
    assert len(waits) == 2
    assert all(0 <= wait <= 8.0 for wait in waits)


def test_a_permanent_failure_is_raised_at_once() -> None:
    waits: list[float] = []
    flaky = Flaky([PermanentRemoteError("INVALID_DATA")])
    with pytest.raises(PermanentRemoteError):
        policy(waits).call(flaky)
    assert (flaky.calls, waits) == (1, [])


def test_the_servers_retry_after_is_waited_as_asked_beyond_the_backoffs_cap() -> None:
    waits: list[float] = []
    flaky = Flaky([TransientRemoteError("429", retry_after=3), TransientRemoteError("429", retry_after=120)])
    policy(waits).call(flaky)
    assert waits == [3.0, 120.0]


def test_a_wait_asked_for_longer_than_the_policy_waits_stops_the_call_at_once() -> None:
    waits: list[float] = []
    flaky = Flaky([TransientRemoteError("429", retry_after=3), TransientRemoteError("429", retry_after=601)])
    with pytest.raises(TransientRemoteError):
        policy(waits).call(flaky)
    assert (flaky.calls, waits) == (2, [3.0])


def test_after_the_last_attempt_the_last_error_surfaces() -> None:
    waits: list[float] = []
    flaky = Flaky([TransientRemoteError(f"503 #{n}") for n in range(5)])
    with pytest.raises(TransientRemoteError, match="503 #2"):
        policy(waits, attempts=3).call(flaky)
    assert flaky.calls == 3


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("0.5", 0.5), ("Wed, 21 Oct 2026 07:28:00 GMT", None)]
)
def test_retry_after_is_read_in_seconds(header: str, seconds: float | None) -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": header})) == seconds


def test_timeouts_and_dropped_connections_are_transient() -> None:
    with (
        pytest.raises(TransientRemoteError, match="GET Contacts: timed out"),
        transport_errors_are_transient("GET Contacts"),
    ):
        raise httpx.ReadTimeout("slow")
    with pytest.raises(TransientRemoteError, match="connection failed"), transport_errors_are_transient("x"):
        raise httpx.ConnectError("refused")


def test_a_wait_between_retries_ends_at_once_when_the_process_stops() -> None:
    flaky = Flaky([TransientRemoteError("429", retry_after=600), TransientRemoteError("429")])
    STOPPING.set()
    try:
        started = time.monotonic()
        with pytest.raises(StoppingError, match="the process is stopping"):
            RetryPolicy(attempts=4).call(flaky)
        assert time.monotonic() - started < 5
    finally:
        STOPPING.clear()
    assert flaky.calls == 1
