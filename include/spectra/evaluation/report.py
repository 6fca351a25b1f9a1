"""The scoreboard: one row per scenario x policy with every metric's mean and spread over
seeds, as JSON (``evaluation.json``), Markdown (``README.md``) and matplotlib PNGs (cumulative
profit by policy, spend against limits, changes over time, uplift share per scenario)."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spectra.evaluation.metrics import NUMERIC, RunMetrics

TARGET_UPLIFT_SHARE = 0.60


def _stats(values: Sequence[float | None]) -> dict[str, Any]:
    real = [float(v) for v in values if v is not None and not math.isinf(float(v))]
    if not real:
        return {"mean": None, "spread": None, "n": 0}
    spread = statistics.stdev(real) if len(real) > 1 else 0.0
    return {"mean": statistics.fmean(real), "spread": spread, "n": len(real)}


def uplift_shares(
    runs: Sequence[RunMetrics], *, expected: bool = False
) -> dict[tuple[str, int, str], float | None]:
    """Per (scenario, seed, policy): (profit - hands-off) / (constrained oracle - hands-off);
    ``expected``: from the truth's noise-free profit of the settings (``expected_profit``)."""
    profit = {
        (r.scenario, r.seed, r.policy): (r.expected_profit if expected else r.profit) for r in runs
    }
    out: dict[tuple[str, int, str], float | None] = {}
    for (scenario, seed, policy), value in profit.items():
        base = profit.get((scenario, seed, "hands_off"))
        best = profit.get((scenario, seed, "oracle"))
        if value is None or base is None or best is None or best - base <= 0:
            out[(scenario, seed, policy)] = None
        else:
            out[(scenario, seed, policy)] = (value - base) / (best - base)
    return out


def table(runs: Sequence[RunMetrics]) -> list[dict[str, Any]]:
    """One object per scenario x policy: every metric's mean and spread over seeds."""
    shares = uplift_shares(runs)
    expected = uplift_shares(runs, expected=True)
    groups: dict[tuple[str, str], list[RunMetrics]] = defaultdict(list)
    for r in runs:
        groups[(r.scenario, r.policy)].append(r)
    rows = []
    for (scenario, policy), group in groups.items():
        row: dict[str, Any] = {"scenario": scenario, "policy": policy, "seeds": len(group)}
        for name in NUMERIC:
            row[name] = _stats([getattr(r, name) for r in group])
        row["uplift_share"] = _stats([shares.get((scenario, r.seed, policy)) for r in group])
        row["expected_uplift_share"] = _stats(
            [expected.get((scenario, r.seed, policy)) for r in group]
        )
        rows.append(row)
    return rows


def summary(rows: Sequence[Mapping[str, Any]], runs: Sequence[RunMetrics]) -> dict[str, Any]:
    """The issue's targets for spectra, met or not."""
    by = {(r["scenario"], r["policy"]): r for r in rows}
    scenarios = sorted({r["scenario"] for r in rows})
    spectra = [by[(s, "spectra")] for s in scenarios if (s, "spectra") in by]
    shares = [r["uplift_share"]["mean"] for r in spectra if r["uplift_share"]["mean"] is not None]
    exp_shares = [
        r["expected_uplift_share"]["mean"]
        for r in spectra
        if r.get("expected_uplift_share", {}).get("mean") is not None
    ]
    beat = []
    for s in scenarios:
        if (s, "spectra") in by and (s, "greedy") in by:
            beat.append(
                {
                    "scenario": s,
                    "beats_greedy": by[(s, "spectra")]["profit"]["mean"]
                    > by[(s, "greedy")]["profit"]["mean"],
                }
            )
    aa = [r["aa_changes_per_10_campaign_weeks"]["mean"] for r in spectra]
    aa = [v for v in aa if v is not None]
    cuts = [r["cuts_during_outage"]["mean"] for r in spectra]
    cuts = [v for v in cuts if v is not None]
    return {
        "uplift_share_mean": statistics.fmean(shares) if shares else None,
        "uplift_share_target": TARGET_UPLIFT_SHARE,
        "expected_uplift_share_mean": statistics.fmean(exp_shares) if exp_shares else None,
        "beats_greedy": beat,
        "violations": sum(r["violations"]["mean"] or 0 for r in spectra),
        "breaches": sum(r["breaches"]["mean"] or 0 for r in spectra),
        "aa_changes_per_10_campaign_weeks": max(aa) if aa else None,
        "cuts_during_outage": max(cuts) if cuts else None,
        "runs": len(runs),
    }


def _fmt(stat: Mapping[str, Any], *, pct: bool = False, digits: int = 0) -> str:
    if stat["mean"] is None:
        return "–"
    mean, spread = stat["mean"], stat["spread"] or 0.0
    if pct:
        return f"{mean:.0%} ± {spread:.0%}"
    return f"{mean:,.{digits}f} ± {spread:,.{digits}f}"


# (heading, metric, how _fmt shows it)
COLUMNS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("profit", "profit", {}),
    ("uplift share", "uplift_share", {"pct": True}),
    ("expected uplift share", "expected_uplift_share", {"pct": True}),
    ("CPA / target", "cpa_vs_target", {"digits": 2}),
    ("ROAS / target", "roas_vs_target", {"digits": 2}),
    ("changes", "changes", {"digits": 1}),
    ("reversed", "reversed", {"digits": 1}),
    ("violations", "violations", {"digits": 1}),
    ("breaches", "breaches", {"digits": 1}),
    ("A/A per 10 cw", "aa_changes_per_10_campaign_weeks", {"digits": 1}),
    ("days to react", "days_to_react", {"digits": 1}),
    ("outage cuts", "cuts_during_outage", {"digits": 1}),
    ("AI $/campaign-day", "ai_cost_per_campaign_day_usd", {"digits": 4}),
    ("approvals", "approvals_requested", {"digits": 1}),
    ("s/day", "seconds_per_day", {"digits": 1}),
)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ["scenario", "policy", "seeds", *(c[0] for c in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: (r["scenario"], _order(r["policy"]))):
        cells = [r["scenario"], r["policy"], str(r["seeds"])]
        cells += [_fmt(r[key], **opts) for _, key, opts in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _order(policy: str) -> int:
    order = ["hands_off", "greedy", "spectra", "oracle", "oracle_unconstrained"]
    return order.index(policy) if policy in order else len(order)


def write(
    runs: Sequence[RunMetrics], out: Path, *, command: str, notes: Sequence[str] = ()
) -> dict[str, Path]:
    """Write evaluation.json, README.md and the plots under ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    rows = table(runs)
    result = summary(rows, runs)
    paths = {"json": out / "evaluation.json", "markdown": out / "README.md"}
    paths["json"].write_text(
        json.dumps(
            {"command": command, "summary": result, "table": rows,
             "runs": [r.as_dict() for r in runs]},
            indent=2, default=str,
        )
    )  # fmt: skip
    paths.update(_plots(runs, rows, out))
    beat = result["beats_greedy"]
    lines = [
        "# Spectra closed-loop evaluation",
        "",
        f"Produced by `{command}`. Mean ± spread (standard deviation) over seeds; profit is",
        "conversion value − cost over the horizon in the account's currency, from the market's",
        "truth (conversions a tracking outage hid and late conversions included). Uplift share:",
        "(policy − hands-off) / (constrained oracle − hands-off), per seed; expected uplift share:",
        "the same from the truth's noise-free profit of the settings in force each day (the",
        "realised profit's noise differs between policies and can exceed a policy's effect).",
        "",
        "## Targets (spectra)",
        "",
        f"- uplift share vs the constrained oracle: {_share(result['uplift_share_mean'])} "
        f"(target ≥ {TARGET_UPLIFT_SHARE:.0%}); expected (noise-free): "
        f"{_share(result['expected_uplift_share_mean'])}",
        f"- beats greedy on profit: {sum(b['beats_greedy'] for b in beat)}/{len(beat)} scenarios"
        + (
            f" (lost: {', '.join(b['scenario'] for b in beat if not b['beats_greedy'])})"
            if not all(b["beats_greedy"] for b in beat)
            else ""
        ),
        f"- guardrail violations: {result['violations']:g}; spend-limit breaches: "
        f"{result['breaches']:g} (target 0 and 0)",
        f"- A/A changes per 10 campaign-weeks: {_num(result['aa_changes_per_10_campaign_weeks'])}"
        " (target ≤ 1)",
        f"- cuts during the tracking outage: {_num(result['cuts_during_outage'])} (target 0)",
        "",
        "## Table",
        "",
        markdown_table(rows),
        "",
        "## Plots",
        "",
        *(f"![{name}]({path.name})" for name, path in paths.items() if path.suffix == ".png"),
    ]
    if notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in notes)]
    paths["markdown"].write_text("\n".join(lines) + "\n")
    return paths


def _share(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _plots(
    runs: Sequence[RunMetrics], rows: Sequence[Mapping[str, Any]], out: Path
) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths: dict[str, Path] = {}
    scenarios = sorted({r.scenario for r in runs})
    policies = sorted({r.policy for r in runs}, key=_order)

    def mean_series(scenario: str, policy: str, attr: str, cumulative: bool) -> Any:
        series = [getattr(r, attr) for r in runs if r.scenario == scenario and r.policy == policy]
        if not series:
            return None
        arr = np.asarray(series, dtype=float)
        arr = np.cumsum(arr, axis=1) if cumulative else arr
        return arr.mean(axis=0)

    for name, attr, cumulative, title in (
        ("cumulative_profit", "daily_profit", True, "cumulative profit"),
        ("spend", "daily_spend", False, "daily spend (dashed: sum of daily spend limits)"),
        ("changes", "daily_changes", False, "changes per day"),
    ):
        cols = min(4, len(scenarios))
        nrows = math.ceil(len(scenarios) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3 * nrows), squeeze=False)
        for ax, scenario in zip(axes.flat, scenarios, strict=False):
            for policy in policies:
                series = mean_series(scenario, policy, attr, cumulative)
                if series is not None:
                    ax.plot(range(1, len(series) + 1), series, label=policy)
            if attr == "daily_spend":
                limit = mean_series(scenario, policies[0], "daily_limit", False)
                if limit is not None:
                    ax.plot(range(1, len(limit) + 1), limit, "k--", linewidth=0.8)
            ax.set_title(scenario, fontsize=9)
            ax.set_xlabel("day", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in list(axes.flat)[len(scenarios) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(title)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths[name] = path
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(scenarios)), 3.2))
    width = 0.8 / max(len(policies), 1)
    for i, policy in enumerate(p for p in policies if p != "oracle"):
        means = []
        for s in scenarios:
            row = next((r for r in rows if r["scenario"] == s and r["policy"] == policy), None)
            means.append(
                row["uplift_share"]["mean"]
                if row and row["uplift_share"]["mean"] is not None
                else 0.0
            )
        ax.bar(np.arange(len(scenarios)) + i * width, means, width, label=policy)
    ax.axhline(TARGET_UPLIFT_SHARE, color="k", linestyle="--", linewidth=0.8)
    ax.set_xticks(np.arange(len(scenarios)) + width, scenarios, rotation=30, fontsize=7)
    ax.set_ylabel("uplift share vs constrained oracle")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "uplift_share.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    paths["uplift_share"] = path
    return paths
