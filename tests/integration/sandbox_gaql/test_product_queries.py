"""The product's own GAQL files (sql/gaql) still run against the stricter sandbox: each one,
rendered as ingest and apply render it, answers through the real client without a refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spectra.ads.client import AdsCredentials
from spectra.ads.stream import load_query, stream_columns
from spectra.settings import gaql_dir

NAMES = sorted(p.stem for p in gaql_dir().glob("*.gaql"))

# queries whose answer must not be empty on the tiny market's history
PULLS = {
    "accounts",
    "campaigns",
    "ad_groups",
    "keywords",
    "ads",
    "campaign_performance",
    "ad_group_performance",
    "keyword_performance",
    "search_terms",
    "conversion_lag",
    "apply_campaign",
    "apply_ad_groups",
    "apply_keywords",
    "apply_ads",
}


@pytest.mark.parametrize("name", NAMES)
def test_product_query_runs(
    name: str, ads_client: Any, ads_creds: AdsCredentials, market: Any
) -> None:
    cid = int(market.customer_ids()[0])
    today = market.reference_date
    (campaign,) = list(
        market.rows(
            "campaign",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=today,
            fields=frozenset({"campaign.id"}),
        )
    )[:1]
    first = today - dt.timedelta(days=120 if name == "conversion_lag" else 14)
    last = today - dt.timedelta(days=31 if name == "conversion_lag" else 1)
    query = load_query(name)
    columns = stream_columns(
        ads_client,
        ads_creds,
        customer_id=cid,
        query=query,
        as_of=today,
        date_from=first.isoformat(),
        date_to=last.isoformat(),
        campaign_id=campaign["campaign.id"],
    )
    assert set(columns) == set(query.fields)
    if name in PULLS:
        assert len(next(iter(columns.values()))) > 0, name
