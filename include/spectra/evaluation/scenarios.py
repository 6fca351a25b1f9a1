"""Evaluation scenarios: a sandbox market plus what the run scores it by (YAML, pydantic-checked).

A scenario file has the evaluation's own keys (horizon, targets, the planted shock or outage it
asks about) and ``market``, a sandbox scenario (``spectra.sandbox.market.scenario``: structure,
curves, lag, events; event dates relative to ``market.reference_date``, which is the horizon's
last day). The shipped scenarios live in the package (``spectra/evaluation/scenarios/*.yaml``,
so an installed Spectra has them); ``--scenario FILE.yaml`` takes any other file.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SHIPPED = (
    "steady",
    "seasonal_bfcm",
    "competitor_entry",
    "tracking_outage",
    "aa_null",
    "slow_lag",
    "portfolio_200",
    "smart_bidding_heavy",
)


class ScenarioFileError(ValueError):
    """An evaluation scenario is missing or does not validate (the message names the field)."""


class Targets(BaseModel):
    """The advertiser's goals the run is scored against (account currency units)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpa: float = Field(default=40.0, gt=0)  # cost per conversion
    roas: float = Field(default=2.0, gt=0)  # conversion value / cost


class Shock(BaseModel):
    """A planted event the scoring asks about: days to react (``reaction``) or cuts held
    while it lasts (``outage``). Days are relative to the horizon's last day, like events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["reaction", "outage"]
    start: int = Field(le=0)
    end: int | None = Field(default=None, le=0)
    campaigns: tuple[int, ...] | None = None  # indexes in the account (None: all)


class EvalScenario(BaseModel):
    """One evaluation scenario (``market`` is passed to the sandbox as it is)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    # the horizon: 7 days by default (every shipped shock and Black Friday to Cyber Monday
    # fall inside it). A small account's day costs ~5 CPU seconds over the five policies
    # (spectra ~3.4 of them), so 8 scenarios x 5 seeds at 7 days (portfolio 3) are ~23.5 min
    # on 2 cores; 28 days would be ~54 (README, "What a horizon costs"); --days sets any other
    days: int = Field(default=7, ge=1, le=400)
    seeds: int = Field(default=5, ge=1, le=100)
    warmup_days: int = Field(default=90, ge=30, le=90)  # history ingested before day 1
    aa: bool = False  # a null world: every change is a false action
    targets: Targets = Targets()
    shock: Shock | None = None
    market: dict[str, Any]

    @field_validator("market")
    @classmethod
    def _market_is_a_sandbox_scenario(cls, raw: dict[str, Any]) -> dict[str, Any]:
        from spectra.sandbox.market.scenario import ScenarioError, scenario_from_dict

        try:
            scenario_from_dict({"name": "check", **raw})
        except (ScenarioError, ValueError, TypeError, KeyError) as error:
            raise ValueError(f"market: {error}") from error
        if "reference_date" not in raw or raw["reference_date"] == "today":
            raise ValueError("market.reference_date must be a fixed date (the horizon's last day)")
        return raw

    @property
    def last_day(self) -> dt.date:
        value = self.market["reference_date"]
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

    def horizon(self, days: int | None = None) -> list[dt.date]:
        """The simulated days, oldest first, ending on the market's reference date."""
        n = days or self.days
        return [self.last_day - dt.timedelta(days=n - 1 - i) for i in range(n)]

    def market_dict(self, seed_index: int) -> dict[str, Any]:
        """The sandbox scenario of one seed (the file's seed + the index)."""
        raw = dict(self.market)
        raw["seed"] = int(raw.get("seed", 1)) + 1000 * seed_index
        raw["name"] = f"{self.name}-{seed_index}"
        return raw

    def shock_days(self) -> tuple[dt.date, dt.date] | None:
        if self.shock is None:
            return None
        start = self.last_day + dt.timedelta(days=self.shock.start)
        end = self.last_day + dt.timedelta(days=self.shock.end if self.shock.end is not None else 0)
        return start, end


def scenario_folder() -> Path:
    return Path(str(resources.files("spectra.evaluation").joinpath("scenarios")))


def load(name_or_path: str | Path) -> EvalScenario:
    """A shipped scenario by name (``steady``) or a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.is_file():
        path = candidate
    else:
        path = scenario_folder() / f"{name_or_path}.yaml"
        if not path.exists():
            raise ScenarioFileError(
                f"no shipped evaluation scenario {name_or_path!r}; choose from {list(SHIPPED)} "
                "or give a YAML file"
            )
    if not path.exists():
        raise ScenarioFileError(f"scenario file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ScenarioFileError(f"{path}: {error}") from error
    if not isinstance(raw, dict):
        raise ScenarioFileError(f"{path}: the top level must be a mapping")
    raw.setdefault("name", path.stem)
    try:
        return EvalScenario.model_validate(raw)
    except ValidationError as error:
        raise ScenarioFileError(f"{path}: {error}") from error
