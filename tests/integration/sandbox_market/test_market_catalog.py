"""ConversionActionService, AssetService and CampaignAssetService of the sandbox, through the
real client over gRPC: what they create is read back through GAQL, and they refuse what Google
documents it refuses, atomically unless partial_failure."""

from __future__ import annotations

from typing import Any

import pytest

from spectra.ads.client import AdsCredentials
from spectra.ads.errors import AdsError
from spectra.ads.mutate import mutate
from spectra.ads.stream import load_query, stream_columns
from spectra.sandbox.catalog import MAX_IMAGE_ASSETS_PER_CAMPAIGN, catalog_of
from spectra.sandbox.imagen import png


def _image(client: Any, name: str, data: bytes) -> Any:
    mop = client.get_type("MutateOperation")
    a = mop.asset_operation.create
    a.name, a.type_ = name, client.enums.AssetTypeEnum.IMAGE
    a.image_asset.data = data
    return mop


def _link(client: Any, campaign_rn: str, asset_rn: str) -> Any:
    mop = client.get_type("MutateOperation")
    link = mop.campaign_asset_operation.create
    link.campaign, link.asset = campaign_rn, asset_rn
    link.field_type = client.enums.AssetFieldTypeEnum.AD_IMAGE
    return mop


def _codes(outcome: Any) -> list[str]:
    return [f"{d.category}.{d.code}" for r in outcome.results for d in r.errors]


@pytest.fixture(scope="module")
def creds(own_sandbox: Any) -> AdsCredentials:
    return AdsCredentials(developer_token="d", access_token="t", endpoint=own_sandbox.endpoint,
                          ca_cert_path=str(own_sandbox.ca_cert))  # fmt: skip


def test_images_and_their_campaign_links(own_market: Any, own_client: Any, creds: Any) -> None:
    c = own_client
    cid = own_market.customer_ids()[0]
    cols = stream_columns(c, creds, customer_id=cid, query=load_query("operation_campaigns"))
    campaign_rn = cols["campaign.resource_name"][0]
    square, wide = png(600, 600, bytes(24)), png(1200, 628, bytes(24))
    out = mutate(c, creds, customer_id=cid, partial_failure=True, operations=[
        _image(c, "sq", square), _image(c, "wide", wide), _image(c, "sq", square),
        _image(c, "junk", b"not an image"), _image(c, "tiny", png(100, 100, bytes(24))),
        _image(c, "odd", png(500, 300, bytes(24))),
    ])  # fmt: skip
    assert _codes(out) == ["asset_error.DUPLICATE_ASSET_NAME", "image_error.INVALID_IMAGE"]
    rns = {
        n: r.resource_name
        for n, r in zip(["sq", "wide", "-", "-", "tiny", "odd"], out.results, strict=True)
    }
    names = stream_columns(c, creds, customer_id=cid, query=load_query("operation_images"))[
        "asset.name"
    ]
    assert sorted(names) == ["odd", "sq", "tiny", "wide"]
    links = mutate(c, creds, customer_id=cid, partial_failure=True, operations=[
        _link(c, campaign_rn, rns["sq"]), _link(c, campaign_rn, rns["wide"]),
        _link(c, campaign_rn, rns["sq"]), _link(c, campaign_rn, rns["tiny"]),
        _link(c, campaign_rn, rns["odd"]),
    ])  # fmt: skip
    assert _codes(links) == [
        "mutate_error.RESOURCE_ALREADY_EXISTS", "image_error.IMAGE_TOO_SMALL",
        "image_error.ASPECT_RATIO_NOT_ALLOWED",
    ]  # fmt: skip
    campaign_id = int(campaign_rn.rsplit("/", 1)[1])
    read = stream_columns(c, creds, customer_id=cid, query=load_query("operation_image_links"),
                          campaign_id=campaign_id)  # fmt: skip
    assert sorted(read["campaign_asset.asset"]) == sorted([rns["sq"], rns["wide"]])
    # atomic: one bad link refuses the request and links nothing
    more = [
        _image(c, f"extra {i}", png(300 + i, 300 + i, bytes(24)))
        for i in range(MAX_IMAGE_ASSETS_PER_CAMPAIGN)
    ]
    extra = mutate(c, creds, customer_id=cid, partial_failure=True, operations=more)
    ops = [_link(c, campaign_rn, r.resource_name) for r in extra.results]
    with pytest.raises(AdsError, match="CAMPAIGN_LIMIT"):
        mutate(c, creds, customer_id=cid, partial_failure=False, operations=ops)
    assert len(catalog_of(own_market).rows("campaign_asset", cid)) == 2


def test_conversion_actions_created_refused_and_named_once(
    own_market: Any, own_client: Any, creds: Any
) -> None:
    c = own_client
    cid = own_market.customer_ids()[1]

    def action(name: str) -> Any:
        mop = c.get_type("MutateOperation")
        a = mop.conversion_action_operation.create
        a.name, a.type_ = name, c.enums.ConversionActionTypeEnum.WEBPAGE
        a.category = c.enums.ConversionActionCategoryEnum.SUBMIT_LEAD_FORM
        return mop

    out = mutate(c, creds, customer_id=cid, partial_failure=True,
                 operations=[action("Lead"), action("Lead")])  # fmt: skip
    assert _codes(out) == ["conversion_action_error.DUPLICATE_NAME"]
    rows = stream_columns(c, creds, customer_id=cid, query=load_query("conversion_actions"))
    assert "Lead" in rows["conversion_action.name"]
    assert (
        rows["conversion_action.category"][rows["conversion_action.name"].index("Lead")]
        == "SUBMIT_LEAD_FORM"
    )
    catalog_of(own_market).configure(cid, creation_refused="managed by the manager account")
    with pytest.raises(AdsError, match="ACTION_NOT_PERMITTED"):
        mutate(c, creds, customer_id=cid, partial_failure=False, operations=[action("Other")])
    catalog_of(own_market).configure(cid, creation_refused="")
