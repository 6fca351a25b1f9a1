"""``spectra evaluate``: the closed-loop evaluation (spectra.evaluation) from the command line."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any


def cmd_evaluate(args: argparse.Namespace) -> int:
    from spectra.evaluation import report, scenarios
    from spectra.evaluation.policies import policies
    from spectra.evaluation.run import evaluate, read_journal

    if args.from_runs:
        runs = read_journal(Path(args.from_runs))
        paths = report.write(
            runs, Path(args.out), command=" ".join(["spectra", *args.argv]), notes=args.note
        )
        print(report.markdown_table(report.table(runs)))
        print(f"\n{len(runs)} runs; report: {paths['markdown']}")
        return 0
    names = list(scenarios.SHIPPED) if args.scenario == ["all"] else args.scenario or []
    if not names:
        print("spectra evaluate: --scenario is required (or --from-runs)", file=sys.stderr)
        return 2
    try:
        loaded = [scenarios.load(n) for n in names]
        selected = policies(args.policies)
    except (scenarios.ScenarioFileError, ValueError) as error:
        print(f"spectra evaluate: {error}", file=sys.stderr)
        return 2
    logging.getLogger("spectra").setLevel(logging.WARNING)
    started = time.perf_counter()
    journal = Path(args.out) / "runs.jsonl"
    journal.unlink(missing_ok=True)  # this run's runs only
    runs = evaluate(
        loaded,
        selected,
        seeds=args.seeds,
        days=args.days,
        workdir=Path(args.workdir) if args.workdir else None,
        keep=bool(args.workdir),
        jobs=args.jobs,
        progress=lambda line: print(line, flush=True),
        journal=journal,
    )
    command = "spectra " + " ".join(shlex.quote(a) for a in args.argv)
    paths = report.write(runs, Path(args.out), command=command.strip(), notes=args.note)
    rows = report.table(runs)
    print()
    print(report.markdown_table(rows))
    print(
        f"\n{len(runs)} runs in {time.perf_counter() - started:.0f} s; report: {paths['markdown']}"
    )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="closed-loop evaluation: policies x seeds on simulated markets, scored vs the oracle",
    )
    p.add_argument(
        "--scenario", nargs="+", default=None,
        help="shipped scenario name(s), YAML file(s), or 'all' (the shipped suite)",
    )  # fmt: skip
    p.add_argument("--days", type=int, default=None, help="horizon (default: the scenario's)")
    p.add_argument("--seeds", type=int, default=None, help="seeds (default: the scenario's)")
    p.add_argument(
        "--policies", nargs="+", default=None,
        help="hands_off greedy spectra oracle oracle_unconstrained (default: all)",
    )  # fmt: skip
    p.add_argument("--out", default="reports/evaluation", help="report folder")
    p.add_argument(
        "--jobs", type=int, default=1, help="processes, each taking one (scenario, seed) at a time"
    )
    p.add_argument("--workdir", default=None, help="keep each world's warehouse here")
    p.add_argument("--note", action="append", default=[], help="a line for the report's notes")
    p.add_argument(
        "--from-runs", default=None,
        help="only write the report from a runs.jsonl an earlier (maybe interrupted) run left",
    )  # fmt: skip
    p.set_defaults(fn=cmd_evaluate)
