from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.exports.iif import IifParser
from connector.bootstrap import parsers_for, secret_values
from connector.config_check import check_config
from connector.mapping.files import MappingSet
from connector.settings import LedgerSettings, load_settings
from tests.conftest import copy_example_config
from tests.unit.test_iif import INDEX_KEY

pytestmark = pytest.mark.usefixtures("isolated_cwd")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_config_is_valid_as_shipped(isolated_cwd: Path) -> None:
    settings, problems = check_config(copy_example_config(isolated_cwd))
    assert problems == []
    assert settings is not None
    assert settings.database.display_url() == "sqlite:///connector.db"


def test_defaults_apply_without_any_file() -> None:
    settings = load_settings()
    assert settings.ledger.chart.receivable.code == "1122"
    assert settings.ledger.account_number_template == "{type}{region}{seq:05}"


def test_environment_wins_over_the_file(isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(isolated_cwd / "c.toml", '[ledger]\nbase_currency = "USD"\n[logging]\nlevel = "DEBUG"\n')
    monkeypatch.setenv("CONNECTOR_LEDGER__BASE_CURRENCY", "jpy")
    settings = load_settings(config)
    assert settings.ledger.base_currency == "JPY"
    assert settings.logging.level == "DEBUG"


def test_the_config_file_can_come_from_connector_config(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CONNECTOR_CONFIG", str(write(isolated_cwd / "c.toml", '[ledger]\nbase_currency = "EUR"\n'))
    )
    assert load_settings().ledger.base_currency == "EUR"


def test_secrets_come_from_the_secrets_directory_and_are_never_shown(isolated_cwd: Path) -> None:
    secrets = isolated_cwd / "secrets"
    secrets.mkdir()
    url = "postgresql+psycopg://app:s3cr3t-Pa55@db.internal:5432/ledger"
    write(secrets / "database__url", url)
    settings = load_settings(secrets_dir=secrets)
    assert settings.database.url.get_secret_value() == url
    assert "s3cr3t-Pa55" not in repr(settings)
    assert "s3cr3t-Pa55" not in str(settings.model_dump())
    assert "s3cr3t-Pa55" not in settings.database.display_url()


def test_a_password_given_as_a_url_parameter_is_hidden_and_redacted_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+psycopg://app@db.internal/ledger?password=s3cr3t-Pa55&sslpassword=k3y-Pa55&sslmode=require"
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", url)
    database = load_settings().database
    assert database.display_url() == (
        "postgresql+psycopg://app@db.internal/ledger?password=***&sslmode=require&sslpassword=***"
    )
    assert sorted(secret_values(load_settings())) == ["k3y-Pa55", "s3cr3t-Pa55"]


def test_an_unescaped_at_sign_in_the_password_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", "postgresql+psycopg://app:s3cr3t@Pa55@db.internal/ledger")
    settings, problems = check_config(None)
    assert settings is None
    [problem] = problems
    assert problem.key == "database.url"
    assert "must be written %40" in problem.message
    assert "Pa55" not in f"{problem}"


def test_a_plain_postgresql_url_uses_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE__URL", "postgresql://u@h/db")
    assert load_settings().database.url.get_secret_value() == "postgresql+psycopg://u@h/db"


def test_check_config_reports_every_problem_with_its_key_origin_and_hint(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        isolated_cwd / "bad.toml",
        """
[database]
url = "mysql://x@y/z"
[ledger]
base_currency = "RMB"
account_number_template = "{kind}{seq}"
[ledger.chart.bank]
code = "1002"
name = "Bank"
nmae = "typo"
[logging]
levle = "INFO"
""",
    )
    monkeypatch.setenv("CONNECTOR_LOGGING__JSON_FORMAT", "maybe")
    settings, problems = check_config(config)
    assert settings is None
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {
        "database.url",
        "ledger.base_currency",
        "ledger.account_number_template",
        "ledger.chart.bank.nmae",
        "logging.levle",
        "logging.json_format",
    }
    assert "unsupported database 'mysql'" in by_key["database.url"].message
    assert "unknown currency code 'RMB'" in by_key["ledger.base_currency"].message
    assert "unknown placeholder(s) ['kind']" in by_key["ledger.account_number_template"].message
    assert by_key["ledger.chart.bank.nmae"].hint == "did you mean 'name'?"
    assert by_key["logging.levle"].hint == "did you mean 'level'?"
    assert by_key["logging.json_format"].origin == "environment CONNECTOR_LOGGING__JSON_FORMAT"
    assert by_key["ledger.base_currency"].origin == f"file {config}"


def test_check_config_refuses_an_empty_host_and_intervals_no_timer_can_keep(isolated_cwd: Path) -> None:
    config = write(
        isolated_cwd / "daemon.toml",
        """
[daemon]
host = ""
inbox_seconds = inf
pull_minutes = 1e15
[imports]
inbox_settle_seconds = nan
""",
    )
    settings, problems = check_config(config)
    assert settings is None
    assert {p.key for p in problems} == {
        "daemon.host",
        "daemon.inbox_seconds",
        "daemon.pull_minutes",
        "imports.inbox_settle_seconds",
    }


def test_check_config_finds_the_folder_of_a_sqlite_file_named_by_a_uri(isolated_cwd: Path) -> None:
    config = write(
        isolated_cwd / "uri.toml",
        f'[database]\nurl = "sqlite:///file:{isolated_cwd}/connector.db?mode=rwc&uri=true"\n',
    )
    _, problems = check_config(config)
    assert "database.url" not in {p.key for p in problems}


def test_check_config_refuses_an_inbox_under_a_file_and_a_sqlite_file_in_no_folder(
    isolated_cwd: Path,
) -> None:
    (isolated_cwd / "afile").write_text("", encoding="utf-8")
    config = write(
        isolated_cwd / "paths.toml",
        """
[imports]
inbox = "afile/inbox"
[database]
url = "sqlite:////nonexistent/dir/x.db"
""",
    )
    _, problems = check_config(config)
    by_key = {p.key: p.message for p in problems}
    assert "is a file, so the inbox afile/inbox cannot be a folder" in by_key["imports.inbox"]
    assert by_key["database.url"] == "the SQLite file's folder /nonexistent/dir does not exist"
    (isolated_cwd / "dbdir").mkdir()
    config.write_text(
        f'[database]\nurl = "sqlite:///{isolated_cwd}/dbdir"\n[security]\nkeys_file = "afile/keys.json"\n',
        encoding="utf-8",
    )
    _, problems = check_config(config)
    by_key = {p.key: p.message for p in problems}
    assert by_key["database.url"] == f"{isolated_cwd}/dbdir is a folder, not a SQLite file"
    assert by_key["security.keys_file"].endswith(
        "afile is a file, so the key file afile/keys.json cannot be made"
    )
    config.write_text('[daemon]\nhost = "[::1]"\n', encoding="utf-8")  # an address without brackets: ::1
    _, problems = check_config(config)
    assert [p.key for p in problems] == ["daemon.host"]


def test_check_config_reports_a_toml_syntax_error_with_its_line(isolated_cwd: Path) -> None:
    _, problems = check_config(write(isolated_cwd / "broken.toml", "[database\nurl = 1\n"))
    assert len(problems) == 1
    assert "line 1" in problems[0].message


def test_check_config_reports_a_missing_file(isolated_cwd: Path) -> None:
    _, problems = check_config(isolated_cwd / "absent.toml")
    assert "does not exist" in problems[0].message


def test_check_config_reports_malformed_key_material(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_SECURITY__ENCRYPTION_KEYS", '{"active": "a", "keys": {"a": "short"}}')
    (isolated_cwd / "mappings").mkdir()
    settings, problems = check_config(None)
    assert settings is not None
    assert [p.key for p in problems] == ["security"]
    assert "not valid base64" in problems[0].message or "32 bytes" in problems[0].message
    assert problems[0].origin == "environment CONNECTOR_SECURITY__ENCRYPTION_KEYS"


def test_check_config_names_a_secret_file_as_the_origin_of_what_it_holds(isolated_cwd: Path) -> None:
    secrets = isolated_cwd / "secrets"
    secrets.mkdir()
    (secrets / "database__url").write_text("postgresql://nobody@127.0.0.1:1/none")
    (isolated_cwd / "mappings").mkdir()
    _, problems = check_config(None, secrets)
    by_key = {p.key: p for p in problems}
    assert by_key["database.url"].origin == f"secret file {secrets / 'database__url'}"


def test_check_config_names_where_a_secrets_directory_that_does_not_exist_was_given(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(isolated_cwd / "config.toml", "")
    missing = isolated_cwd / "no-such-secrets"
    _, [given] = check_config(None, missing)
    assert (given.key, given.origin) == ("(sources)", f"command line --secrets-dir {missing}")
    assert str(missing) in given.message
    monkeypatch.setenv("CONNECTOR_SECRETS_DIR", str(missing))
    _, [from_environment] = check_config(None)
    assert from_environment.origin == "environment CONNECTOR_SECRETS_DIR"


def test_the_iif_currency_is_unset_by_default_and_refused_when_no_currency(isolated_cwd: Path) -> None:
    assert load_settings().imports.iif_currency is None
    config = write(isolated_cwd / "c.toml", '[imports]\niif_currency = "RMB"\n')
    _, problems = check_config(config)
    assert [problem.key for problem in problems] == ["imports.iif_currency"]
    assert (
        load_settings(
            write(isolated_cwd / "ok.toml", '[imports]\niif_currency = "usd"\n')
        ).imports.iif_currency
        == "USD"
    )


def test_the_iif_date_order_is_month_first_by_default_day_first_when_set_and_refused_otherwise(
    isolated_cwd: Path,
) -> None:
    assert load_settings().imports.iif_date_order == "mdy"
    config = write(isolated_cwd / "c.toml", '[imports]\niif_date_order = "ymd"\n')
    _, problems = check_config(config)
    assert [problem.key for problem in problems] == ["imports.iif_date_order"]
    dmy = write(isolated_cwd / "ok.toml", '[imports]\niif_date_order = "dmy"\n')
    assert load_settings(dmy).imports.iif_date_order == "dmy"
    parsers = parsers_for(
        MappingSet({}, ""), "GBP", load_settings(dmy).imports.iif_date_order, index_key=lambda: INDEX_KEY
    )
    assert next(p for p in parsers if isinstance(p, IifParser)).date_order == "dmy"


def test_check_config_names_a_zoho_module_no_mapping_serves_with_the_name_it_likely_means(
    isolated_cwd: Path,
) -> None:
    config = copy_example_config(isolated_cwd)
    config.write_text(
        config.read_text(encoding="utf-8")
        .replace("enabled = false", "enabled = true", 1)
        .replace('client_id = ""', 'client_id = "1000.X"\nclient_secret = "s"')
        .replace('modules = ["Contacts", "Accounts"]', 'modules = ["contacts", "Accounts", "Leads"]'),
        encoding="utf-8",
    )
    _, problems = check_config(config)
    assert [(p.key, p.message, p.origin, p.hint) for p in problems] == [
        (
            "zoho.modules",
            "module 'contacts' has no inbound or outbound mapping: it would never be synced",
            f"file {config}",
            "did you mean 'Contacts'?",
        ),
        (
            "zoho.modules",
            "module 'Leads' has no inbound or outbound mapping: it would never be synced",
            f"file {config}",
            "valid: Accounts, Contacts",
        ),
    ]


def test_a_chart_account_given_half_in_the_environment_is_reported_as_the_environments_with_a_hint(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_LEDGER__CHART__BANK__CODE", "1001")
    config = write(isolated_cwd / "c.toml", '[ledger]\nbase_currency = "CNY"\n')
    settings, problems = check_config(config)
    assert settings is None
    [problem] = problems
    assert (problem.key, problem.origin, problem.hint) == (
        "ledger.chart.bank.name",
        "environment CONNECTOR_LEDGER__CHART__BANK__CODE",
        "give the account's code and name together",
    )
    monkeypatch.delenv("CONNECTOR_LEDGER__CHART__BANK__CODE")
    write(config, '[ledger.chart.bank]\ncode = "1001"\n')
    [problem] = check_config(config)[1]
    assert (problem.key, problem.origin) == ("ledger.chart.bank.name", f"file {config}")


def test_an_import_batch_larger_than_the_databases_bound_parameters_allow_is_refused(
    isolated_cwd: Path,
) -> None:
    _, problems = check_config(write(isolated_cwd / "c.toml", "[imports]\nbatch_size = 30001\n"))
    assert [problem.key for problem in problems] == ["imports.batch_size"]
    settings, _ = check_config(write(isolated_cwd / "ok.toml", "[imports]\nbatch_size = 30000\n"))
    assert settings is not None
    assert settings.imports.batch_size == 30_000


def test_the_business_day_is_that_of_the_ledger_timezone_whatever_the_hosts() -> None:
    evening_in_utc = datetime(2026, 12, 7, 19, 32, tzinfo=UTC)
    assert LedgerSettings(timezone="Asia/Shanghai").business_day(evening_in_utc) == date(2026, 12, 8)
    assert LedgerSettings(timezone="UTC").business_day(evening_in_utc) == date(2026, 12, 7)
    assert LedgerSettings().business_day(evening_in_utc) == evening_in_utc.astimezone().date()


def test_a_ledger_timezone_that_is_not_an_iana_zone_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="'Asia/Shanghia' is not an IANA time zone"):
        LedgerSettings(timezone="Asia/Shanghia")
