"""A warehouse that knows the sandbox's campaigns, and a campaign as the sandbox serves it:
what the apply and the guardrail tests both start from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import read_campaign
from spectra.ads.stream import load_query, stream_columns
from spectra.domain.campaign_state import CampaignState
from spectra.warehouse.repositories import add_campaign, register_account, register_tenant

TENANT = "acme"


def sandbox_creds(server: Any, *, clock: bool = True) -> AdsCredentials:
    """Credentials of the real client for a running ``SandboxServer`` (its TLS CA; with
    ``clock``, each read names its day in the sandbox's clock header)."""
    return AdsCredentials(
        developer_token="test-dev-token",
        access_token="test-token",
        endpoint=server.endpoint,
        ca_cert_path=str(server.ca_cert),
        sandbox_clock=clock,
    )


def register_campaigns(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    customer_id: int,
    *,
    tenant_id: str = TENANT,
) -> list[int]:
    """Tenant, account and every ENABLED campaign of the account, ACTIVE in Spectra."""
    cols = stream_columns(client, creds, customer_id=customer_id, query=load_query("campaigns"))
    ids = [
        int(cid)
        for cid, status in zip(cols["campaign.id"], cols["campaign.status"], strict=True)
        if status == "ENABLED"
    ]
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=tenant_id, name=tenant_id.title())
        register_account(conn, tenant_id=tenant_id, customer_id=customer_id)
        for cid in ids:
            add_campaign(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                campaign_id=cid,
                name=f"c{cid}",
                status=CampaignState.ACTIVE,
                exist_ok=True,
            )
    return ids


def snapshot(
    client: Any, creds: AdsCredentials, customer_id: int, campaign_id: int
) -> dict[str, Any]:
    """The campaign (budget, ad groups, keywords, ads) as the sandbox serves it now."""
    return read_campaign(client, creds, customer_id=customer_id, campaign_id=campaign_id).snapshot
