"""Briefs: a good one parses to micros exactly; a bad one gets one clear error per bad field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from spectra.launch.brief import BriefInvalid, load_brief, parse_brief

EXAMPLE = Path(__file__).parents[3] / "examples" / "briefs" / "northwind-trail-running.yaml"
TODAY = dt.date(2026, 12, 2)


def _good() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def _problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(BriefInvalid) as raised:
        parse_brief(data, today=TODAY)
    fields = [p.field for p in raised.value.problems]
    assert len(fields) == len(set(fields)), f"a field reported twice: {fields}"
    return {p.field: p.message for p in raised.value.problems}


def test_the_shipped_example_is_valid_and_money_is_exact_micros() -> None:
    brief = load_brief(EXAMPLE, today=TODAY)
    assert brief.account == 1607371462  # "160-737-1462" with dashes
    assert brief.daily_budget_micros == 40_000_000
    assert brief.max_daily_spend_micros == 80_000_000
    assert brief.total_spend_limit_micros == 2_400_000_000
    assert brief.default_cpc_bid_micros == 1_200_000
    assert brief.seed_keywords[0] == "trail running shoes"


def test_amounts_never_pass_through_a_float() -> None:
    data = _good()
    data["daily_budget"] = "0.29"  # float(0.29) * 1e6 = 289999.99999999994
    data["max_daily_spend"] = 0.58
    brief = parse_brief(data, today=TODAY)
    assert (brief.daily_budget_micros, brief.max_daily_spend_micros) == (290_000, 580_000)


def test_every_bad_field_is_reported_at_once_one_line_each() -> None:
    data = _good()
    data.update(
        account="12-34",
        landing_page="http://northwind.example/",
        goal="FAME",
        daily_budget=-5,
        max_daily_spend="lots",
        languages=["English"],
        locations=["usa"],
        start_date="2020-01-01",
        colour="red",
    )
    data["bidding"] = {"strategy": "MANUAL_CPC"}
    del data["conversion_action"]
    problems = _problems(data)
    assert set(problems) == {
        "account",
        "landing_page",
        "goal",
        "conversion_action",
        "daily_budget",
        "max_daily_spend",
        "bidding.default_cpc_bid",
        "languages",
        "locations",
        "start_date",
        "colour",
    }
    assert "10-digit" in problems["account"]
    assert "https" in problems["landing_page"]
    assert "FAME" in problems["goal"] and "PURCHASE" in problems["goal"]
    assert problems["conversion_action"] == "is required"
    assert "more than 0" in problems["daily_budget"]
    assert "'lots'" in problems["max_daily_spend"]
    assert "MANUAL_CPC" in problems["bidding.default_cpc_bid"]
    assert "in the past" in problems["start_date"]
    assert "unknown field" in problems["colour"]


def test_cross_field_rules_join_the_field_errors() -> None:
    data = _good()
    data.update(
        daily_budget=100, max_daily_spend=50, total_spend_limit=60, end_date="2027-01-01",
        goal="NOPE",
    )  # fmt: skip
    problems = _problems(data)
    assert set(problems) == {"max_daily_spend", "total_spend_limit", "end_date", "goal"}
    assert "below daily_budget" in problems["max_daily_spend"]
    assert "before start_date" in problems["end_date"]


def test_amounts_must_be_whole_billable_units_of_the_currency() -> None:
    data = _good()
    data.update(currency="JPY", daily_budget=4000.5, max_daily_spend=8000, total_spend_limit=9000)
    data["bidding"] = {"strategy": "TARGET_CPA", "target_cpa": 1200}
    problems = _problems(data)
    assert set(problems) == {"daily_budget"}
    assert "billable unit" in problems["daily_budget"] and "JPY" in problems["daily_budget"]


def test_duplicate_and_overlong_keywords_are_refused() -> None:
    data = _good()
    data["seed_keywords"] = ["trail shoes", "Trail  Shoes"]
    assert "twice" in _problems(data)["seed_keywords"]
    data["seed_keywords"] = ["x" * 81]
    assert "80 characters" in _problems(data)["seed_keywords"]


def test_the_message_names_the_file_and_counts_the_fields(tmp_path: Path) -> None:
    data = _good()
    data.update(goal="FAME", daily_budget=0)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(BriefInvalid) as raised:
        load_brief(path, today=TODAY)
    text = str(raised.value)
    assert text.startswith(f"{path}: 2 bad fields")
    assert "\n  daily_budget: " in text and "\n  goal: " in text


def test_yaml_that_is_not_a_mapping_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(BriefInvalid, match="mapping"):
        load_brief(path, today=TODAY)
    path.write_text("tenant: [unclosed\n")
    with pytest.raises(BriefInvalid, match=r"\(yaml\)"):
        load_brief(path, today=TODAY)
