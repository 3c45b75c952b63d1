"""A Zoho sandbox org on loopback and a connector configured against it, for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from adapters.zoho.sandbox.config import SandboxConfig
from adapters.zoho.sandbox.server import SandboxServer
from adapters.zoho.sandbox.state import Sandbox
from connector.bootstrap import Container, build_container
from connector.db import unit_of_work
from connector.mapping.files import MappingSet, load_mapping_set
from connector.master.models import CustomerBinding
from connector.settings import (
    DatabaseSettings,
    MappingSettings,
    SecuritySettings,
    Settings,
    ZohoSettings,
)

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def connector_settings(server: SandboxServer, workdir: Path, database_url: str | None = None) -> Settings:
    return Settings(
        database=DatabaseSettings(url=SecretStr(database_url or f"sqlite:///{workdir / 'connector.db'}")),
        security=SecuritySettings(keys_file=workdir / "keys.json"),
        mappings=MappingSettings(dir=MAPPINGS),
        zoho=ZohoSettings(
            enabled=True,
            accounts_url=server.accounts_url,
            client_id=server.config.client_id,
            client_secret=SecretStr(server.config.client_secret),
            retry_attempts=12,
            retry_initial_wait_s=0.005,
            retry_max_wait_s=0.05,
        ),
    )


@dataclass
class Org:
    server: SandboxServer
    container: Container
    mappings: MappingSet

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    def bindings(self, source: str) -> dict[str, tuple[int, str]]:
        """external id → (customer id, status) of the bindings of `source`."""
        with unit_of_work(self.container.sessions) as session:
            rows = session.execute(
                select(
                    CustomerBinding.external_id, CustomerBinding.customer_id, CustomerBinding.status
                ).where(CustomerBinding.backend == source)
            ).all()
        return {external_id: (customer_id, status) for external_id, customer_id, status in rows}


def connect_to(server: SandboxServer, workdir: Path, database_url: str | None = None) -> Org:
    workdir.mkdir(parents=True, exist_ok=True)
    container = build_container(connector_settings(server, workdir, database_url), logging=False)
    container.credentials.save_refresh_token("zoho", server.config.refresh_token)
    mappings, problems = load_mapping_set(MAPPINGS)
    assert mappings is not None, problems
    return Org(server, container, mappings)


@contextmanager
def zoho_org(config: SandboxConfig, workdir: Path, database_url: str | None = None) -> Iterator[Org]:
    with SandboxServer(config) as server:
        org = connect_to(server, workdir, database_url)
        try:
            yield org
        finally:
            org.container.close()
