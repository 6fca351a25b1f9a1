"""The policy monitor against the sandbox: Google disapproves ads for two days (a scenario
event), the monitor pauses them, and the campaign whose every ad is disapproved; the approval
afterwards enables exactly what the monitor paused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from monitor_support import TENANT, local_instant, register
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials, build_client
from spectra.ads.entities import read_campaign
from spectra.domain.campaign_state import CampaignState
from spectra.monitors.policy import check_policy
from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import Event
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import monitor_store
from spectra.warehouse.repositories import get_campaign

DAY = dt.date(2026, 12, 1)
TOPIC = "MISLEADING_CLAIMS"


@pytest.fixture
def disapproving() -> Iterator[tuple[Market, Any, AdsCredentials]]:
    """Account 0: campaign 0's second ad group and all of campaign 1 disapproved for two days."""
    events = (
        Event(type="ad_disapproval", start=DAY, end=DAY + dt.timedelta(days=1), account=0,
              campaigns=(0,), ad_groups=(1,), name=TOPIC),
        Event(type="ad_disapproval", start=DAY, end=DAY + dt.timedelta(days=1), account=0,
              campaigns=(1,), name=TOPIC),
    )  # fmt: skip
    market = Market.from_scenario("tiny", events=events)
    with SandboxServer(market, clock=DAY) as server:
        creds = AdsCredentials(
            developer_token="t",
            access_token="t",
            endpoint=server.endpoint,
            ca_cert_path=str(server.ca_cert),
            sandbox_clock=True,
        )
        yield market, build_client(creds), creds


def _statuses(client: Any, creds: AdsCredentials, cid: int, camp: int, at: dt.datetime) -> Any:
    snap = read_campaign(client, creds, customer_id=cid, campaign_id=camp, as_of=at).snapshot
    return snap["campaign"]["status"], {k: v["status"] for k, v in snap["ads"].items()}


def test_disapproval_pauses_the_ads_and_the_approval_enables_them_again(
    sqlite_engine: Engine, disapproving: tuple[Market, Any, AdsCredentials]
) -> None:
    m, client, creds = disapproving
    cid = m.customer_ids()[0]
    st = m.struct
    camps = [int(c) for c, a in zip(st.campaign_id, st.campaign_account, strict=True) if a == 0]
    partly, wholly = camps[0], camps[1]
    register(sqlite_engine, m, cid, {})

    def run(day: dt.date, hour: int) -> Any:
        return check_policy(
            sqlite_engine, client, tenant_id=TENANT, customer_id=cid,
            clock=local_instant(m, cid, day, hour), creds=creds,
        )  # fmt: skip

    first = run(DAY, 10)
    assert not first.failed
    at = local_instant(m, cid, DAY, 11)
    status, ads = _statuses(client, creds, cid, partly, at)
    assert status == "ENABLED"  # it still has servable ads
    assert sorted(ads.values()) == ["ENABLED", "ENABLED", "PAUSED", "PAUSED"]
    status, ads = _statuses(client, creds, cid, wholly, at)
    assert status == "PAUSED" and set(ads.values()) == {"PAUSED"}
    assert f"campaign:{wholly}" in first.paused and len(first.paused) == 2 + 4 + 1
    with sqlite_engine.connect() as conn:
        pauses = monitor_store.open_pauses(conn, tenant_id=TENANT, customer_id=cid)
        alerts = monitor_store.list_alerts(conn, tenant_id=TENANT, status="open")
        wholly_state = get_campaign(conn, tenant_id=TENANT, customer_id=cid, campaign_id=wholly)
    assert wholly_state.status == CampaignState.PAUSED.value
    assert {tuple(p["detail"].get("topics", [TOPIC])) for p in pauses} == {(TOPIC,)}
    assert len(alerts) == 7 and all(TOPIC in a["title"] or "every ad" in a["title"] for a in alerts)

    again = run(DAY, 11)  # the disapproval persists: nothing new to do or to say
    assert again.paused == [] and again.alert_events == 0

    after = run(DAY + dt.timedelta(days=2), 10)  # approved again
    assert not after.failed
    assert sorted(after.reenabled) == sorted(first.paused)
    at = local_instant(m, cid, DAY + dt.timedelta(days=2), 11)
    for camp in (partly, wholly):
        status, ads = _statuses(client, creds, cid, camp, at)
        assert status == "ENABLED" and set(ads.values()) == {"ENABLED"}
    with sqlite_engine.connect() as conn:
        assert monitor_store.open_pauses(conn, tenant_id=TENANT, customer_id=cid) == []
        assert monitor_store.list_alerts(conn, tenant_id=TENANT, status="open") == []
        state = get_campaign(conn, tenant_id=TENANT, customer_id=cid, campaign_id=wholly).status
    assert state == CampaignState.ACTIVE.value


def test_an_ad_a_person_paused_is_not_enabled_by_the_approval(
    sqlite_engine: Engine, disapproving: tuple[Market, Any, AdsCredentials]
) -> None:
    """Only the monitor's own pauses are undone."""
    from spectra.sandbox.market import Mutation

    m, client, creds = disapproving
    cid = m.customer_ids()[0]
    st = m.struct
    camp = int(st.campaign_id[0])
    register(sqlite_engine, m, cid, {})
    snap = read_campaign(client, creds, customer_id=cid, campaign_id=camp).snapshot
    key = sorted(k for k, v in snap["ads"].items())[-1]  # an ad of the disapproved ad group
    group, ad = key.split("~")
    m.apply_mutation(
        cid,
        Mutation(
            "ad_group_ad",
            "update",
            f"customers/{cid}/adGroupAds/{group}~{ad}",
            {"status": "PAUSED"},
        ),
        as_of=local_instant(m, cid, DAY, 8),
    )
    check_policy(sqlite_engine, client, tenant_id=TENANT, customer_id=cid,
                 clock=local_instant(m, cid, DAY, 10), creds=creds)  # fmt: skip
    check_policy(sqlite_engine, client, tenant_id=TENANT, customer_id=cid,
                 clock=local_instant(m, cid, DAY + dt.timedelta(days=2), 10), creds=creds)  # fmt: skip
    _, ads = _statuses(
        client, creds, cid, camp, local_instant(m, cid, DAY + dt.timedelta(days=2), 11)
    )
    assert ads[key] == "PAUSED"
    assert sorted(ads.values()).count("ENABLED") == 3
