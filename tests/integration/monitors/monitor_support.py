"""Support for the monitor tests: local instants of an account, what the market spent (its own
reports, read later), and a warehouse that knows the account's campaigns."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from spectra.domain.campaign_state import CampaignState
from spectra.sandbox.market import Market
from spectra.warehouse.repositories import add_campaign, register_account, register_tenant

TENANT = "acme"
FIELDS = frozenset({"campaign.id", "segments.date", "metrics.cost_micros"})


def local_instant(market: Market, customer_id: int, day: dt.date, hour: float) -> dt.datetime:
    """The UTC instant of local ``hour`` on ``day`` in the account's time zone."""
    zone = ZoneInfo(market.struct.time_zone[market.account_index(customer_id)])
    local = dt.datetime.combine(day, dt.time(0), tzinfo=zone) + dt.timedelta(hours=hour)
    return local.astimezone(dt.UTC)


def spend(
    market: Market, customer_id: int, first: dt.date, last: dt.date, *, as_of: dt.date | dt.datetime
) -> dict[int, int]:
    """Spend per campaign over [first, last] as the market reports it at ``as_of``."""
    out: dict[int, int] = {}
    for row in market.rows(
        "campaign",
        customer_id=customer_id,
        date_from=first,
        date_to=last,
        as_of=as_of,
        fields=FIELDS,
    ):
        out[row["campaign.id"]] = out.get(row["campaign.id"], 0) + row["metrics.cost_micros"]
    return out


def register(
    engine: Engine, market: Market, customer_id: int, limits: dict[int, dict[str, int]]
) -> list[int]:
    """Tenant, account (with its time zone) and every campaign of the account, ACTIVE, with
    ``limits[campaign_id]`` (max_daily_spend_micros / total_spend_limit_micros)."""
    st = market.struct
    account = market.account_index(customer_id)
    ids = [int(c) for c, a in zip(st.campaign_id, st.campaign_account, strict=True) if a == account]
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(
            conn, tenant_id=TENANT, customer_id=customer_id, time_zone=st.time_zone[account]
        )
        for cid in ids:
            add_campaign(
                conn,
                tenant_id=TENANT,
                customer_id=customer_id,
                campaign_id=cid,
                name=f"c{cid}",
                status=CampaignState.ACTIVE,
                **limits.get(cid, {}),
            )
    return ids
