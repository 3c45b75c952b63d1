"""What the benchmarks share: peak memory, a measurement in its own process, a throw-away PostgreSQL
schema. Run each benchmark as a module from the repository root: `.venv/bin/python -m bench.NAME`."""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

T = TypeVar("T")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def in_subprocess(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` in a freshly spawned process, so that its peak RSS is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def reset_pg_schema(url: str, schema: str, *, create: bool) -> None:
    """Drop `schema` with everything in it, and create it empty again when `create`."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        if create:
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
