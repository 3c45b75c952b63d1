"""`connector check-config`: every configuration problem at once, with its key path, origin and a hint."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from connector.db import (
    database_error_text,
    make_engine,
    reading,
    require_current_schema,
    session_factory,
    sqlite_file,
)
from connector.errors import ConfigError, ConnectorError, SecurityError
from connector.ledger.chart import chart_problems
from connector.ledger.index_key import NAME as INDEX_KEY
from connector.ledger.index_key import fingerprint
from connector.ledger.models import LedgerAccount
from connector.mapping.files import MappingSet
from connector.mapping_checks import check_mappings
from connector.security.cipher import FieldCipher
from connector.security.key_checks import USE_THE_SEALING_RING, key_problems
from connector.security.keys import KeyRing, load_keyring, ring_origin
from connector.security.models import IndexState
from connector.security.rotation import keys_in_use
from connector.settings import (
    ENV_PREFIX,
    SECRETS_DIR_ENV,
    ChartAccount,
    Settings,
    load_settings,
    resolve_config_file,
)


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    origin: str
    hint: str = ""
    warning: bool = False  # the configuration works, but something it does is refused (check-config says so)

    def __str__(self) -> str:
        hint = f" — {self.hint}" if self.hint else ""
        return f"{self.key}: {self.message} [{self.origin}]{hint}"


def _model_at(path: Sequence[str | int]) -> type[BaseModel] | None:
    """The settings model that owns the key at `path` (for 'did you mean' hints)."""
    model: type[BaseModel] = Settings
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _origin(
    loc: Sequence[str | int], config_file: Path | None, secrets_dir: Path | None = None, missing: bool = False
) -> str:
    """Where the value at `loc` came from, as the settings read it: the environment wins over secret
    files, which win over the file. A `missing` value comes from where its parent was given: a
    variable naming the parent, or others naming its siblings (CONNECTOR_LEDGER__CHART__BANK__CODE
    alone leaves the bank account without its name)."""
    env_name = ENV_PREFIX + "__".join(str(p) for p in loc).upper()
    if env_name in os.environ:
        return f"environment {env_name}"
    if missing and len(loc) > 1:
        parents = [
            ENV_PREFIX + "__".join(str(p) for p in loc[:n]).upper() for n in range(len(loc) - 1, 0, -1)
        ]
        given = next((name for name in parents if name in os.environ), None)
        if given is not None:
            return f"environment {given}"
        siblings = sorted(name for name in os.environ if name.startswith(parents[0] + "__"))
        if siblings:
            return f"environment {', '.join(siblings)}"
    secrets = secrets_dir or (Path(os.environ[SECRETS_DIR_ENV]) if os.environ.get(SECRETS_DIR_ENV) else None)
    if secrets is not None:
        secret = secrets / "__".join(str(p) for p in loc)
        if secret.is_file():
            return f"secret file {secret}"
    return f"file {config_file}" if config_file else "defaults"


def _secrets_dir_origin(secrets_dir: Path | None) -> str | None:
    """Where a secrets directory that is no directory was given (--secrets-dir wins over the
    environment); None when it is one, or none was given."""
    if secrets_dir is not None:
        return None if secrets_dir.is_dir() else f"command line --secrets-dir {secrets_dir}"
    named = os.environ.get(SECRETS_DIR_ENV)
    return f"environment {SECRETS_DIR_ENV}" if named and not Path(named).is_dir() else None


def _hint(error_type: str, loc: Sequence[str | int]) -> str:
    if error_type == "missing":
        owner = _model_at(loc[:-1])
        chart_account = owner is not None and issubclass(owner, ChartAccount)
        return "give the account's code and name together" if chart_account else ""
    if error_type != "extra_forbidden":
        return ""
    model = _model_at(loc[:-1])
    if model is None:
        return ""
    valid = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"valid keys here: {', '.join(valid)}"


def problems_from_validation(
    error: ValidationError, config_file: Path | None, secrets_dir: Path | None = None
) -> list[Problem]:
    problems = []
    for item in error.errors(include_input=False):
        loc = tuple(str(p) for p in item["loc"])
        problems.append(
            Problem(
                key=".".join(loc) or "(top level)",
                message=item["msg"].removeprefix("Value error, "),
                origin=_origin(loc, config_file, secrets_dir, missing=item["type"] == "missing"),
                hint=_hint(item["type"], loc),
            )
        )
    return problems


def check_config(
    config_file: Path | None, secrets_dir: Path | None = None
) -> tuple[Settings | None, list[Problem]]:
    """Load and validate everything the configuration names; return the settings and every problem
    (`warning` ones, such as export mappings recognising the same files, leave it valid)."""
    path = resolve_config_file(config_file)
    origin = f"file {path}" if path else "defaults"
    try:
        settings = load_settings(path, secrets_dir)
    except FileNotFoundError as exc:
        return None, [
            Problem("(config file)", str(exc), origin, "pass --config FILE or set CONNECTOR_CONFIG")
        ]
    except tomllib.TOMLDecodeError as exc:
        return None, [
            Problem("(config file)", f"not valid TOML: {exc}", origin, "fix the syntax at that line")
        ]
    except ValidationError as exc:
        return None, problems_from_validation(exc, path, secrets_dir)
    except SettingsError as exc:  # e.g. a secrets directory that does not exist: named where it was given
        return None, [
            Problem(
                "(sources)",
                str(exc),
                _secrets_dir_origin(secrets_dir) or origin,
                "check the secrets directory and environment",
            )
        ]
    except ConfigError as exc:  # environment variables or secret files naming no setting
        hint = "rename it, or remove it"
        return None, [
            Problem("(sources)", problem, "environment and secrets", hint) for problem in exc.problems
        ]

    problems: list[Problem] = []
    keys_origin = _origin(("security", "encryption_keys"), path, secrets_dir)
    if settings.security.encryption_keys is None:
        keys_origin = _origin(("security", "keys_file"), path, secrets_dir)
    try:
        load_keyring(settings.security)
    except (SecurityError, ConfigError) as exc:
        problems.append(
            Problem(
                "security",
                str(exc),
                keys_origin,
                "restore the key file from its backup (mode 600), or set security.encryption_keys",
            )
        )
    folder = settings.mappings.dir
    problems += _database_problems(settings, lambda *loc: _origin(loc, path, secrets_dir), keys_origin)
    problems += _folder_problems(settings, lambda *loc: _origin(loc, path, secrets_dir))
    if not folder.is_dir():
        hint = "create it, or point mappings.dir at the shipped mappings/ folder"
        problems.append(
            Problem(
                "mappings.dir",
                f"folder {folder} does not exist",
                _origin(("mappings", "dir"), path, secrets_dir),
                hint,
            )
        )
    else:  # the database's own problems are said above: the check's `unchecked` repeats one of them
        checked = check_mappings(folder, settings.database.url.get_secret_value())
        mappings = checked.mappings
        problems.extend(
            Problem(
                "mappings",
                str(p),
                _origin(("mappings", "dir"), path, secrets_dir),
                "run `connector mapping check`",
            )
            for p in checked.problems
        )
        problems.extend(  # each says what to do
            Problem("mappings", str(p), _origin(("mappings", "dir"), path, secrets_dir), warning=True)
            for p in checked.warnings
        )
        if mappings is not None and settings.zoho.enabled:
            problems += _unmapped_modules(settings, mappings, _origin(("zoho", "modules"), path, secrets_dir))
    return settings, problems


def _unmapped_modules(settings: Settings, mappings: MappingSet, origin: str) -> list[Problem]:
    """Zoho modules the sync would skip without a word: no mapping reads or writes them."""
    why = "has no inbound or outbound mapping: it would never be synced"
    return [
        Problem("zoho.modules", f"module '{module}' {why}", origin, mappings.module_hint("zoho", module))
        for module in settings.zoho.modules
        if mappings.unmapped("zoho", module)
    ]


def _folder_problems(settings: Settings, origin_of: Callable[..., str]) -> list[Problem]:
    """Places the connector writes to that it could not use: the inbox (made on first use, so its
    nearest existing folder must be a folder), and a SQLite database's folder."""
    inbox = settings.imports.inbox
    problems = _made_in_a_folder(inbox, "imports.inbox", f"the inbox {inbox} cannot be a folder", origin_of)
    url = make_url(settings.database.url.get_secret_value())
    if (database := sqlite_file(url)) is not None:
        if not database.parent.is_dir():
            problems.append(
                Problem(
                    "database.url",
                    f"the SQLite file's folder {database.parent} does not exist",
                    origin_of("database", "url"),
                    "create the folder, or name a file in one that exists",
                )
            )
        elif database.is_dir():
            problems.append(
                Problem(
                    "database.url",
                    f"{database} is a folder, not a SQLite file",
                    origin_of("database", "url"),
                    "name a file in it, e.g. connector.db",
                )
            )
    if settings.security.encryption_keys is None:
        keys = settings.security.keys_file
        cannot = f"the key file {keys} cannot be made"
        problems += _made_in_a_folder(keys.parent, "security.keys_file", cannot, origin_of)
    return problems


def _made_in_a_folder(folder: Path, key: str, cannot: str, origin_of: Callable[..., str]) -> list[Problem]:
    """A folder the connector makes (or writes in) on first use: its nearest existing part must be one."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        why = f"{existing} is a file, so {cannot}"
        return [Problem(key, why, origin_of(*key.split(".")), f"point {key} into a folder")]
    return []


def _database_problems(settings: Settings, origin_of: Callable[..., str], keys_origin: str) -> list[Problem]:
    """What the database says of the configuration, reading only: that it answers, and that the chart
    is the one its ledger uses (start-up would refuse a renumbered account). A SQLite file not made yet
    is a fresh start: nothing to check, and none is made. (The mappings' sources are checked with the
    mappings: `check_mappings`.)"""
    url = make_url(settings.database.url.get_secret_value())
    if url.get_backend_name() == "sqlite" and not ((file := sqlite_file(url)) and file.is_file()):
        return []
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with reading(session_factory(engine)) as session:
            if not inspect(session.connection()).has_table(LedgerAccount.__tablename__):
                return []
            found = chart_problems(session, settings.ledger.chart)
            sealed = keys_in_use(session)
            ring = _configured_ring(settings)
            other_keys = key_problems(session, ring, ring_origin(settings.security)) if ring else []
            indexed = inspect(session.connection()).has_table(IndexState.__tablename__)
            state = session.get(IndexState, INDEX_KEY) if indexed else None
            index_key = state.value if state is not None else None
    except DBAPIError as exc:
        why = f"the database cannot be used: {database_error_text(exc)}"
        hint = "check the server, the database name and the role"
        return [Problem("database.url", why, origin_of("database", "url"), hint)]
    finally:
        engine.dispose()
    keyed = [problem.partition(": ") for problem in found]  # "key: why"
    problems = [
        Problem(key, why, origin_of(*key.split(".")), "keep what the ledger uses") for key, _, why in keyed
    ]
    problems += [Problem("security", why, keys_origin, USE_THE_SEALING_RING) for why in other_keys]
    return problems + _sealed_problems(settings, sealed, index_key, keys_origin)


def schema_note(settings: Settings) -> str | None:
    """What the commands will say of the database's schema, for `check-config` to tell before they do:
    none set up yet, or one behind this connector's (`db upgrade`, the daemon and the demo move it on;
    every other command refuses it until then). None when it is current, or cannot be read (a problem
    the database check reports). Read only: a SQLite file not made yet is not made."""
    shown = settings.database.display_url()
    url = make_url(settings.database.url.get_secret_value())
    if url.get_backend_name() == "sqlite" and not ((file := sqlite_file(url)) and file.is_file()):
        return (
            f"note: no ledger at {shown} yet: `connector db upgrade` (or the daemon, or the demo) sets one up"
        )
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        require_current_schema(engine)
    except ConnectorError as exc:
        return (
            f"note: {exc}; the daemon does so at start, every other command refuses the database until then"
        )
    except DBAPIError:
        return None
    finally:
        engine.dispose()
    return None


def _configured_ring(settings: Settings) -> KeyRing | None:
    """The configured key ring; None when there is none yet or it cannot be read (a problem of its own)."""
    try:
        return load_keyring(settings.security)
    except (SecurityError, ConfigError):
        return None


def _sealed_problems(
    settings: Settings, sealed: dict[str, int], index_key: str | None, origin: str
) -> list[Problem]:
    """Personal data sealed with keys the configured ring lacks (nothing could read it), and look-ups
    made with another index key (nobody would be found)."""
    if not sealed and index_key is None:
        return []
    try:
        ring = load_keyring(settings.security)
    except (SecurityError, ConfigError):
        return []  # reported with the key ring's own problem
    where = ring_origin(settings.security)
    hint = "restore the key file (or the ring) that holds them, from its backup"
    problems = []
    missing = sorted(kid for kid in sealed if ring is None or kid not in ring.keys)
    if missing:
        values = sum(sealed[kid] for kid in missing)
        why = f"{values} encrypted value(s) are sealed with key(s) {', '.join(missing)}, which {where} lacks"
        problems.append(Problem("security", why, origin, hint))
    if index_key is not None and (ring is None or fingerprint(FieldCipher(ring)) != index_key):
        why = (
            f"the customers' look-ups were made with another index_key than {where} holds: no customer "
            "would be found by e-mail, phone or name"
        )
        problems.append(Problem("security", why, origin, "use the key file the database was made with"))
    return problems
