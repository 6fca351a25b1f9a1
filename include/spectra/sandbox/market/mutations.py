"""Mutations: what advertisers (and our apply path) change, validated like Google validates them.

A mutation made while the sandbox clock reads ``as_of`` is in force from day ``as_of`` on — the
first day not yet reported — so the past never changes because of it (conversions still mature).
Each accepted operation becomes a record (effective day, sequence, edit of the State) or, for
creates, new entities appended to the structure; the market replays records to get any day's State.

Errors carry Google's error categories and codes (``campaign_budget_error`` /
``NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT``, ``resource_count_limit_exceeded_error`` /
``ADGROUP_LIMIT``…), so the gRPC layer only has to wrap them into a GoogleAdsFailure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spectra.sandbox.market.scenario import Limits
from spectra.sandbox.market.state import ENABLED, PAUSED, REMOVED, STATUSES, State
from spectra.sandbox.market.structure import (
    BILLABLE_UNIT_MICROS,
    MANUAL_CPC,
    MATCH_TYPES,
    TARGET_CPA,
    TARGET_ROAS,
)

RESOURCES: dict[str, str] = {
    # mutate resource → resource-name collection
    "campaign_budget": "campaignBudgets",
    "campaign": "campaigns",
    "ad_group": "adGroups",
    "ad_group_criterion": "adGroupCriteria",
    "campaign_criterion": "campaignCriteria",
    "ad_group_ad": "adGroupAds",
}
CHANGE_RESOURCE_TYPE: dict[str, str] = {
    "campaign_budget": "CAMPAIGN_BUDGET",
    "campaign": "CAMPAIGN",
    "ad_group": "AD_GROUP",
    "ad_group_criterion": "AD_GROUP_CRITERION",
    "campaign_criterion": "CAMPAIGN_CRITERION",
    "ad_group_ad": "AD_GROUP_AD",
}
MAX_BID_MICROS = 100_000 * 1_000_000
MAX_BUDGET_MICROS = 1_000_000 * 1_000_000
KEYWORD_MAX_CHARS = 80
KEYWORD_MAX_WORDS = 10


@dataclass(frozen=True)
class Mutation:
    """One operation. ``values`` use the resource's own field paths (``amount_micros``,
    ``keyword.text``, ``status``…); for updates ``update_mask`` names the fields to change."""

    resource: str
    action: str  # create | update | remove
    resource_name: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    update_mask: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Problem:
    category: str
    code: str
    message: str
    field_path: tuple[str, ...] = ()


class MutationError(Exception):
    """An operation Google would reject; ``problems`` hold the error codes."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(f"{p.category}.{p.code}: {p.message}" for p in problems))
        self.problems = list(problems)


def fail(category: str, code: str, message: str, *path: str) -> MutationError:
    return MutationError(Problem(category, code, message, tuple(path)))


@dataclass(frozen=True)
class Change:
    """An accepted change (feeds change_event / change_status)."""

    seq: int
    as_of: dt.date
    customer_id: int
    resource: str
    resource_name: str
    operation: str  # CREATE | UPDATE | REMOVE
    changed_fields: tuple[str, ...]
    client_type: str
    user_email: str
    campaign_rn: str | None
    ad_group_rn: str | None
    old: Mapping[str, Any]
    new: Mapping[str, Any]


@dataclass
class Record:
    """An edit of the State in force from local hour ``hour`` of day ``ordinal`` on."""

    ordinal: int
    seq: int
    apply: Callable[[State], None]
    hour: int = 0

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.ordinal, self.hour, self.seq)


# updatable fields per resource (anything else in an update mask → FIELD_NOT_FOUND or IMMUTABLE)
UPDATABLE: dict[str, frozenset[str]] = {
    "campaign_budget": frozenset({"amount_micros", "name", "delivery_method"}),
    "campaign": frozenset(
        {
            "status",
            "name",
            "target_cpa.target_cpa_micros",
            "target_roas.target_roas",
            "manual_cpc.enhanced_cpc_enabled",
            "campaign_budget",
        }
    ),
    "ad_group": frozenset({"status", "name", "cpc_bid_micros"}),
    "ad_group_criterion": frozenset({"status", "cpc_bid_micros"}),
    "campaign_criterion": frozenset(),
    "ad_group_ad": frozenset({"status"}),
}
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "campaign_budget": UPDATABLE["campaign_budget"]
    | {"id", "resource_name", "explicitly_shared", "period", "status"},
    "campaign": UPDATABLE["campaign"]
    | {
        "id",
        "resource_name",
        "advertising_channel_type",
        "bidding_strategy_type",
        "serving_status",
        "start_date",
        "end_date",
        "network_settings.target_google_search",
        "network_settings.target_search_network",
        "network_settings.target_content_network",
        "contains_eu_political_advertising",
    },
    "ad_group": UPDATABLE["ad_group"] | {"id", "resource_name", "campaign", "type"},
    "ad_group_criterion": UPDATABLE["ad_group_criterion"]
    | {
        "criterion_id",
        "resource_name",
        "ad_group",
        "keyword.text",
        "keyword.match_type",
        "negative",
        "type",
    },
    "campaign_criterion": frozenset(
        {
            "criterion_id",
            "resource_name",
            "campaign",
            "keyword.text",
            "keyword.match_type",
            "negative",
            "type",
        }
    ),
    "ad_group_ad": UPDATABLE["ad_group_ad"]
    | {
        "resource_name",
        "ad_group",
        "ad.id",
        "ad.final_urls",
        "ad.responsive_search_ad.headlines",
        "ad.responsive_search_ad.descriptions",
        "ad.type",
    },
}

_RN = re.compile(r"^customers/(\d+)/(\w+)/(-?\d+)(?:~(-?\d+))?$")


def parse_resource_name(rn: str) -> tuple[int, str, int, int | None]:
    """customers/{cid}/{collection}/{id}[~{id2}] → (cid, collection, id, id2)."""
    m = _RN.match(rn or "")
    if not m:
        raise fail(
            "request_error",
            "RESOURCE_NAME_MALFORMED",
            f"malformed resource name {rn!r}",
            "resource_name",
        )
    return int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)) if m.group(4) else None


def status_code(value: Any, *, path: str = "status", allow_removed: bool = False) -> int:
    name = (
        value
        if isinstance(value, str)
        else (STATUSES[int(value) - 2] if isinstance(value, int) and 2 <= int(value) <= 4 else None)
    )
    if name not in STATUSES or (name == "REMOVED" and not allow_removed):
        raise fail("field_error", "INVALID_VALUE", f"status {value!r} cannot be set here", path)
    return STATUSES.index(name)


def check_bid(micros: Any, path: str, unit: int = BILLABLE_UNIT_MICROS) -> int:
    """A bid (or target) in micros of the account's currency: a positive whole multiple of
    its billable unit, as Google requires (``currency_error.VALUE_NOT_MULTIPLE_OF_BILLABLE_UNIT``:
    a 1.5-yen bid is refused)."""
    try:
        value = int(micros)
    except (TypeError, ValueError):
        raise fail(
            "field_error", "INVALID_VALUE", f"{path} must be an integer number of micros", path
        ) from None
    if value <= 0:
        raise fail(
            "bidding_error",
            "BID_TOO_SMALL",
            f"{path} {value} is below the minimum of {unit}",
            path,
        )
    if value % unit:
        raise fail(
            "currency_error",
            "VALUE_NOT_MULTIPLE_OF_BILLABLE_UNIT",
            f"{path} {value} is not a multiple of the billable unit ({unit} micros)",
            path,
        )
    if value > MAX_BID_MICROS:
        raise fail("bidding_error", "BID_TOO_BIG", f"{path} {value} is too big", path)
    return value


# TargetRoas.target_roas: "Value must be between 0.01 and 1000.0, inclusive" (Google Ads API
# reference, TargetRoas).
MIN_TARGET_ROAS, MAX_TARGET_ROAS = 0.01, 1000.0


def check_roas(value: Any, path: str = "target_roas.target_roas") -> float:
    """A target ROAS (conversion value per unit of cost) within Google's range."""
    try:
        roas = float(value)
    except (TypeError, ValueError):
        raise fail("field_error", "INVALID_VALUE", f"{path} must be a number", path) from None
    if not MIN_TARGET_ROAS <= roas <= MAX_TARGET_ROAS:
        raise fail(
            "range_error",
            "TOO_LOW" if roas < MIN_TARGET_ROAS else "TOO_HIGH",
            f"{path} {roas} is outside [{MIN_TARGET_ROAS}, {MAX_TARGET_ROAS}]",
            path,
        )
    return roas


def check_budget(micros: Any, unit: int = BILLABLE_UNIT_MICROS) -> int:
    """A budget in micros of the account's currency: a whole multiple of its billable unit
    (``campaign_budget_error.NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT`` otherwise)."""
    path = "amount_micros"
    try:
        value = int(micros)
    except (TypeError, ValueError):
        raise fail(
            "field_error", "INVALID_VALUE", "amount_micros must be an integer", path
        ) from None
    if value < 0:
        raise fail(
            "campaign_budget_error", "NEGATIVE_MONEY_AMOUNT", f"budget {value} is negative", path
        )
    if value < unit:
        raise fail(
            "campaign_budget_error",
            "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC",
            f"budget {value} is below the minimum CPC",
            path,
        )
    if value % unit:
        raise fail(
            "campaign_budget_error",
            "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
            f"budget {value} is not a multiple of the currency's billable unit ({unit} micros)",
            path,
        )
    if value > MAX_BUDGET_MICROS:
        raise fail(
            "campaign_budget_error", "MONEY_AMOUNT_TOO_LARGE", f"budget {value} is too large", path
        )
    return value


def check_keyword_text(text: Any, path: str = "keyword.text") -> str:
    value = " ".join(str(text or "").split())
    if not value:
        raise fail("criterion_error", "INVALID_KEYWORD_TEXT", "keyword text is empty", path)
    if len(value) > KEYWORD_MAX_CHARS:
        raise fail(
            "criterion_error",
            "KEYWORD_TEXT_TOO_LONG",
            f"keyword text longer than {KEYWORD_MAX_CHARS} characters",
            path,
        )
    if len(value.split()) > KEYWORD_MAX_WORDS:
        raise fail(
            "criterion_error",
            "KEYWORD_HAS_TOO_MANY_WORDS",
            f"keyword has more than {KEYWORD_MAX_WORDS} words",
            path,
        )
    if re.search(r"[!@%,*<>;^=]", value):
        raise fail(
            "criterion_error",
            "KEYWORD_HAS_INVALID_CHARS",
            f"keyword {value!r} has invalid characters",
            path,
        )
    return value.lower()


def match_code(value: Any, path: str = "keyword.match_type") -> int:
    name = (
        value
        if isinstance(value, str)
        else {2: "EXACT", 3: "PHRASE", 4: "BROAD"}.get(int(value or 0))
    )
    if name not in MATCH_TYPES:
        raise fail(
            "field_error",
            "INVALID_VALUE",
            f"match type {value!r} is not EXACT, PHRASE or BROAD",
            path,
        )
    return MATCH_TYPES.index(name)


def negative_matches(negative: str, match: int, term: str) -> bool:
    """Google's negative keyword semantics (no close variants): exact = the whole query,
    phrase = the words contiguously in order, broad = all the words in any order."""
    neg = negative.lower().split()
    words = term.lower().split()
    if match == 0:
        return neg == words
    if match == 1:
        n = len(neg)
        return any(words[i : i + n] == neg for i in range(len(words) - n + 1))
    return set(neg) <= set(words)


def mask_paths(m: Mutation) -> tuple[str, ...]:
    return tuple(m.update_mask) if m.update_mask is not None else tuple(m.values)


def check_update_mask(m: Mutation) -> tuple[str, ...]:
    paths = mask_paths(m)
    if not paths:
        raise fail(
            "field_mask_error", "FIELD_MASK_MISSING", "update without update_mask", "update_mask"
        )
    for p in paths:
        if p not in KNOWN_FIELDS[m.resource]:
            raise fail(
                "field_mask_error",
                "FIELD_NOT_FOUND",
                f"{m.resource} has no field {p!r}",
                "update_mask",
            )
        if p not in UPDATABLE[m.resource]:
            raise fail("field_error", "IMMUTABLE_FIELD", f"{m.resource}.{p} cannot be changed", p)
    return paths


__all__ = [
    "CHANGE_RESOURCE_TYPE",
    "ENABLED",
    "MANUAL_CPC",
    "PAUSED",
    "REMOVED",
    "RESOURCES",
    "TARGET_CPA",
    "TARGET_ROAS",
    "Change",
    "Limits",
    "Mutation",
    "MutationError",
    "Problem",
    "Record",
]
