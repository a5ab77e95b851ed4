"""What is sent is what passed: a gate run is bound to the data it checked, and the report of a
period goes out only when the newest gate run of that period passed over exactly the data the
report is rendered from.

Every case the issue names is here: a mart changed after the pass, a new transform, a gate that
crashes or is killed, two gates racing (the newest data decides), a partially refused SMTP
delivery (recorded, retried to the rest only), and the modes of the files holding the report.

The warehouse is the shared test world (``test_publish_data.build_world``), built once per module
and cloned per test. The gate is the real one where the test is about what it checks, and a
stand-in for ``run_gate`` where the test is about its record (binding, crashes, ordering).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_publish_data import AS_OF, build_world, sql
from warehouse_checks import new_database

from revops.quality.gate import GateResult
from revops.quality.runs import GateNotPassed
from revops.reports import mailcatcher
from revops.reports.mailcatcher import MailCatcher
from revops.reports.periods import parse_period
from revops.reports.publish import check_and_record, publish

W46 = parse_period("2026-W46")
LEADERSHIP = "ceo@example.com"
GATE_HINT = "revops gate --period 2026-W46"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template_db(server_url: str) -> Iterator[str]:
    """The world, built once for the module; tests get clones (a file copy, well under 1 s)."""
    with new_database(server_url, "revops_binding_tpl") as url:
        build_world(url)
        yield url


@pytest.fixture
def world(server_url: str, template_db: str) -> Iterator[str]:
    template = template_db.rsplit("/", 1)[1].split("?")[0]
    with new_database(server_url, "revops_binding", template=template) as url:
        yield url


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher(tmp_path / "outbox") as running:
        yield running


def environ(catcher: MailCatcher, recipients: str = LEADERSHIP) -> dict[str, str]:
    return {
        "REVOPS_SMTP_HOST": catcher.host,
        "REVOPS_SMTP_PORT": str(catcher.port),
        "REVOPS_REPORT_SENDER": "revops@example.com",
        "REVOPS_REPORT_RECIPIENTS": recipients,
    }


def passing() -> GateResult:
    return GateResult(
        passed=True, failures=[], docs_index=Path("/docs/index.html"), as_of=AS_OF.isoformat()
    )


def failing() -> GateResult:
    from revops.quality.gate import Failure

    failure = Failure(
        "marts.fct_attribution",
        "dbt_test",
        "assert_attribution_credit_sums_to_one",
        "blocking",
        "fail: Got 1 result, configured to fail if != 0",
        "passes in the newest `dbt build`",
        "dbt.assert_attribution_credit_sums_to_one",
    )
    return GateResult(
        passed=False,
        failures=[failure],
        docs_index=Path("/docs/index.html"),
        as_of=AS_OF.isoformat(),
    )


def stand_in_gate(monkeypatch: pytest.MonkeyPatch, *runs: Callable[[str], GateResult]) -> list[str]:
    """Replace ``run_gate`` by ``runs``, one per call in order (each gets the warehouse URL);
    returns the list the calls are logged in."""
    queue = list(runs)
    calls: list[str] = []

    def run_gate(url: str, *args: Any, **kwargs: Any) -> GateResult:
        calls.append(url)
        return queue.pop(0)(url)

    monkeypatch.setattr("revops.quality.gate.run_gate", run_gate)
    return calls


def gate(url: str, tmp_path: Path, run_key: str = "scheduled"):
    return check_and_record(
        [W46], run_key, warehouse_url=url, docs_dir=tmp_path / "docs", as_of=AS_OF, alert=False
    )


def send(url: str, catcher: MailCatcher, tmp_path: Path, run_key: str = "scheduled", **env):
    return publish(
        [W46],
        run_key,
        warehouse_url=url,
        out=tmp_path / "out",
        environ={**environ(catcher), **env},
    )


def received(catcher: MailCatcher) -> list:
    return [m for m in catcher.messages() if LEADERSHIP in m["X-RcptTo"]]


def sends(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('revops_meta.report_sends')").fetchone()
        if exists is None or exists[0] is None:
            return []
        return conn.execute(
            "select run_key, gate_run_id from revops_meta.report_sends order by sent_at"
        ).fetchall()


def refused_send(url: str, catcher: MailCatcher, tmp_path: Path) -> str:
    """Send, expect a refusal, check nothing went out; return the refusal's message."""
    with pytest.raises(GateNotPassed) as refused:
        send(url, catcher, tmp_path)
    assert received(catcher) == [] and sends(url) == []
    assert not (tmp_path / "out" / "reports").exists()
    return str(refused.value)


# -- (a) a mart the report reads changes after the pass -----------------------------------


def test_a_mart_changed_after_the_gate_passed_is_not_sent_and_the_refusal_names_it(
    world: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    outcome = gate(world, tmp_path)  # the real gate
    assert outcome.result.passed, outcome.result.summary()
    [run_id] = outcome.gate_run_ids
    rows = sql_scalar(world, "select count(*) from marts.fct_attribution")
    sql(
        world,
        "update marts.fct_attribution set credit = credit * 2 "
        "where model = 'markov' and conversion_type = 'customer'",
    )
    message = refused_send(world, catcher, tmp_path)
    assert f"marts.fct_attribution changed since gate run {run_id} passed at " in message
    assert f"rows {rows} -> {rows}, content differs" in message
    assert GATE_HINT in message
    assert "rpt_pipeline" not in message  # only what changed is named
    assert stat.S_IMODE((tmp_path / "docs").stat().st_mode) == 0o700  # Data Docs show rows


# -- (b) a new transform after the pass ------------------------------------------------------


REBUILD = """
create table marts.rpt_pipeline__new as select * from marts.rpt_pipeline;
{change}
drop table marts.rpt_pipeline;
alter table marts.rpt_pipeline__new rename to rpt_pipeline;
"""


def test_a_transform_after_the_pass_that_changes_a_mart_is_not_sent(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_gate(monkeypatch, lambda url: passing())
    [run_id] = gate(world, tmp_path).gate_run_ids
    before = sql_scalar(world, "select count(*) from marts.rpt_pipeline")
    # what dbt does for a table model: build the new table, swap it in; here one more row
    change = "insert into marts.rpt_pipeline__new select * from marts.rpt_pipeline__new limit 1;"
    sql(world, REBUILD.format(change=change))
    message = refused_send(world, catcher, tmp_path)
    assert f"marts.rpt_pipeline changed since gate run {run_id} passed at " in message
    assert f"rows {before} -> {before + 1}" in message and GATE_HINT in message


def test_a_transform_that_adds_a_mart_is_not_sent_and_one_that_rebuilds_the_same_data_is(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_gate(monkeypatch, lambda url: passing(), lambda url: passing())
    [run_id] = gate(world, tmp_path).gate_run_ids
    sql(world, REBUILD.format(change=""))  # a rebuild with identical rows
    sql(world, "create table marts.rpt_new_thing as select 1 as x")
    message = refused_send(world, catcher, tmp_path)
    assert f"marts.rpt_new_thing is new (1 row) since gate run {run_id} passed" in message
    assert "rpt_pipeline" not in message  # rebuilt, same data: not a change
    sql(world, "drop table marts.rpt_new_thing")
    [sent] = send(world, catcher, tmp_path)  # back to what the gate saw: it counts again
    assert sent.gate_run_id == run_id and len(received(catcher)) == 1


# -- (c) a gate that crashes or is killed ----------------------------------------------------


def test_a_gate_that_crashes_counts_as_failed_and_an_older_pass_no_longer_counts(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple] = []

    def crash(url: str) -> GateResult:
        with psycopg.connect(url) as conn:  # the run is recorded before anything is checked
            seen.extend(
                conn.execute(
                    "select to_jsonb(r) ->> 'status', passed from revops_meta.gate_runs as r "
                    "order by gate_run_id"
                ).fetchall()
            )
        raise RuntimeError("GX lost its connection mid-checkpoint")

    stand_in_gate(monkeypatch, lambda url: passing(), crash)
    gate(world, tmp_path)
    with pytest.raises(RuntimeError, match="GX lost its connection"):
        gate(world, tmp_path)
    message = refused_send(world, catcher, tmp_path)
    assert seen == [("passed", True), ("running", False)]
    with psycopg.connect(world) as conn:
        status, error = conn.execute(
            "select status, error from revops_meta.gate_runs order by gate_run_id desc limit 1"
        ).fetchone()
    assert status == "crashed" and "RuntimeError: GX lost its connection" in error
    assert "crashed" in message and "GX lost its connection mid-checkpoint" in message
    assert GATE_HINT in message


def _killed_gate(url: str, docs: str) -> None:
    """A gate process killed (SIGKILL) in the middle of its checks."""

    def die(*args: Any, **kwargs: Any) -> GateResult:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    import revops.quality.gate

    revops.quality.gate.run_gate = die  # type: ignore[assignment]
    check_and_record([W46], "killed", warehouse_url=url, docs_dir=Path(docs), alert=False)


def test_a_killed_gate_leaves_a_running_run_which_never_counts_as_a_pass(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_gate(monkeypatch, lambda url: passing())
    gate(world, tmp_path)
    child = multiprocessing.get_context("fork").Process(
        target=_killed_gate, args=(world, str(tmp_path / "docs"))
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    message = refused_send(world, catcher, tmp_path)
    assert "still running (or its process died)" in message and "run key killed" in message


def test_a_send_while_a_gate_is_running_is_refused_until_it_passes(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checking, release = threading.Event(), threading.Event()

    def slow(url: str) -> GateResult:
        checking.set()
        assert release.wait(60)
        return passing()

    stand_in_gate(monkeypatch, lambda url: passing(), slow)
    gate(world, tmp_path)
    running = threading.Thread(target=gate, args=(world, tmp_path, "second"))
    running.start()
    assert checking.wait(60)
    try:
        message = refused_send(world, catcher, tmp_path)
    finally:
        release.set()
        running.join(60)
    assert "still running" in message
    [sent] = send(world, catcher, tmp_path)
    assert sent.already_sent is False and len(received(catcher)) == 1


# -- (d) two gates racing: the newest data decides -------------------------------------------


def test_racing_gates_the_newest_started_decides_not_the_last_to_finish(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second: list = []

    def first(url: str) -> GateResult:  # started on v1; v2 lands; gate 2 runs and passes
        sql(url, "update marts.rpt_pipeline set won_revenue = won_revenue + 1")
        second.append(gate(url, tmp_path, "second"))
        return passing()  # gate 1 finishes last, its checks passed on v1

    stand_in_gate(monkeypatch, first, lambda url: passing())
    one = gate(world, tmp_path, "first")
    [two] = second
    assert two.result.passed
    assert one.result.passed is False  # the marts changed while it ran
    assert "the marts changed while the gate ran: marts.rpt_pipeline" in one.result.summary()
    [sent] = send(world, catcher, tmp_path)
    assert sent.gate_run_id == two.gate_run_ids[0]
    assert len(received(catcher)) == 1


def test_racing_gates_when_the_newest_started_fails_nothing_is_sent(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second: list = []

    def first(url: str) -> GateResult:
        sql(url, "update marts.rpt_pipeline set won_revenue = won_revenue + 1")
        second.append(gate(url, tmp_path, "second"))
        return passing()

    stand_in_gate(monkeypatch, first, lambda url: failing())
    gate(world, tmp_path, "first")
    message = refused_send(world, catcher, tmp_path)
    assert "has not passed" in message and "run key second" in message


def test_an_older_gate_finishing_last_with_a_pass_does_not_override_a_newer_failure(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def first(url: str) -> GateResult:  # same data throughout; the newer run fails
        gate(url, tmp_path, "second")
        return passing()

    stand_in_gate(monkeypatch, first, lambda url: failing())
    one = gate(world, tmp_path, "first")
    assert one.result.passed  # nothing changed while it ran: its own pass stands
    message = refused_send(world, catcher, tmp_path)
    assert "has not passed" in message and "run key second" in message


# -- (e) a partially refused delivery --------------------------------------------------------


REFUSED: set[str] = set()


class _RefusingHandler(mailcatcher._Handler):
    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_partial_smtp_refusal_is_recorded_and_a_retry_sends_to_the_rest_only(
    world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(mailcatcher, "_Handler", _RefusingHandler)
    stand_in_gate(monkeypatch, lambda url: passing())
    gate(world, tmp_path)
    cmo = "cmo@example.com"
    REFUSED.clear()
    REFUSED.add(cmo)
    with MailCatcher(tmp_path / "box") as box:
        everyone = {"REVOPS_REPORT_RECIPIENTS": f"{LEADERSHIP}, {cmo}"}
        [first] = send(world, box, tmp_path, **everyone)
        with psycopg.connect(world) as conn:
            recorded = conn.execute(
                "select to_jsonb(s) from revops_meta.report_sends as s"
            ).fetchone()[0]
        REFUSED.clear()
        [retry] = send(world, box, tmp_path, **everyone)
        [again] = send(world, box, tmp_path, **everyone)
        envelopes = [m["X-RcptTo"] for m in box.messages()]
    assert envelopes == [LEADERSHIP, cmo]  # the retry went to the refused one only
    assert (retry.already_sent, again.already_sent) == (False, True)
    assert f"refused {cmo}: 550 5.1.1 mailbox unavailable" in caplog.text
    assert recorded["delivered_to"] == [LEADERSHIP] and recorded["sent_at"] is not None
    assert "mailbox unavailable" in recorded["refused"][cmo]
    assert first.delivered_to == (LEADERSHIP,)
    assert set(first.refused) == {cmo} and first.refused[cmo].startswith("550")
    assert retry.refused == {} and retry.delivered_to == (LEADERSHIP, cmo)


def test_a_partially_refused_alert_records_who_got_it_and_who_was_refused(
    world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mailcatcher, "_Handler", _RefusingHandler)
    stand_in_gate(monkeypatch, lambda url: failing())
    REFUSED.clear()
    REFUSED.add("gone@example.com")
    with MailCatcher(tmp_path / "box") as box:
        env = {
            **environ(box),
            "REVOPS_ALERT_RECIPIENTS": "oncall@example.com, gone@example.com",
        }
        outcome = check_and_record(
            [W46], "k", warehouse_url=world, docs_dir=tmp_path / "docs", environ=env
        )
        assert [m["X-RcptTo"] for m in box.messages()] == ["oncall@example.com"]
    assert outcome.alerted_to == ("oncall@example.com",)
    assert outcome.alert_error == (
        "the SMTP server refused gone@example.com (550 5.1.1 mailbox unavailable)"
    )
    with psycopg.connect(world) as conn:
        row = conn.execute(
            "select alerted_to, alerted_at is not null, alert_error from revops_meta.gate_runs"
        ).fetchone()
    assert row == (["oncall@example.com"], True, outcome.alert_error)


# -- (f) files with report contents ----------------------------------------------------------


def test_report_files_are_0600_in_0700_folders(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_gate(monkeypatch, lambda url: passing())
    gate(world, tmp_path)
    old = os.umask(0o022)
    try:
        [sent] = send(world, catcher, tmp_path)
    finally:
        os.umask(old)
    assert sent.pdf_path is not None
    for path in (sent.html_path, sent.pdf_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (tmp_path / "out", tmp_path / "out" / "reports", sent.html_path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    [eml] = catcher.paths()
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600


def sql_scalar(url: str, query: str) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


# -- the DAG's path, the render snapshot, an old gate_runs table ----------------------------


def test_the_publish_dags_send_task_refuses_a_changed_mart_the_same_way(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from revops.pipeline import send_report

    stand_in_gate(monkeypatch, lambda url: passing())
    [run_id] = gate(world, tmp_path).gate_run_ids
    sql(
        world,
        "delete from marts.fct_funnel "
        "where person_id in (select min(person_id) from marts.fct_funnel)",
    )
    for name, value in {**environ(catcher), "REVOPS_WAREHOUSE_URL": world}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REVOPS_OUT_DIR", str(tmp_path / "out"))
    with pytest.raises(GateNotPassed, match=f"marts.fct_funnel changed since gate run {run_id}"):
        send_report(["2026-W46"], run_key="scheduled")  # what the send_report task calls
    assert received(catcher) == [] and sends(world) == []


def test_the_report_is_rendered_from_the_snapshot_the_gate_check_saw(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change committed while the report renders is not in it: the e-mail holds what passed."""
    from revops.reports import send as send_module

    stand_in_gate(monkeypatch, lambda url: passing())
    gate(world, tmp_path)
    real = send_module.build_report

    def build_report_while_a_transform_commits(conn: Any, period: Any) -> Any:
        sql(world, "update marts.rpt_pipeline set won_revenue = won_revenue + 1000000")
        return real(conn, period)

    monkeypatch.setattr(send_module, "build_report", build_report_while_a_transform_commits)
    with psycopg.connect(world) as conn:
        won_before, rows = conn.execute(
            "select sum(won_revenue), count(*) from marts.rpt_pipeline "
            "where period_type = 'week' and period_start = '2026-11-09'"
        ).fetchone()
    [sent] = send(world, catcher, tmp_path)
    html = received(catcher)[0].get_body(("html",)).get_content()
    assert f">USD {round(won_before):,}</td>" in html
    assert f">USD {round(won_before) + rows * 1_000_000:,}</td>" not in html
    with pytest.raises(GateNotPassed, match="marts.rpt_pipeline changed since gate run"):
        send(world, catcher, tmp_path, run_key="manual")  # the changed data needs its own pass


OLD_GATE_RUNS = """
create schema if not exists revops_meta;
create table revops_meta.gate_runs (
    gate_run_id bigint generated always as identity primary key, run_key text not null,
    edition text not null, period text not null, passed boolean not null,
    blocking_count integer not null, warning_count integer not null, summary text not null,
    failures jsonb not null, docs_index text not null, as_of timestamptz,
    checked_at timestamptz not null default clock_timestamp(), alerted_to text[],
    alerted_at timestamptz, alert_error text
);
insert into revops_meta.gate_runs (run_key, edition, period, passed, blocking_count,
    warning_count, summary, failures, docs_index)
values ('old', 'weekly', '2026-W46', true, 0, 0, 'passed', '[]', '/docs/index.html');
"""


def test_a_gate_runs_table_of_the_last_release_is_migrated_and_its_passes_need_a_rerun(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql(world, OLD_GATE_RUNS)
    message = refused_send(world, catcher, tmp_path)
    assert "before gate runs recorded the data they checked" in message and GATE_HINT in message
    stand_in_gate(monkeypatch, lambda url: passing())
    [run_id] = gate(world, tmp_path).gate_run_ids  # migrates the table in place
    with psycopg.connect(world) as conn:
        rows = conn.execute(
            "select gate_run_id, status, fingerprint is not null from revops_meta.gate_runs "
            "order by gate_run_id"
        ).fetchall()
    assert rows == [(1, "passed", False), (run_id, "passed", True)]
    [sent] = send(world, catcher, tmp_path)
    assert sent.gate_run_id == run_id


def test_the_fingerprint_covers_the_schema_the_report_reads() -> None:
    from revops.quality.fingerprint import SCHEMAS
    from revops.reports.data import SCHEMA

    assert SCHEMAS == (SCHEMA,)
