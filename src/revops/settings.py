"""Every ``REVOPS_*`` setting in one place: typed, documented, defaulted and checked at start.

One pydantic-settings model, :class:`Settings`, declares each setting once: its type, its
default, what it holds (the field's description) and what it accepts. The connector settings
``REVOPS_<SYSTEM>_<KEY>`` (URL, token, OAuth, account ids, start date, API version, schema
drift, vendor limits) are generated from the systems list (:data:`revops.vocabulary.SYSTEMS`)
and the table :data:`CONNECTOR_KEYS`, not written once per system.

Modules read a setting when they need it, through :func:`current` (never at import time, so a
DAG file parsed before a variable is set, or a test that sets one, still sees it). The values
are read again whenever a ``REVOPS_*`` variable changed; :func:`reload` forces it. A value
revops cannot use raises :class:`ConfigError` naming the variable, what it holds (a secret's
value is never shown) and what it accepts; ``revops`` checks every setting before any command
runs. ``revops config`` lists them (secrets redacted) with where each value came from, and
``docs/settings.md`` is generated from here (:func:`reference`).

Inside Airflow, a connection ``revops_<system>`` fills the connector settings the environment
leaves unset (:func:`revops.sources.settings.apply_airflow_connection`); the SMTP settings come
from ``revops_smtp`` the same way (:func:`revops.reports.send.smtp_environ`).
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "REVOPS_"
DRIFT_MODES = ("variant", "stop")
"""What a field that changed type does (``REVOPS_SCHEMA_DRIFT``)."""
HIDDEN = "***"


class ConfigError(ValueError):
    """A setting holds a value revops cannot use, or a required one is missing; the message
    names the variable, what it holds and what it accepts (never a secret's value)."""


# -- kinds of value ----------------------------------------------------------------------------
# Each setting's type is one of these: the text it accepts is written once, here, and shows in
# error messages and the reference.


@dataclass(frozen=True)
class Kind:
    """What a setting's text must look like (for messages, the reference and the tests)."""

    name: str
    accepts: str


def _no_space(value: Any) -> Any:
    """Text (or a secret) without spaces inside, the ones around it dropped."""
    secret = isinstance(value, SecretStr)
    text = (value.get_secret_value() if secret else value).strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError("it holds spaces or line breaks")
    return SecretStr(text) if secret else text


def _printable(value: SecretStr) -> SecretStr:
    if any(c in "\r\n\0" for c in value.get_secret_value()):
        raise ValueError("it holds a line break")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it is not an http(s):// URL with a host")
    return value.strip()


def _any_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if not parts.scheme or not (parts.netloc or parts.path) or "://" not in value:
        raise ValueError("it is not a URL (scheme://...)")
    return value.strip()


def _warehouse_url(value: str, info: ValidationInfo) -> str:
    from revops.warehouse import Warehouse, WarehouseError

    try:  # libpq's own parser, as every consumer of the URL uses it
        Warehouse.parse(value, source=env_name(info.field_name or "warehouse_url"))
    except WarehouseError as err:
        raise ValueError(str(err)) from None
    return value.strip()


def _folder(value: Path) -> Path:
    if value.exists() and not value.is_dir():
        raise ValueError("it names a file, not a folder")
    return value


def _file(value: Path) -> Path:
    if not value.is_file():
        raise ValueError("no such file")
    return value


def _new_file(value: Path) -> Path:
    if value.is_dir() or not value.parent.is_dir():
        raise ValueError("its folder does not exist, or it names a folder")
    return value


def _host(value: str) -> str:
    value = value.strip()
    if not value or "://" in value or any(c.isspace() or c in "/@" for c in value):
        raise ValueError("it is not a host name or address")
    return value


_ADDRESS = re.compile(r"[^@\s<>,]+@[^@\s<>,]+")


def _address(value: str) -> str:
    from email.utils import parseaddr

    _, addr = parseaddr(value.strip())
    if not _ADDRESS.fullmatch(addr or ""):
        raise ValueError(f"{value.strip()!r} is not an e-mail address")
    return value.strip()


def _split(value: Any) -> Any:
    """A comma-separated text as a tuple of its non-empty parts (other values as they are)."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _ids(values: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(v.replace("-", "") for v in values)
    bad = [v for v in cleaned if not re.fullmatch(r"[A-Za-z0-9_]+", v)]
    if bad or not cleaned:
        raise ValueError(f"{', '.join(map(repr, bad)) or 'no id'}: ids are letters and digits")
    return cleaned


def _addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise ValueError("it holds no address")
    return tuple(_address(v) for v in values)


def _choices(allowed: tuple[str, ...]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    def check(given: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [g for g in given if g not in allowed]
        if unknown or not given:
            raise ValueError(
                f"{', '.join(repr(u) for u in unknown) or 'no value'} is not one of "
                f"{', '.join(allowed)}; give a comma-separated list of those"
            )
        return tuple(choice for choice in allowed if choice in given)

    return check


def _deadline(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() == "off" else value


def _kind_of(base: Any, name: str, accepts: str, *checks: Any) -> Any:
    """A kind of setting: the Python type, its :class:`Kind` and the checks of its text."""
    return Annotated[(base, Kind(name, accepts), *checks)]


After, Before = AfterValidator, BeforeValidator
WholeNumber = _kind_of(int, "whole number", "a whole number")
Number = _kind_of(float, "number", "a number")
Flag = _kind_of(bool, "flag", "true or false (also 1/0, yes/no, on/off)")
Day = _kind_of(date, "date", "an ISO date (YYYY-MM-DD)")
Port = _kind_of(int, "port", "a TCP port number", Field(ge=1, le=65535))
Text = _kind_of(str, "text", "text without spaces", After(_no_space))
Secret = _kind_of(SecretStr, "secret", "text without spaces (a secret)", After(_no_space))
Password = _kind_of(SecretStr, "password", "text without line breaks (a secret)", After(_printable))
HttpUrl = _kind_of(str, "http url", "an http(s):// URL", After(_http_url))
AnyUrl = _kind_of(str, "url", "a URL (scheme://...)", After(_any_url))
WarehouseUrl = _kind_of(
    str,
    "warehouse url",
    "a postgresql:// URL of one server (see the README)",
    After(_warehouse_url),
)
Folder = _kind_of(Path, "folder", "a folder path (not a file)", After(_folder))
File = _kind_of(Path, "file", "the path of an existing file", After(_file))
NewFile = _kind_of(
    Path, "new file", "the path of a file to write, in a folder that exists", After(_new_file)
)
Host = _kind_of(str, "host", "a host name or IP address", After(_host))
Address = _kind_of(str, "address", "an e-mail address", After(_address))
Addresses = _kind_of(
    tuple[str, ...],
    "addresses",
    "comma-separated e-mail addresses",
    Before(_split),
    After(_addresses),
)
Id = _kind_of(
    str,
    "id",
    "an id (letters and digits; dashes are dropped)",
    After(lambda value: _ids((value.strip(),))[0]),
)
Ids = _kind_of(
    tuple[str, ...],
    "ids",
    "comma-separated ids (letters and digits; dashes are dropped)",
    Before(_split),
    After(_ids),
)


def Choice(*allowed: str) -> Any:
    """One of ``allowed`` (case-insensitive)."""
    choice = Literal[allowed]  # type: ignore[valid-type]
    return _kind_of(choice, "choice", "one of " + ", ".join(allowed), Before(_lower))


def Choices(*allowed: str) -> Any:
    """Some of ``allowed``, comma-separated (kept in ``allowed``'s order, no repeats)."""
    return _kind_of(
        tuple[str, ...],
        "choices",
        "a comma-separated list of " + ", ".join(allowed),
        Before(lambda v: _split(_lower(v))),
        After(_choices(allowed)),
    )


def _check_properties(values: tuple[str, ...]) -> tuple[str, ...]:
    bad = [v for v in values if not re.fullmatch(r"[a-z][a-z0-9_]*", v)]
    if bad:
        what = "is not a property internal name" if len(bad) == 1 else "are not internal names"
        raise ValueError(
            f"{', '.join(repr(b) for b in bad)} {what} (lowercase letters, digits and "
            "underscores, starting with a letter, as HubSpot shows them under Settings > "
            "Properties); fix or remove them"
        )
    return tuple(dict.fromkeys(values))


PropertyNames = _kind_of(
    tuple[str, ...],
    "properties",
    "comma-separated property internal names (like hs_lead_status)",
    Before(_split),
    After(_check_properties),
)


def _api_version(system: str) -> Any:
    def check(value: str) -> str:
        from revops.sources.versions import FORMATS, normalise, vendor

        name = normalise(system, value)
        pattern, example = FORMATS[system]
        if not pattern.fullmatch(name):
            dated = vendor(system)
            known = ", ".join(v.name for v in dated.supported(date.today())[-3:])
            raise ValueError(
                f"it is not a {system} API version (expected like {example}); unset it for the "
                f"default {dated.default} or set one the vendor serves ({known}; see "
                f"{dated.source})"
            )
        return name

    from revops.sources.versions import FORMATS

    return _kind_of(
        str, "api version", f"a {system} API version like {FORMATS[system][1]}", After(check)
    )


# -- the settings --------------------------------------------------------------------------------

GROUPS = {
    "paths": "Where revops keeps its state and outputs",
    "warehouse": "The warehouse",
    "extract": "Extracts: HTTP, loads and schema drift (every connector)",
    "connector": "Connectors: URLs, credentials and vendor limits (`REVOPS_<SYSTEM>_*`)",
    "report": "The report and the alerts: mail",
    "gate": "The quality gate",
    "attribution": "Attribution: when the data-driven models are refitted",
    "airflow": "Airflow: the service and the DAGs",
    "cli": "The command line",
    "tests": "The test suite",
}
"""Sections of ``revops config`` and ``docs/settings.md``, in order."""


def _setting(
    default: Any,
    description: str,
    group: str,
    *,
    secret: bool = False,
    system: str = "",
    **constraints: Any,
) -> Any:
    """A field: its default, what it holds, its section, whether its value is a secret and
    (connector settings) its system."""
    return Field(
        default,
        description=description,
        json_schema_extra={"group": group, "secret": secret, "system": system},
        **constraints,
    )


_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("revops_settings_environ", default=None)


class _EnvSource(EnvSettingsSource):
    """The environment source, reading a given mapping (:func:`load`) or ``os.environ``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        given = _ENVIRON.get()
        environ = os.environ if given is None else given
        # a value of only spaces counts as unset, as an empty one does
        cleaned = {k: v for k, v in environ.items() if k.upper().startswith(PREFIX) and v.strip()}
        return parse_env_vars(cleaned, self.case_sensitive, True, self.env_parse_none_str)


class _Base(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        enable_decoding=False,  # values are text, never JSON: `1234` is an id, not a number
        extra="ignore",
        frozen=True,
    )

    @classmethod
    def settings_customise_sources(  # noqa: PLR0913
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        """Values given to the constructor, then the environment (no .env or secret files)."""
        return (init_settings, _EnvSource(settings_cls))


def _editions() -> tuple[str, ...]:
    from revops.reports.periods import EDITIONS

    return tuple(EDITIONS)


class CoreSettings(_Base):
    """The settings that are not per connector (those are added by :func:`_connector_fields`)."""

    # paths
    home: Folder | None = _setting(
        None,
        "local state: the embedded warehouse, Airflow's files, dlt's working files "
        "(unset: `.revops/` in the working directory)",
        "paths",
    )
    out_dir: Folder | None = _setting(
        None,
        "what revops hands to people: reports, sent mail, Data Docs (unset: `out/` in "
        "the working directory)",
        "paths",
    )
    # warehouse
    warehouse_url: WarehouseUrl | None = _setting(
        None,
        "the warehouse: any libpq URL of one PostgreSQL 14+ server; extracts, dbt (also "
        "inside Airflow), the gate and the reports all use exactly this database (unset: the "
        "embedded one)",
        "warehouse",
        secret=True,
    )
    # extracts
    http_max_attempts: WholeNumber = _setting(8, "attempts per HTTP request", "extract", ge=1)
    http_base_delay: Number = _setting(
        0.5, "first back-off delay in seconds (doubling with jitter)", "extract", ge=0
    )
    http_max_delay: Number = _setting(
        60.0,
        "cap in seconds of revops's own back-off when the vendor names no delay (it does "
        "not cap a delay the vendor names)",
        "extract",
        ge=0,
    )
    http_max_retry_after: Number = _setting(
        300.0,
        "the longest wait in seconds a vendor may ask for (`Retry-After`, Google "
        "`retryDelay`, Meta's time to regain access) that an extract sleeps through; a longer "
        "one ends the stream incomplete",
        "extract",
        ge=0,
    )
    schema_drift: Choice(*DRIFT_MODES) = _setting(  # type: ignore[valid-type]
        "variant",
        "what a field that changed type does: `variant` lands it in "
        "`<column>__v_<type>`, `stop` loads nothing of the run (per connector: "
        "`REVOPS_<SYSTEM>_SCHEMA_DRIFT`)",
        "extract",
    )
    loader_format: Choice("csv", "insert_values") = _setting(  # type: ignore[valid-type]
        "csv", "how dlt hands rows to PostgreSQL: `csv` (COPY) or `insert_values`", "extract"
    )
    load_batch_rows: WholeNumber = _setting(
        50_000,
        "rows gathered per raw table before they go to dlt as one typed Arrow table; "
        "`0` hands dlt the rows as dicts page by page (slower)",
        "extract",
        ge=0,
        le=5_000_000,
    )
    load_work_mem_mb: WholeNumber = _setting(
        64,
        "PostgreSQL `work_mem` (MiB) of the loader's own sessions (a merge's hash join)",
        "extract",
        ge=1,
        le=4096,
    )
    load_skip_unchanged: Flag = _setting(
        True, "a merge rewrites only rows whose values changed (`false`: every row read)", "extract"
    )
    progress: Choice("log", "off") = _setting(  # type: ignore[valid-type]
        "off", "`log`: dlt logs its progress while it extracts and loads", "extract"
    )
    # report and alerts
    smtp_host: Host | None = _setting(
        None,
        "the mail server (or the Airflow connection `revops_smtp`); required to send",
        "report",
    )
    smtp_port: Port | None = _setting(
        None, "the mail server's port (unset: 465 with SSL, 587 with STARTTLS, else 25)", "report"
    )
    smtp_user: Text | None = _setting(
        None, "login at the mail server (goes with REVOPS_SMTP_PASSWORD)", "report"
    )
    smtp_password: Password | None = _setting(
        None, "password at the mail server (goes with REVOPS_SMTP_USER)", "report", secret=True
    )
    smtp_starttls: Flag = _setting(False, "upgrade the connection with STARTTLS", "report")
    smtp_ssl: Flag = _setting(False, "implicit TLS from the first byte (port 465)", "report")
    smtp_ca_file: File | None = _setting(
        None, "a CA bundle to verify the mail server with (unset: the system's CAs)", "report"
    )
    report_sender: Address | None = _setting(
        None, "the From address of the report; required to send", "report"
    )
    report_recipients: Addresses | None = _setting(
        None, "who receives the report (comma-separated); required to send", "report"
    )
    # REVOPS_REPORT_RECIPIENTS_<EDITION>: one per edition, see _edition_fields
    report_editions: Choices(*_editions()) = _setting(  # type: ignore[valid-type]
        _editions(), "the editions sent: weekly, and monthly in a month's first week", "report"
    )
    alert_sender: Address | None = _setting(
        None, "the From address of alerts (unset: REVOPS_REPORT_SENDER)", "report"
    )
    alert_recipients: Addresses | None = _setting(
        None, "the data engineers on call, alerted when the gate or a DAG run fails", "report"
    )
    # gate
    gate_config: File | None = _setting(
        None, "the gate's thresholds (unset: `expectations/gate.yml`)", "gate"
    )
    data_docs_url: HttpUrl | None = _setting(
        None,
        "where the Data Docs folder is served, linked from alerts (unset: local paths)",
        "gate",
    )
    # attribution
    attribution_fit_window_days: WholeNumber = _setting(
        365,
        "the trailing window, in days, of journeys the data-driven models (Markov, Shapley) "
        "are fitted on: conversions in it and non-converting journeys whose last touch is in it",
        "attribution",
        ge=1,
    )
    attribution_refit_days: WholeNumber = _setting(
        7,
        "days between two fits of the data-driven models (counted on the data's clock, the "
        "latest conversion); between fits new and changed conversions are credited with the "
        "last fit",
        "attribution",
        ge=1,
    )
    # airflow
    airflow_executor: Choice("local", "celery") = _setting(  # type: ignore[valid-type]
        "local", "the service's executor: LocalExecutor or CeleryExecutor", "airflow"
    )
    airflow_home: Folder | None = _setting(
        None, "the service's files (unset: `.revops/airflow-service`)", "airflow"
    )
    airflow_port: Port = _setting(
        8080, "the UI and API port on 127.0.0.1 (task log servers use the next two)", "airflow"
    )
    airflow_db_url: AnyUrl | None = _setting(
        None,
        "Airflow's metadata database, a SQLAlchemy URL (unset: database `airflow` on the "
        "embedded warehouse server)",
        "airflow",
        secret=True,
    )
    airflow_log_level: (
        Choice(  # type: ignore[valid-type]
            "debug", "info", "warning", "error", "critical"
        )
        | None
    ) = _setting(
        None,
        "Airflow's log level (unset: info for the service, warning for local DAG runs)",
        "airflow",
    )
    celery_broker_url: AnyUrl = _setting(
        "redis://127.0.0.1:6379/0",
        "the Celery broker (results go to the metadata database)",
        "airflow",
        secret=True,
    )
    celery_worker_concurrency: WholeNumber = _setting(
        4, "task slots per Celery worker", "airflow", ge=1
    )
    task_timeout_minutes: Number = _setting(
        60.0, "every task's `execution_timeout`, in minutes", "airflow", gt=0
    )
    dagrun_timeout_hours: Number = _setting(
        6.0, "every DAG run's timeout, in hours", "airflow", gt=0
    )
    report_deadline_hours: Annotated[
        Annotated[float, Field(gt=0)] | None,
        Kind("deadline", "a number of hours{bounds}, or off"),
        BeforeValidator(_deadline),
    ] = _setting(
        2.0,
        "a transform or publish run not done this long after it was queued alerts that "
        "the report is late (`off`: no deadline)",
        "airflow",
    )
    # cli
    debug: Flag = _setting(
        False,
        "on failure the CLI prints the traceback and the libraries' INFO log (as `--debug`)",
        "cli",
    )
    # tests
    hypothesis_explore: Flag = _setting(
        False, "the property tests search fresh examples instead of the fixed set", "tests"
    )
    test_warehouse_url: WarehouseUrl | None = _setting(
        None, "a server the test suite uses instead of its own embedded one", "tests", secret=True
    )
    test_airflow_db_server: WarehouseUrl = _setting(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "the PostgreSQL server whose databases the Airflow service tests use as metadata DB",
        "tests",
        secret=True,
    )
    test_celery_broker_db: WholeNumber = _setting(
        11, "the Redis database number the CeleryExecutor test uses", "tests", ge=0, le=15
    )
    keep_screenshot: NewFile | None = _setting(
        None, "where the report's browser test copies its screenshot (unset: not kept)", "tests"
    )


# -- connector settings: REVOPS_<SYSTEM>_<KEY> from the systems list -----------------------------

OAUTH_SYSTEMS = ("hubspot", "salesforce", "google_ads", "linkedin_ads")
"""Systems whose connector refreshes an OAuth access token."""
AD_SYSTEMS = ("google_ads", "meta_ads", "linkedin_ads")
"""Systems whose history has a start date and whose accounts are listed by id."""
HUBSPOT_OBJECTS = ("contacts", "companies", "deals")
"""HubSpot objects whose properties can be allow-listed (a test holds them to the connector's)."""


@dataclass(frozen=True)
class ConnectorKey:
    """One ``REVOPS_<SYSTEM>_<KEY>``: for which systems, its type, default and meaning
    (``{vendor}`` in the description is the system's name)."""

    key: str
    annotation: Any
    description: str
    systems: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None  # None: every one
    default: Any = None
    secret: bool = False
    constraints: tuple[tuple[str, Any], ...] = ()

    def for_systems(self, every: tuple[str, ...]) -> tuple[str, ...]:
        chosen = self.systems() if callable(self.systems) else self.systems
        return every if chosen is None else tuple(s for s in every if s in chosen)


def _versioned() -> tuple[str, ...]:
    from revops.sources.versions import VENDORS

    return tuple(VENDORS)


CONNECTOR_KEYS: tuple[ConnectorKey, ...] = (
    ConnectorKey(
        "url",
        HttpUrl,
        "the {vendor} API root (unset: the vendor's own; Salesforce: "
        "the instance URL; Mailchimp: from the API key's data centre)",
    ),
    ConnectorKey("token", Secret, "an access token for {vendor}, used as it is", secret=True),
    ConnectorKey(
        "token_url",
        HttpUrl,
        "the OAuth token endpoint of {vendor} (unset: the vendor's)",
        OAUTH_SYSTEMS,
    ),
    ConnectorKey(
        "client_id",
        Secret,
        "the OAuth client id of the {vendor} app (shown as a secret: it names the app)",
        OAUTH_SYSTEMS,
        secret=True,
    ),
    ConnectorKey(
        "client_secret",
        Secret,
        "the OAuth client secret of the {vendor} app",
        OAUTH_SYSTEMS,
        secret=True,
    ),
    ConnectorKey(
        "refresh_token",
        Secret,
        "the OAuth refresh token for {vendor}; an expired access token is refreshed once on a 401",
        OAUTH_SYSTEMS,
        secret=True,
    ),
    ConnectorKey(
        "api_key",
        Secret,
        "the {vendor} API key (its `-usN` suffix names the data centre)",
        ("mailchimp",),
        secret=True,
    ),
    ConnectorKey(
        "developer_token", Secret, "the {vendor} developer token", ("google_ads",), secret=True
    ),
    ConnectorKey("customer_ids", Ids, "the {vendor} customer ids to read", ("google_ads",)),
    ConnectorKey(
        "login_customer_id",
        Id,
        "the {vendor} manager account the calls go through",
        ("google_ads",),
    ),
    ConnectorKey(
        "account_ids",
        Ids,
        "the {vendor} ad account ids to read (LinkedIn: unset reads every account the token sees)",
        ("meta_ads", "linkedin_ads"),
    ),
    ConnectorKey(
        "start_date",
        Day,
        "the first day of {vendor} history to read (unset: the connector's history window)",
        AD_SYSTEMS,
    ),
    ConnectorKey(
        "api_version",
        None,
        "the {vendor} API version sent (unset: the default in "
        "`src/revops/sources/versions.py`; a run warns near its sunset)",
        _versioned,
    ),
    ConnectorKey(
        "schema_drift",
        Choice(*DRIFT_MODES),
        "REVOPS_SCHEMA_DRIFT for {vendor} only (unset: REVOPS_SCHEMA_DRIFT)",
    ),
    # vendor limits
    ConnectorKey(
        "search_per_second",
        Number,
        "search requests a second (HubSpot allows 5 per "
        "account; one is kept for anything else using it)",
        ("hubspot",),
        4.0,
        constraints=(("ge", 0.1), ("le", 5)),
    ),
    ConnectorKey(
        "search_overlap_minutes",
        Number,
        "how far behind its cursor each run re-reads contacts, companies and deals (minutes)",
        ("hubspot",),
        60.0,
        constraints=(("ge", 0), ("le", 7 * 24 * 60)),
    ),
    *(
        ConnectorKey(
            f"{obj}_properties",
            PropertyNames,
            f"{obj} properties to read besides the "
            "ones the marts need (each becomes a text column)",
            ("hubspot",),
        )
        for obj in HUBSPOT_OBJECTS
    ),
    ConnectorKey(
        "bulk_threshold",
        WholeNumber,
        "rows in an object's window above which it is read with Bulk API 2.0 (`0`: always)",
        ("salesforce",),
        10_000,
        constraints=(("ge", 0),),
    ),
    ConnectorKey(
        "bulk_page_rows",
        WholeNumber,
        "`maxRecords` per Bulk result set",
        ("salesforce",),
        50_000,
        constraints=(("ge", 1),),
    ),
    ConnectorKey(
        "bulk_poll_seconds",
        Number,
        "first wait between polls of a Bulk job (doubling up to 30 s)",
        ("salesforce",),
        2.0,
        constraints=(("ge", 0),),
    ),
    ConnectorKey(
        "bulk_max_wait_minutes",
        WholeNumber,
        "a Bulk job not done after this long is aborted and the run fails naming it",
        ("salesforce",),
        120,
        constraints=(("ge", 1),),
    ),
    ConnectorKey(
        "job_retries",
        WholeNumber,
        "resubmissions (days split in two) of a failed, "
        "skipped, timed-out or too-large insights report run per 14-day chunk",
        ("meta_ads",),
        5,
        constraints=(("ge", 0), ("le", 50)),
    ),
    ConnectorKey(
        "job_timeout",
        Number,
        "longest wait in seconds for one report run to complete (Meta: up to an hour)",
        ("meta_ads",),
        3600.0,
        constraints=(("ge", 1),),
    ),
    ConnectorKey(
        "job_concurrency",
        WholeNumber,
        "insights report runs in flight at once per ad account, read in day order (Meta "
        "documents no cap on concurrent async report runs; its usage headers pace them)",
        ("meta_ads",),
        3,
        constraints=(("ge", 1), ("le", 20)),
    ),
    ConnectorKey(
        "usage_threshold",
        Number,
        "usage (%) in Meta's headers above which the "
        "connector slows down (never longer than REVOPS_HTTP_MAX_RETRY_AFTER)",
        ("meta_ads",),
        75.0,
        constraints=(("ge", 1), ("le", 99)),
    ),
    ConnectorKey(
        "analytics_max_elements",
        WholeNumber,
        "the adAnalytics element cap requests are planned against (LinkedIn documents 15,000)",
        ("linkedin_ads",),
        15_000,
        constraints=(("ge", 2), ("le", 15_000)),
    ),
    ConnectorKey(
        "activity_days",
        WholeNumber,
        "days after a send during which a campaign's email activity is read again",
        ("mailchimp",),
        30,
        constraints=(("ge", 1), ("le", 3650)),
    ),
)
"""Every per-connector key; a test holds each connector's defaults to these."""

RETIRED: dict[str, str] = {
    "REVOPS_LINKEDIN_ADS_VERSION": "REVOPS_LINKEDIN_ADS_API_VERSION",
}
"""Former names, refused naming the setting that replaced them."""


def _systems() -> tuple[str, ...]:
    from revops.vocabulary import SYSTEMS

    return SYSTEMS


def _connector_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for system in _systems():
        for spec in CONNECTOR_KEYS:
            if system not in spec.for_systems(_systems()):
                continue
            annotation, default = spec.annotation, spec.default
            if spec.key == "api_version":  # the dated list owns each vendor's default
                from revops.sources.versions import vendor

                annotation, default = _api_version(system), vendor(system).default
            if default is None:
                annotation = annotation | None
            fields[f"{system}_{spec.key}"] = (
                annotation,
                _setting(
                    default,
                    spec.description.format(vendor=system),
                    "connector",
                    secret=spec.secret,
                    system=system,
                    **dict(spec.constraints),
                ),
            )
    return fields


def _edition_fields() -> dict[str, Any]:
    """``REVOPS_REPORT_RECIPIENTS_<EDITION>`` for each report edition."""
    return {
        f"report_recipients_{edition}": (
            Addresses | None,
            _setting(
                None,
                f"who receives the {edition} edition (unset: REVOPS_REPORT_RECIPIENTS)",
                "report",
            ),
        )
        for edition in _editions()
    }


Settings = create_model(
    "Settings",
    __base__=CoreSettings,
    __doc__="Every REVOPS_* setting: the core ones and REVOPS_<SYSTEM>_<KEY> per connector.",
    __module__=__name__,
    **_edition_fields(),
    **_connector_fields(),
)


# -- reading ---------------------------------------------------------------------------------


def env_name(field: str) -> str:
    """``REVOPS_<FIELD>`` for a field name such as ``http_max_attempts``."""
    return f"{PREFIX}{field}".upper()


def field_name(variable: str) -> str:
    """The field behind ``REVOPS_<NAME>`` (``REVOPS_DEBUG`` -> ``debug``)."""
    return variable[len(PREFIX) :].lower() if variable.upper().startswith(PREFIX) else variable


def fields() -> dict[str, FieldInfo]:
    """Every setting's field, by field name, in declaration order."""
    return dict(Settings.model_fields)


def is_secret(name: str) -> bool:
    """Whether setting ``name`` (field or variable name) holds a secret (a token, a password,
    a key, a client secret, or a URL that may carry a password)."""
    extra = fields()[field_name(name)].json_schema_extra
    return bool(isinstance(extra, dict) and extra.get("secret"))


def load(environ: Mapping[str, str] | None = None) -> Any:
    """The settings from ``environ`` (default ``os.environ``); a value revops cannot use
    raises :class:`ConfigError` naming every variable at fault."""
    environ = os.environ if environ is None else environ
    for old, new in RETIRED.items():
        if (environ.get(old) or "").strip():
            raise ConfigError(
                f"{old}={environ[old]!r} is no longer read: the setting is now {new} (unset, "
                "it takes its default); rename the variable, or remove it to use the default"
            )
    token = _ENVIRON.set(environ)
    try:
        return Settings()
    except ValidationError as err:
        raise ConfigError(_messages(err, environ)) from None
    finally:
        _ENVIRON.reset(token)


_cache: tuple[tuple[tuple[str, str], ...], Any] | None = None


def _env_key() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(PREFIX)))


def current() -> Any:
    """The settings of this process: read once, and again whenever a ``REVOPS_*`` variable
    changed since (a test, an Airflow connection filled in, ``os.environ`` edited)."""
    global _cache
    key = _env_key()
    if _cache is None or _cache[0] != key:
        _cache = (key, load())
    return _cache[1]


def reload() -> Any:
    """Read the settings from the environment again now."""
    global _cache
    _cache = None
    return current()


def get(name: str) -> Any:
    """One setting's value by field or variable name (secrets as plain text: for the code that
    sends them, never for output)."""
    value = getattr(current(), field_name(name))
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def source(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Where a setting's value comes from: ``env`` (set, not blank) or ``default``."""
    environ = os.environ if environ is None else environ
    return "env" if (environ.get(env_name(field_name(name))) or "").strip() else "default"


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the secret settings set in ``environ`` (tokens, passwords, keys; URLs are
    redacted by their password instead), longest first, for masking them in text."""
    environ = os.environ if environ is None else environ
    found = [
        environ.get(env_name(name)) or ""
        for name in fields()
        if is_secret(name) and not _is_url_setting(name)
    ]
    return sorted({v for v in found if len(v) >= 4}, key=len, reverse=True)


def default(name: str) -> Any:
    """A setting's declared default (by field or variable name)."""
    return fields()[field_name(name)].default


def connector(system: str, key: str) -> Any:
    """``REVOPS_<SYSTEM>_<KEY>``'s value (None when unset and without a default, and for a
    key the system does not have, such as a test's own fake system)."""
    name = f"{system}_{key}"
    return get(name) if name in Settings.model_fields else None


# -- messages ----------------------------------------------------------------------------------


def _kind(annotation: Any) -> Kind | None:
    """The :class:`Kind` of a field or in an annotation (through ``Optional``/``Annotated``)."""
    if isinstance(annotation, FieldInfo):
        found = next((m for m in annotation.metadata if isinstance(m, Kind)), None)
        return found or _kind(annotation.annotation)
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Kind):
            return meta
    for arg in typing.get_args(annotation):
        found = _kind(arg)
        if found is not None:
            return found
    return None


def _bounds(info: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def visit(metadata: Any) -> None:
        for meta in metadata:
            if isinstance(meta, FieldInfo):
                visit(meta.metadata)
            for bound in ("ge", "gt", "le", "lt"):
                if hasattr(meta, bound):
                    found[bound] = getattr(meta, bound)

    visit(info.metadata)

    def walk(annotation: Any) -> None:
        visit(getattr(annotation, "__metadata__", ()))
        for arg in typing.get_args(annotation):
            walk(arg)

    walk(info.annotation)
    return found


def accepts(name: str) -> str:
    """What setting ``name`` accepts, in words (``a whole number, at least 1``)."""
    info = fields()[field_name(name)]
    kind = _kind(info)
    text = kind.accepts if kind else "text"
    b = {bound: _number(value) for bound, value in _bounds(info).items()}
    low = f"at least {b['ge']}" if "ge" in b else f"above {b['gt']}" if "gt" in b else ""
    high = f"at most {b['le']}" if "le" in b else f"below {b['lt']}" if "lt" in b else ""
    bounds = (
        f"{b['ge']} to {b['le']}"
        if "ge" in b and "le" in b
        else ", ".join(filter(None, [low, high]))
    )
    if "{bounds}" in text:  # the kind says where its range goes
        return text.format(bounds=f" {bounds}" if bounds else "")
    return ", ".join(filter(None, [text, bounds]))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def default_text(name: str) -> str:
    """A setting's default as ``revops config`` and the reference show it."""
    value = fields()[field_name(name)].default
    if value is None:
        return "unset"
    return _shown(name, value)


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr) or (is_secret(name) and not _is_url_setting(name)):
        return HIDDEN
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if is_secret(name):
        from revops.warehouse import redact

        return redact(text)
    return text


def _is_url_setting(name: str) -> bool:
    kind = _kind(fields()[field_name(name)])
    return kind is not None and "url" in kind.name


def shown_raw(name: str, raw: str) -> str:
    """A variable's text as a message may show it: quoted, a secret's replaced by a note, a
    URL's password by ``***``."""
    if not is_secret(name):
        return repr(raw)
    if _is_url_setting(name):
        from revops.warehouse import redact

        return repr(redact(raw))
    return f"({len(raw)} characters, a secret: not shown)"


_PROBLEMS = {
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a number",
    "finite_number": "is not a number",
    "bool_parsing": "is not a yes/no value",
    "date_parsing": "is not an ISO date",
    "date_from_datetime_parsing": "is not an ISO date",
    "date_from_datetime_inexact": "is not an ISO date",
    "literal_error": "is not one of the values it accepts",
}


def _messages(err: ValidationError, environ: Mapping[str, str]) -> str:
    lines: list[str] = []
    seen: set[str] = set()
    lowered = {k.upper(): v for k, v in environ.items()}
    for error in err.errors(include_url=False, include_input=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        if name not in Settings.model_fields or name in seen:
            continue
        seen.add(name)
        variable = env_name(name)
        raw = lowered.get(variable, "")
        kind = error["type"]
        if kind == "value_error":
            problem = str(error.get("ctx", {}).get("error", error["msg"]))
            if problem.startswith(variable):
                lines.append(problem)
                continue
            problem = f": {problem}"
        elif kind in _PROBLEMS:
            problem = f" {_PROBLEMS[kind]}"
        elif kind.startswith(("greater_than", "less_than")):
            problem = " is out of range"
        else:
            problem = f": {error['msg']}"
        description = fields()[name].description or ""
        lines.append(
            f"{variable}={shown_raw(name, raw)}{problem}; it accepts {accepts(name)} "
            f"(default {default_text(name)}; it holds {description}): fix or unset it"
        )
    return "\n".join(lines) or str(err)


# -- listing and the reference -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of ``revops config``: a variable, its value as shown and where it came from."""

    variable: str
    shown: str
    source: str  # "env" or "default"
    group: str


def entries(settings: Any | None = None, environ: Mapping[str, str] | None = None) -> list[Entry]:
    """Every setting with its value (secrets ``***``, URL passwords ``***``) and its source."""
    settings = current() if settings is None else settings
    environ = os.environ if environ is None else environ
    rows = []
    for name, info in fields().items():
        variable = env_name(name)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        rows.append(
            Entry(
                variable,
                _shown(name, getattr(settings, name)),
                source(name, environ),
                str(extra.get("group", "")),
            )
        )
    return rows


def config_lines(settings: Any | None = None) -> list[str]:
    """What ``revops config`` prints: one line per setting, by section."""
    rows = entries(settings)
    width = max(len(r.variable) for r in rows)
    lines: list[str] = []
    for group, title in GROUPS.items():
        chosen = [r for r in rows if r.group == group]
        if not chosen:
            continue
        lines.append(f"# {title}")
        lines += [f"{r.variable:<{width}}  {r.source:<7}  {r.shown}" for r in chosen]
    return lines


def reference() -> str:
    """``docs/settings.md``: every setting by section, with what it accepts, its default and
    what it holds (generated: ``python -m revops.settings > docs/settings.md``)."""
    out = [
        "# Settings",
        "",
        "<!-- generated from src/revops/settings.py by `python -m revops.settings`; "
        "do not edit -->",
        "",
        "Every setting is an environment variable. `revops config` prints each one's value "
        "and whether it came from the environment or is the default (secrets as `***`); "
        "`revops config --check` checks them, as every `revops` command does before it runs. "
        "A value revops cannot use stops the command naming the variable and what it accepts.",
        "",
        "Connector settings `REVOPS_<SYSTEM>_<KEY>` exist for each system in "
        "`dbt_project.yml` (`vars: systems`). Inside Airflow, a connection `revops_<system>` "
        "fills the ones the environment leaves unset (host: URL, login: client id, password: "
        "token or API key, extras: the other keys by name), and `revops_smtp` the mail "
        "settings; the environment wins.",
        "",
        "Not settings: `REVOPS_PG_*` (dbt's profile) and `REVOPS_GATE_WAREHOUSE_SQLALCHEMY_URL` "
        "(Great Expectations' datasource) are written by revops, from the warehouse setting, "
        "for each dbt call and gate run; revops does not read them.",
    ]
    tables: dict[tuple[str, str], list[str]] = {}
    for name, info in fields().items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        secret = " (secret)" if is_secret(name) else ""
        tables.setdefault((str(extra["group"]), str(extra.get("system") or "")), []).append(
            f"| `{env_name(name)}`{secret} | {accepts(name)} | {default_text(name)} | "
            f"{(info.description or '').replace('|', '/')} |"
        )
    for group, title in GROUPS.items():
        for (where, system), rows in tables.items():
            if where != group:
                continue
            if not system or system == _systems()[0]:
                out += ["", f"## {title}"]
            out += ["", f"### {system}"] if system else []
            out += ["", "| variable | accepts | default | meaning |", "| --- | --- | --- | --- |"]
            out += rows
    return "\n".join(out) + "\n"


def variables() -> Iterator[str]:
    """Every setting's variable name."""
    return (env_name(name) for name in fields())


if __name__ == "__main__":
    print(reference(), end="")
