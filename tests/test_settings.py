"""The one settings module (revops.settings): every REVOPS_* setting typed, checked at start
naming the variable, listed by ``revops config`` with secrets redacted, and documented in
docs/settings.md generated from it.

The cases are generated from the module: a setting added there is tested here without an edit,
and a new kind of value fails :func:`test_every_kind_has_a_wrong_value` until it has one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import last_line, run_revops

from revops import cli, settings
from revops.settings import ConfigError, env_name, fields, is_secret

ROOT = Path(__file__).resolve().parent.parent

WRONG: dict[str, str] = {
    "whole number": "twelve",
    "number": "fast",
    "flag": "maybe",
    "date": "2026-13-45",
    "port": "70000",
    "text": "two words",
    "secret": "s3cret with spaces",
    "password": "s3cret\nline",
    "http url": "ftp//nowhere",
    "url": "nowhere",
    "warehouse url": "mysql://root:s3cret@localhost/x",
    "folder": "<a file>",
    "file": "/no/such/file.pem",
    "new file": "/no/such/folder/shot.png",
    "host": "smtp://mail.example.com",
    "address": "nobody",
    "addresses": "ceo@example.com, nobody",
    "id": "12 34",
    "ids": "123,45 67",
    "choice": "sometimes",
    "choices": "weekly,yearly",
    "properties": "name,Annual Revenue",
    "api version": "latest",
    "deadline": "-1",
}
"""A value each kind of setting refuses (``<a file>``: the path of an existing file)."""


def _kind(name: str) -> str:
    found = settings._kind(fields()[name])
    assert found is not None, f"{env_name(name)} has no Kind: declare it with one of the kinds"
    return found.name


def _wrong(name: str, tmp_path: Path) -> str:
    value = WRONG[_kind(name)]
    if value == "<a file>":
        path = tmp_path / "a-file"
        path.write_text("not a folder")
        value = str(path)
    return value


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No REVOPS_* of the shell running the tests, and the settings read afresh."""
    import os

    for name in [n for n in os.environ if n.upper().startswith("REVOPS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings.reload()


def test_every_kind_has_a_wrong_value() -> None:
    assert {_kind(name) for name in fields()} <= set(WRONG)


def test_every_system_has_its_connector_settings() -> None:
    from revops.vocabulary import SYSTEMS

    names = set(settings.variables())
    for system in SYSTEMS:
        assert {env_name(f"{system}_url"), env_name(f"{system}_token")} <= names, system
    assert env_name("google_ads_developer_token") in names
    assert env_name("salesforce_api_version") in names and env_name("mailchimp_api_key") in names


@pytest.mark.parametrize("name", list(fields()), ids=env_name)
def test_a_wrong_value_fails_at_start_naming_the_variable(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    variable, wrong = env_name(name), _wrong(name, tmp_path)
    monkeypatch.setenv(variable, wrong)
    assert cli.main(["config", "--check"]) == 1
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"revops: error: {variable}"), line
    assert "Traceback" not in err
    if is_secret(name):
        assert "s3cret" not in err
    else:
        assert repr(wrong) in line or wrong in line
    if _kind(name) != "warehouse url":  # libpq's parser says what is wrong, and the form
        assert f"it accepts {settings.accepts(name)}" in line


def test_a_wrong_value_stops_any_command_before_it_runs(tmp_path: Path) -> None:
    done = run_revops(
        tmp_path, "extract", "hubspot", env={"REVOPS_META_ADS_JOB_RETRIES": "99"}, timeout=120
    )
    assert done.returncode == 1
    line = last_line(done)
    assert line.startswith("revops: error: REVOPS_META_ADS_JOB_RETRIES='99' is out of range")
    assert "0 to 50" in line and "warehouse" not in done.stderr.lower()


def test_config_lists_every_setting_and_never_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    secrets = {
        "warehouse_url": "postgresql://u:s3cret-wh@db.example.com:5432/wh",
        "test_warehouse_url": "postgresql://u:s3cret-test@db.example.com/t",
        "test_airflow_db_server": "postgresql://u:s3cret-af-test@db.example.com/postgres",
        "airflow_db_url": "postgresql+psycopg://u:s3cret-af@db.example.com/airflow",
        "celery_broker_url": "redis://:s3cret-redis@127.0.0.1:6379/0",
        "smtp_password": "s3cret smtp password",
    }
    for name in fields():
        if is_secret(name):
            monkeypatch.setenv(env_name(name), secrets.get(name, f"s3cret-{name}"))
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:1] != "#"}
    assert set(lines) == set(settings.variables())
    for name in fields():
        source, *shown = lines[env_name(name)]
        assert source == ("env" if is_secret(name) else "default"), name
    assert lines["REVOPS_WAREHOUSE_URL"][1] == "postgresql://u:***@db.example.com:5432/wh"
    assert lines["REVOPS_HUBSPOT_TOKEN"][1] == "***"
    assert lines["REVOPS_HTTP_MAX_ATTEMPTS"] == ["default", "8"]


def test_check_counts_every_setting(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["config", "--check"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"revops: {len(fields())} settings checked, all usable"
    )


def test_settings_are_read_when_needed_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DAG file parsed, or a module imported, before a variable is set still sees it."""
    assert settings.current().http_max_attempts == 8
    monkeypatch.setenv("REVOPS_HTTP_MAX_ATTEMPTS", "3")
    assert settings.current().http_max_attempts == 3
    monkeypatch.setenv("REVOPS_HTTP_MAX_ATTEMPTS", "0")
    with pytest.raises(ConfigError, match="REVOPS_HTTP_MAX_ATTEMPTS='0' is out of range"):
        settings.current()


def test_a_given_environment_is_read_instead_of_the_process_one() -> None:
    given = settings.load({"REVOPS_SMTP_PORT": "2525", "REVOPS_REPORT_EDITIONS": "Monthly"})
    assert (given.smtp_port, given.report_editions) == (2525, ("monthly",))
    assert settings.current().smtp_port is None


def test_values_are_typed() -> None:
    s = settings.load(
        {
            "REVOPS_GOOGLE_ADS_CUSTOMER_IDS": "123-456-7890, 111",
            "REVOPS_GOOGLE_ADS_API_VERSION": "26",
            "REVOPS_META_ADS_API_VERSION": "26",
            "REVOPS_REPORT_DEADLINE_HOURS": "off",
            "REVOPS_HUBSPOT_DEALS_PROPERTIES": "a,b,a",
            "REVOPS_DEBUG": "yes",
        }
    )
    assert s.google_ads_customer_ids == ("1234567890", "111")
    assert (s.google_ads_api_version, s.meta_ads_api_version) == ("v26", "v26.0")
    assert s.report_deadline_hours is None and s.debug is True
    assert s.hubspot_deals_properties == ("a", "b")


def test_a_former_name_is_refused_naming_the_new_one() -> None:
    with pytest.raises(ConfigError, match="REVOPS_LINKEDIN_ADS_API_VERSION"):
        settings.load({"REVOPS_LINKEDIN_ADS_VERSION": "202601"})


def test_the_reference_is_generated_from_the_module() -> None:
    """docs/settings.md is ``python -m revops.settings``: regenerate it after a change."""
    assert (ROOT / "docs" / "settings.md").read_text() == settings.reference()
    for variable in settings.variables():
        assert f"`{variable}`" in settings.reference()


def test_the_connectors_defaults_are_the_settings_defaults() -> None:
    """Where a connector keeps a setting's default beside its own logic, it is this one."""
    from revops.simulator.credentials import OAUTH_PATHS
    from revops.sources import base, hubspot, linkedin_ads, mailchimp, meta_ads
    from revops.sources.http import RetryPolicy

    d = settings.default
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay, policy.max_delay, policy.max_retry_after) == (
        d("http_max_attempts"),
        d("http_base_delay"),
        d("http_max_delay"),
        d("http_max_retry_after"),
    )
    assert d("load_batch_rows") == base.DEFAULT_LOAD_BATCH_ROWS
    assert d("load_work_mem_mb") == base.DEFAULT_LOAD_WORK_MEM_MB
    assert d("hubspot_search_per_second") == hubspot.SEARCH_PER_SECOND
    assert d("hubspot_search_overlap_minutes") == hubspot.OVERLAP.total_seconds() / 60
    assert set(settings.HUBSPOT_OBJECTS) == set(hubspot.DECLARED_PROPERTIES)
    assert d("linkedin_ads_analytics_max_elements") == linkedin_ads.MAX_ELEMENTS
    cap = settings._bounds(fields()["linkedin_ads_analytics_max_elements"])["le"]
    assert cap == linkedin_ads.MAX_ELEMENTS
    assert d("mailchimp_activity_days") == mailchimp.DEFAULT_ACTIVITY_DAYS
    assert (d("meta_ads_job_retries"), d("meta_ads_job_timeout")) == (
        meta_ads.JOB_RETRIES,
        meta_ads.JOB_TIMEOUT,
    )
    assert d("meta_ads_usage_threshold") == meta_ads.USAGE_THRESHOLD
    assert set(settings.OAUTH_SYSTEMS) == set(OAUTH_PATHS)


def test_the_simulators_environment_is_valid() -> None:
    from revops.simulator.credentials import env_exports

    env = env_exports("https://127.0.0.1:8765")
    s = settings.load(env)
    assert s.hubspot_url == env["REVOPS_HUBSPOT_URL"]
    assert settings.secret_values(env)  # its tokens are masked in run logs


def test_an_airflow_connection_fills_what_the_environment_leaves_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside Airflow, ``revops_<system>`` stands for REVOPS_<SYSTEM>_*; the environment wins."""
    import sys
    import types

    from revops.sources.settings import apply_airflow_connection, oauth_token

    connection = types.SimpleNamespace(
        host="https://api.example.com",
        login="client-1",
        password="s3cret-token",
        extra_dejson={"refresh_token": "s3cret-refresh", "search_per_second": "2"},
    )
    hook = types.SimpleNamespace(get_connection=lambda conn_id: connection)
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.sdk", types.SimpleNamespace(BaseHook=hook))
    monkeypatch.setenv("REVOPS_HUBSPOT_URL", "https://env.example.com")
    for name in ("TOKEN", "CLIENT_ID", "REFRESH_TOKEN", "SEARCH_PER_SECOND"):
        monkeypatch.delenv(f"REVOPS_HUBSPOT_{name}", raising=False)  # undone after the test
    assert apply_airflow_connection("hubspot") is True
    s = settings.current()
    assert s.hubspot_url == "https://env.example.com"  # the environment wins
    assert s.hubspot_token.get_secret_value() == "s3cret-token"
    assert s.hubspot_search_per_second == 2.0
    token = oauth_token("hubspot")
    assert token._client == ("client-1", None, "s3cret-refresh")


def test_help_is_shown_even_with_a_wrong_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("REVOPS_DEBUG", "maybe")
    with pytest.raises(SystemExit) as done:
        cli.main(["config", "--help"])
    assert done.value.code == 0 and "revops config" in capsys.readouterr().out
