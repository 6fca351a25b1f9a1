"""The real GoogleAdsClient against the sandbox over gRPC + TLS: every query, and Google's errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spectra.ads.client import AdsCredentials, build_client
from spectra.ads.errors import AdsAuthError, AdsQueryError, classify
from spectra.ads.stream import load_query, stream_columns
from spectra.ingest.daily import WRITERS


def test_list_accessible_customers(ads_client: Any, market: Any) -> None:
    service = ads_client.get_service("CustomerService")
    response = service.list_accessible_customers()
    assert sorted(response.resource_names) == sorted(
        f"customers/{c}" for c in market.customer_ids()
    )


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_ingest_query_runs(
    name: str, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    query = load_query(name)
    params = {
        "date_from": (ref_day - dt.timedelta(days=6)).isoformat(),
        "date_to": ref_day.isoformat(),
    }
    cols = stream_columns(
        ads_client,
        ads_creds,
        customer_id=market.customer_ids()[0],
        query=query,
        as_of=ref_day + dt.timedelta(days=1),
        **params,
    )
    assert set(cols) == set(query.fields)
    lengths = {len(v) for v in cols.values()}
    # an account may well have made no change in a week, or have no ad schedule (both are
    # checked in tests/integration/quality/test_gate_left_out_days.py)
    assert len(lengths) == 1 and (lengths.pop() > 0 or name in ("change_events", "ad_schedules")), (
        f"{name} returned no rows"
    )
    if "segments.date" in cols:
        days = {dt.date.fromisoformat(d) for d in cols["segments.date"]}
        assert min(days) >= ref_day - dt.timedelta(days=6) and max(days) <= ref_day


def test_search_paginates_and_counts(ads_client: Any, market: Any) -> None:
    service = ads_client.get_service("GoogleAdsService")
    request = ads_client.get_type("SearchGoogleAdsRequest")
    request.customer_id = str(market.customer_ids()[0])
    request.query = "SELECT ad_group_criterion.criterion_id FROM ad_group_criterion ORDER BY ad_group_criterion.criterion_id LIMIT 7"
    request.search_settings.return_total_results_count = True
    pager = service.search(request=request)
    ids = [row.ad_group_criterion.criterion_id for row in pager]
    assert len(ids) == 7 and ids == sorted(ids)


def test_clock_header_hides_the_future(
    ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    query = load_query("campaign_performance")
    as_of = ref_day - dt.timedelta(days=3)
    cols = stream_columns(
        ads_client,
        ads_creds,
        customer_id=market.customer_ids()[0],
        query=query,
        as_of=as_of,
        date_from=(ref_day - dt.timedelta(days=10)).isoformat(),
        date_to=ref_day.isoformat(),
    )
    assert max(dt.date.fromisoformat(d) for d in cols["segments.date"]) < as_of


@pytest.mark.parametrize(
    ("query", "code", "error"),
    [
        (
            "SELECT campaign.bogus_field FROM campaign",
            "query_error.UNRECOGNIZED_FIELD",
            AdsQueryError,
        ),
        (
            "SELECT campaign.id, segments.date FROM campaign",
            "query_error.EXPECTED_FILTERS_ON_DATE_RANGE",
            AdsQueryError,
        ),
        ("SELEKT campaign.id FROM campaign", "query_error.EXPECTED_SELECT", AdsQueryError),
    ],
)
def test_bad_query_gets_google_ads_failure(
    query: str, code: str, error: type, ads_client: Any, market: Any
) -> None:
    from google.ads.googleads.errors import GoogleAdsException

    service = ads_client.get_service("GoogleAdsService")
    with pytest.raises(GoogleAdsException) as exc:
        list(service.search_stream(customer_id=str(market.customer_ids()[0]), query=query))
    classified = classify(exc.value)
    assert isinstance(classified, error)
    assert classified.codes == (code,)
    assert classified.request_id  # Google's request id survives for support tickets


def test_unknown_customer_is_permission_denied(ads_client: Any) -> None:
    from google.ads.googleads.errors import GoogleAdsException

    service = ads_client.get_service("GoogleAdsService")
    with pytest.raises(GoogleAdsException) as exc:
        list(
            service.search_stream(
                customer_id="1111111111", query="SELECT campaign.id FROM campaign"
            )
        )
    assert isinstance(classify(exc.value), AdsAuthError)


def test_missing_developer_token_is_rejected(sandbox: Any, market: Any) -> None:
    from google.ads.googleads.errors import GoogleAdsException

    creds = AdsCredentials(
        developer_token=" ",
        access_token="t",
        endpoint=sandbox.endpoint,
        ca_cert_path=str(sandbox.ca_cert),
    )
    service = build_client(creds).get_service("GoogleAdsService")
    with pytest.raises(GoogleAdsException) as exc:
        list(
            service.search_stream(
                customer_id=str(market.customer_ids()[0]), query="SELECT campaign.id FROM campaign"
            )
        )
    err = classify(exc.value)
    assert isinstance(err, AdsAuthError)
    assert err.codes == ("authentication_error.DEVELOPER_TOKEN_INVALID",)
