"""Vendor simulator, Salesforce: SOQL, query/queryAll paging, deletions, describe, errors, and
the official client (simple-salesforce) unchanged but for the instance URL and CA bundle."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceRefusedRequest,
)

from revops.simulator import Company, FaultConfig, SimulatorServer
from revops.simulator.salesforce import JOB_POLLS
from revops.simulator.soql import SoqlError, parse
from revops.sources.versions import vendor

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The simulator's certificates for this module; requests trusts its CA meanwhile."""
    path = tmp_path_factory.mktemp("tls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(path / "ca.pem"))
        yield path


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.05, as_of=AS_OF)


@pytest.fixture(scope="module")
def env(company: Company, certs: Path) -> Iterator[dict[str, str]]:
    with SimulatorServer(company, cert_dir=certs) as server:
        yield server.env()


@pytest.fixture(scope="module")
def sf(env: dict[str, str]) -> Salesforce:
    return Salesforce(
        instance_url=env["REVOPS_SALESFORCE_URL"], session_id=env["REVOPS_SALESFORCE_TOKEN"]
    )


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def test_query_all_walks_next_records_urls_and_matches_the_ground_truth(
    company: Company, sf: Salesforce
) -> None:
    leads = sf.query_all("SELECT Id, Email, Status, SystemModstamp FROM Lead ORDER BY Id")
    truth = company.salesforce("Lead")
    assert leads["totalSize"] == len(truth) == 1162
    assert [r["Id"] for r in leads["records"]] == [r.id for r in truth]
    first = sf.query("SELECT Id FROM Lead")  # pages hold up to 2,000 rows
    assert first["done"] is True and len(first["records"]) == 1162
    assert "nextRecordsUrl" not in first
    # smaller pages on request, as with the Sforce-Query-Options header
    page = sf.query(
        "SELECT Id FROM Lead ORDER BY Id", headers={"Sforce-Query-Options": "batchSize=200"}
    )
    assert len(page["records"]) == 200 and page["done"] is False
    assert page["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert page["nextRecordsUrl"].endswith("-200")
    more = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert [r["Id"] for r in more["records"]][:2] == [r.id for r in truth[200:202]]
    lead = leads["records"][0]
    assert lead["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v59.0/sobjects/Lead/{lead['Id']}",
    }
    assert len(lead["Id"]) == 18 and lead["Id"].startswith("00Q")
    assert lead["SystemModstamp"].endswith("+0000") and lead["SystemModstamp"][19] == "."


def test_incremental_window_on_system_modstamp(company: Company, sf: Salesforce) -> None:
    since, until = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 15, 12, tzinfo=UTC)
    answer = sf.query_all(
        "SELECT Id, SystemModstamp FROM Opportunity WHERE SystemModstamp > "
        "2026-10-01T00:00:00Z AND SystemModstamp <= 2026-10-15T12:00:00.000+0000 "
        "ORDER BY SystemModstamp, Id"
    )
    expected = sorted(
        (r for r in company.salesforce("Opportunity") if ms(since) < r.modstamp <= ms(until)),
        key=lambda r: (r.modstamp, r.id),
    )
    assert [r["Id"] for r in answer["records"]] == [r.id for r in expected] and expected


def test_deleted_rows_only_through_query_all(company: Company, sf: Salesforce) -> None:
    deleted = [r for r in company.salesforce("Lead", include_deleted=True) if r.deleted]
    assert deleted, "the window has junk leads and merged duplicates in the recycle bin"
    plain = sf.query_all("SELECT Id FROM Lead WHERE IsDeleted = true")
    assert plain["totalSize"] == 0
    everything = sf.query_all(
        "SELECT Id, IsDeleted, MasterRecordId, SystemModstamp FROM Lead WHERE IsDeleted = true",
        include_deleted=True,
    )
    assert {r["Id"] for r in everything["records"]} == {r.id for r in deleted}
    merged = [r for r in everything["records"] if r["MasterRecordId"]]
    assert merged and all(r["MasterRecordId"].startswith("00Q") for r in merged)
    window = sf.Lead.deleted(datetime(2026, 10, 17, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    assert {d["id"] for d in window["deletedRecords"]} == {r.id for r in deleted}


def test_soql_features(company: Company, sf: Salesforce) -> None:
    opps = sf.query(
        "SELECT Id, Name, Amount, CurrencyIsoCode, StageName, IsWon, CloseDate, Account.Name, "
        "Owner.Name FROM Opportunity WHERE IsClosed = true AND (StageName = 'Closed Won' OR "
        "StageName = 'closed lost') ORDER BY CloseDate DESC NULLS LAST LIMIT 5"
    )["records"]
    assert len(opps) == 5
    assert all(
        isinstance(o["Amount"], float) and o["CurrencyIsoCode"] in ("USD", "EUR", "GBP")
        for o in opps
    )
    assert [o["CloseDate"] for o in opps] == sorted((o["CloseDate"] for o in opps), reverse=True)
    assert opps[0]["Account"]["attributes"]["type"] == "Account" and opps[0]["Account"]["Name"]
    owners = {u.name for u in company.users if u.title == "Account Executive"}
    assert {o["Owner"]["Name"] for o in opps} <= owners
    count = sf.query(
        "SELECT COUNT() FROM Lead WHERE Status IN ('Unqualified', "
        "'Marketing Qualified') AND Email LIKE '%@gmail.com'"
    )
    assert count["records"] == [] and count["totalSize"] == sum(
        1
        for r in company.salesforce("Lead")
        if r.fields["Status"] in ("Unqualified", "Marketing Qualified")
        and r.fields["Email"].endswith("@gmail.com")
    )
    recent = sf.query("SELECT Id FROM Task WHERE CreatedDate = LAST_N_DAYS:7")["totalSize"]
    assert recent == sum(
        1
        for r in company.salesforce("Task")
        if r.fields["CreatedDate"] >= ms(datetime(2026, 10, 26, tzinfo=UTC))
    )
    every = sf.query("SELECT FIELDS(ALL) FROM Account LIMIT 2")["records"][0]
    assert {"Website", "Industry", "NumberOfEmployees", "CurrencyIsoCode"} <= set(every)
    dated = sf.query("SELECT Id FROM Opportunity WHERE CloseDate < 2026-01-01")["totalSize"]
    assert dated == sum(
        1 for r in company.salesforce("Opportunity") if r.fields["CloseDate"] < date(2026, 1, 1)
    )


def test_soql_errors_use_salesforce_codes(sf: Salesforce) -> None:
    for query, code in (
        ("SELECT Foo FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Leed", "INVALID_TYPE"),
        ("SELECT Id Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'", "INVALID_FIELD"),
        ("SELECT FIELDS(ALL) FROM Lead", "MALFORMED_QUERY"),
    ):
        with pytest.raises(SalesforceMalformedRequest) as err:
            sf.query(query)
        assert err.value.content[0]["errorCode"] == code, query
    with pytest.raises(SoqlError, match="unexpected token"):
        parse("SELECT Id FROM Lead WHERE")


def test_versions_describe_and_records(
    company: Company, env: dict[str, str], sf: Salesforce
) -> None:
    base = env["REVOPS_SALESFORCE_URL"]
    versions = requests.get(f"{base}/services/data/", timeout=10).json()
    served = [v.name for v in vendor("salesforce").supported(AS_OF.date())]
    assert [v["version"] for v in versions] == served
    assert {"59.0", "63.0", "66.0", "67.0"} <= set(served)  # 67.0: the connector's default
    assert versions[-1]["url"] == f"/services/data/v{served[-1]}"
    # the labels follow Salesforce's releases: 31.0 Summer '14, 32.0 Winter '15, 66.0 Spring '26
    labels = {v["version"]: v["label"] for v in versions}
    assert labels["32.0"] == "Winter '15" and labels["66.0"] == "Spring '26"
    names = {s["name"] for s in sf.describe()["sobjects"]}
    assert names == {
        "Lead",
        "LeadHistory",
        "Contact",
        "Account",
        "Opportunity",
        "OpportunityHistory",
        "OpportunityContactRole",
        "Campaign",
        "CampaignMember",
        "Task",
        "Event",
        "User",
    }
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert fields["SystemModstamp"]["type"] == "datetime"
    assert fields["ConvertedContactId"]["referenceTo"] == ["Contact"]
    assert fields["Unqualified_Reason__c"]["custom"] is True
    opp = company.salesforce("Opportunity")[0]
    record = sf.Opportunity.get(opp.id)
    assert record["Id"] == opp.id and record["Amount"] == opp.fields["Amount"]
    missing = requests.get(
        f"{base}/services/data/v59.0/sobjects/Lead/00Q000000000000AAA",
        headers={"Authorization": f"Bearer {env['REVOPS_SALESFORCE_TOKEN']}"},
        timeout=10,
    )
    assert missing.status_code == 404 and missing.json()[0]["errorCode"] == "NOT_FOUND"
    assert (
        requests.get(
            f"{base}/services/data/v59.0/query", params={"q": "SELECT Id FROM User"}, timeout=10
        ).json()[0]["errorCode"]
        == "INVALID_SESSION_ID"
    )
    usage = requests.get(
        f"{base}/services/data/v59.0/limits",
        timeout=10,
        headers={"Authorization": f"Bearer {env['REVOPS_SALESFORCE_TOKEN']}"},
    )
    assert usage.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_oauth_refresh_then_the_official_client(env: dict[str, str]) -> None:
    granted = requests.post(
        env["REVOPS_SALESFORCE_TOKEN_URL"],
        data={
            "grant_type": "refresh_token",
            "client_id": env["REVOPS_SALESFORCE_CLIENT_ID"],
            "client_secret": env["REVOPS_SALESFORCE_CLIENT_SECRET"],
            "refresh_token": env["REVOPS_SALESFORCE_REFRESH_TOKEN"],
        },
        timeout=10,
    ).json()
    assert (
        granted["token_type"] == "Bearer"
        and granted["instance_url"] == env["REVOPS_SALESFORCE_URL"]
    )
    client = Salesforce(instance_url=granted["instance_url"], session_id=granted["access_token"])
    assert client.query("SELECT COUNT() FROM User")["totalSize"] == 11


def test_request_limit_exceeded_is_a_403(company: Company, certs: Path) -> None:
    faults = FaultConfig(rate=1.0, kinds=("rate_limit_no_retry_after",), max_consecutive=1)
    with SimulatorServer(company, cert_dir=certs, faults=faults) as server:
        env = server.env()
        client = Salesforce(
            instance_url=env["REVOPS_SALESFORCE_URL"], session_id=env["REVOPS_SALESFORCE_TOKEN"]
        )
        with pytest.raises(SalesforceRefusedRequest) as err:
            client.query("SELECT Id FROM User")
        assert err.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
        assert client.query("SELECT Id FROM User")["totalSize"] == 11  # the retry goes through


def _auth(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['REVOPS_SALESFORCE_TOKEN']}"}


def test_a_retired_version_is_gone_and_an_unknown_one_not_found(env: dict[str, str]) -> None:
    """Salesforce's API End-of-Life page: "If you request any resource or use an operation from
    a retired API version, REST API returns the 410:GONE error code" (21.0-30.0 retired in
    Summer '25); a version that does not exist (yet) is an unknown resource, 404."""
    base, headers = env["REVOPS_SALESFORCE_URL"], _auth(env)
    dated = vendor("salesforce")
    assert dated.retired("30.0", AS_OF.date()) and not dated.retired("31.0", AS_OF.date())
    gone = requests.get(
        f"{base}/services/data/v30.0/query", params={"q": "SELECT Id FROM User"}, headers=headers
    )
    assert gone.status_code == 410 and gone.json()[0]["errorCode"] == "GONE"
    assert requests.get(f"{base}/services/data/v30.0/", headers=headers).status_code == 410
    assert requests.get(f"{base}/services/data/v31.0/", headers=headers).status_code == 200
    default = dated.default  # the connector's default version is served
    ok = requests.get(
        f"{base}/services/data/v{default}/query",
        params={"q": "SELECT COUNT() FROM User"},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["totalSize"] == 11
    unknown = requests.get(f"{base}/services/data/v99.0/", headers=headers)
    assert unknown.status_code == 404 and unknown.json()[0]["errorCode"] == "NOT_FOUND"


def test_bulk_query_job_through_the_official_client(company: Company, sf: Salesforce) -> None:
    """simple-salesforce's Bulk API 2.0 client (create job, poll until JobComplete, read CSV
    sets by Sforce-Locator) gets the same rows as REST queryAll, deleted ones included."""
    query = "SELECT Id, IsDeleted, Status, Owner.Name, SystemModstamp FROM Lead"
    sets = list(sf.bulk2.Lead.query_all(query, max_records=400, wait=0.01))
    assert len(sets) == 3  # 1,162 rows in sets of 400
    rows = [row for chunk in sets for row in csv.DictReader(io.StringIO(chunk))]
    rest = sf.query_all(query, include_deleted=True)["records"]
    assert len(rows) == len(rest) == len(company.salesforce("Lead", include_deleted=True))
    by_id = {r["Id"]: r for r in rest}
    for row in rows:
        expected = by_id[row["Id"]]
        assert row["IsDeleted"] == str(expected["IsDeleted"]).lower()
        assert row["Status"] == expected["Status"]
        assert row["Owner.Name"] == (expected["Owner"] or {}).get("Name", "")
        # CSV datetimes end in Z where REST JSON has +0000
        assert row["SystemModstamp"] == expected["SystemModstamp"].replace("+0000", "Z")


def test_bulk_job_lifecycle_locators_and_refusals(env: dict[str, str]) -> None:
    base, headers = env["REVOPS_SALESFORCE_URL"], _auth(env)
    jobs = f"{base}/services/data/v66.0/jobs/query"
    created = requests.post(
        jobs,
        json={"operation": "query", "query": "SELECT Id, Name FROM User", "lineEnding": "CRLF"},
        headers=headers,
    ).json()
    assert created["state"] == "UploadComplete" and created["id"].startswith("750")
    assert created["object"] == "User" and created["apiVersion"] == 66.0
    early = requests.get(f"{jobs}/{created['id']}/results", headers=headers)
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    states = [
        requests.get(f"{jobs}/{created['id']}", headers=headers).json()["state"]
        for _ in range(JOB_POLLS + 1)
    ]
    assert states == ["InProgress"] * (JOB_POLLS - 1) + ["JobComplete", "JobComplete"]
    first = requests.get(
        f"{jobs}/{created['id']}/results", params={"maxRecords": 4}, headers=headers
    )
    assert first.headers["Sforce-NumberOfRecords"] == "4"
    assert first.text.startswith('"Id","Name"\r\n') and first.text.count("\r\n") == 5
    # the locator names a set; reading it twice gives the same set
    locator = first.headers["Sforce-Locator"]
    again = [
        requests.get(
            f"{jobs}/{created['id']}/results",
            params={"maxRecords": 4, "locator": locator},
            headers=headers,
        )
        for _ in range(2)
    ]
    assert again[0].text == again[1].text and again[0].headers["Sforce-Locator"] != "null"
    last = requests.get(
        f"{jobs}/{created['id']}/results",
        params={"maxRecords": 4, "locator": again[0].headers["Sforce-Locator"]},
        headers=headers,
    )
    assert (
        last.headers["Sforce-NumberOfRecords"] == "3" and last.headers["Sforce-Locator"] == "null"
    )
    # results in another API version than the job's: 409 (Salesforce's "Get Results" page)
    other = requests.get(
        f"{base}/services/data/v67.0/jobs/query/{created['id']}/results", headers=headers
    )
    assert other.status_code == 409
    # aggregate queries are not supported by Bulk API 2.0
    count = requests.post(
        jobs, json={"operation": "query", "query": "SELECT COUNT() FROM Lead"}, headers=headers
    )
    assert count.status_code == 400
    bad = requests.post(
        jobs, json={"operation": "query", "query": "SELECT Foo FROM Lead"}, headers=headers
    )
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"
    # abort, then delete
    job = requests.post(
        jobs, json={"operation": "queryAll", "query": "SELECT Id FROM Task"}, headers=headers
    ).json()
    aborted = requests.patch(f"{jobs}/{job['id']}", json={"state": "Aborted"}, headers=headers)
    assert aborted.json()["state"] == "Aborted"
    assert requests.get(f"{jobs}/{job['id']}", headers=headers).json()["state"] == "Aborted"
    listed = requests.get(jobs, headers=headers).json()
    assert listed["done"] is True and job["id"] in {j["id"] for j in listed["records"]}
    assert requests.delete(f"{jobs}/{job['id']}", headers=headers).status_code == 204
    limits = requests.get(f"{base}/services/data/v66.0/limits", headers=headers).json()
    assert limits["DailyBulkV2QueryJobs"]["Max"] == 10_000
    assert limits["DailyBulkV2QueryJobs"]["Remaining"] < 10_000
    assert requests.get(f"{jobs}/{job['id']}", headers=headers).status_code == 404


def test_a_failed_job_says_so(company: Company, certs: Path) -> None:
    with SimulatorServer(company, cert_dir=certs) as server:
        env = server.env()
        server.simulator.apis["salesforce"].job_fates.append("Failed")
        client = Salesforce(
            instance_url=env["REVOPS_SALESFORCE_URL"], session_id=env["REVOPS_SALESFORCE_TOKEN"]
        )
        with pytest.raises(SalesforceOperationError, match="Job failure"):
            list(client.bulk2.User.query("SELECT Id FROM User", wait=0.01))
        assert len(list(client.bulk2.User.query("SELECT Id FROM User", wait=0.01))) == 1
