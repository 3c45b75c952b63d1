"""`connector run`: the daemon. A scheduler runs the sync jobs on their intervals while the web app
serves Zoho's notification callbacks, `/health`, the read-only `/status` page and `/metrics`, until
SIGTERM or Ctrl-C; a job running then finishes first.

The jobs are the CLI's commands, unattended: the Zoho pull then push, the processing of stored
notifications, the renewal of notification channels before they expire, and a pass over the import
inbox. Each runs in one process at a time across replicas sharing the database (a lease: a replica
whose turn it is not, or that finds another running it, skips the run, saying so at DEBUG unless the
holder is a dead process or has held it for `HELD_INTERVALS` intervals; the inbox's turn is its
folder's), never overlaps itself, and runs again on its interval whatever became of the last run. A
run's outcome is logged, at DEBUG when it found nothing to do (thousands of such runs a day would drown
the others); a failed run is logged with its error and tried again next time (the work itself is safe
to repeat: cursors, outbox and imports are idempotent).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from sqlalchemy.exc import OperationalError

from connector import retry
from connector.bootstrap import Container
from connector.db import database_error_text, unit_of_work
from connector.errors import ConnectorError, LeaseHeldError, LeaseLostError
from connector.imports.inbox import inbox_lease, process_inbox
from connector.job_board import DONE, FAILED, HELD, JobBoard
from connector.mapping.files import MappingSet
from connector.sync.channels import renew_channels
from connector.sync.leases import (
    LEASE_SECONDS,
    give_back_turn,
    give_back_turns,
    lease,
    take_turn,
    turn_holder,
)
from connector.sync.notifications import process_notifications
from connector.sync.pull import pull_stream
from connector.sync.push import push_target
from connector.sync.runs import close_abandoned_runs, failure_of
from connector.web.app import build_web_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[], str]  # does the work; what it did, in words (`NothingDone`: nothing; `Failed`)
    # What replicas take turns at, when not the job itself: the inbox's folder (a replica with a folder
    # of its own runs its own pass; replicas sharing one, by whatever path, take turns). Asked at each
    # run: the folder may be made, or mounted, after the daemon started.
    shared: Callable[[], str] | None = None

    def turns_at(self) -> str:
        return self.name if self.shared is None else self.shared()


def scheduled_jobs(container: Container) -> list[Job]:
    """The jobs the settings ask for (an interval of 0 switches one off; Zoho's need `zoho.enabled`)."""
    every = container.settings.daemon
    zoho = container.settings.zoho
    folder = container.settings.imports.inbox

    def inbox() -> str:
        folder.mkdir(parents=True, exist_ok=True)  # as the pass makes it: its id is kept in it
        return inbox_lease(folder)

    wanted: list[tuple[str, float, Callable[[], str], bool]] = [
        ("zoho pull", every.pull_minutes * 60, _spending_told(container, _zoho_pull), zoho.enabled),
        ("zoho push", every.push_minutes * 60, _spending_told(container, _zoho_push), zoho.enabled),
        (
            "zoho notifications",
            every.notifications_seconds,
            _spending_told(container, _notifications),
            zoho.enabled,
        ),
        (
            "zoho channels",
            every.renew_minutes * 60,
            _spending_told(container, _renew),
            zoho.enabled and zoho.callback_url is not None,
        ),
        ("inbox", every.inbox_seconds, lambda: _inbox(container), True),
    ]
    return [
        Job(name, timedelta(seconds=s), run, inbox if name == "inbox" else None)
        for name, s, run, enabled in wanted
        if enabled and s > 0
    ]


class NothingDone(str):
    """What a run that found nothing to do says (no file in the inbox, no change in the CRM, nothing to
    push): logged at DEBUG, where a run that did something, or was held or stopped, is logged at INFO."""


class Failed(str):
    """What a run that went through but failed at part of its work says (files an inbox pass could not
    take, import or move out): recorded as failed, its last success left as it was, so an alert fires;
    logged at WARNING (what failed was logged as it failed)."""


class _NotItsTurn(Exception):
    """Another replica took this interval's turn at the job (the message says which)."""


# A job found running elsewhere at each try for this many of its intervals is told of at INFO: its
# holder may be stuck (a hung process renewing its lease). Before that, another replica's run is routine
# (replicas on aligned schedules meet at every interval), told of at DEBUG.
HELD_INTERVALS = 3
_held_since: dict[str, datetime] = {}  # by job: when it was first found running elsewhere, in a row
_held_lock = threading.Lock()  # the scheduler runs jobs from its threads


def _held_streak(name: str, now: datetime, held: bool) -> datetime:
    """Since when the job `name` has been found running elsewhere at each try (`now` if not `held`)."""
    with _held_lock:
        if not held:
            _held_since.pop(name, None)
            return now
        return _held_since.setdefault(name, now)


# A replica's turn at a job lasts this share of its interval: replicas whose schedules drift apart still
# run it once per interval between them, and a replica gone leaves the next turn to another.
TURN_SHARE = 0.9


def run_job(
    container: Container,
    job: Job,
    again_soon: Callable[[], None] | None = None,
    board: JobBoard | None = None,
) -> None:
    """One run of `job`, unless another process runs it now (then `again_soon`: a holder that died holds
    its lease until it expires, not for a whole interval); never raises (the scheduler goes on). What
    became of it goes to the log and to `board`."""
    started = datetime.now(UTC)
    holder = turn_holder()
    held_since: datetime | None = None  # found running elsewhere: since when, at each try
    try:
        container.refresh_keys()  # a key rotated meanwhile seals what this run writes
        with unit_of_work(container.sessions) as session:  # a crashed replica's, its lease lapsed since
            close_abandoned_runs(session, starting=False)
        turns_at = job.turns_at()
        turn = f"turn {turns_at}"  # names too long for a lease are `fitted`
        with lease(container.sessions, f"scheduled {turns_at}", wait=False):
            taken = take_turn(container.sessions, turn, job.every.total_seconds() * TURN_SHARE, holder)
            if taken is not None:
                raise _NotItsTurn(taken)
            try:
                done = job.run()
            except Exception:  # it did not do the job (its work runs elsewhere: a person's `zoho pull`;
                give_back_turn(container.sessions, turn, holder)  # or it failed): the next run may
                raise
    except _NotItsTurn as exc:  # another replica ran it within this interval (and logged what it did)
        log.debug("%s: not run now, run by %s within its interval", job.name, exc)
        outcome, message = HELD, f"run by {exc} within its interval"
    except LeaseHeldError as exc:
        held_since = _held_streak(job.name, started, held=True)
        stuck = started - held_since >= job.every * HELD_INTERVALS
        # Told at INFO when a person may have to act: its holder dead here, held for long, or taken over.
        telling = exc.holder_gone or stuck or isinstance(exc, LeaseLostError)
        said = f"{exc} (found so at each try since {held_since:%H:%M:%S} UTC)" if stuck else str(exc)
        log.log(logging.INFO if telling else logging.DEBUG, "%s: not run now, %s", job.name, said)
        outcome, message = HELD, str(exc)
        if again_soon is not None:
            again_soon()
    except OperationalError as exc:  # the database is out: what it said, not a traceback every run
        log.error(
            "%s failed: the database cannot be used: %s; it runs again in %s",
            job.name,
            database_error_text(exc),
            job.every,
        )
        log.debug("%s: the database's error", job.name, exc_info=exc)
        outcome, message = FAILED, failure_of(exc)
    except Exception as exc:
        log.exception("%s failed; it runs again in %s", job.name, job.every)
        outcome, message = FAILED, failure_of(exc)
    else:
        level = logging.WARNING if isinstance(done, Failed) else logging.INFO
        log.log(logging.DEBUG if isinstance(done, NothingDone) else level, "%s: %s", job.name, done)
        outcome, message = FAILED if isinstance(done, Failed) else DONE, done
    if held_since is None:  # it ran, here or elsewhere, or failed: a streak of finding it held is over
        _held_streak(job.name, started, held=False)
    if board is not None:
        board.record(job.name, outcome, started, datetime.now(UTC), message)


def start_scheduler(
    container: Container, jobs: list[Job], board: JobBoard | None = None
) -> BackgroundScheduler:
    """The jobs on their intervals, each first run now; a run that falls due while the last one is
    still going is skipped, and missed runs are not made up. `board` is told each run's outcome and
    asks the scheduler when each job runs next."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in jobs:
        scheduler.add_job(
            run_job,
            "interval",
            args=(container, job, _again_soon(scheduler, container, job, board), board),
            seconds=job.every.total_seconds(),
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    scheduler.start()
    if board is not None:
        board.next_run = lambda name: _next_run(scheduler, name)
    return scheduler


def _next_run(scheduler: BackgroundScheduler, name: str) -> datetime | None:
    job = scheduler.get_job(name)
    return None if job is None else job.next_run_time


def _again_soon(
    scheduler: BackgroundScheduler, container: Container, job: Job, board: JobBoard | None
) -> Callable[[], None] | None:
    """For a job whose interval is longer than a lease: one more try once a dead holder's lease is over."""
    if job.every <= timedelta(seconds=LEASE_SECONDS * 2):
        return None

    def again() -> None:
        scheduler.add_job(
            run_job,
            "date",
            args=(container, job, None, board),
            run_date=datetime.now(UTC) + timedelta(seconds=LEASE_SECONDS + 5),
            id=f"{job.name} (again)",
            name=f"{job.name} (again)",
            replace_existing=True,
        )

    return again


def run_daemon(container: Container, *, host: str, port: int) -> None:
    """The scheduler and the web app until SIGINT or SIGTERM: then the web app stops taking requests
    and the jobs running finish before this returns."""
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def stopping(*_: object) -> None:  # a second signal is not caught: it ends the process at once
        stop.set()
        _restore(previous)

    # The keys first: a key file that cannot be used (unreadable by the service, readable by others,
    # damaged) stops the daemon at start, naming the fix, instead of serving requests it must refuse.
    container.keyring  # noqa: B018 - loaded (and checked) here, not at the first callback
    previous.update({sig: signal.signal(sig, stopping) for sig in (signal.SIGINT, signal.SIGTERM)})
    jobs = scheduled_jobs(container)
    board = JobBoard([(job.name, job.every) for job in jobs])
    log.info("daemon starting: %s", ", ".join(f"{j.name} every {j.every}" for j in jobs) or "no jobs")
    # Served from a thread of its own, uvicorn leaves the signals to this one (it would re-raise them).
    server = uvicorn.Server(
        uvicorn.Config(build_web_app(container, board), host=host, port=port, log_config=None)
    )
    web = threading.Thread(target=server.run, name="web", daemon=True)
    web.start()
    while not server.started and not stop.is_set():  # the jobs start once callbacks can be received
        if not web.is_alive():
            _restore(previous)
            raise ConnectorError(f"the web app cannot listen on {host}:{port} (in use, or not this host's?)")
        time.sleep(0.05)
    if stop.is_set():  # told to stop before it started: no job runs
        server.should_exit = True
        web.join(timeout=30)
        _restore(previous)
        return
    scheduler = start_scheduler(container, jobs, board)
    try:
        while not stop.wait(0.5):
            if not web.is_alive():
                raise ConnectorError(f"the web app on {host}:{port} stopped")
    finally:
        log.info("daemon stopping: waiting for running jobs")
        server.should_exit = True
        retry.STOPPING.set()  # a job waiting to retry a call, or for a read's answer, gives up now (the
        # next run resumes)
        try:
            scheduler.shutdown(wait=True)
        finally:
            retry.STOPPING.clear()
        try:  # the next start runs each job at once, as a first start does
            give_back_turns(container.sessions)
        except Exception:  # the database gone too: the turns lapse on their own
            log.warning("the daemon's turns at its jobs could not be given back; they lapse on their own")
        web.join(timeout=30)
        _restore(previous)
        log.info("daemon stopped")


def _restore(handlers: Mapping[signal.Signals, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


# --- the jobs --------------------------------------------------------------------------------------


def _spending_told(container: Container, job: Callable[[Container], str]) -> Callable[[], str]:
    """`job` on the container, its Zoho API credits written to the shared log when it ends: the other
    replicas, `connector status` and the budget see them at once, not after the meter's next hundred
    calls (or never, should this process be killed)."""

    def run() -> str:
        try:
            return job(container)
        finally:
            container.zoho.meter.flush()

    return run


def _modules(container: Container, mappings: MappingSet, kind: str) -> Iterator[str]:
    for module in container.settings.zoho.modules:
        if mappings.for_source(f"zoho.{module}", kind) is not None:
            yield module


def _zoho_pull(container: Container) -> str:
    def pull(mappings: MappingSet, module: str) -> tuple[str, str | None]:
        zoho = container.zoho  # its credits written with each transaction: a kill loses few
        result = pull_stream(
            container, zoho.records, mappings, "zoho", module, wait=False, spending=zoho.meter
        )
        return _said(f"{result.source} {_counts(result.counts)}", result.counts), result.stopped

    return _each_module(container, "inbound", pull)


def _zoho_push(container: Container) -> str:
    def push(mappings: MappingSet, module: str) -> tuple[str, str | None]:
        outcome = push_target(container, container.zoho.sink, mappings, f"zoho.{module}", wait=False)
        counts = outcome.counts  # records found unchanged are nothing to push
        return _said(f"zoho.{module} {_counts(counts)}", counts, quiet=("unchanged",)), outcome.stopped

    return _each_module(container, "outbound", push)


def _each_module(
    container: Container, kind: str, run: Callable[[MappingSet, str], tuple[str, str | None]]
) -> str:
    """`run` for each module with a `kind` mapping, in turn, until one stops (the API budget spent).
    Configured modules no mapping serves at all are named each run: a misspelt or wrongly cased name
    would otherwise never sync, with nothing said."""
    mappings = container.mappings_in_force()
    unmapped = [m for m in container.settings.zoho.modules if mappings.unmapped("zoho", m)]
    if unmapped:
        named = ", ".join(f"{m} ({mappings.module_hint('zoho', m)})" for m in unmapped)
        log.warning("zoho.modules with no inbound or outbound mapping, never synced: %s", named)
    done = []
    for module in _modules(container, mappings, kind):
        said, stopped = run(mappings, module)
        done.append(said)
        if stopped:
            return "; ".join([*done, f"stopped: {stopped}"])
    said = "; ".join(done) or f"no module with an {kind} mapping"
    return NothingDone(said) if all(isinstance(one, NothingDone) for one in done) else said


def _notifications(container: Container) -> str:
    result = process_notifications(container)
    said = f"{_counts(result.outcomes)}; records {_counts(result.applied)}"
    if result.stopped:
        return f"{said}; stopped: {result.stopped}"
    return _said(said, result.outcomes + result.applied)


def _renew(container: Container) -> str:
    renewed = renew_channels(container)
    failed = [view for view in renewed if view.error is not None]
    for view in failed:
        log.warning("channel %s (%s) not renewed: %s", view.channel_id, view.module, view.error)
    said = f"{len(renewed) - len(failed)} channel(s) renewed, {len(failed)} not"
    return said if renewed else NothingDone(said)


def _inbox(container: Container) -> str:
    inbox = container.settings.imports.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    settle = container.settings.imports.inbox_settle_seconds
    passed = process_inbox(container, container.document_parsers(), inbox, settle_seconds=settle)
    for done in passed:
        result = done.result
        level = logging.WARNING if result.status == "failed" else logging.INFO
        said = result.reason or _counts(result.counts)
        log.log(level, "inbox: %s %s: %s", result.name, result.status, said)
    if not passed:
        return NothingDone("0 file(s)")
    failed = [done for done in passed if done.result.status in ("failed", "stopped")]
    set_aside = sum(1 for done in failed if done.moved_to is not None)
    stayed = len(failed) - set_aside  # not the file's fault (a stop, the database): the next pass's
    gone = sum(1 for done in passed if done.gone)
    said = (
        f"{len(passed)} file(s)"
        + (f", {set_aside} unreadable (set aside in failed/)" if set_aside else "")
        + (f", {stayed} left in the inbox for the next pass" if stayed else "")
        + (f", {gone} gone before this pass could archive them (taken by another pass)" if gone else "")
    )
    stuck = [done for done in passed if done.stuck is not None]
    if not stuck:
        return said
    first = stuck[0]
    return Failed(f"{said}; {len(stuck)} stuck, first {first.result.name}: {first.stuck}")


def _said(said: str, counts: Mapping[str, int], quiet: Collection[str] = ()) -> str:
    """`said`, a `NothingDone` when `counts` count nothing but `quiet` ones."""
    if any(value for key, value in counts.items() if key not in quiet):
        return said
    return NothingDone(said)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in sorted(counts.items()) if value) or "nothing to do"
