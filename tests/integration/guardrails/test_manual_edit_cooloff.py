"""A person's edit in Google Ads itself (the sandbox records it in change_event with the web
client's type) blocks the agent on that entity for the cooling-off period; Spectra's own
changes (the API client type) do not. The change history is read through the real client."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from guard_support import TENANT, keyword_bid, register_campaigns, result_of, snapshot
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.stream import GaqlQuery, parse_select, stream_columns
from spectra.apply.executor import ApplyConfig, apply_changes
from spectra.domain.changes import ApprovedChange, Origin, OriginKind
from spectra.guardrails import service
from spectra.sandbox.market.mutations import Mutation
from spectra.warehouse.models import ChangeEvent, natural_key
from spectra.warehouse.upsert import bulk_upsert

RULE = "manual_edit_cooloff"
# The same fields ingest pulls (Google's change_event keeps 30 days; date and LIMIT required).
CHANGE_EVENTS = """SELECT change_event.resource_name, change_event.change_date_time,
  change_event.change_resource_type, change_event.change_resource_name,
  change_event.client_type, change_event.user_email, change_event.campaign,
  change_event.resource_change_operation
FROM change_event
WHERE change_event.change_date_time >= '{date_from}'
  AND change_event.change_date_time <= '{date_to} 23:59:59'
ORDER BY change_event.change_date_time LIMIT 10000"""


def _pull_change_events(
    engine: Engine, client: Any, creds: AdsCredentials, cid: int, day: dt.date
) -> int:
    """Read the account's change history through the real client into ``change_events``
    (what ingest's change-history pull stores; times from the account's zone to UTC)."""
    fields, resource = parse_select(CHANGE_EVENTS)
    query = GaqlQuery("change_events", CHANGE_EVENTS, fields, resource)
    time_zone = GaqlQuery(
        "time_zone", "SELECT customer.time_zone FROM customer", ("customer.time_zone",), "customer"
    )
    zone_cols = stream_columns(client, creds, customer_id=cid, query=time_zone, as_of=day)
    zone = ZoneInfo(zone_cols["customer.time_zone"][0] or "UTC")
    cols = stream_columns(
        client,
        creds,
        customer_id=cid,
        query=query,
        as_of=day,
        date_from=(day - dt.timedelta(days=29)).isoformat(),
        date_to=day.isoformat(),
    )
    rows = []
    for i, name in enumerate(cols["change_event.resource_name"]):
        campaign_rn = cols["change_event.campaign"][i]
        rows.append(
            {
                "tenant_id": TENANT,
                "customer_id": cid,
                "resource_name": name,
                "changed_at": dt.datetime.fromisoformat(cols["change_event.change_date_time"][i])
                .replace(tzinfo=zone)
                .astimezone(dt.UTC),
                "resource_type": cols["change_event.change_resource_type"][i],
                "change_resource_name": cols["change_event.change_resource_name"][i],
                "operation": cols["change_event.resource_change_operation"][i],
                "client_type": cols["change_event.client_type"][i],
                "user_email": cols["change_event.user_email"][i],
                "campaign_id": int(campaign_rn.rsplit("/", 1)[1]) if campaign_rn else None,
                "ad_group_id": None,
                "changed_fields": [],
                "old_values": {},
                "new_values": {},
            }
        )
    with engine.begin() as conn:
        bulk_upsert(conn, ChangeEvent.__table__, rows, keys=natural_key(ChangeEvent))
    return len(rows)


def test_a_manual_edit_in_google_ads_blocks_the_agent_on_that_entity(
    engine: Engine, guard_market: Any, guard_client: Any, guard_creds: AdsCredentials
) -> None:
    cid = guard_market.customer_ids()[0]
    campaign_id = register_campaigns(engine, guard_client, guard_creds, cid)[0]
    day = guard_market.reference_date - dt.timedelta(days=2)
    snap = snapshot(guard_client, guard_creds, cid, campaign_id)
    edited = keyword_bid(snap, cid, campaign_id, factor=1.1, ref="p-edited")
    e = edited.entity
    # a person raises the bid in the Google Ads web UI
    guard_market.apply_mutation(
        cid,
        Mutation(
            "ad_group_criterion",
            "update",
            f"customers/{cid}/adGroupCriteria/{e.ad_group_id}~{e.criterion_id}",
            {"cpc_bid_micros": int(edited.current or 0) + 50_000},
        ),
        as_of=day,
        client_type="GOOGLE_ADS_WEB_CLIENT",
        user_email="alice@example.com",
    )
    # Spectra itself changes another keyword of the campaign through the API
    others = [
        (k, v)
        for k, v in snap["keywords"].items()
        if not v["negative"]
        and v["status"] == "ENABLED"
        and v.get("cpc_bid_micros")
        and k != f"{e.ad_group_id}~{e.criterion_id}"
    ]
    ours_key, ours_kw = others[0]
    ours = edited.model_copy(
        update={
            "ref": "p-ours",
            "entity": e.model_copy(
                update={
                    "ad_group_id": int(ours_key.split("~")[0]),
                    "criterion_id": int(ours_key.split("~")[1]),
                }
            ),
            "current": int(ours_kw["cpc_bid_micros"]),
            "proposed": int(ours_kw["cpc_bid_micros"]) + 10_000,
        }
    )
    report = apply_changes(
        engine,
        guard_client,
        [
            ApprovedChange(
                tenant_id=TENANT,
                customer_id=cid,
                entity=ours.entity,
                field="cpc_bid_micros",
                target=int(ours.proposed or 0),
                origin=Origin(kind=OriginKind.PROPOSAL, ref="p-ours-applied"),
            )
        ],
        creds=guard_creds,
        config=ApplyConfig(as_of=day),
    )
    assert report.counts() == {"applied": 1}

    assert _pull_change_events(engine, guard_client, guard_creds, cid, day) >= 2
    next_day = day + dt.timedelta(days=1)
    blocked = result_of(service.check(engine, edited, as_of=next_day), RULE)
    assert not blocked.accepted
    assert "alice@example.com" in blocked.reason and "GOOGLE_ADS_WEB_CLIENT" in blocked.reason
    # our own API change is not a person's edit
    assert result_of(service.check(engine, ours, as_of=next_day), RULE).accepted
    # a person may still change the entity; the agent may again once the cooling-off is over
    person = edited.model_copy(
        update={"ref": "edit-2", "origin": Origin(kind=OriginKind.PERSON, ref="t", actor="bob")}
    )
    assert result_of(service.check(engine, person, as_of=next_day), RULE).accepted
    still = result_of(service.check(engine, edited, as_of=day + dt.timedelta(days=3)), RULE)
    assert not still.accepted  # 09:00 on day + 72 h is later than midnight of day + 3
    over = result_of(service.check(engine, edited, as_of=day + dt.timedelta(days=4)), RULE)
    assert over.accepted
