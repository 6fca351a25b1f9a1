"""GAQL field names resolved against the ``GoogleAdsRow`` protobuf: the one copy of the mapping.

GAQL uses the API's names (``ad_group_criterion.keyword.match_type``); the package's generated
protos suffix names that clash with Python builtins (``type`` is ``type_``). Ingest decodes raw
rows with this mapping, and the sandbox serves rows through it, so both agree by construction
(the sandbox, a stand-in, imports it from here; the product never imports the sandbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any


class UnknownField(LookupError):
    """A dotted GAQL field that ``GoogleAdsRow`` does not have."""


@cache
def row_descriptor() -> Any:
    """``GoogleAdsRow``'s protobuf descriptor (imported on first use: google-ads is slow)."""
    from google.ads.googleads.v26.services.types import google_ads_service

    return google_ads_service.GoogleAdsRow.pb().DESCRIPTOR


def resolve_field(path: str) -> tuple[str, Any]:
    """(protobuf attribute path, field descriptor) of a dotted GAQL field of GoogleAdsRow."""
    desc = row_descriptor()
    fd = None
    parts = []
    for part in path.split("."):
        if desc is None:
            raise UnknownField(path)
        fd = desc.fields_by_name.get(part) or desc.fields_by_name.get(part + "_")
        if fd is None:
            raise UnknownField(path)
        parts.append(fd.name)
        desc = fd.message_type
    return ".".join(parts), fd


# A campaign's Smart Bidding target lives in whichever member of Campaign's
# ``campaign_bidding_strategy`` oneof Google set: the standard strategy (``target_cpa``,
# ``target_roas``) or its Maximize form (``maximize_conversions.target_cpa_micros``,
# ``maximize_conversion_value.target_roas``, optional there). Exactly one member is set; the
# fields of the others read as 0, which Google's own "not set" also is (a Maximize strategy
# with target 0 has no target). Google Ads API reference, Campaign / TargetCpa / TargetRoas /
# MaximizeConversions / MaximizeConversionValue.
TARGET_CPA_FIELDS = (
    "campaign.target_cpa.target_cpa_micros",
    "campaign.maximize_conversions.target_cpa_micros",
)
TARGET_ROAS_FIELDS = (
    "campaign.target_roas.target_roas",
    "campaign.maximize_conversion_value.target_roas",
)


def bidding_target(row: Mapping[str, Any], fields: tuple[str, ...]) -> Any:
    """The first of ``fields`` set on a campaign row (None: no target of that kind)."""
    for name in fields:
        value = row.get(name)
        if value:  # 0 / 0.0 / None: that member is not the campaign's (or has no target)
            return value
    return None


# GAQL metric field -> the warehouse column that stores it: the one copy, which ingest writes
# by, the screen and the bounds check by, and the evaluation's replay builds frames by.
# ``metrics.conversions_value`` comes in the account's currency units and is stored as
# integer micros (VALUE_FIELDS); the others keep their unit.
METRIC_COLUMNS: Mapping[str, str] = {
    "metrics.impressions": "impressions",
    "metrics.clicks": "clicks",
    "metrics.cost_micros": "cost_micros",
    "metrics.conversions": "conversions",
    "metrics.conversions_value": "conversions_value_micros",
}
VALUE_FIELDS = frozenset({"metrics.conversions_value"})
# Impression shares (a fraction, NaN when Google has none), stored under the metric's own name.
SHARE_FIELDS = (
    "metrics.search_impression_share",
    "metrics.search_budget_lost_impression_share",
    "metrics.search_rank_lost_impression_share",
)


def share_column(field: str) -> str:
    """The warehouse column of an impression-share field (its name without ``metrics.``)."""
    return field.removeprefix("metrics.")
