"""Findings as words: one screen per account (the demo) and full tables (``spectra report``)."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Sequence
from typing import Any

from spectra.report.findings import AccountFindings, OutageDay, Report

WIDTH = 78
BID_EXAMPLES = 3


def money(micros: int | float | None, currency: str = "") -> str:
    """Micros as currency units with two decimals (``182.00 USD``)."""
    if micros is None:
        return "—"
    text = f"{micros / 1_000_000:,.2f}"
    return f"{text} {currency}".strip()


def signed_money(micros: int | float | None, currency: str = "") -> str:
    if micros is None:
        return "—"
    return ("+" if micros > 0 else "") + money(micros, currency)


def _days(dates: Sequence[dt.date | str]) -> str:
    return ", ".join(str(d) for d in dates)


# --------------------------------------------------------------------------- screens


def account_screen(a: AccountFindings, report: Report) -> str:
    """One account's story in under a screen (~25 lines)."""
    lines = [f"━━ {a.label} ({a.currency or 'currency unknown'}) " + "━" * 40]
    lines += _gate_lines(a)
    lines += _outage_lines(a.outages, report)
    if not a.analyzed:
        lines.append(f"Analytics: no results for {a.day} (blocked at the gate or not analyzed).")
        return "\n".join(lines)
    lines += _anomaly_lines(a)
    lines += _verdict_lines(a)
    lines += _envelope_lines(a)
    lines += _lag_lines(a)
    for warning in a.analytics_warnings[:2]:
        lines.append(f"Note: {_clip(warning, WIDTH - 6)}")
    return "\n".join(lines)


def _gate_lines(a: AccountFindings) -> list[str]:
    counts: dict[str, list[dt.date]] = {}
    for g in a.gate:
        counts.setdefault(g.status, []).append(g.day)
    parts = []
    for status in ("block", "warn", "pass"):
        hit = counts.get(status, [])
        if status == "pass":
            parts.append(f"{len(hit)} pass")
        elif hit:
            parts.append(f"{len(hit)} {status.upper()} ({_days(hit)})")
    lines = [f"Quality gate, {len(a.gate)} day(s): " + ", ".join(parts)]
    worst = next((g for g in reversed(a.gate) if g.status != "pass"), None)
    if worst is not None and worst.reasons:
        lines += textwrap.wrap(
            f"latest reason ({worst.day}): {worst.reasons[0]}",
            WIDTH,
            initial_indent="  ",
            subsequent_indent="    ",
            max_lines=3,
            placeholder=" …",
        )
    return lines


def _outage_lines(outages: Sequence[OutageDay], report: Report) -> list[str]:
    if not outages:
        return ["Tracking outages: none."]
    first = min(o.first_caught for o in outages)
    start = min(o.date for o in outages)
    caught = [o for o in outages if o.first_caught == first]
    due = sum(o.expected_when_caught for o in caught)
    rule = report.outage_rule
    need = rule["min_expected_run"] if len(caught) > 1 else rule["min_expected_one_day"]
    lines = [
        f"Tracking outage: {_days([o.date for o in outages])} excluded from analytics "
        "(Google Ads' 'data exclusion')",
    ]
    for o in outages:
        lines.append(
            f"  {o.date}: {o.conversions:.0f} conversions on {o.clicks} clicks, "
            f"{o.expected_conversions:.1f} due at the account's conversion rate"
        )
    lines.append(
        f"  Caught by the run for {first}, {(first - start).days} day(s) after it began: "
        "conversions arrive days"
    )
    lines.append(
        f"  after the click, so a young day is only held to a share of its expectation; on {first}"
    )
    lines.append(
        f"  those days were due {due:.1f}, past the {need:.0f} the gate needs to rule out noise."
    )
    return lines


def _anomaly_lines(a: AccountFindings) -> list[str]:
    flagged = a.flagged_anomalies
    suppressed = [x for x in a.anomalies if not x["flagged"]]
    on = [x for x in flagged if x["date"] == a.day] or flagged
    head = f"Anomalies on {a.day}: {len(flagged)} flagged"
    if suppressed:
        head += f", {len(suppressed)} seen but not alerted"
    lines = [head]
    for x in on[:3]:
        lines.append(
            f"  {x['entity_level']} {x['entity_id']} {x['metric']} {x['direction']} on "
            f"{x['date']}: {_num(x['observed'], x['metric'])} vs {_num(x['expected'], x['metric'])}"
            f" expected ({x['severity']})"
        )
        lines.append(f"    {_clip(x['reason'], WIDTH - 4)}")
    if not flagged and suppressed:
        lines.append(f"  why not alerted: {_clip(suppressed[-1]['reason'], WIDTH - 19)}")
    return lines


def _verdict_lines(a: AccountFindings) -> list[str]:
    sig = a.significant
    lines = [f"Significant changes: {len(sig)} of {a.tests} tests (Benjamini–Hochberg across them)"]
    for v in sig[:3]:
        rel = v["relative_effect"]
        lines.append(
            f"  {v['level']} {v['entity_id']} {v['metric']} {v['verdict']}"
            + (f" {rel:+.0%}" if rel is not None else "")
            + f" (p adj. {v['p_adjusted']:.3f}; {v['test_start']}..{v['test_end']} vs "
            f"{v['baseline_start']}..{v['baseline_end']})"
        )
    return lines


def _envelope_lines(a: AccountFindings) -> list[str]:
    lines = ["Budget envelope (today's step toward the target, expected value per day):"]
    moving = [b for b in a.budgets if b["direction"] != "hold"]
    for b in moving:
        lines.append(
            f"  campaign {b['campaign_id']}: {money(b['current_micros'])} → "
            f"{money(b['next_micros'], a.currency)} (target {money(b['target_micros'])}), "
            f"{signed_money(b['expected_value_delta_micros'], a.currency)}/day expected value"
        )
    held = len(a.budgets) - len(moving)
    if held:
        lines.append(f"  {held} campaign(s) hold: within 5% of their target")
    if not a.budgets:
        lines.append("  no campaign with a budget to move")
    ups = [b for b in a.bids if b["direction"] == "increase"]
    downs = [b for b in a.bids if b["direction"] == "decrease"]
    lines.append(f"Bid envelope: {len(ups)} keyword(s) may go up, {len(downs)} down")
    for b in (ups + downs)[:BID_EXAMPLES]:
        lines.append(
            f"  keyword {b['entity_id']}: {money(b['current_micros'])} → "
            f"{money(b['next_micros'], a.currency)}"
        )
    if a.bids:
        lines.append(
            f"  why ({(ups + downs)[0]['entity_id']}): {_clip((ups + downs)[0]['reason'], WIDTH - 22)}"
        )
    return lines


def _lag_lines(a: AccountFindings) -> list[str]:
    if not a.lag:
        return ["Lag completion: no recent days to complete."]
    cells = "  ".join(
        f"{r['date']:%m-%d} {r['observed']:.0f}→{r['completed']:.0f}" for r in a.lag[:7]
    )
    lines = [
        "Lag completion, last 7 days (conversions reported → expected once complete):",
        f"  {cells}",
    ]
    excluded = sorted(
        {o.date for o in a.outages} & {a.day - dt.timedelta(days=i) for i in range(7)}
    )
    if excluded:
        lines.append(f"  ({_days(excluded)} excluded: tracking outage, not evidence)")
    return lines


def _num(value: float, metric: str) -> str:
    if metric in ("spend", "cpc", "cpa"):
        return money(value)
    return f"{value:,.1f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def findings_screens(report: Report) -> str:
    """Every account's screen, then the one-line totals."""
    return "\n\n".join(account_screen(a, report) for a in report.accounts)


# --------------------------------------------------------------------------- full report


def render_markdown(report: Report) -> str:
    """Every table of the day, per account (``spectra report``)."""
    out = [f"# Spectra report for {report.day}", ""]
    if not report.accounts:
        out.append("No account has a quality verdict for this day.")
    for a in report.accounts:
        out += [f"## {a.label} ({a.currency})", "", "```", account_screen(a, report), "```", ""]
        out += _table(
            "Quality gate",
            ["day", "gate", "quarantined", "excluded days", "reasons"],
            [
                [g.day, g.status, g.quarantined_rows, _days(g.excluded_days), "; ".join(g.reasons)]
                for g in a.gate
            ],
        )
        out += _table(
            "Tracking outages (data exclusions)",
            ["day", "clicks", "conversions", "due", "first caught", "reason"],
            [
                [o.date, o.clicks, f"{o.conversions:.1f}", f"{o.expected_conversions:.1f}",
                 o.first_caught, o.reason]
                for o in a.outages
            ],
        )  # fmt: skip
        out += _table(
            "Anomalies",
            ["day", "entity", "metric", "observed", "expected", "severity", "flagged", "reason"],
            [
                [x["date"], f"{x['entity_level']} {x['entity_id']}", x["metric"],
                 _num(x["observed"], x["metric"]), _num(x["expected"], x["metric"]),
                 x["severity"], "yes" if x["flagged"] else "no", x["reason"]]
                for x in a.anomalies
            ],
        )  # fmt: skip
        out += _table(
            f"Tests ({len(a.verdicts)}; significant first)",
            ["entity", "metric", "baseline", "test", "relative", "p adj.", "verdict"],
            [
                [f"{v['level']} {v['entity_id']}", v["metric"], _f(v["estimate_baseline"]),
                 _f(v["estimate_test"]), _pct(v["relative_effect"]), f"{v['p_adjusted']:.4f}",
                 v["verdict"]]
                for v in sorted(a.verdicts, key=lambda v: (v["verdict"] not in
                                ("increase", "decrease"), v["p_adjusted"]))
            ],
        )  # fmt: skip
        out += _table(
            "Budget envelopes",
            ["campaign", "current", "next", "target", "direction", "max step",
             "expected value/day", "reason"],
            [
                [b["campaign_id"], money(b["current_micros"]), money(b["next_micros"]),
                 money(b["target_micros"]), b["direction"], _pct(b["max_change_pct"]),
                 signed_money(b["expected_value_delta_micros"]), b["reason"]]
                for b in a.budgets
            ],
        )  # fmt: skip
        out += _table(
            "Bid envelopes",
            ["keyword", "campaign", "ad group", "current", "next", "direction", "reason"],
            [
                [b["entity_id"], b["campaign_id"], b["ad_group_id"], money(b["current_micros"]),
                 money(b["next_micros"]), b["direction"], b["reason"]]
                for b in a.bids
            ],
        )  # fmt: skip
        out += _table(
            "Lag completion",
            ["day", "age", "reported", "expected complete", "± s.e.", "reported share", "status"],
            [
                [r["date"], r["age_days"], f"{r['observed']:.1f}", f"{r['completed']:.1f}",
                 f"{r['completed_se']:.1f}", _pct(r["reported_share"]), r["status"]]
                for r in a.lag
            ],
        )  # fmt: skip
    return "\n".join(out).rstrip() + "\n"


def _table(title: str, header: list[str], rows: list[list[Any]]) -> list[str]:
    out = [f"### {title}", ""]
    if not rows:
        return [*out, "(none)", ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for row in rows:
        out.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return [*out, ""]


def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _f(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


def render_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str)
