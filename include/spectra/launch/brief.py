"""The campaign brief: what a person asks Spectra to launch, validated field by field.

A brief is a YAML file (see ``examples/briefs/``). Validation reports **every** bad field at
once, one line each, naming the field and what is wrong — never only the first problem, and
never a pydantic traceback: a person fixing a brief should fix it in one pass.

Money is written in the account's currency units (``daily_budget: 25.50``) and stored as
integer micros, converted through ``Decimal`` (never a float), and must be a multiple of the
currency's billable unit (Google refuses others: ``NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
)

from spectra.domain.money import CURRENCIES, MICROS

# Google's goal categories a launch can optimise for (ConversionActionCategoryEnum values)
GOALS = ("PURCHASE", "SUBMIT_LEAD_FORM", "BOOK_APPOINTMENT", "SIGNUP", "CONTACT", "PAGE_VIEW")
# billable unit per currency (micros), until ingest has pulled Google's currency_constant
BILLABLE_UNIT_MICROS: dict[str, int] = {c.code: c.billable_unit_micros for c in CURRENCIES.values()}
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CUSTOMER = re.compile(r"^\d{3}-?\d{3}-?\d{4}$")


@dataclass(frozen=True)
class FieldProblem:
    """One bad field of a brief: its dotted path and what is wrong with it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class BriefInvalid(ValueError):
    """A brief with bad fields; ``problems`` lists every one (one per field)."""

    def __init__(self, problems: list[FieldProblem], source: str = "brief") -> None:
        self.problems = problems
        self.source = source
        n = len(problems)
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {n} bad field{'s' if n != 1 else ''}\n{lines}")


def _micros(value: Any) -> int:
    """Currency units (int, decimal string, YAML number) → integer micros, exactly."""
    if isinstance(value, bool):
        raise ValueError("must be an amount, e.g. 25.50")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"must be an amount, e.g. 25.50 (got {value!r})") from exc
    if not amount.is_finite():
        raise ValueError(f"must be a finite amount (got {value!r})")
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise ValueError(f"has more decimals than a micro (got {value!r})")
    if micros <= 0:
        raise ValueError(f"must be more than 0 (got {value!r})")
    return int(micros)


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1, max_length=1000)
    brand: str = Field(default="", max_length=30)
    selling_points: tuple[str, ...] = ()


class Bidding(BaseModel):
    """The campaign's bidding: manual CPC with a default bid, or target CPA."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal["MANUAL_CPC", "TARGET_CPA"]
    default_cpc_bid: Decimal | None = None
    target_cpa: Decimal | None = None


class Brief(BaseModel):
    """A validated brief. Amounts are kept as micros (``*_micros``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(min_length=1, max_length=64)
    account: int
    campaign_name: str = Field(min_length=1, max_length=255)
    currency: str = "USD"
    product: Product
    landing_page: HttpUrl
    goal: Literal[GOALS]  # type: ignore[valid-type]
    conversion_action: str = Field(min_length=1, max_length=100)
    daily_budget_micros: int
    max_daily_spend_micros: int
    total_spend_limit_micros: int
    bidding: Bidding
    default_cpc_bid_micros: int = 0
    target_cpa_micros: int | None = None
    seed_keywords: tuple[str, ...] = Field(min_length=1, max_length=200)
    languages: tuple[str, ...] = Field(min_length=1)
    locations: tuple[str, ...] = Field(min_length=1)
    start_date: dt.date
    end_date: dt.date | None = None

    @field_validator("account", mode="before")
    @classmethod
    def _customer_id(cls, value: Any) -> int:
        text = str(value).strip()
        if not _CUSTOMER.match(text):
            raise ValueError(f"must be a 10-digit Google Ads customer id (got {value!r})")
        return int(text.replace("-", ""))

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in BILLABLE_UNIT_MICROS:
            raise ValueError(f"must be one of {', '.join(sorted(BILLABLE_UNIT_MICROS))}")
        return value

    @field_validator("landing_page")
    @classmethod
    def _https(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme != "https":
            raise ValueError("must be an https:// URL (Google requires a secure landing page)")
        return value

    @field_validator("seed_keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in value if not k.strip() or len(k) > 80 or len(k.split()) > 10]
        if bad:
            raise ValueError(f"keywords must be 1-80 characters and at most 10 words: {bad[:3]}")
        norm = [" ".join(k.lower().split()) for k in value]
        if len(set(norm)) != len(norm):
            raise ValueError("lists a keyword twice")
        return tuple(" ".join(k.split()) for k in value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _LANGUAGE.match(v)]
        if bad:
            raise ValueError(f"must be ISO 639-1 codes like 'en' (got {bad})")
        return value

    @field_validator("locations")
    @classmethod
    def _locations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _COUNTRY.match(v)]
        if bad:
            raise ValueError(f"must be ISO 3166-1 country codes like 'US' (got {bad})")
        return value

    @property
    def billable_unit_micros(self) -> int:
        return BILLABLE_UNIT_MICROS[self.currency]

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def sha256(self) -> str:
        body = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


_MONEY = {
    "daily_budget": "daily_budget_micros",
    "max_daily_spend": "max_daily_spend_micros",
    "total_spend_limit": "total_spend_limit_micros",
}


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-"))


def _pydantic_problems(error: ValidationError, renamed: Mapping[str, str]) -> list[FieldProblem]:
    out: list[FieldProblem] = []
    for e in error.errors(include_url=False):
        path = _location(e["loc"])
        path = renamed.get(path, path)
        message = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown field (a typo?)"
        elif e["type"] == "missing":
            message = "is required"
        elif e["type"] == "literal_error":
            message = f"must be one of {e['ctx']['expected']} (got {e['input']!r})"
        out.append(FieldProblem(path, message))
    return out


def parse_brief(data: Any, *, today: dt.date | None = None, source: str = "brief") -> Brief:
    """Validate a brief's raw mapping; raise :class:`BriefInvalid` listing every bad field.

    ``today`` (UTC by default) is when the brief is checked: a start date in the past is an
    error, since Google would start serving at once and the flight's limits would be wrong.
    """
    if not isinstance(data, Mapping):
        raise BriefInvalid([FieldProblem("(brief)", "must be a YAML mapping of fields")], source)
    today = today or dt.datetime.now(dt.UTC).date()
    problems: list[FieldProblem] = []
    raw = dict(data)
    micros: dict[str, int] = {}
    for name, target in _MONEY.items():
        if name not in raw:
            continue
        try:
            micros[target] = _micros(raw.pop(name))
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
            micros[target] = 0
    bidding = raw.get("bidding")
    if isinstance(bidding, Mapping):
        for name, target in (
            ("default_cpc_bid", "default_cpc_bid_micros"),
            ("target_cpa", "target_cpa_micros"),
        ):
            if bidding.get(name) is None:
                continue
            try:
                micros[target] = _micros(bidding[name])
            except ValueError as exc:
                problems.append(FieldProblem(f"bidding.{name}", str(exc)))
    missing_money = [n for n in _MONEY if _MONEY[n] not in micros]
    placeholder = {**{_MONEY[n]: 1 for n in missing_money}, **micros}
    candidate = {**raw, **placeholder}
    renamed = {v: k for k, v in _MONEY.items()}
    brief: Brief | None = None
    try:
        brief = Brief.model_validate(candidate)
    except ValidationError as exc:
        problems.extend(
            p
            for p in _pydantic_problems(exc, renamed)
            if p.field not in ("default_cpc_bid_micros", "target_cpa_micros")
        )
    problems.extend(FieldProblem(n, "is required") for n in missing_money)
    problems.extend(_cross_field(candidate, micros, today))
    # one error per field (the first problem found names it), in the brief's own order
    order = {str(k): i for i, k in enumerate(data)}
    problems.sort(key=lambda p: order.get(p.field.split(".")[0], len(order)))
    seen: set[str] = set()
    unique = []
    for p in problems:
        if p.field not in seen:
            seen.add(p.field)
            unique.append(p)
    if unique or brief is None:
        raise BriefInvalid(unique, source)
    return brief


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _cross_field(
    raw: Mapping[str, Any], micros: Mapping[str, int], today: dt.date
) -> list[FieldProblem]:
    """Rules between fields, checked on whatever parsed (so they join the field errors)."""
    out: list[FieldProblem] = []
    daily = micros.get("daily_budget_micros", 0)
    cap = micros.get("max_daily_spend_micros", 0)
    total = micros.get("total_spend_limit_micros", 0)
    unit = BILLABLE_UNIT_MICROS.get(str(raw.get("currency", "USD")))
    if unit:
        for name, target in _MONEY.items():
            if micros.get(target, 0) % unit:
                out.append(
                    FieldProblem(
                        name,
                        f"must be a multiple of {unit / MICROS:g} {raw.get('currency', 'USD')} (the currency's billable unit)",
                    )
                )
    if daily and cap and cap < daily:
        out.append(
            FieldProblem(
                "max_daily_spend",
                f"is below daily_budget ({cap / 1e6:g} < {daily / 1e6:g}): Google may spend up to 2x the budget in a day",
            )
        )
    if daily and total and total < daily:
        out.append(
            FieldProblem(
                "total_spend_limit", f"is below daily_budget ({total / 1e6:g} < {daily / 1e6:g})"
            )
        )
    start, end = _date(raw.get("start_date")), _date(raw.get("end_date"))
    if start is not None and start < today:
        out.append(FieldProblem("start_date", f"is in the past ({start} < {today})"))
    if start is not None and end is not None and end < start:
        out.append(FieldProblem("end_date", f"is before start_date ({end} < {start})"))
    bidding = raw.get("bidding")
    if isinstance(bidding, Mapping):
        strategy = bidding.get("strategy")
        if strategy == "MANUAL_CPC" and bidding.get("default_cpc_bid") is None:
            out.append(FieldProblem("bidding.default_cpc_bid", "is required for MANUAL_CPC"))
        if strategy == "TARGET_CPA" and bidding.get("target_cpa") is None:
            out.append(FieldProblem("bidding.target_cpa", "is required for TARGET_CPA"))
        bid = micros.get("default_cpc_bid_micros") or micros.get("target_cpa_micros")
        if unit and bid and bid % unit:
            field = (
                "bidding.default_cpc_bid"
                if micros.get("default_cpc_bid_micros")
                else "bidding.target_cpa"
            )
            out.append(FieldProblem(field, "must be a multiple of the currency's billable unit"))
    return out


def load_brief(path: str | Path, *, today: dt.date | None = None) -> Brief:
    """Read and validate a YAML brief file (errors name the file and every bad field)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BriefInvalid(
            [FieldProblem("(yaml)", str(exc).replace("\n", " "))], str(path)
        ) from exc
    return parse_brief(data, today=today, source=str(path))


__all__ = ["GOALS", "Brief", "BriefInvalid", "FieldProblem", "load_brief", "parse_brief"]
