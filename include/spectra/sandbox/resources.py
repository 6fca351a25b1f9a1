"""Resources a client of a manager account (MCC) and of Smart Bidding reads besides the market's
entities: ``customer_client`` (account discovery), ``conversion_action``, ``bidding_strategy``
and ``geographic_view``'s location columns.

Each is derived from what the market already knows, read through its public row API, and stays
honest about what the market does not model:

- one manager account (``MANAGER_CUSTOMER_ID``) manages every market account. Its
  ``customer_client`` rows are itself (level 0) and each client (level 1), as Google's account
  hierarchy guide describes (https://developers.google.com/google-ads/api/docs/account-management/
  get-account-hierarchy); a client account's ``customer_client`` is itself alone. A manager
  has no metrics: asking it for any is Google's REQUESTED_METRICS_FOR_MANAGER.
- every market account counts one conversion action (the market books each conversion to the
  click's keyword, so it is last-click, counted within the market's 90-day restatement window).
- the market's campaigns bid with standard strategies (``campaign.bidding_strategy_type`` and
  ``campaign.target_cpa``), never a portfolio: ``bidding_strategy`` (portfolio strategies only)
  has no rows, which is what Google returns for such an account.
- the market has no geography: all of an account's traffic is from the country of its time zone,
  reported as LOCATION_OF_PRESENCE. An account whose time zone maps to no single country cannot
  answer ``geographic_view`` and is refused rather than guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from spectra.sandbox.errors import query_error

MANAGER_CUSTOMER_ID = 1_000_000_001
MANAGER_NAME = "Spectra Sandbox Manager"


class MarketAccounts(Protocol):
    def customer_ids(self) -> list[int]: ...

    def rows(
        self,
        resource: str,
        *,
        customer_id: int,
        date_from: dt.date | None,
        date_to: dt.date | None,
        as_of: dt.date,
        fields: frozenset[str],
    ) -> Iterator[Mapping[str, Any]]: ...


_PROFILE = frozenset(
    {
        "customer.id",
        "customer.descriptive_name",
        "customer.currency_code",
        "customer.time_zone",
        "customer.manager",
        "customer.test_account",
        "customer.status",
        "customer.resource_name",
        "customer.auto_tagging_enabled",
    }
)

ATTRIBUTE_RESOURCES = frozenset(
    {"customer_client", "conversion_action", "bidding_strategy", "asset", "campaign_asset"}
)

FIELDS: dict[str, frozenset[str]] = {
    "customer_client": frozenset(
        {
            "customer_client.resource_name",
            "customer_client.client_customer",
            "customer_client.hidden",
            "customer_client.level",
            "customer_client.time_zone",
            "customer_client.test_account",
            "customer_client.manager",
            "customer_client.descriptive_name",
            "customer_client.currency_code",
            "customer_client.id",
            "customer_client.status",
        }
    ),
    "conversion_action": frozenset(
        {
            "conversion_action.resource_name",
            "conversion_action.id",
            "conversion_action.name",
            "conversion_action.status",
            "conversion_action.type",
            "conversion_action.origin",
            "conversion_action.primary_for_goal",
            "conversion_action.category",
            "conversion_action.owner_customer",
            "conversion_action.include_in_conversions_metric",
            "conversion_action.click_through_lookback_window_days",
            "conversion_action.counting_type",
            "conversion_action.attribution_model_settings.attribution_model",
            "conversion_action.value_settings.always_use_default_value",
        }
    ),
    "bidding_strategy": frozenset(
        {
            "bidding_strategy.resource_name",
            "bidding_strategy.id",
            "bidding_strategy.name",
            "bidding_strategy.status",
            "bidding_strategy.type",
            "bidding_strategy.currency_code",
            "bidding_strategy.campaign_count",
            "bidding_strategy.non_removed_campaign_count",
            "bidding_strategy.target_cpa.target_cpa_micros",
            "bidding_strategy.target_roas.target_roas",
        }
    ),
    "asset": frozenset(
        {
            "asset.resource_name",
            "asset.id",
            "asset.name",
            "asset.type",
            "asset.image_asset.mime_type",
            "asset.image_asset.file_size",
            "asset.image_asset.full_size.width_pixels",
            "asset.image_asset.full_size.height_pixels",
        }
    ),
    "campaign_asset": frozenset(
        {
            "campaign_asset.resource_name",
            "campaign_asset.campaign",
            "campaign_asset.asset",
            "campaign_asset.field_type",
            "campaign_asset.status",
            "campaign.id",
        }
    ),
    "geographic_view": frozenset(
        {
            "geographic_view.resource_name",
            "geographic_view.location_type",
            "geographic_view.country_criterion_id",
        }
    ),
}

# conversion category by the market's vertical: shops count purchases, practices book visits
_CATEGORY = {
    "outdoor": ("Purchase", "PURCHASE", "MANY_PER_CLICK"),
    "travel": ("Booking", "PURCHASE", "MANY_PER_CLICK"),
    "dental": ("Appointment request", "BOOK_APPOINTMENT", "ONE_PER_CLICK"),
    "software": ("Demo request", "SUBMIT_LEAD_FORM", "ONE_PER_CLICK"),
}
_DEFAULT_CATEGORY = ("Conversion", "DEFAULT", "MANY_PER_CLICK")
LOOKBACK_DAYS = 90  # the market restates conversions for up to 90 days after the click

# Google's country criterion ids (geo target constants: 2000 + ISO 3166 numeric code)
COUNTRY_OF_TIME_ZONE: dict[str, int] = {
    **dict.fromkeys(
        (
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Los_Angeles",
            "America/Phoenix",
            "America/Anchorage",
            "America/Detroit",
            "Pacific/Honolulu",
        ),
        2840,
    ),
    **dict.fromkeys(("America/Toronto", "America/Vancouver", "America/Edmonton"), 2124),
    "America/Mexico_City": 2484,
    "America/Sao_Paulo": 2076,
    "Europe/London": 2826,
    "Europe/Dublin": 2372,
    "Europe/Berlin": 2276,
    "Europe/Paris": 2250,
    "Europe/Madrid": 2724,
    "Europe/Rome": 2380,
    "Europe/Amsterdam": 2528,
    "Europe/Zurich": 2756,
    "Europe/Stockholm": 2752,
    "Europe/Warsaw": 2616,
    "Asia/Tokyo": 2392,
    "Asia/Seoul": 2410,
    "Asia/Singapore": 2702,
    "Asia/Kolkata": 2356,
    "Australia/Sydney": 2036,
    "Australia/Melbourne": 2036,
    "Pacific/Auckland": 2554,
}


def is_manager(customer_id: int) -> bool:
    return customer_id == MANAGER_CUSTOMER_ID


def profile(market: MarketAccounts, customer_id: int, as_of: dt.date) -> dict[str, Any]:
    """The customer resource of an account (the manager's own is built here)."""
    if is_manager(customer_id):
        return {
            "customer.id": MANAGER_CUSTOMER_ID,
            "customer.descriptive_name": MANAGER_NAME,
            "customer.currency_code": "USD",
            "customer.time_zone": "America/New_York",
            "customer.manager": True,
            "customer.test_account": False,
            "customer.status": "ENABLED",
            "customer.resource_name": f"customers/{MANAGER_CUSTOMER_ID}",
            "customer.auto_tagging_enabled": False,
        }
    rows = market.rows(
        "customer",
        customer_id=customer_id,
        date_from=None,
        date_to=None,
        as_of=as_of,
        fields=_PROFILE,
    )
    return dict(next(iter(rows)))


def _client_row(manager: int, client: Mapping[str, Any], level: int) -> dict[str, Any]:
    cid = int(client["customer.id"])
    return {
        "customer_client.resource_name": f"customers/{manager}/customerClients/{cid}",
        "customer_client.client_customer": f"customers/{cid}",
        "customer_client.hidden": False,
        "customer_client.level": level,
        "customer_client.time_zone": client["customer.time_zone"],
        "customer_client.test_account": bool(client["customer.test_account"]),
        "customer_client.manager": bool(client["customer.manager"]),
        "customer_client.descriptive_name": client["customer.descriptive_name"],
        "customer_client.currency_code": client["customer.currency_code"],
        "customer_client.id": cid,
        "customer_client.status": client["customer.status"],
    }


def customer_client_rows(
    market: MarketAccounts, customer_id: int, as_of: dt.date
) -> list[dict[str, Any]]:
    """The account itself at level 0 and, for the manager, every client at level 1."""
    own = profile(market, customer_id, as_of)
    rows = [_client_row(customer_id, own, 0)]
    if is_manager(customer_id):
        for client in market.customer_ids():
            rows.append(_client_row(customer_id, profile(market, client, as_of), 1))
    return [{**own, **r} for r in rows]


def _vertical(market: Any, customer_id: int) -> str | None:
    struct = getattr(market, "struct", None)
    verticals = getattr(struct, "account_vertical", None)
    if struct is None or verticals is None:
        return None
    ids = [int(c) for c in struct.customer_id.tolist()]
    return str(verticals[ids.index(customer_id)]) if customer_id in ids else None


def conversion_action(market: MarketAccounts, customer_id: int) -> dict[str, Any]:
    """The account's one conversion action (what ``segments.conversion_action*`` split by)."""
    name, category, counting = _CATEGORY.get(
        _vertical(market, customer_id) or "", _DEFAULT_CATEGORY
    )
    action_id = 7_000_000_000 + customer_id % 1_000_000_000
    return {
        "conversion_action.resource_name": f"customers/{customer_id}/conversionActions/{action_id}",
        "conversion_action.id": action_id,
        "conversion_action.name": name,
        "conversion_action.status": "ENABLED",
        "conversion_action.type": "WEBPAGE",
        "conversion_action.origin": "WEBSITE",
        "conversion_action.primary_for_goal": True,
        "conversion_action.category": category,
        "conversion_action.owner_customer": f"customers/{customer_id}",
        "conversion_action.include_in_conversions_metric": True,
        "conversion_action.click_through_lookback_window_days": LOOKBACK_DAYS,
        "conversion_action.counting_type": counting,
        "conversion_action.attribution_model_settings.attribution_model": "GOOGLE_ADS_LAST_CLICK",
        "conversion_action.value_settings.always_use_default_value": False,
    }


def attribute_rows(
    resource: str, market: MarketAccounts, customer_id: int, as_of: dt.date
) -> list[dict[str, Any]]:
    """Rows of the attribute-only resources this module serves."""
    if resource == "customer_client":
        return customer_client_rows(market, customer_id, as_of)
    if is_manager(customer_id):
        return []  # a manager counts no conversions and bids nothing
    if resource in ("conversion_action", "asset", "campaign_asset"):
        # the account's own, created through the mutate services (spectra.sandbox.catalog)
        from spectra.sandbox.catalog import catalog_of

        own = profile(market, customer_id, as_of)
        return [{**own, **row} for row in catalog_of(market).rows(resource, customer_id)]
    if resource == "bidding_strategy":
        return []  # standard strategies only: no portfolio bidding strategies
    raise KeyError(resource)


def geography(market: MarketAccounts, customer_id: int, as_of: dt.date) -> dict[str, Any]:
    """The geographic_view columns of all of an account's traffic."""
    zone = str(profile(market, customer_id, as_of)["customer.time_zone"])
    country = COUNTRY_OF_TIME_ZONE.get(zone)
    if country is None:
        raise query_error(
            "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"geographic_view: the sandbox has no country for time zone {zone!r}",
        )
    return {
        "geographic_view.resource_name": (
            f"customers/{customer_id}/geographicViews/{country}~LOCATION_OF_PRESENCE"
        ),
        "geographic_view.location_type": "LOCATION_OF_PRESENCE",
        "geographic_view.country_criterion_id": country,
    }
