"""Account resources the market does not simulate but a launch needs: conversion actions,
image assets and their campaign links — created through ConversionActionService, AssetService
and CampaignAssetService, read back through GAQL (``conversion_action``, ``asset``,
``campaign_asset``), validated as Google documents:

- conversion actions: a name is unique in the account (``conversion_action_error.
  DUPLICATE_NAME``); ``name``, ``type`` and ``category`` are required. Every market account
  starts with the one action its conversions are counted by (``resources.conversion_action``).
  :meth:`Catalog.configure` can take it away (an account without conversion tracking) or make
  creation refused: an account whose conversion tracking is managed by its manager
  (cross-account conversion tracking, https://support.google.com/google-ads/answer/3030657)
  cannot create its own — the sandbox answers ``authorization_error.ACTION_NOT_PERMITTED``.
- image assets (https://developers.google.com/google-ads/api/docs/assets/working-with-assets
  and the image specs of https://support.google.com/google-ads/answer/9566341): data required
  (``asset_error.ASSET_DATA_IS_MISSING``), a PNG, JPEG or GIF (``image_error.INVALID_IMAGE``),
  at most 5,120 KB (``image_error.FILE_TOO_LARGE``); names unique per asset type
  (``asset_error.DUPLICATE_ASSET_NAME``), which is also how a resumed deployment finds an
  image it uploaded before.
- campaign assets with field type ``AD_IMAGE``: square (1:1, at least 300×300) or landscape
  (1.91:1, at least 600×314) images (``image_error.ASPECT_RATIO_NOT_ALLOWED`` /
  ``IMAGE_TOO_SMALL``), at most 20 image assets per campaign
  (``resource_count_limit_exceeded_error.CAMPAIGN_LIMIT``), one link per (campaign, asset,
  field type) (``mutate_error.RESOURCE_ALREADY_EXISTS``), removable by resource name.

A request is atomic like the market's: with ``partial_failure`` off any error undoes it all.
"""

from __future__ import annotations

import copy
import hashlib
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from spectra.sandbox.market.mutations import Mutation, MutationError, fail, parse_resource_name
from spectra.sandbox.resources import conversion_action

RESOURCES = frozenset({"conversion_action", "asset", "campaign_asset"})
COLLECTION = {
    "conversion_action": "conversionActions",
    "asset": "assets",
    "campaign_asset": "campaignAssets",
}
MAX_IMAGE_BYTES = 5_120 * 1024
MAX_IMAGE_ASSETS_PER_CAMPAIGN = 20
_ACTION_CATEGORY = {
    "PURCHASE", "SUBMIT_LEAD_FORM", "BOOK_APPOINTMENT", "SIGNUP", "CONTACT", "PAGE_VIEW",
    "DEFAULT", "ADD_TO_CART", "BEGIN_CHECKOUT", "SUBSCRIBE_PAID", "REQUEST_QUOTE",
}  # fmt: skip


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(mime type, width, height) of a PNG, JPEG or GIF; None if it is none of them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return "IMAGE_PNG", width, height
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return "IMAGE_GIF", width, height
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return "IMAGE_JPEG", width, height
            i += 2 + length
    return None


@dataclass
class _Account:
    actions: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    creation_refused: str = ""


class Catalog:
    """The side resources of every account (lazily seeded from the market)."""

    def __init__(self, market: Any) -> None:
        self.market = market
        self._accounts: dict[int, _Account] = {}
        self._next_id = 9_100_000_000
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ setup
    def _account(self, customer_id: int) -> _Account:
        acct = self._accounts.get(customer_id)
        if acct is None:
            default = conversion_action(self.market, customer_id)
            acct = self._accounts[customer_id] = _Account(actions=[default])
        return acct

    def configure(
        self,
        customer_id: int,
        *,
        conversion_actions: bool | None = None,
        creation_refused: str | None = None,
    ) -> None:
        """Test and scenario knobs: ``conversion_actions=False`` leaves the account without
        any; ``creation_refused`` (a reason) makes ConversionActionService refuse creates."""
        with self._lock:
            acct = self._account(customer_id)
            if conversion_actions is False:
                acct.actions = []
            elif conversion_actions is True and not acct.actions:
                acct.actions = [conversion_action(self.market, customer_id)]
            if creation_refused is not None:
                acct.creation_refused = creation_refused

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------ reads
    def rows(self, resource: str, customer_id: int) -> list[dict[str, Any]]:
        with self._lock:
            acct = self._account(customer_id)
            if resource == "conversion_action":
                return [dict(a) for a in acct.actions]
            if resource == "asset":
                return [{k: v for k, v in a.items() if k != "_data"} for a in acct.assets]
            if resource == "campaign_asset":
                return [dict(link) for link in acct.links]
        raise KeyError(resource)

    # ------------------------------------------------------------------ writes
    def mutate(
        self,
        customer_id: int,
        operations: Sequence[Mutation],
        *,
        campaigns: frozenset[str],
        validate_only: bool = False,
        partial_failure: bool = False,
    ) -> list[str | MutationError]:
        """Apply operations; one resource name or MutationError per operation, in order.
        ``campaigns`` are the account's live campaigns' resource names (from the market)."""
        with self._lock:
            acct = self._account(customer_id)
            saved = copy.deepcopy(acct)
            results: list[str | MutationError] = []
            for op in operations:
                try:
                    results.append(self._apply(customer_id, acct, op, campaigns))
                except MutationError as exc:
                    results.append(exc)
            failed = any(isinstance(r, MutationError) for r in results)
            if validate_only or (failed and not partial_failure):
                self._accounts[customer_id] = saved
            return results

    def _apply(
        self, customer_id: int, acct: _Account, op: Mutation, campaigns: frozenset[str]
    ) -> str:
        handler = getattr(self, f"_op_{op.resource}")
        result: str = handler(customer_id, acct, op, campaigns)
        return result

    def _rn(self, customer_id: int, resource: str, *ids: int | str) -> str:
        return f"customers/{customer_id}/{COLLECTION[resource]}/" + "~".join(map(str, ids))

    def _op_conversion_action(
        self, customer_id: int, acct: _Account, op: Mutation, campaigns: frozenset[str]
    ) -> str:
        if op.action != "create":
            raise fail(
                "mutate_error", "MUTATE_NOT_ALLOWED", "the sandbox only creates conversion actions"
            )
        if acct.creation_refused:
            raise fail("authorization_error", "ACTION_NOT_PERMITTED", acct.creation_refused)
        v = op.values
        name = str(v.get("name") or "").strip()
        if not name:
            raise fail("field_error", "REQUIRED", "conversion action name is required", "name")
        for required in ("type", "category"):
            if not v.get(required):
                raise fail("field_error", "REQUIRED", f"{required} is required", required)
        if v["category"] not in _ACTION_CATEGORY:
            raise fail("field_error", "INVALID_VALUE", f"category {v['category']!r}", "category")
        if any(a["conversion_action.name"] == name for a in acct.actions):
            raise fail(
                "conversion_action_error",
                "DUPLICATE_NAME",
                f"a conversion action named {name!r} already exists",
                "name",
            )
        action_id = self._id()
        rn = self._rn(customer_id, "conversion_action", action_id)
        acct.actions.append(
            {
                "conversion_action.resource_name": rn,
                "conversion_action.id": action_id,
                "conversion_action.name": name,
                "conversion_action.status": v.get("status") or "ENABLED",
                "conversion_action.type": v["type"],
                "conversion_action.origin": "WEBSITE",
                "conversion_action.primary_for_goal": bool(v.get("primary_for_goal", True)),
                "conversion_action.category": v["category"],
                "conversion_action.owner_customer": f"customers/{customer_id}",
                "conversion_action.include_in_conversions_metric": True,
                "conversion_action.click_through_lookback_window_days": int(
                    v.get("click_through_lookback_window_days") or 30
                ),
                "conversion_action.counting_type": v.get("counting_type") or "ONE_PER_CLICK",
                "conversion_action.attribution_model_settings.attribution_model": (
                    "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN"
                ),
                "conversion_action.value_settings.always_use_default_value": False,
            }
        )
        return rn

    def _op_asset(
        self, customer_id: int, acct: _Account, op: Mutation, campaigns: frozenset[str]
    ) -> str:
        if op.action != "create":
            raise fail("mutate_error", "MUTATE_NOT_ALLOWED", "assets are immutable once created")
        v = op.values
        data = v.get("image_asset.data")
        if not data:
            raise fail(
                "asset_error",
                "ASSET_DATA_IS_MISSING",
                "the sandbox serves image assets only: image_asset.data is required",
                "image_asset",
                "data",
            )
        data = bytes(data)
        if len(data) > MAX_IMAGE_BYTES:
            raise fail(
                "image_error",
                "FILE_TOO_LARGE",
                f"{len(data)} bytes; at most {MAX_IMAGE_BYTES}",
                "image_asset",
                "data",
            )
        size = image_size(data)
        if size is None:
            raise fail(
                "image_error", "INVALID_IMAGE", "not a PNG, JPEG or GIF", "image_asset", "data"
            )
        name = str(v.get("name") or "").strip()
        if not name:
            raise fail("asset_error", "NAME_REQUIRED_FOR_ASSET_TYPE", "image assets need a name")
        if any(a["asset.name"] == name for a in acct.assets):
            raise fail(
                "asset_error",
                "DUPLICATE_ASSET_NAME",
                f"an image asset named {name!r} already exists",
                "name",
            )
        mime, width, height = size
        asset_id = self._id()
        rn = self._rn(customer_id, "asset", asset_id)
        acct.assets.append(
            {
                "asset.resource_name": rn,
                "asset.id": asset_id,
                "asset.name": name,
                "asset.type": "IMAGE",
                "asset.image_asset.mime_type": mime,
                "asset.image_asset.file_size": len(data),
                "asset.image_asset.full_size.width_pixels": width,
                "asset.image_asset.full_size.height_pixels": height,
                "_sha256": hashlib.sha256(data).hexdigest(),
                "_data": data,
            }
        )
        return rn

    def _op_campaign_asset(
        self, customer_id: int, acct: _Account, op: Mutation, campaigns: frozenset[str]
    ) -> str:
        if op.action == "remove":
            before = len(acct.links)
            acct.links = [
                link
                for link in acct.links
                if link["campaign_asset.resource_name"] != op.resource_name
            ]
            if len(acct.links) == before:
                raise fail(
                    "mutate_error", "RESOURCE_NOT_FOUND", f"{op.resource_name} was not found"
                )
            return op.resource_name
        if op.action != "create":
            raise fail("mutate_error", "MUTATE_NOT_ALLOWED", "campaign assets: create or remove")
        v = op.values
        campaign_rn, asset_rn = str(v.get("campaign") or ""), str(v.get("asset") or "")
        field_type = v.get("field_type")
        if field_type != "AD_IMAGE":
            raise fail(
                "field_error",
                "INVALID_VALUE",
                "the sandbox links image assets only (field_type AD_IMAGE)",
                "field_type",
            )
        if campaign_rn not in campaigns:
            raise fail("mutate_error", "RESOURCE_NOT_FOUND", f"{campaign_rn} was not found")
        asset = next((a for a in acct.assets if a["asset.resource_name"] == asset_rn), None)
        if asset is None:
            raise fail("mutate_error", "RESOURCE_NOT_FOUND", f"{asset_rn} was not found", "asset")
        width = asset["asset.image_asset.full_size.width_pixels"]
        height = asset["asset.image_asset.full_size.height_pixels"]
        ratio = width / height
        if abs(ratio - 1.0) < 0.01:
            small = width < 300 or height < 300
        elif abs(ratio - 1.91) < 0.02:
            small = width < 600 or height < 314
        else:
            raise fail(
                "image_error",
                "ASPECT_RATIO_NOT_ALLOWED",
                f"{width}x{height}: ad images are square (1:1) or landscape (1.91:1)",
                "asset",
            )
        if small:
            raise fail("image_error", "IMAGE_TOO_SMALL", f"{width}x{height} is too small", "asset")
        mine = [link for link in acct.links if link["campaign_asset.campaign"] == campaign_rn]
        if any(link["campaign_asset.asset"] == asset_rn for link in mine):
            raise fail(
                "mutate_error",
                "RESOURCE_ALREADY_EXISTS",
                f"{asset_rn} is already linked to {campaign_rn} as AD_IMAGE",
            )
        if len(mine) >= MAX_IMAGE_ASSETS_PER_CAMPAIGN:
            raise fail(
                "resource_count_limit_exceeded_error",
                "CAMPAIGN_LIMIT",
                f"the campaign has {len(mine)} image assets (limit {MAX_IMAGE_ASSETS_PER_CAMPAIGN})",
            )
        _, _, campaign_id, _ = parse_resource_name(campaign_rn)
        rn = self._rn(customer_id, "campaign_asset", campaign_id, asset["asset.id"], "AD_IMAGE")
        acct.links.append(
            {
                "campaign_asset.resource_name": rn,
                "campaign_asset.campaign": campaign_rn,
                "campaign_asset.asset": asset_rn,
                "campaign_asset.field_type": "AD_IMAGE",
                "campaign_asset.status": "ENABLED",
                "campaign.id": campaign_id,
            }
        )
        return rn


_CATALOGS_LOCK = threading.Lock()


def catalog_of(market: Any) -> Catalog:
    """The market's catalog (one per market object, created on first use)."""
    with _CATALOGS_LOCK:
        found = getattr(market, "_spectra_catalog", None)
        if found is None:
            found = Catalog(market)
            market._spectra_catalog = found
        return found


__all__ = ["RESOURCES", "Catalog", "catalog_of", "image_size"]
