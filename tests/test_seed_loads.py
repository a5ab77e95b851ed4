"""Seeds are loaded when they change: a build leaves out the seeds the warehouse holds as the
project has them, and loads (and tests) a seed whose file or configuration changed, or whose
table lost rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from revops import transform
from revops.pipeline import before_attribution
from revops.transform import record_seeds, run_dbt, seeds_plan

SEEDS_ONLY = ["--select", "resource_type:seed"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the dbt project whose seeds the test may edit, used by every dbt call."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(
        transform.dbt_project_dir(),
        copy,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    monkeypatch.setattr(transform, "dbt_project_dir", lambda: copy)
    return copy


def build(url: str) -> dict:
    """The pipeline's seed handling around a build of the seeds only: plan, build, record."""
    with psycopg.connect(url, autocommit=True) as conn:
        plan = seeds_plan(conn)
    run_dbt([*before_attribution(plan["exclude"]), *SEEDS_ONLY], url, quiet=True)
    with psycopg.connect(url, autocommit=True) as conn:
        record_seeds(conn, plan)
    return plan


def versions(url: str, seeds: list[str]) -> dict[str, str]:
    """Each seed table's row versions (``xmin``): a reload gives every row a new one."""
    with psycopg.connect(url) as conn:
        return {
            seed: conn.execute(
                f"select string_agg(distinct xmin::text, ',') from seeds.{seed}"
            ).fetchone()[0]
            for seed in seeds
        }


def test_a_build_loads_only_the_seeds_that_changed(project: Path, fresh_db: str) -> None:
    seeds = sorted(csv.stem for csv in (project / "seeds").glob("*.csv"))
    assert "fx_rates_daily" in seeds and len(seeds) == 6
    assert transform.project_seeds()["fx_rates_daily"].relation == "seeds.fx_rates_daily"

    first = build(fresh_db)  # a new warehouse: every seed is loaded
    assert first["unchanged"] == [] and first["exclude"] == ""
    loaded = versions(fresh_db, seeds)

    second = build(fresh_db)  # nothing changed: nothing is loaded again
    assert second["unchanged"] == seeds
    assert second["exclude"].split() == [f"path:seeds/{seed}.csv" for seed in seeds]
    assert versions(fresh_db, seeds) == loaded

    # a seed file edited, and rows deleted from another seed's table
    with (project / "seeds" / "channel_mapping.csv").open("a") as handle:
        handle.write("partnerstack,affiliate,referral\n")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("delete from seeds.free_mail_domains where domain = 'gmail.com'")
    third = build(fresh_db)
    changed = ["channel_mapping", "free_mail_domains"]
    assert third["unchanged"] == [seed for seed in seeds if seed not in changed]
    now = versions(fresh_db, seeds)
    assert [seed for seed in seeds if now[seed] != loaded[seed]] == changed
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute(
            "select count(*) from seeds.channel_mapping where utm_source = 'partnerstack'"
        ).fetchone() == (1,)
        assert conn.execute(
            "select count(*) from seeds.free_mail_domains where domain = 'gmail.com'"
        ).fetchone() == (1,)

    assert build(fresh_db)["unchanged"] == seeds  # recorded: left out again

    # the seeds' configuration changed: every seed is loaded again
    with (project / "seeds" / "_seeds.yml").open("a") as handle:
        handle.write("# a column type or description edited\n")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert seeds_plan(conn)["unchanged"] == []


def test_a_changed_seed_is_tested_as_it_loads(project: Path, fresh_db: str) -> None:
    build(fresh_db)
    with (project / "seeds" / "free_mail_domains.csv").open("a") as handle:
        handle.write("gmail.com\n")  # a duplicate: the seed's unique test fails the build
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        plan = seeds_plan(conn)
    assert "free_mail_domains" not in plan["unchanged"]
    with pytest.raises(transform.DbtError, match="unique_free_mail_domains_domain"):
        run_dbt([*before_attribution(plan["exclude"]), *SEEDS_ONLY], fresh_db, quiet=True)
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # nothing recorded: loaded again
        assert "free_mail_domains" not in seeds_plan(conn)["unchanged"]
