"""The helpers the vendor simulator's modules now share (issue 13, one owner per fact): each
answers exactly what the copies it replaced answered."""

from __future__ import annotations

import base64
from collections import OrderedDict
from datetime import date

import pytest

from revops.simulator._lexer import QueryError
from revops.simulator.gaql import GaqlError
from revops.simulator.gaql import parse as parse_gaql
from revops.simulator.oauth import GrantRules, TokenStore, bearer_grant, granted_form
from revops.simulator.salesforce import _labels
from revops.simulator.social import SocialDaily, Totals, in_window, report_span
from revops.simulator.soql import SoqlError
from revops.simulator.soql import parse as parse_soql
from revops.simulator.wire import Request, keep_newest, position_of, position_token

CHECKS = ("method", "body", "grant", "client_id", "client_secret", "refresh_token")
# each check refuses with its own status and names itself (the grant's names the grant sent)
RULES = GrantRules(
    **{
        check: (400 + i, f"no {check}" + (" {grant}" if check == "grant" else ""), check)
        for i, check in enumerate(CHECKS)
    }
)
CREDS = {"client_id": "id", "client_secret": "s", "refresh_token": "r"}
GOOD = "grant_type=refresh_token&client_id=id&client_secret=s&refresh_token=r"


def token_request(body: str, method: str = "POST", **headers: str) -> Request:
    form = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    return Request.build(method, "/token", "", form, body.encode())


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (token_request(GOOD, method="GET"), (400, "no method")),
        (token_request("[1]", **{"Content-Type": "application/json"}), (401, "no body")),
        (token_request("grant_type=password&client_id=id"), (402, "no grant password")),
        (token_request("client_id=id"), (402, "no grant ")),
        (token_request(GOOD.replace("client_id=id", "client_id=x")), (403, "no client_id")),
        (
            token_request(GOOD.replace("client_secret=s", "client_secret=x")),
            (404, "no client_secret"),
        ),
        (
            token_request(GOOD.replace("refresh_token=r", "refresh_token=x")),
            (405, "no refresh_token"),
        ),
    ],
)
def test_a_token_request_is_refused_by_the_first_check_it_fails(request_, expected) -> None:
    answer = granted_form(request_, CREDS, RULES)
    assert not isinstance(answer, dict)
    assert (answer.status, answer.json()["error_description"]) == expected
    assert answer.json()["error"] == expected[1].split()[1]  # the code given with the refusal


def test_a_refusal_without_a_code_takes_rfc_6749s_for_its_check() -> None:
    rules = GrantRules(**{check: (400, "no") for check in CHECKS})
    answer = granted_form(token_request(GOOD.replace("=s", "=x")), CREDS, rules)
    assert answer.json() == {"error": "invalid_client", "error_description": "no"}


def test_a_basic_header_supplies_the_client_and_a_grant_passes_every_check() -> None:
    basic = base64.b64encode(b"id:s").decode()
    req = token_request("grant_type=refresh_token&refresh_token=r", Authorization=f"Basic {basic}")
    assert granted_form(req, CREDS, RULES) == {
        "grant_type": "refresh_token",
        "refresh_token": "r",
        "client_id": "id",
        "client_secret": "s",
    }
    no_basic = GrantRules(**{**RULES.__dict__, "basic": False})
    assert granted_form(req, CREDS, no_basic).status == 403  # no client id


def test_a_granted_token_leads_with_the_token_then_the_vendors_fields() -> None:
    answer = bearer_grant(TokenStore({"x": "static"}, lifetime=60), "x", "p-", scope="a")
    body = answer.json()
    assert list(body) == ["access_token", "expires_in", "scope"]
    assert body["access_token"].startswith("p-") and body["expires_in"] == 60


@pytest.mark.parametrize("urlsafe", [False, True])
def test_position_tokens_round_trip_unpadded(urlsafe: bool) -> None:
    assert position_token(2000) == "MjAwMA"  # what Meta's cursors and Salesforce's locators said
    for n in (0, 7, 100, 12345):
        token = position_token(n, urlsafe=urlsafe)
        assert "=" not in token and position_of(token, urlsafe=urlsafe) == n
    with pytest.raises(ValueError):
        position_of("not a position!", urlsafe=urlsafe)


def test_keep_newest_evicts_the_least_recently_stored() -> None:
    cache: OrderedDict[str, int] = OrderedDict()
    for key in ("a", "b", "c", "a", "d"):
        keep_newest(cache, key, len(cache), 3)
    assert list(cache) == ["c", "a", "d"]


def test_report_spans_are_the_day_the_clipped_month_or_the_range() -> None:
    first, last = date(2026, 9, 20), date(2026, 11, 2)
    day = date(2026, 10, 14)
    assert report_span(day, first, last, "day") == (day, day)
    assert report_span(day, first, last, "month") == (date(2026, 10, 1), date(2026, 10, 31))
    assert report_span(date(2026, 9, 25), first, last, "month") == (first, date(2026, 9, 30))
    assert report_span(date(2026, 11, 1), first, last, "month") == (date(2026, 11, 1), last)
    assert report_span(day, first, last, "all") == (first, last)


def test_totals_sum_every_metric_over_the_facts_in_the_window() -> None:
    def fact(day: int, n: int) -> SocialDaily:
        return SocialDaily("meta", date(2026, 10, day), "1", n, 2 * n, 3 * n, 4 * n, 5 * n, n, n)

    facts = [fact(1, 1), fact(2, 10), fact(3, 100)]
    kept = list(in_window(facts, date(2026, 10, 2), date(2026, 10, 3)))
    assert Totals.of(kept) == Totals(110, 220, 330, 440, 550, 110, 110)


def test_salesforce_labels_come_from_the_object_name() -> None:
    assert _labels("Opportunity") == ("Opportunity", "Opportunities")
    assert _labels("OpportunityContactRole") == (
        "Opportunity Contact Role",
        "Opportunity Contact Roles",
    )
    assert _labels("LeadHistory") == ("Lead History", "Lead History")


def test_both_query_languages_refuse_with_their_own_error_and_code() -> None:
    with pytest.raises(GaqlError) as gaql:
        parse_gaql("SELECT campaign.id FROM campaign WHERE x = 'open")
    with pytest.raises(SoqlError) as soql:
        parse_soql("SELECT Id FROM Lead LIMIT 1.5")
    assert isinstance(gaql.value, QueryError) and isinstance(soql.value, QueryError)
    assert (gaql.value.code, soql.value.code) == ("STRING_NOT_TERMINATED", "MALFORMED_QUERY")
    query = parse_soql("SELECT Id FROM Lead WHERE A = 1 OR B = 2 AND C = 3 LIMIT 5 OFFSET 2")
    assert (query.limit, query.offset, query.where.op) == (5, 2, "OR")
