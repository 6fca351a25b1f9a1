"""Mutations through the real GoogleAdsClient: effects on later days, Google's error codes,
account limits, partial failure, validate_only and GoogleAdsService.Mutate with temporary ids."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.ads.googleads.errors import GoogleAdsException

from spectra.sandbox.market import Market
from spectra.sandbox.server import CLOCK_HEADER

CLOCK = dt.date(2026, 11, 20)


def _meta(day: dt.date) -> list[tuple[str, str]]:
    return [(CLOCK_HEADER, day.isoformat())]


def _query(client: Any, cid: int, query: str, day: dt.date) -> list[Any]:
    svc = client.get_service("GoogleAdsService")
    return [
        row
        for batch in svc.search_stream(customer_id=str(cid), query=query, metadata=_meta(day))
        for row in batch.results
    ]


def _codes(exc: GoogleAdsException) -> list[tuple[str, str, int | None]]:
    out = []
    for err in exc.failure.errors:
        pb = getattr(err, "_pb", err)
        category = pb.error_code.WhichOneof("error_code")
        enum_value = getattr(pb.error_code, category)
        name = (
            pb.error_code.DESCRIPTOR.fields_by_name[category]
            .enum_type.values_by_number[enum_value]
            .name
        )
        index = next(
            (e.index for e in pb.location.field_path_elements if e.field_name == "operations"), None
        )
        out.append((category, name, index))
    return out


def _budget_op(client: Any, rn: str, amount: int) -> Any:
    op = client.get_type("CampaignBudgetOperation")
    op.update.resource_name = rn
    op.update.amount_micros = amount
    op.update_mask.paths.append("amount_micros")
    return op


def _campaigns(client: Any, cid: int, day: dt.date) -> list[Any]:
    return _query(
        client,
        cid,
        "SELECT campaign.id, campaign.resource_name, campaign_budget.resource_name, campaign_budget.amount_micros, campaign.status FROM campaign",
        day,
    )


def test_budget_cut_changes_later_days_only(own_client: Any, own_market: Market) -> None:
    cid = own_market.customer_ids()[0]
    camp = _campaigns(own_client, cid, CLOCK)[1]
    q = (
        "SELECT campaign.id, segments.date, metrics.cost_micros, metrics.search_budget_lost_impression_share "
        f"FROM campaign WHERE campaign.id = {camp.campaign.id} AND segments.date BETWEEN '2026-11-14' AND '2026-11-26'"
    )
    later = CLOCK + dt.timedelta(days=7)
    before = {r.segments.date: r.metrics.cost_micros for r in _query(own_client, cid, q, later)}
    new_budget = 50_000_000
    svc = own_client.get_service("CampaignBudgetService")
    resp = svc.mutate_campaign_budgets(
        customer_id=str(cid),
        operations=[_budget_op(own_client, camp.campaign_budget.resource_name, new_budget)],
        metadata=_meta(CLOCK),
    )
    assert resp.results[0].resource_name == camp.campaign_budget.resource_name
    after_rows = _query(own_client, cid, q, later)
    after = {r.segments.date: r.metrics.cost_micros for r in after_rows}
    for day, cost in before.items():
        if day < CLOCK.isoformat():
            assert after[day] == cost  # the past is untouched
        else:
            # capped from the clock's day on (Google may spend up to twice the budget a day)
            assert after[day] <= 2 * new_budget and after[day] < cost
    lost = [
        r.metrics.search_budget_lost_impression_share
        for r in after_rows
        if r.segments.date >= CLOCK.isoformat()
    ]
    assert min(lost) > 0.2  # less on days Google overdelivers
    assert _campaigns(own_client, cid, CLOCK)[1].campaign_budget.amount_micros == new_budget


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (5_000_001, "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"),
        (-10_000, "NEGATIVE_MONEY_AMOUNT"),
        (5_000, "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC"),
    ],
)
def test_invalid_budget_gets_google_error(
    own_client: Any, own_market: Market, amount: int, code: str
) -> None:
    cid = own_market.customer_ids()[0]
    camp = _campaigns(own_client, cid, CLOCK)[0]
    svc = own_client.get_service("CampaignBudgetService")
    with pytest.raises(GoogleAdsException) as info:
        svc.mutate_campaign_budgets(
            customer_id=str(cid),
            operations=[_budget_op(own_client, camp.campaign_budget.resource_name, amount)],
            metadata=_meta(CLOCK),
        )
    assert _codes(info.value) == [("campaign_budget_error", code, 0)]
    assert info.value.request_id


def test_unknown_field_and_unknown_resource(own_client: Any, own_market: Market) -> None:
    cid = own_market.customer_ids()[0]
    camp = _campaigns(own_client, cid, CLOCK)[0]
    svc = own_client.get_service("CampaignService")
    op = own_client.get_type("CampaignOperation")
    op.update.resource_name = camp.campaign.resource_name
    op.update_mask.paths.append("no_such_field")
    with pytest.raises(GoogleAdsException) as info:
        svc.mutate_campaigns(customer_id=str(cid), operations=[op], metadata=_meta(CLOCK))
    assert _codes(info.value) == [("field_mask_error", "FIELD_NOT_FOUND", 0)]
    op = own_client.get_type("CampaignOperation")
    op.update.resource_name = f"customers/{cid}/campaigns/123"
    op.update.status = own_client.enums.CampaignStatusEnum.PAUSED
    op.update_mask.paths.append("status")
    with pytest.raises(GoogleAdsException) as info:
        svc.mutate_campaigns(customer_id=str(cid), operations=[op], metadata=_meta(CLOCK))
    assert _codes(info.value) == [("mutate_error", "RESOURCE_NOT_FOUND", 0)]


def _keyword_op(client: Any, ad_group_rn: str, text: str, *, negative: bool = False) -> Any:
    op = client.get_type("AdGroupCriterionOperation")
    op.create.ad_group = ad_group_rn
    op.create.keyword.text = text
    op.create.keyword.match_type = client.enums.KeywordMatchTypeEnum.PHRASE
    op.create.status = client.enums.AdGroupCriterionStatusEnum.ENABLED
    if negative:
        op.create.negative = True
    else:
        op.create.cpc_bid_micros = 1_200_000
    return op


def test_keywords_per_ad_group_limit_is_enforced(own_client: Any, own_market: Market) -> None:
    cid = own_market.customer_ids()[1]
    group = _query(own_client, cid, "SELECT ad_group.resource_name FROM ad_group", CLOCK)[
        0
    ].ad_group.resource_name
    svc = own_client.get_service("AdGroupCriterionService")
    # tiny has 4 keywords per ad group; the test limit is 5 → one more fits, the next does not
    svc.mutate_ad_group_criteria(
        customer_id=str(cid),
        operations=[_keyword_op(own_client, group, "gentle dentist sunday")],
        metadata=_meta(CLOCK),
    )
    with pytest.raises(GoogleAdsException) as info:
        svc.mutate_ad_group_criteria(
            customer_id=str(cid),
            operations=[_keyword_op(own_client, group, "gentle dentist monday")],
            metadata=_meta(CLOCK),
        )
    assert _codes(info.value) == [("resource_count_limit_exceeded_error", "ADGROUP_LIMIT", 0)]
    # negatives do not count against the positive-keyword limit
    svc.mutate_ad_group_criteria(
        customer_id=str(cid),
        operations=[_keyword_op(own_client, group, "jobs", negative=True)],
        metadata=_meta(CLOCK),
    )


def test_partial_failure_and_validate_only(own_client: Any, own_market: Market) -> None:
    cid = own_market.customer_ids()[1]
    camps = _campaigns(own_client, cid, CLOCK)
    svc = own_client.get_service("CampaignBudgetService")
    good = _budget_op(own_client, camps[0].campaign_budget.resource_name, 77_000_000)
    bad = _budget_op(own_client, camps[1].campaign_budget.resource_name, 77_000_001)
    # validate_only: checked, nothing applied
    resp = svc.mutate_campaign_budgets(
        request={"customer_id": str(cid), "operations": [good], "validate_only": True},
        metadata=_meta(CLOCK),
    )
    assert _campaigns(own_client, cid, CLOCK)[0].campaign_budget.amount_micros != 77_000_000
    # atomic: one bad operation → nothing applied, error names operation 1
    with pytest.raises(GoogleAdsException) as info:
        svc.mutate_campaign_budgets(
            customer_id=str(cid), operations=[good, bad], metadata=_meta(CLOCK)
        )
    assert _codes(info.value) == [
        ("campaign_budget_error", "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT", 1)
    ]
    assert _campaigns(own_client, cid, CLOCK)[0].campaign_budget.amount_micros != 77_000_000
    # partial failure: the good one lands, the bad one is reported with its index
    resp = svc.mutate_campaign_budgets(
        request={"customer_id": str(cid), "operations": [good, bad], "partial_failure": True},
        metadata=_meta(CLOCK),
    )
    assert resp.results[0].resource_name == camps[0].campaign_budget.resource_name
    assert resp.results[1].resource_name == ""
    from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

    failure = GoogleAdsFailure.deserialize(resp.partial_failure_error.details[0].value)
    assert failure.errors[0].location.field_path_elements[0].index == 1
    assert _campaigns(own_client, cid, CLOCK)[0].campaign_budget.amount_micros == 77_000_000


def test_google_ads_mutate_builds_a_campaign_with_temporary_ids(
    own_client: Any, own_market: Market
) -> None:
    cid = own_market.customer_ids()[0]
    client = own_client
    day = CLOCK + dt.timedelta(days=2)
    ops = []
    budget = client.get_type("MutateOperation")
    budget.campaign_budget_operation.create.resource_name = f"customers/{cid}/campaignBudgets/-1"
    budget.campaign_budget_operation.create.name = "Launch budget"
    budget.campaign_budget_operation.create.amount_micros = 40_000_000
    ops.append(budget)
    camp = client.get_type("MutateOperation")
    c = camp.campaign_operation.create
    c.resource_name = f"customers/{cid}/campaigns/-2"
    c.name = "Search | Launch Test"
    c.campaign_budget = f"customers/{cid}/campaignBudgets/-1"
    c.advertising_channel_type = client.enums.AdvertisingChannelTypeEnum.SEARCH
    c.status = client.enums.CampaignStatusEnum.ENABLED
    c.manual_cpc.enhanced_cpc_enabled = False
    ops.append(camp)
    group = client.get_type("MutateOperation")
    g = group.ad_group_operation.create
    g.resource_name = f"customers/{cid}/adGroups/-3"
    g.name = "Trail Running Shoes"
    g.campaign = f"customers/{cid}/campaigns/-2"
    g.cpc_bid_micros = 1_500_000
    g.status = client.enums.AdGroupStatusEnum.ENABLED
    ops.append(group)
    for text in ("trail running shoes", "buy trail running shoes"):
        kw = client.get_type("MutateOperation")
        k = kw.ad_group_criterion_operation.create
        k.ad_group = f"customers/{cid}/adGroups/-3"
        k.keyword.text = text
        k.keyword.match_type = client.enums.KeywordMatchTypeEnum.PHRASE
        k.status = client.enums.AdGroupCriterionStatusEnum.ENABLED
        ops.append(kw)
    ad = client.get_type("MutateOperation")
    a = ad.ad_group_ad_operation.create
    a.ad_group = f"customers/{cid}/adGroups/-3"
    a.status = client.enums.AdGroupAdStatusEnum.ENABLED
    a.ad.final_urls.append("https://www.northwind.example/trail")
    for text in ("Trail Running Shoes", "Free Shipping Today", "Northwind Trail Gear"):
        asset = client.get_type("AdTextAsset")
        asset.text = text
        a.ad.responsive_search_ad.headlines.append(asset)
    for text in ("Grip on every trail. Order online.", "Lightweight trail shoes for every runner."):
        asset = client.get_type("AdTextAsset")
        asset.text = text
        a.ad.responsive_search_ad.descriptions.append(asset)
    ops.append(ad)
    svc = client.get_service("GoogleAdsService")
    resp = svc.mutate(customer_id=str(cid), mutate_operations=ops, metadata=_meta(day))
    names = [r.WhichOneof("response") for r in resp.mutate_operation_responses]
    assert names == [
        "campaign_budget_result",
        "campaign_result",
        "ad_group_result",
        "ad_group_criterion_result",
        "ad_group_criterion_result",
        "ad_group_ad_result",
    ]
    camp_rn = resp.mutate_operation_responses[1].campaign_result.resource_name
    assert "/campaigns/" in camp_rn and not camp_rn.endswith("-2")
    # the new campaign exists from its creation day and serves from then on
    new_id = int(camp_rn.rsplit("/", 1)[1])
    assert new_id not in {
        r.campaign.id for r in _campaigns(client, cid, day - dt.timedelta(days=1))
    }
    rows = _query(
        client,
        cid,
        f"SELECT campaign.id, segments.date, metrics.clicks FROM campaign WHERE campaign.id = {new_id} AND segments.date BETWEEN '2026-11-01' AND '2026-11-30'",
        day + dt.timedelta(days=5),
    )
    dates = [r.segments.date for r in rows]
    assert dates and min(dates) >= day.isoformat()
    assert sum(r.metrics.clicks for r in rows) > 0


def test_negative_keyword_stops_matching_search_terms(own_client: Any, own_market: Market) -> None:
    cid = own_market.customer_ids()[0]
    day = CLOCK + dt.timedelta(days=3)
    q = "SELECT search_term_view.search_term, campaign.id, segments.date, metrics.impressions, metrics.cost_micros FROM search_term_view WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-30'"
    rows = _query(own_client, cid, q, day)
    irrelevant = [
        r
        for r in rows
        if r.search_term_view.search_term.split()[0] in {"free", "diy"}
        or r.search_term_view.search_term.endswith(("jobs", "meaning", "salary", "wikipedia"))
    ]
    assert irrelevant, "tiny should have irrelevant search terms"
    target = irrelevant[0]
    word = next(
        w
        for w in target.search_term_view.search_term.split()
        if w in {"free", "diy", "jobs", "meaning", "salary", "wikipedia"}
    )
    camp_rn = f"customers/{cid}/campaigns/{target.campaign.id}"
    op = own_client.get_type("CampaignCriterionOperation")
    op.create.campaign = camp_rn
    op.create.negative = True
    op.create.keyword.text = word
    op.create.keyword.match_type = own_client.enums.KeywordMatchTypeEnum.BROAD
    created = own_client.get_service("CampaignCriterionService").mutate_campaign_criteria(
        customer_id=str(cid), operations=[op], metadata=_meta(day)
    )
    criterion_rn = created.results[0].resource_name
    after = _query(own_client, cid, q, day + dt.timedelta(days=6))
    blocked = [
        r
        for r in after
        if r.campaign.id == target.campaign.id and word in r.search_term_view.search_term.split()
    ]
    assert blocked and all(r.segments.date < day.isoformat() for r in blocked)
    crit = _query(
        own_client,
        cid,
        "SELECT campaign_criterion.keyword.text, campaign_criterion.negative FROM campaign_criterion",
        day,
    )
    assert any(
        r.campaign_criterion.keyword.text == word and r.campaign_criterion.negative for r in crit
    )
    # Google's change history records the edit: one CREATE of this criterion, on this
    # campaign, dated the day it was sent (the sandbox clock), and nothing else about it.
    changes = _query(
        own_client,
        cid,
        "SELECT change_event.change_resource_name, change_event.change_resource_type, "
        "change_event.resource_change_operation, change_event.campaign, "
        "change_event.change_date_time FROM change_event "
        "WHERE change_event.change_date_time >= '2026-11-01' "
        "AND change_event.change_date_time <= '2026-12-31' LIMIT 1000",
        day,
    )
    mine = [r.change_event for r in changes if r.change_event.change_resource_name == criterion_rn]
    assert len(mine) == 1, [r.change_event.change_resource_name for r in changes]
    event = mine[0]
    enums = own_client.enums
    assert event.change_resource_type == enums.ChangeEventResourceTypeEnum.CAMPAIGN_CRITERION
    assert event.resource_change_operation == enums.ResourceChangeOperationEnum.CREATE
    assert event.campaign == camp_rn
    assert event.change_date_time.startswith(day.isoformat())


def _create_budget(client: Any, cid: int, name: str, amount: int, day: dt.date) -> str:
    op = client.get_type("CampaignBudgetOperation")
    op.create.name = name
    op.create.amount_micros = amount
    svc = client.get_service("CampaignBudgetService")
    resp = svc.mutate_campaign_budgets(customer_id=str(cid), operations=[op], metadata=_meta(day))
    return str(resp.results[0].resource_name)


def test_budget_names_are_unique_and_a_budget_without_campaign_is_served(
    own_client: Any, own_market: Market
) -> None:
    cid = own_market.customer_ids()[0]
    day = CLOCK + dt.timedelta(days=4)
    rn = _create_budget(own_client, cid, "Orphan budget", 30_000_000, day)
    # GAQL lists a budget no campaign uses yet (a crashed launch finds it by name)
    q = "SELECT campaign_budget.resource_name, campaign_budget.name, campaign_budget.amount_micros FROM campaign_budget WHERE campaign_budget.name = 'Orphan budget'"
    rows = _query(own_client, cid, q, day)
    assert [(r.campaign_budget.resource_name, r.campaign_budget.amount_micros) for r in rows] == [
        (rn, 30_000_000)
    ]
    assert _query(own_client, cid, q, day - dt.timedelta(days=1)) == []
    with pytest.raises(GoogleAdsException) as info:
        _create_budget(own_client, cid, "Orphan budget", 40_000_000, day)
    assert _codes(info.value) == [("campaign_budget_error", "DUPLICATE_NAME", 0)]
    # a campaign's own budget takes its name from the campaign: that name is taken too
    camp = _query(own_client, cid, "SELECT campaign.name FROM campaign", day)[0]
    with pytest.raises(GoogleAdsException) as info:
        _create_budget(own_client, cid, f"Budget | {camp.campaign.name}", 40_000_000, day)
    assert _codes(info.value) == [("campaign_budget_error", "DUPLICATE_NAME", 0)]
    # once a campaign uses it, it is served once, as that campaign's budget
    op = own_client.get_type("CampaignOperation")
    op.create.name = "Orphan no more"
    op.create.campaign_budget = rn
    op.create.advertising_channel_type = own_client.enums.AdvertisingChannelTypeEnum.SEARCH
    op.create.manual_cpc.enhanced_cpc_enabled = False
    own_client.get_service("CampaignService").mutate_campaigns(
        customer_id=str(cid), operations=[op], metadata=_meta(day)
    )
    served = [
        r.campaign_budget.name
        for r in _query(
            own_client,
            cid,
            "SELECT campaign_budget.resource_name, campaign_budget.name FROM campaign_budget",
            day,
        )
        if r.campaign_budget.resource_name == rn
    ]
    assert served == ["Budget | Orphan no more"]
