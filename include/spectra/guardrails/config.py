"""Guardrail configuration: caps, windows and approval thresholds, per tenant and per kind.

Defaults follow the issue's policy (bid +-20 %, budget +-30 %, target +-15 %, one significant
change per campaign per 72 hours). The 72-hour window mirrors the learning period Google
describes for Smart Bidding after a significant change (Google Ads Help, "About bid strategy
statuses": a change to the strategy, its targets, budget or conversion actions puts it back
into "Learning" for some days). Account structure limits are Google's own
(support.google.com/google-ads/answer/6372658).

A tenant's overrides replace single values: ``GuardrailConfig(tenants={"acme": TenantOverrides(
caps={"bid": 0.10})})`` narrows only acme's bid cap.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from spectra.guardrails.candidate import ChangeKind
from spectra.guardrails.ratelimit import BASIC_ACCESS_OPERATIONS_PER_DAY

DEFAULT_CAPS: dict[str, float] = {
    ChangeKind.BID.value: 0.20,
    ChangeKind.BUDGET.value: 0.30,
    ChangeKind.TARGET.value: 0.15,
}

# The client types Spectra writes with; any other client type in change_event is a person
# (the web UI, Editor, the mobile app) or another tool. ChangeClientTypeEnum:
# developers.google.com/google-ads/api/reference/rpc/latest/ChangeClientTypeEnum.ChangeClientType
OUR_CLIENT_TYPES = frozenset({"GOOGLE_ADS_API"})


class StructureLimits(BaseModel):
    """Google's documented account structure limits (support.google.com/google-ads/answer/6372658)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaigns_per_account: int = 10_000
    ad_groups_per_campaign: int = 20_000
    keywords_per_ad_group: int = 20_000
    criteria_per_account: int = 5_000_000
    negatives_per_campaign: int = 10_000
    enabled_rsas_per_ad_group: int = 3


class ApprovalPolicy(BaseModel):
    """When a person must approve (``requires_approval``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_increase_over: float = 0.10  # a budget increase above 10 % waits for a person
    spend_threshold_micros: int = 500_000_000  # a change moving daily spend by more than $500
    pause_converting: bool = True  # pausing an entity that converted in the lookback
    new_ad_copy: bool = True


class TenantOverrides(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    caps: dict[str, float] = Field(default_factory=dict)
    learning_window_hours: int | None = None
    cooloff_hours: int | None = None
    approval: ApprovalPolicy | None = None
    daily_operations: int | None = None


class GuardrailConfig(BaseModel):
    """All guardrail settings; :meth:`for_tenant` resolves one tenant's effective values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    caps: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_CAPS))
    learning_window_hours: int = Field(default=72, ge=0)
    # Which kinds count as a "significant" change for the learning-rate limit, and the
    # smallest relative move that counts (0: every change of those kinds).
    significant_kinds: frozenset[str] = frozenset(
        {ChangeKind.BID, ChangeKind.BUDGET, ChangeKind.TARGET, ChangeKind.STATUS}
    )
    significant_min_change: float = Field(default=0.0, ge=0.0)
    cooloff_hours: int = Field(default=72, ge=0)  # after a person's own edit in Google Ads
    our_client_types: frozenset[str] = OUR_CLIENT_TYPES
    structure: StructureLimits = StructureLimits()
    approval: ApprovalPolicy = ApprovalPolicy()
    require_seasonal_adjustment: bool = True
    # No agent cut (bid, budget, target, pause) while the account had a tracking outage in the
    # last ``outage_hold_days``: its conversions are missing, not gone, and restate for days
    # after tracking returns (the days around an outage are the least trusted evidence).
    outage_hold_days: int = Field(default=7, ge=0)
    # Google Ads API operations an account may use per 24 hours (Basic access: 15,000;
    # developers.google.com/google-ads/api/docs/access-levels); the rate-limit sensor waits
    daily_operations: int = Field(default=BASIC_ACCESS_OPERATIONS_PER_DAY, ge=1)
    tenants: dict[str, TenantOverrides] = Field(default_factory=dict)

    def for_tenant(self, tenant_id: str) -> GuardrailConfig:
        over = self.tenants.get(tenant_id)
        if over is None:
            return self
        update: dict[str, object] = {"caps": {**self.caps, **over.caps}}
        if over.learning_window_hours is not None:
            update["learning_window_hours"] = over.learning_window_hours
        if over.cooloff_hours is not None:
            update["cooloff_hours"] = over.cooloff_hours
        if over.approval is not None:
            update["approval"] = over.approval
        if over.daily_operations is not None:
            update["daily_operations"] = over.daily_operations
        return self.model_copy(update=update)

    @property
    def learning_window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.learning_window_hours)

    @property
    def cooloff(self) -> dt.timedelta:
        return dt.timedelta(hours=self.cooloff_hours)


CONFIG_ENV = "SPECTRA_GUARDRAILS_FILE"


def config_path() -> Path:
    """``$SPECTRA_GUARDRAILS_FILE``, else ``$SPECTRA_HOME/guardrails.json``."""
    from spectra.settings import spectra_home

    configured = os.environ.get(CONFIG_ENV, "").strip()
    return Path(configured) if configured else spectra_home() / "guardrails.json"


def load_config(path: Path | None = None) -> GuardrailConfig:
    """The deployment's guardrail settings (JSON, the fields of :class:`GuardrailConfig`);
    the defaults when the file does not exist. A file that does not validate raises, naming
    the field: a typo must not silently widen a cap back to its default."""
    where = path or config_path()
    if not where.exists():
        return GuardrailConfig()
    try:
        return GuardrailConfig.model_validate(json.loads(where.read_text()))
    except (ValueError, json.JSONDecodeError) as error:
        raise ValueError(f"guardrail settings {where}: {error}") from error


__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CAPS",
    "OUR_CLIENT_TYPES",
    "ApprovalPolicy",
    "GuardrailConfig",
    "StructureLimits",
    "TenantOverrides",
    "config_path",
    "load_config",
]
