"""What every bulk writer shares: the cyclic garbage collector paused while a batch is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
