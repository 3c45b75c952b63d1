"""The daemon's web app: Zoho's notification callbacks (`connector.web.notify`), `GET /health` (200
while the database answers), and the read-only `/status`, `/status.json` and `/metrics`
(`connector.web.status`)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.bootstrap import Container
from connector.db import reading
from connector.job_board import JobBoard
from connector.sync.status import container_snapshot
from connector.web.notify import notification_routes
from connector.web.outage import DatabaseWatch, failure_text
from connector.web.status import ANSWER_SECONDS, status_routes


def build_web_app(container: Container, board: JobBoard | None = None) -> Starlette:
    """The app; `board` is the daemon's jobs board, shown on the status views when given."""
    watch = DatabaseWatch()

    def database_answers() -> bool:
        try:
            with reading(container.sessions) as session:  # never waiting for a long import's lock
                session.execute(text("SELECT 1"))
        except Exception as exc:
            watch.failed("health", failure_text(exc), exc)
            return False
        watch.answered("health")
        return True

    async def health(request: Request) -> Response:
        try:
            answers = await asyncio.wait_for(run_in_threadpool(database_answers), ANSWER_SECONDS)
        except TimeoutError:
            watch.failed("health", f"no answer within {ANSWER_SECONDS} s")
            answers = False
        if answers:
            return JSONResponse({"status": "ok", "message": "healthy"})
        return JSONResponse({"status": "error", "message": "database unavailable"}, 503)

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            *notification_routes(container),
            *status_routes(lambda: container_snapshot(container), board, watch),
        ]
    )
