"""A small evaluation scenario (one account, 2 campaigns x 2 ad groups x 4 keywords, 30 days
of history) written to a YAML file, as a user's own scenario would be."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spectra.evaluation import scenarios

SMALL = {
    "name": "small",
    "description": "one small account for tests",
    "days": 2,
    "seeds": 1,
    "warmup_days": 30,
    "targets": {"cpa": 40.0, "roas": 2.0},
    "market": {
        "seed": 11,
        "reference_date": "2026-06-30",
        "history_days": 90,
        "structure": {
            "accounts": 1,
            "campaigns_per_account": 2,
            "ad_groups_per_campaign": 2,
            "keywords_per_ad_group": 4,
            "ads_per_ad_group": 2,
            "target_cpa_share": 0.0,
        },
        "market": {"searches_per_keyword": {"median": 600, "sigma": 0.6}},
    },
}


@pytest.fixture(scope="session")
def small_scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


@pytest.fixture(scope="session")
def small_scenario(small_scenario_file: Path) -> scenarios.EvalScenario:
    return scenarios.load(small_scenario_file)
