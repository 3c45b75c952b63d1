"""Settings: a TOML file plus `CONNECTOR_*` environment variables plus a secrets directory.

Priority (highest first): environment (`CONNECTOR_DATABASE__URL`), secret files (`database__url`
in the secrets directory), the TOML file (`--config FILE` or `CONNECTOR_CONFIG`). Unknown keys are
errors. Secrets are `SecretStr` and never printed.
"""

from __future__ import annotations

import difflib
import os
import string
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connector.credit.rules import CreditSettings
from connector.documents import compact_account
from connector.errors import ConfigError
from connector.money import currency_code

ENV_PREFIX = "CONNECTOR_"
CONFIG_ENV = "CONNECTOR_CONFIG"
SECRETS_DIR_ENV = "CONNECTOR_SECRETS_DIR"
DEFAULT_DATABASE_URL = "sqlite:///connector.db"
ACCOUNT_NUMBER_FIELDS = frozenset({"type", "region", "seq"})


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SECRET_URL_PARAMETERS = ("password", "sslpassword")  # libpq's, as `?password=…` in a URL


class DatabaseSettings(Section):
    url: SecretStr = Field(
        default=SecretStr(DEFAULT_DATABASE_URL),
        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user:pw@host/db",
    )
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        try:
            url = make_url(raw)
        except ArgumentError:
            raise ValueError("not a database URL; e.g. sqlite:///connector.db") from None
        if url.host is not None and "@" in url.host:  # never echoed: part of a password is in it
            raise ValueError("an '@' in the user or password must be written %40")
        if url.get_backend_name() == "postgresql":
            if url.drivername == "postgresql":
                return SecretStr(
                    url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
                )
            if url.drivername != "postgresql+psycopg":
                raise ValueError("use postgresql+psycopg:// (psycopg 3 is the installed driver)")
            return value
        if url.get_backend_name() != "sqlite":
            raise ValueError(f"unsupported database {url.get_backend_name()!r}; use sqlite or postgresql")
        return value

    def display_url(self) -> str:
        """The URL with any password hidden (after the user, or as a query parameter libpq takes), safe
        for logs and status output."""
        url = make_url(self.url.get_secret_value())
        hidden = {key: "***" for key in SECRET_URL_PARAMETERS if key in url.query}
        shown = url.update_query_dict(hidden).render_as_string(hide_password=True)
        return shown.replace("%2A%2A%2A", "***")

    def secrets(self) -> list[str]:
        """The URL's passwords, for log redaction."""
        url = make_url(self.url.get_secret_value())
        found = [str(url.password)] if url.password else []
        for key in SECRET_URL_PARAMETERS:
            value = url.query.get(key)
            found += [value] if isinstance(value, str) else list(value or ())
        return [value for value in found if value]


class ChartAccount(Section):
    code: str = Field(pattern=r"^[0-9A-Za-z.\-]{1,20}$")
    name: str


class BankAccount(ChartAccount):
    """A bank account with a ledger account of its own (a sub-account of bank deposits, 银行存款-工行基本户):
    receipts into it post there, and its statements reconcile against it alone."""

    # How statements and exports name it: the IBAN or account number a statement gives, the name or
    # number an export gives as a payment's deposit account. Compared without spaces, in upper case.
    numbers: list[str] = Field(min_length=1)

    @field_validator("numbers")
    @classmethod
    def _numbers_given(cls, numbers: list[str]) -> list[str]:
        if any(not compact_account(number) for number in numbers):
            raise ValueError("an empty account number")
        return numbers


class ChartSettings(Section):
    """Role → account. Defaults follow the Chinese chart (企业会计准则)."""

    bank: ChartAccount = ChartAccount(code="1002", name="Bank deposits 银行存款")
    # The bank accounts kept apart; a receipt into any other account posts to `bank`.
    bank_accounts: list[BankAccount] = []
    receivable: ChartAccount = ChartAccount(code="1122", name="Accounts receivable 应收账款")
    advances: ChartAccount = ChartAccount(code="2203", name="Customer advances 预收账款")
    # Receipts whose payer is not known yet: held here until finance attributes them to a customer.
    unapplied: ChartAccount = ChartAccount(code="220399", name="Unapplied receipts 预收账款-待认领")
    revenue: ChartAccount = ChartAccount(code="6001", name="Revenue 主营业务收入")

    @model_validator(mode="after")
    def _distinct_codes(self) -> ChartSettings:
        codes = [
            self.bank.code,
            self.receivable.code,
            self.advances.code,
            self.unapplied.code,
            self.revenue.code,
        ]
        codes += [account.code for account in self.bank_accounts]
        if len(set(codes)) != len(codes):
            raise ValueError(f"each role and bank account needs its own account code, got {codes}")
        owners: dict[str, str] = {}
        for account in self.bank_accounts:
            for number in account.numbers:
                owner = owners.setdefault(compact_account(number) or "", account.code)
                if owner != account.code:
                    raise ValueError(f"bank account {number!r} is given to both {owner} and {account.code}")
        return self

    @property
    def bank_codes(self) -> tuple[str, ...]:
        """Every account receipts are posted to: the bank role's, then each bank account's."""
        return (self.bank.code, *(account.code for account in self.bank_accounts))


class MatchingSettings(Section):
    """How receipts find their customer: tiers 1 (a reference names an invoice, account number or
    record id) and 2 (a known payer bank account) are sure; 3 (payer name) and 4 (amount and date
    against open invoices) are guesses a person confirms unless `auto_post_tiers` says otherwise."""

    auto_post_tiers: int = Field(default=2, ge=0, le=4, description="tiers up to this one post by themselves")
    name_threshold: int = Field(default=90, ge=50, le=100, description="lowest payer-name score (50-100)")
    amount_window_days: int = Field(default=60, ge=0, le=366, description="tier 4: days after the invoice")
    same_receipt_days: int = Field(
        default=7,
        ge=0,
        le=31,
        description="a bank line and a payment of one amount this many days apart are one receipt (0: never)",
    )


ChangedDocuments = Literal["reverse_and_repost", "quarantine"]


class ImportSettings(Section):
    """Accounting exports and bank statements."""

    inbox: Path = Path("inbox")  # the daemon imports files dropped here; archive/ and failed/ beside them
    inbox_settle_seconds: float = Field(
        default=10.0,
        ge=0,
        le=24 * 3600,
        allow_inf_nan=False,
        description="a file in the inbox is taken once unchanged this long",
    )
    changed_documents: ChangedDocuments = "reverse_and_repost"
    # At most 30,000: a batch's ids go into single look-ups, within every database's bound parameters.
    batch_size: int = Field(default=10_000, ge=1, le=30_000)
    iif_currency: str | None = Field(
        default=None,
        description="QuickBooks IIF amounts without a CURRENCY column (None: ledger.base_currency)",
    )
    iif_date_order: Literal["mdy", "dmy"] = Field(
        default="mdy",
        description="QuickBooks IIF dates: mdy (MM/DD/YYYY, US) or dmy (DD/MM/YYYY, a UK or AU Windows)",
    )
    both_forms_of_books: bool = Field(
        default=False,
        description="import bill lists and vouchers of the same books (their documents never the same)",
    )
    matching: MatchingSettings = MatchingSettings()

    @field_validator("iif_currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        return None if value is None else currency_code(value)


class LedgerSettings(Section):
    base_currency: str = "CNY"
    account_number_template: str = "{type}{region}{seq:05}"
    timezone: str | None = Field(
        default=None,
        description="The business's time zone (IANA, e.g. Asia/Shanghai), whose day is 'today' for aging, "
        "days past due, credit status and figures (None: the host's local zone)",
    )
    chart: ChartSettings = ChartSettings()

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Asia/Shanghai', 'UTC')") from None
        return value

    def business_day(self, moment: datetime) -> date:
        """The day `moment` falls on where the business is (`timezone`, else the host's zone): the one
        "today" that aging, days past due, credit status, figures and reversals read."""
        return moment.astimezone(ZoneInfo(self.timezone) if self.timezone else None).date()

    @field_validator("base_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        return currency_code(value)

    @field_validator("account_number_template")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        return account_number_template(value)


def account_number_template(value: str) -> str:
    """`value`, when it is a template every customer's number can be made from; else ValueError why."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc}); e.g. '{{type}}{{region}}{{seq:05}}'") from None
    unknown = fields - ACCOUNT_NUMBER_FIELDS
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; allowed: type, region, seq")
    try:
        sample = value.format(type="KA", region="310", seq=1)
    except (ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"not a valid template ({exc}); e.g. '{{type}}{{region}}{{seq:05}}'") from None
    if "seq" not in fields:
        raise ValueError("the template must contain {seq} so account numbers are unique")
    if not sample or len(sample) > 40:
        raise ValueError("the template must produce an account number of 1–40 characters")
    return value


class SecuritySettings(Section):
    keys_file: Path = Field(
        default=Path("connector-keys.json"),
        description="Local key file, created with mode 0600 when no keys are configured",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description='JSON key ring {"active": id, "keys": {id: base64}, "index_key": base64}',
    )


class MappingSettings(Section):
    dir: Path = Field(default=Path("mappings"), description="Folder of admin-editable mapping files")


ZohoDataCentre = Literal["US", "EU", "IN", "AU", "CN", "JP", "CA", "SA"]
ZohoEnvironment = Literal["production", "sandbox", "developer"]
ZohoEdition = Literal["free", "standard", "professional", "enterprise", "ultimate"]


_WEEK = 7 * 24 * 3600  # seconds


class ZohoSettings(Section):
    """Zoho CRM: where the org lives, the self-client credentials, what to sync and the org's limits."""

    enabled: bool = False
    data_centre: ZohoDataCentre = Field(default="US", description="The data centre of the org's accounts")
    environment: ZohoEnvironment = "production"
    accounts_url: str | None = Field(
        default=None, description="Override of the accounts server (e.g. the bundled sandbox)"
    )
    api_url: str | None = Field(default=None, description="Override of the API base (else api_domain)")
    client_id: str = ""
    client_secret: SecretStr | None = None
    modules: tuple[str, ...] = ("Contacts", "Accounts")
    edition: ZohoEdition = Field(default="enterprise", description="Sets the concurrency limit")
    licensed_users: int = Field(default=10, ge=1)
    daily_credit_budget: int | None = Field(
        default=None,
        ge=1,
        description="API credits the connector may spend per 24 h (default: the edition's)",
    )
    page_size: int = Field(default=200, ge=1, le=200)
    timeout_s: float = Field(default=30.0, gt=0)
    retry_attempts: int = Field(default=6, ge=1, description="Calls in all for a throttled or failed call")
    retry_initial_wait_s: float = Field(default=0.5, ge=0)
    retry_max_wait_s: float = Field(default=30.0, ge=0)
    callback_url: str | None = Field(
        default=None, description="Public URL of this daemon's /zoho/notify endpoint, for `zoho watch`"
    )
    field_metadata_hours: float = Field(
        default=24,
        ge=0,
        le=_WEEK / 3600,
        allow_inf_nan=False,
        description="How long a push uses a module's fields as read (1 API credit a read); 0: every push",
    )

    @field_validator("data_centre", mode="before")
    @classmethod
    def _upper_dc(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("accounts_url", "api_url", "callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _credentials_when_enabled(self) -> ZohoSettings:
        if self.enabled and (not self.client_id or self.client_secret is None):
            raise ValueError("zoho.enabled needs zoho.client_id and zoho.client_secret (a self client's)")
        return self


class DaemonSettings(Section):
    """`connector run`: where its web app listens (Zoho's callbacks, /health, /status, /metrics) and how
    often each job runs; 0 switches a job off."""

    # An address or host name to listen on; never empty (that would listen on every interface).
    host: str = Field(default="127.0.0.1", min_length=1, pattern=r"^[A-Za-z0-9_.:\-]+$")  # ::1, not [::1]
    port: int = Field(default=8080, ge=1, le=65535)
    # Up to a week each, and finite: an interval is a timer's, in whole seconds.
    pull_minutes: float = Field(
        default=15, ge=0, le=_WEEK / 60, allow_inf_nan=False, description="Zoho pull of changes and deletions"
    )
    push_minutes: float = Field(
        default=15, ge=0, le=_WEEK / 60, allow_inf_nan=False, description="Zoho push of changed figures"
    )
    notifications_seconds: float = Field(
        default=60, ge=0, le=_WEEK, allow_inf_nan=False, description="records notifications named"
    )
    renew_minutes: float = Field(
        default=60,
        ge=0,
        le=_WEEK / 60,
        allow_inf_nan=False,
        description="channels expiring within a day renewed",
    )
    inbox_seconds: float = Field(
        default=30, ge=0, le=_WEEK, allow_inf_nan=False, description="files dropped into [imports] inbox"
    )


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = False

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    ledger: LedgerSettings = LedgerSettings()
    security: SecuritySettings = SecuritySettings()
    mappings: MappingSettings = MappingSettings()
    credit: CreditSettings = CreditSettings()
    zoho: ZohoSettings = ZohoSettings()
    imports: ImportSettings = ImportSettings()
    daemon: DaemonSettings = DaemonSettings()
    logging: LoggingSettings = LoggingSettings()


def resolve_config_file(config_file: Path | None) -> Path | None:
    """The file named on the command line, else $CONNECTOR_CONFIG, else none (defaults only)."""
    if config_file is not None:
        return config_file
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else None


def unknown_names(environment: Mapping[str, str], secrets: Path | None) -> list[str]:
    """The `CONNECTOR_*` variables and secret files that name no section of the settings, each with a
    guess: ignored, a typo (`CONNECTOR_DATABASE_URL` for `CONNECTOR_DATABASE__URL`) would leave the
    connector on its defaults (a new local database) without a word. (`CONNECTOR_TEST_*` are the test
    suite's own.)"""
    sections = list(Settings.model_fields)
    found = []
    for name in sorted(environment):
        ours = name.startswith(ENV_PREFIX) and not name.startswith(f"{ENV_PREFIX}TEST_")
        if ours and name not in (CONFIG_ENV, SECRETS_DIR_ENV):
            found += _unknown(name, name.removeprefix(ENV_PREFIX).lower(), sections, ENV_PREFIX)
    if secrets is not None and secrets.is_dir():
        for entry in sorted(secrets.iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                found += _unknown(f"secret file {entry}", entry.name.lower(), sections, "")
    return found


def _unknown(label: str, key: str, sections: list[str], prefix: str) -> list[str]:
    section = key.split("__", 1)[0]
    if section in sections:
        return []
    written = next((s for s in sections if key.startswith(f"{s}_")), None)
    if written is not None:  # one underscore where nesting takes two
        guess = f"{prefix}{written}__{key.removeprefix(f'{written}_')}"
        return [f"{label}: no setting; did you mean {guess.upper() if prefix else guess}?"]
    close = difflib.get_close_matches(section, sections, n=1)
    hint = f"; did you mean the section {close[0]!r}?" if close else f"; the sections: {', '.join(sections)}"
    return [f"{label}: no setting{hint}"]


def load_settings(config_file: Path | None = None, secrets_dir: Path | None = None) -> Settings:
    """Build settings from the sources; raises pydantic's ValidationError listing every problem.

    Raises FileNotFoundError for a named config file that does not exist, tomllib.TOMLDecodeError for
    one that is not TOML, and ConfigError for environment variables or secret files naming no setting.
    """
    path = resolve_config_file(config_file)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    secrets = secrets_dir or (Path(os.environ[SECRETS_DIR_ENV]) if os.environ.get(SECRETS_DIR_ENV) else None)
    unknown = unknown_names(os.environ, secrets)
    if unknown:
        raise ConfigError("settings name no setting (they would be ignored)", unknown)

    class _Sourced(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if secrets is not None:
                sources.append(
                    NestedSecretsSettingsSource(
                        file_secret_settings,
                        secrets_dir=secrets,
                        secrets_dir_missing="error",
                        secrets_prefix="",
                        secrets_nested_delimiter="__",
                    )
                )
            if path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    return _Sourced()
