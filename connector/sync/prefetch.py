"""Read ahead: a source's pages are fetched in a thread while the caller maps and stores earlier ones."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """`items`, produced up to `depth` ahead in a worker thread; its errors are raised here, in order.

    Leaving the loop early stops the worker after the item it is producing.
    """
    for run in prefetched_runs(items, depth, limit=1):
        yield from run


def prefetched_runs(
    items: Iterable[T], depth: int, limit: int, size: Callable[[T], int] = lambda _: 1
) -> Iterator[list[T]]:
    """`items` read ahead as `prefetched` does, handed over in runs: each run is the next item and
    those already waiting behind it, up to `limit` in total `size`. A fast source gives long runs (one
    transaction for many pages), a slow one runs of one (each page stored as soon as it arrives)."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failed(exc))

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        pending: object | None = None
        while True:
            item = buffer.get() if pending is None else pending
            pending = None
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            run: list[T] = [item]  # type: ignore[list-item]
            total = size(run[0])
            while total < limit:
                try:
                    following = buffer.get_nowait()
                except queue.Empty:
                    break
                if following is _DONE or isinstance(following, _Failed):
                    pending = following  # the run so far first, then the end or the error
                    break
                run.append(following)  # type: ignore[arg-type]
                total += size(following)  # type: ignore[arg-type]
            yield run
    finally:
        stop.set()
        worker.join(timeout=30)
