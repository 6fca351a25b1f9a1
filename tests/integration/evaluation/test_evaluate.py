"""``spectra evaluate`` end to end on a small scenario file: every policy on two seeds, the
report's JSON (mean and spread per scenario x policy), Markdown table and plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spectra.cli import main


def test_evaluate_writes_the_scoreboard(
    small_scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code = main(
        ["evaluate", "--scenario", str(small_scenario_file), "--days", "2", "--seeds", "2",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| small | spectra | 2 |" in printed
    data = json.loads((out / "evaluation.json").read_text())
    rows = {r["policy"]: r for r in data["table"]}
    assert set(rows) == {"hands_off", "greedy", "spectra", "oracle", "oracle_unconstrained"}
    assert all(r["seeds"] == 2 and r["scenario"] == "small" for r in rows.values())
    runs = data["runs"]
    assert len(runs) == 10 and {r["seed"] for r in runs} == {0, 1}
    # the table is the runs' mean and spread
    spectra_profit = [r["profit"] for r in runs if r["policy"] == "spectra"]
    assert rows["spectra"]["profit"]["mean"] == pytest.approx(sum(spectra_profit) / 2)
    assert rows["spectra"]["profit"]["spread"] == pytest.approx(
        abs(spectra_profit[0] - spectra_profit[1]) / 2**0.5
    )
    # the baselines behave as defined: hands-off changes nothing; the oracle is the yardstick
    assert rows["hands_off"]["changes"]["mean"] == 0
    assert rows["hands_off"]["uplift_share"]["mean"] == 0
    assert rows["oracle"]["uplift_share"]["mean"] == 1
    assert rows["oracle"]["changes"]["mean"] > 0
    assert rows["spectra"]["ai_cost_per_campaign_day_usd"]["mean"] > 0
    # the two seeds are different markets
    hands_off = [r["profit"] for r in runs if r["policy"] == "hands_off"]
    assert hands_off[0] != hands_off[1]
    assert rows["spectra"]["violations"]["mean"] == 0 and rows["spectra"]["breaches"]["mean"] == 0
    assert data["summary"]["beats_greedy"][0]["scenario"] == "small"
    # a run's seconds are its whole loop: at least the wall seconds its timed steps took
    for r in runs:
        steps = sum(v for k, v in r["step_seconds"].items() if k != "cpu")
        assert r["seconds"] >= steps > 0 or (r["policy"] != "spectra" and r["seconds"] >= 0)
        assert r["seconds_per_day"] == pytest.approx(r["seconds"] / 2)
        assert r["setup_cpu_seconds"] > 0  # building its world (market, server, warehouse)
    markdown = (out / "README.md").read_text()
    assert "| small | oracle | 2 |" in markdown and data["command"].startswith("spectra evaluate")
    for png in ("cumulative_profit", "spend", "changes", "uplift_share"):
        assert (out / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    # the journal keeps every run as it ends; the report rebuilt from it is the same table
    assert len((out / "runs.jsonl").read_text().splitlines()) == 10
    again = tmp_path / "again"
    assert main(["evaluate", "--from-runs", str(out / "runs.jsonl"), "--out", str(again)]) == 0
    assert json.loads((again / "evaluation.json").read_text())["table"] == data["table"]
