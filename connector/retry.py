"""The one retry policy: transient remote failures are retried with capped, jittered exponential backoff.

Only `TransientRemoteError` is retried (adapters turn 429, 5xx, timeouts and dropped connections into
it); everything else surfaces at once. A server's own `Retry-After` (or the wait a local limit sets, such
as the access-token window) is honoured as asked, up to `max_told_wait`: coming back sooner only meets the
same refusal. Asked to wait longer, the call stops at once with its error (the next cycle resumes). Each
retry is logged with the error and the wait, never with request data.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from connector.errors import StoppingError, TransientRemoteError

T = TypeVar("T")
log = logging.getLogger(__name__)

# Set while the process stops (the daemon on SIGTERM): a wait between retries ends at once and the call
# gives up, so that stopping never waits out a server's Retry-After; so does a call `unless_stopping` waits
# for, never waiting out a slow server's answer.
STOPPING = threading.Event()
STOP_POLL_SECONDS = 0.1  # how soon a call waited for by `unless_stopping` gives way to a stop


def wait_or_stop(seconds: float) -> None:
    """Sleep `seconds` between two attempts, unless the process is stopping (`StoppingError`)."""
    if STOPPING.wait(seconds):
        raise StoppingError("the process is stopping: the call is left for the next run")


def stop_point(what: str) -> None:
    """Between two transactions of a long job: `StoppingError` (saying `what` stopped and that the rest
    is the next run's) when the process is stopping; what was committed stays."""
    if STOPPING.is_set():
        raise StoppingError(f"{what} stopped part-way, the process is stopping; taken up again")


def unless_stopping(call: Callable[[], T], what: str) -> T:
    """`call` (one request whose answer may go unheard: a read, an idempotent write) in a thread of its
    own, waited for until it ends or the process is told to stop: then `StoppingError` at once, the
    request left to end on its own and its answer dropped (a stop never waits out a slow server's
    timeout; the next run repeats the request). Its errors are raised here."""
    done = threading.Event()
    ended: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            ended.append(call())
        except BaseException as exc:  # raised in the caller's thread
            failed.append(exc)
        finally:
            done.set()

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(run,), name=f"call: {what}", daemon=True).start()
    while not done.wait(STOP_POLL_SECONDS):
        if STOPPING.is_set():
            raise StoppingError(f"{what}: answer not waited for, the process is stopping; taken up again")
    if failed:
        raise failed[0]
    return ended[0]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # calls in all, the first included
    initial_wait: float = 0.5  # seconds; doubles per attempt, with full jitter
    max_wait: float = 30.0  # of the computed backoff
    max_told_wait: float = 600.0  # of a wait the server (or a local limit) asks for
    sleep: Callable[[float], None] = field(default=wait_or_stop, repr=False, compare=False)

    def _wait(self, state: RetryCallState) -> float:
        told = _told_wait(state)
        if told is not None:
            return told
        return float(wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait)(state))

    def _log(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("attempt %d failed (%s); retrying in %.2f s", state.attempt_number, error, wait)

    def call(self, operation: Callable[[], T]) -> T:
        """Run `operation`, retrying it on `TransientRemoteError`; the last error is raised as is."""
        retrying = Retrying(
            retry=retry_if_exception_type(TransientRemoteError),
            stop=stop_after_attempt(self.attempts) | _ToldToWaitLonger(self.max_told_wait),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=self._log,
            reraise=True,
        )
        return retrying(operation)


def _told_wait(state: RetryCallState) -> float | None:
    """The wait the last failure asked for (a server's Retry-After, a local limit), if it asked."""
    error = state.outcome.exception() if state.outcome else None
    hint = getattr(error, "retry_after", None)
    return float(hint) if isinstance(hint, int | float) and hint >= 0 else None


class _ToldToWaitLonger(stop_base):
    """Stop when the failure asks for a longer wait than `limit` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        told = _told_wait(retry_state)
        return told is not None and told > self.limit


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (the delta form; an HTTP date is read as 'soon' and left to backoff)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@contextmanager
def transport_errors_are_transient(what: str) -> Iterator[None]:
    """Timeouts and dropped connections become `TransientRemoteError` naming the call."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientRemoteError(f"{what}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise TransientRemoteError(f"{what}: connection failed ({type(exc).__name__})") from None
