"""The e-mail's numbers are the semantic layer's: every headline figure of a rendered report
equals what an analyst gets from ``mf query`` for the same period.

The warehouse is the consistent world of ``test_publish_data`` (its marts as dbt defines them).
``mf`` runs as an analyst runs it: in a copy of the dbt project parsed against that warehouse
(``dbt parse``), the connection from the project's ``profiles.yml``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from test_publish_data import build_world
from warehouse_checks import new_database

from revops.config import dbt_project_dir
from revops.reports import semantic
from revops.reports.data import HEADLINE, STAGE_MEASURES, STEPS, build_report
from revops.reports.format import fmt_value
from revops.reports.periods import Period, parse_period
from revops.reports.render import render_report
from revops.warehouse import Warehouse

W46 = parse_period("2026-W46")
OCT = parse_period("2026-10")
BIN = Path(sys.executable).parent
HEADLINE_LINE = re.compile(
    r"^(?P<label>\S.*?)\s{2,}(?P<value>\S.*?)\s{2,}\S.*?\s{2,}(?P<before>[\d-]+W?\d+): "
    r"(?P<previous>\S.*)$"
)


@pytest.fixture(scope="module")
def world(server_url: str) -> Iterator[str]:
    with new_database(server_url) as url:
        build_world(url)
        yield url


@pytest.fixture(scope="module")
def analyst(world: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of an analyst's shell: ``cwd`` a copy of the dbt project parsed
    against the world (``target/semantic_manifest.json``), the connection in REVOPS_PG_*."""
    project = tmp_path_factory.mktemp("analyst") / "dbt_project"
    shutil.copytree(
        dbt_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    shell = {k: v for k, v in os.environ.items() if k != "DBT_TARGET_PATH"}  # the test run's
    env = {**shell, **Warehouse.parse(world).dbt_env(), "DBT_PROFILES_DIR": str(project)}
    parsed = subprocess.run(
        [BIN / "dbt", "parse", "--project-dir", project, "--profiles-dir", project],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    return {**env, "cwd": str(project)}


def mf_query(
    analyst: dict[str, str], metrics: list[str], group_by: list[str], where: list[str]
) -> list[dict[str, str]]:
    """``mf query`` as an analyst types it; the rows of its CSV output."""
    env = dict(analyst)
    cwd = env.pop("cwd")
    out = Path(cwd) / "query.csv"
    command = [BIN / "mf", "query", "--metrics", ",".join(metrics)]
    command += ["--group-by", ",".join(group_by), "--csv", out]
    for condition in where:
        command += ["--where", condition]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    with out.open() as handle:
        return list(csv.DictReader(handle))


def headline_of(text: str) -> dict[str, tuple[str, str]]:
    """The HEADLINE block of a rendered text part: label -> (value, previous value)."""
    block = text.split("HEADLINE\n", 1)[1].split("\n\n", 1)[0]
    found = {}
    for line in block.splitlines():
        match = HEADLINE_LINE.match(line)
        assert match, line
        found[match["label"]] = (match["value"], match["previous"])
    return found


def mf_number(value: str) -> float | None:
    return float(value) if value not in ("", "None") else None


STAGES = [measure for measure, _ in STAGE_MEASURES]
RATES = {step: f"{step}_rate" for step, _ in STEPS}


@pytest.mark.parametrize("period", [W46, OCT], ids=["week", "month"])
def test_every_headline_and_funnel_figure_is_an_mf_query_of_the_same_period(
    world: str, analyst: dict[str, str], period: Period
) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, period)
    shown = headline_of(render_report(report, with_pdf=False).text)
    grain = period.period_type
    rows = mf_query(
        analyst,
        list(dict.fromkeys([*(metric for *_, metric, _ in HEADLINE), *STAGES, *RATES.values()])),
        [f"metric_time__{grain}"],
        [semantic.period_filter(grain, [period.start, report.previous_period.start])],
    )
    by_start = {row[f"metric_time__{grain}"][:10]: row for row in rows}
    now, before = (
        by_start[period.start.isoformat()],
        by_start[report.previous_period.start.isoformat()],
    )
    assert len(shown) == len(HEADLINE) == 6
    checked = 0
    for key, label, kind, _, metric, _ in HEADLINE:
        kpi = report.kpi(key)
        for row, figure, text in (
            (now, kpi.current, shown[label][0]),
            (before, kpi.previous, shown[label][1]),
        ):
            value = mf_number(row[metric])
            assert text == fmt_value(value, kind, report.currency), (key, text, row[metric])
            assert figure == (value if value is None else pytest.approx(value, rel=1e-12)), key
            checked += value is not None
    assert checked >= 10  # n/a only where there is nothing to divide by
    funnel = report.funnel
    assert funnel is not None
    for row, counts, rates in (
        (now, funnel.current, funnel.rates),
        (before, funnel.previous, funnel.previous_rates),
    ):
        assert [counts.get(m) for m in STAGES] == [int(row[m]) for m in STAGES]
        for step, metric in RATES.items():
            value = mf_number(row[metric])
            assert rates[step] == (value if value is None else pytest.approx(value, rel=1e-12))


def test_the_attribution_table_is_an_mf_query_of_the_same_period(
    world: str, analyst: dict[str, str]
) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, W46)
    attribution = report.attribution
    assert attribution is not None
    rows = mf_query(
        analyst,
        ["attributed_pipeline", "attributed_revenue"],
        ["metric_time__week", "credit__channel", "credit__model"],
        [
            semantic.period_filter("week", [W46.start]),
            semantic.dimension_filter("credit__model", attribution.models),
        ],
    )
    queried = {}
    for found in rows:
        key = (found["credit__channel"], found["credit__model"])
        queried[(*key, "pipeline")] = float(found["attributed_pipeline"])
        queried[(*key, "revenue")] = float(found["attributed_revenue"])
    checked = 0
    for measure in ("pipeline", "revenue"):
        for channel, by_model in getattr(attribution, measure).items():
            for model, value in by_model.items():
                assert value == pytest.approx(queried[(channel, model, measure)], rel=1e-12)
                checked += 1
    assert checked >= 12


def test_roas_per_channel_and_model_is_an_mf_query_of_the_same_period(
    world: str, analyst: dict[str, str]
) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, W46)
    assert report.spend and report.attribution
    rows = mf_query(
        analyst,
        ["attributed_roas"],
        ["metric_time__week", "attributed_spend__channel", "attributed_spend__model"],
        [semantic.period_filter("week", [W46.start])],
    )
    queried = {
        (row["attributed_spend__channel"], row["attributed_spend__model"]): mf_number(
            row["attributed_roas"]
        )
        for row in rows
    }
    checked = 0
    for spend in report.spend:
        for model in report.attribution.models:
            value = queried.get((spend.channel, model))
            assert spend.roas(model) == (value if value is None else pytest.approx(value))
            checked += value is not None
    assert checked >= 6


def test_handoff_median_and_sla_share_are_over_the_mqls_for_any_grouping(
    world: str, analyst: dict[str, str]
) -> None:
    """A month over all owners, and the report's month per owner: the median is the median of
    the MQLs' handoff hours (not a mean of weekly medians), and the SLA share counts only MQLs
    whose SLA is decided."""
    reference = """
        select {owner} as owner,
            percentile_cont(0.5) within group (order by handoff_hours) as median_hours,
            count(*) filter (where handoff_sla_met)::double precision
                / nullif(count(handoff_sla_met), 0) as sla_share
        from marts.fct_funnel
        where mql_at is not null
            and date_trunc('month', date_trunc('week', mql_at at time zone 'UTC'))::date = %s
        group by 1
    """
    with psycopg.connect(world) as conn:
        overall = conn.execute(reference.format(owner="'all'"), (OCT.start,)).fetchone()
        per_owner = {
            r[0]: r[1:]
            for r in conn.execute(
                reference.format(owner="coalesce(owner_id, '(unassigned)')"), (OCT.start,)
            )
        }
        report = build_report(conn, OCT)
    (row,) = mf_query(
        analyst,
        ["handoff_median_hours", "handoff_sla_share"],
        ["metric_time__month"],
        [semantic.period_filter("month", [OCT.start])],
    )
    assert float(row["handoff_median_hours"]) == pytest.approx(overall[1], rel=1e-12)
    assert float(row["handoff_sla_share"]) == pytest.approx(overall[2], rel=1e-12)
    owners = mf_query(
        analyst,
        ["handoff_median_hours"],
        ["metric_time__month", "handoff__owner"],
        [semantic.period_filter("month", [OCT.start])],
    )
    assert {r["handoff__owner"]: float(r["handoff_median_hours"]) for r in owners} == {
        owner: pytest.approx(values[0], rel=1e-12) for owner, values in per_owner.items()
    }
    assert len(per_owner) >= 2
    assert sorted(r.median_hours for r in report.handoff) == pytest.approx(
        sorted(values[0] for values in per_owner.values()), rel=1e-12
    )


def test_each_mql_counts_once_in_the_acceptance_rate(world: str, analyst: dict[str, str]) -> None:
    """Accepted (reached SAL, not rejected since) and rejected never overlap: their sum is the
    MQLs Sales has decided on, and the rate is accepted over that; the MQL -> SAL cohort rate
    still counts every MQL that reached SAL."""
    with psycopg.connect(world) as conn:
        accepted, rejected, worked_then_rejected, reached_sal, mqls = conn.execute(
            "select count(*) filter (where sal_at is not null and disqualified_at is null), "
            "count(disqualified_at), count(*) filter (where sal_at is not null "
            "and disqualified_at is not null), count(sal_at), count(*) "
            "from marts.fct_funnel where mql_at is not null "
            "and date_trunc('month', mql_at at time zone 'UTC')::date = %s",
            (OCT.start,),
        ).fetchone()
    (row,) = mf_query(
        analyst,
        ["mqls_accepted", "mqls_rejected", "mql_acceptance_rate", "mql_to_sal_rate"],
        ["metric_time__month"],
        [semantic.period_filter("month", [OCT.start])],
    )
    assert worked_then_rejected > 0  # the world has the case this is about
    assert (int(row["mqls_accepted"]), int(row["mqls_rejected"])) == (accepted, rejected)
    assert float(row["mql_acceptance_rate"]) == pytest.approx(accepted / (accepted + rejected))
    # the MQL -> SAL cohort rate still counts everyone who reached SAL, rejected later or not
    assert float(row["mql_to_sal_rate"]) == pytest.approx(reached_sal / mqls)
