"""The daemon's read-only views for ops: `GET /status` (an HTML page), `GET /status.json` and
`GET /metrics` (Prometheus text format). All three show the database's snapshot
(`connector.sync.status`) and, for the daemon, its jobs' board; counts and times only, no personal data.

When the database does not answer, `/metrics` still answers, with `connector_database_up 0` and the
jobs' figures, so that an alert can fire on it; the status pages answer 503.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connector.imports.models import ITEM_STATUSES
from connector.job_board import OUTCOMES, JobBoard, JobRecord
from connector.sync.status import Snapshot
from connector.web.outage import DatabaseWatch, failure_text

REFRESH_SECONDS = 30
ANSWER_SECONDS = 5.0  # Prometheus gives a scrape 10 s by default


def status_routes(
    snapshot: Callable[[], Snapshot], board: JobBoard | None, watch: DatabaseWatch | None = None
) -> list[BaseRoute]:
    """The three views; `snapshot` reads the database (in a worker thread), `board` is the daemon's,
    `watch` logs the database's outages (the app's, shared with /health)."""
    watch = watch or DatabaseWatch()

    async def read() -> Snapshot | None:
        try:  # within a scrape's time: a database that does not answer soon is down for the views
            taken = await asyncio.wait_for(run_in_threadpool(snapshot), ANSWER_SECONDS)
        except TimeoutError:
            watch.failed("status", f"no answer within {ANSWER_SECONDS} s")
            return None
        except Exception as exc:
            watch.failed("status", failure_text(exc), exc)
            return None
        watch.answered("status")
        return taken

    async def page(request: Request) -> Response:
        taken = await read()
        if taken is None:
            return HTMLResponse(_page("<p>The database does not answer.</p>"), status_code=503)
        return HTMLResponse(_page(render(taken, board.jobs() if board else [])))

    async def as_json(request: Request) -> Response:
        taken = await read()
        if taken is None:
            return JSONResponse({"error": "the database does not answer"}, status_code=503)
        jobs = [job.as_json() for job in board.jobs()] if board else []
        return JSONResponse({**taken.as_json(), "jobs": jobs})

    async def metrics(request: Request) -> Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Figures(await read(), board.jobs() if board else []))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/status", page, methods=["GET"]),
        Route("/status.json", as_json, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


# --- /metrics -------------------------------------------------------------------------------------


class _Figures(Collector):
    def __init__(self, taken: Snapshot | None, jobs: list[JobRecord]) -> None:
        self.taken = taken
        self.jobs = jobs

    def collect(self) -> Iterable[Metric]:
        yield from _job_metrics(self.jobs)
        up = GaugeMetricFamily("connector_database_up", "1 when the database answered this scrape")
        up.add_metric([], 0 if self.taken is None else 1)
        yield up
        if self.taken is not None:
            yield from _snapshot_metrics(self.taken)


def _job_metrics(jobs: list[JobRecord]) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "connector_job_runs", "Scheduled job runs in this process, by outcome", labels=["job", "outcome"]
    )
    success = GaugeMetricFamily(
        "connector_job_last_success_timestamp_seconds", "When each job last ran through", labels=["job"]
    )
    seconds = GaugeMetricFamily(
        "connector_job_last_duration_seconds", "How long its last run took", labels=["job"]
    )
    for job in jobs:
        for outcome in OUTCOMES:
            runs.add_metric([job.name, outcome], job.runs[outcome])
        if job.last_success_at is not None:
            success.add_metric([job.name], job.last_success_at.timestamp())
        if job.last_seconds is not None:
            seconds.add_metric([job.name], job.last_seconds)
    yield from (runs, success, seconds)


def _snapshot_metrics(taken: Snapshot) -> Iterator[Metric]:
    last_success = GaugeMetricFamily(
        "connector_sync_last_success_timestamp_seconds",
        "When a run of each job over each source last succeeded (every replica)",
        labels=["job", "source"],
    )
    failed = GaugeMetricFamily(
        "connector_sync_last_run_failed",
        "1 when the latest run of a job over a source failed",
        labels=["job", "source"],
    )
    for run in taken.runs:
        failed.add_metric([run.job, run.source], 1 if run.status == "failed" else 0)
        if run.last_success_at is not None:
            last_success.add_metric([run.job, run.source], run.last_success_at.timestamp())
    quarantined = GaugeMetricFamily(
        "connector_quarantine_open_records", "Records kept in quarantine, waiting", labels=["source"]
    )
    for source, count in taken.quarantine_open.items():
        quarantined.add_metric([source], count)
    queue = GaugeMetricFamily(
        "connector_reconciliation_items", "Receipts in the reconciliation queue, by status", labels=["status"]
    )
    for status in ITEM_STATUSES:
        queue.add_metric([status], taken.reconciliation.get(status, 0))
    outbox = GaugeMetricFamily(
        "connector_outbox_items", "Outbox items by target and status", labels=["target", "status"]
    )
    for (target, status), count in taken.outbox.items():
        outbox.add_metric([target, status], count)
    expiry = GaugeMetricFamily(
        "connector_notification_channel_expiry_timestamp_seconds",
        "When each notification channel expires unless renewed",
        labels=["backend", "module"],
    )
    for channel in taken.channels:
        expiry.add_metric([channel.backend, channel.module], channel.expires_at.timestamp())
    pending = GaugeMetricFamily(
        "connector_notifications_pending", "Notifications received, not yet processed"
    )
    pending.add_metric([], taken.notifications_pending)
    failed_files = GaugeMetricFamily(
        "connector_inbox_failed_files", "Files the import could not read, waiting in failed/"
    )
    failed_files.add_metric([], len(taken.failed_files))
    inbox_waiting = GaugeMetricFamily(
        "connector_inbox_waiting_files",
        "Files in the inbox not imported yet, those taken and left in processing/ among them",
    )
    inbox_waiting.add_metric([], taken.inbox_waiting + len(taken.processing_files))
    recordless = GaugeMetricFamily(
        "connector_customers_recordless_holding_money",
        "Customers holding money whose records were all deleted at their source",
    )
    recordless.add_metric([], taken.recordless_holding_money)
    remaining = GaugeMetricFamily(
        "connector_api_credits_remaining", "API credits left of the daily budget", labels=["provider"]
    )
    budget = GaugeMetricFamily(
        "connector_api_credits_budget", "The daily API credit budget", labels=["provider"]
    )
    for credit in taken.credits:
        remaining.add_metric([credit.provider], credit.remaining)
        budget.add_metric([credit.provider], credit.budget)
    yield from (
        last_success,
        failed,
        quarantined,
        queue,
        outbox,
        expiry,
        pending,
        failed_files,
        inbox_waiting,
        recordless,
        remaining,
        budget,
    )


# --- /status --------------------------------------------------------------------------------------


def render(taken: Snapshot, jobs: list[JobRecord]) -> str:
    """The page's body: every value escaped."""
    parts = [f"<p>As of {_when(taken.taken_at)}. Refreshes every {REFRESH_SECONDS} s.</p>"]
    if jobs:
        parts.append(
            _table(
                "Scheduled jobs (this process)",
                ("job", "every", "last run", "outcome", "took", "what it did", "last success", "next run"),
                (
                    (
                        job.name,
                        str(job.every),
                        _when(job.last_started_at),
                        job.last_outcome or "not yet run",
                        "" if job.last_seconds is None else f"{job.last_seconds:.1f} s",
                        job.last_message,
                        _when(job.last_success_at),
                        _when(job.next_run_at),
                    )
                    for job in jobs
                ),
            )
        )
    parts.append(
        _table(
            "Latest run of each job and source (every replica)",
            ("job", "source", "status", "started", "finished", "counts", "error", "last success"),
            (
                (
                    run.job,
                    run.source,
                    run.status,
                    _when(run.started_at),
                    "unknown" if run.end_unknown else _when(run.finished_at),
                    ", ".join(f"{k} {v:,}" for k, v in run.counts.items() if v),
                    run.error or "",
                    _when(run.last_success_at),
                )
                for run in taken.runs
            ),
        )
    )
    waiting = [(f"quarantine: {source}", f"{count:,}") for source, count in taken.quarantine_open.items()]
    waiting.append(("reconciliation queue: open receipts", f"{taken.reconciliation.get('open', 0):,}"))
    waiting.append(("notifications not yet processed", f"{taken.notifications_pending:,}"))
    waiting += [(f"unreadable file in failed/: {name}", "1") for name in taken.failed_files]
    waiting.append(("files in the inbox not taken yet", f"{taken.inbox_waiting:,}"))
    waiting.append(
        (
            "customers holding money, their records all deleted at the source",
            f"{taken.recordless_holding_money:,}",
        )
    )
    waiting += [
        (f"taken from the inbox, not imported to the end yet: processing/{name}", "1")
        for name in taken.processing_files
    ]
    waiting += [
        (f"symbolic link in the inbox, not followed (move the file itself in): {name}", "1")
        for name in taken.symbolic_links
    ]
    parts.append(_table("Waiting", ("what", "how many"), waiting))
    parts.append(
        _table(
            "Outbox",
            ("target", "status", "items"),
            ((target, status, f"{count:,}") for (target, status), count in taken.outbox.items()),
        )
    )
    parts.append(
        _table(
            "Notification channels",
            ("backend", "module", "expires"),
            ((c.backend, c.module, _when(c.expires_at)) for c in taken.channels),
        )
    )
    parts.append(
        _table(
            "API credits",
            ("provider", "remaining", "daily budget"),
            ((c.provider, f"{c.remaining:,}", f"{c.budget:,}") for c in taken.credits),
        )
    )
    return "\n".join(parts)


def _page(body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv=refresh content="{REFRESH_SECONDS}"><title>connector status</title>'
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}</style>"
        f"</head><body><h1>connector status</h1>\n{body}\n</body></html>"
    )


def _table(title: str, header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    cells = ["".join(f"<td>{html.escape(cell)}</td>" for cell in row) for row in rows]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join(f"<tr>{row}</tr>" for row in cells) or f'<tr><td colspan="{len(header)}">none</td></tr>'
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")
