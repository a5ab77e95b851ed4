"""``make demo``: the whole product on one machine, with nothing to install but Python.

Starts the embedded warehouse, the vendor simulator and a local SMTP server, points every
connector at the simulator, runs the real Airflow DAGs (extract -> transform -> publish) and
prints what landed where. The warehouse is left running so BI tools and ``psql`` can read it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from revops.config import out_dir
from revops.settings import current, source


def _say(message: str) -> None:
    print(message, flush=True)


def _raw_and_mart_counts(url: str) -> dict[str, dict[str, int]]:
    from psycopg import sql

    from revops.warehouse import connect

    counts: dict[str, dict[str, int]] = {}
    with connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where ((table_schema like 'raw\\_%%' and table_schema not like '%%\\_staging') "
            "or table_schema = 'marts') "
            "and table_name not like '\\_dlt\\_%%' and table_type = 'BASE TABLE' "
            "order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            counts.setdefault(schema, {})[table] = conn.execute(query).fetchone()[0]
    return counts


def _funnel_counts(url: str) -> dict[str, int]:
    from revops.warehouse import connect

    stages = ["lead", "mql", "sal", "sql", "opportunity", "customer"]
    select = ", ".join(f"count({stage}_at)" for stage in stages)
    with connect(url) as conn:
        row = conn.execute(f"select {select} from marts.fct_funnel").fetchone()
    return dict(zip(stages, row, strict=True))


def run_demo(seed: int = 42, scale: float = 1.0) -> int:
    """Run the demo end to end; return the process exit code."""
    from revops.orchestration import PIPELINE_DAGS, run_dags
    from revops.reports.mailcatcher import MailCatcher
    from revops.simulator import Company, SimulatorServer
    from revops.transform import dbt_env
    from revops.warehouse import configured_url, redact, warehouse_url

    started = time.monotonic()
    _say("revops demo: simulator -> extract -> warehouse -> dbt -> quality gate -> report")
    _say(
        "[1/5] warehouse: "
        + ("using REVOPS_WAREHOUSE_URL" if configured_url() else "starting the embedded PostgreSQL")
    )
    url = warehouse_url()
    _say(f"      {redact(url)}")

    _say(f"[2/5] vendor simulator: generating the company (seed {seed}, scale {scale})")
    # the simulated clock stops at the start of today (UTC): every demo run of a day serves the
    # same company, so reruns load the same rows; tomorrow's demo has a day more
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    company = Company.generate(seed=seed, scale=scale, as_of=today)
    outbox = out_dir() / "outbox"
    with SimulatorServer(company).start() as simulator, MailCatcher(outbox) as catcher:
        _say("      serving " + ", ".join(f"{name} {url}" for name, url in simulator.urls.items()))
        _say(f"[3/5] mail: local SMTP server on 127.0.0.1:{catcher.port}, saving to {outbox}")
        given = current()  # the shell's settings win over the demo's
        env = {
            **simulator.env(),
            **dbt_env(url),
            "REVOPS_WAREHOUSE_URL": url,
            "REVOPS_SMTP_HOST": "127.0.0.1",
            "REVOPS_SMTP_PORT": str(catcher.port),
            "REVOPS_SMTP_STARTTLS": "false",
            "REVOPS_REPORT_SENDER": given.report_sender or "revops@example.com",
            "REVOPS_REPORT_RECIPIENTS": ",".join(
                given.report_recipients or ["leadership@example.com"]
            ),
            "REVOPS_OUT_DIR": str(out_dir()),
            "REVOPS_ALERT_RECIPIENTS": ",".join(
                given.alert_recipients or ["data-oncall@example.com"]
            ),
            # the demo sends the weekly edition unless the editions are set
            "REVOPS_REPORT_EDITIONS": ",".join(
                given.report_editions if source("report_editions") == "env" else ["weekly"]
            ),
        }
        before = set(outbox.glob("*.eml"))
        _say("[4/5] Airflow: running the DAGs " + " -> ".join(PIPELINE_DAGS))
        run_dags(PIPELINE_DAGS, extra_env=env, progress=_say)
        sent = sorted(set(outbox.glob("*.eml")) - before)

    _say("[5/5] summary")
    counts = _raw_and_mart_counts(url)
    for schema in sorted(counts):
        if schema.startswith("raw_"):
            detail = ", ".join(f"{t} {n:,}" for t, n in counts[schema].items())
            _say(f"      {schema}: {detail}")
    funnel = _funnel_counts(url)
    _say("      funnel: " + " -> ".join(f"{stage} {n:,}" for stage, n in funnel.items()))
    _say("      quality gate: passed (the report is only sent when it passes)")
    _say(f"      Data Docs: {out_dir() / 'data_docs' / 'index.html'}")
    reports = sorted((out_dir() / "reports").rglob("*.html"), key=lambda p: p.stat().st_mtime)
    if reports:
        _say(f"      report: {reports[-1]}")
    for message in sent:
        _say(f"      email sent: {message}")
    _say(
        f"      warehouse: {redact(url)} (marts schema `marts`; "
        f"`revops warehouse stop` stops the embedded one)"
    )
    _say(f"done in {time.monotonic() - started:.0f}s")
    return 0 if sent else 1
