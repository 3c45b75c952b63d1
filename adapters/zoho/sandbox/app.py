"""The Starlette app: the accounts server under /oauth/v2 and the CRM API under /crm/v8.

`build_app(config)` returns the app; its `Sandbox` (records, tokens, faults, test helpers) is
`app.state.sandbox`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.zoho.sandbox import actions, oauth, records, settings
from adapters.zoho.sandbox.config import SandboxConfig
from adapters.zoho.sandbox.gateway import ScopeRule, api, fixed_scope, module_scope
from adapters.zoho.sandbox.responses import error
from adapters.zoho.sandbox.state import Sandbox

V8 = "/crm/v8"


def _upsert_scope(request: Request) -> tuple[str, ...]:
    return module_scope("CREATE")(request) + module_scope("UPDATE")(request)


def _search_scope(request: Request) -> tuple[str, ...]:
    return (*module_scope("READ")(request), "ZohoSearch.securesearch.READ")


def _watch(operation: str) -> ScopeRule:
    return fixed_scope(f"ZohoCRM.notifications.{operation}")


def routes() -> list[Route]:
    read, create = module_scope("READ"), module_scope("CREATE")
    update, delete = module_scope("UPDATE"), module_scope("DELETE")
    return [
        Route("/oauth/v2/token", oauth.token, methods=["POST"]),
        Route("/oauth/v2/token/revoke", oauth.revoke, methods=["POST"]),
        Route(f"{V8}/actions/watch", api(actions.subscribe, _watch("CREATE")), methods=["POST"]),
        Route(f"{V8}/actions/watch", api(actions.list_channels, _watch("READ")), methods=["GET"]),
        Route(f"{V8}/actions/watch", api(actions.subscribe, _watch("UPDATE")), methods=["PUT"]),
        Route(f"{V8}/actions/watch", api(actions.change_events, _watch("UPDATE")), methods=["PATCH"]),
        Route(f"{V8}/actions/watch", api(actions.unsubscribe, _watch("DELETE")), methods=["DELETE"]),
        Route(
            f"{V8}/settings/fields",
            api(settings.get_fields, fixed_scope("ZohoCRM.settings.fields.READ")),
            methods=["GET"],
        ),
        Route(
            f"{V8}/settings/fields",
            api(settings.create_fields, fixed_scope("ZohoCRM.settings.fields.CREATE")),
            methods=["POST"],
        ),
        Route(f"{V8}/users", api(settings.get_users, fixed_scope("ZohoCRM.users.READ")), methods=["GET"]),
        Route(
            f"{V8}/users/{{user_id}}",
            api(settings.get_user, fixed_scope("ZohoCRM.users.READ")),
            methods=["GET"],
        ),
        Route(f"{V8}/org", api(settings.get_org, fixed_scope("ZohoCRM.org.READ")), methods=["GET"]),
        Route(f"{V8}/{{module}}/deleted", api(records.deleted_records, read), methods=["GET"]),
        Route(f"{V8}/{{module}}/search", api(records.search_records, _search_scope), methods=["GET"]),
        Route(f"{V8}/{{module}}/upsert", api(records.upsert_records, _upsert_scope), methods=["POST"]),
        Route(f"{V8}/{{module}}", api(records.list_records, read), methods=["GET"]),
        Route(f"{V8}/{{module}}", api(records.insert_records, create), methods=["POST"]),
        Route(f"{V8}/{{module}}", api(records.update_records, update), methods=["PUT"]),
        Route(f"{V8}/{{module}}", api(records.delete_records, delete), methods=["DELETE"]),
        Route(f"{V8}/{{module}}/{{record_id}}", api(records.get_record, read), methods=["GET"]),
        Route(f"{V8}/{{module}}/{{record_id}}", api(records.update_records, update), methods=["PUT"]),
        Route(f"{V8}/{{module}}/{{record_id}}", api(records.delete_records, delete), methods=["DELETE"]),
    ]


async def _not_found(request: Request, exc: Exception) -> Response:
    return error(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")


async def _bad_method(request: Request, exc: Exception) -> Response:
    return error(400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one")


def build_app(config: SandboxConfig) -> Starlette:
    """A fresh sandbox org behind a Starlette app (`app.state.sandbox` is its state and test helper)."""
    app = Starlette(routes=routes(), exception_handlers={404: _not_found, 405: _bad_method})
    app.state.sandbox = Sandbox(config)
    return app
