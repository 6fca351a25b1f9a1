"""`make bench`: every benchmark module, side by side in one run, into var/bench/results.json.

Each module exposes ``run(results: dict) -> None`` and adds figures shaped
``{"figure name": {"value": x, "unit": "...", "baseline": y, "ratio": x / y}}``. Ratios are
measured in the same run on the same machine, so noisy machines still give comparable numbers.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MODULES = [
    "bench_ingest",
    "bench_market",
    "bench_quality",
    "bench_analytics",
    "bench_apply",
    "bench_agent",
    "bench_monitors",
    "bench_evaluation",
]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def main(argv: list[str]) -> int:
    from spectra.settings import spectra_home

    # "quality" and "bench_quality" both name bench_quality; anything else is a typo that
    # would otherwise run nothing and exit 0.
    wanted = [a if a.startswith("bench_") else f"bench_{a}" for a in argv] or MODULES
    unknown = [a for a, name in zip(argv, wanted, strict=False) if name not in MODULES]
    if unknown:
        print(f"unknown bench module(s) {unknown}; choose from {MODULES}", file=sys.stderr)
        return 2
    out_path = spectra_home() / "var" / "bench" / "results.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # A full run starts afresh; running some modules updates their figures in place.
    results: dict[str, Any] = {}
    if argv and out_path.exists():
        results = json.loads(out_path.read_text())
    failed = []
    for name in wanted:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            importlib.import_module(name).run(results)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
        out_path.write_text(json.dumps(results, indent=2, sort_keys=True))
    width = max((len(k) for k in results), default=10)
    print(f"\n{'figure':<{width}}  {'value':>14} {'unit':<14} {'baseline':>14} {'ratio':>8}")
    for key in sorted(results):
        fig = results[key]
        print(
            f"{key:<{width}}  {_fmt(fig.get('value')):>14} {fig.get('unit', ''):<14} "
            f"{_fmt(fig.get('baseline')):>14} {_fmt(fig.get('ratio')):>8}"
        )
    print(f"\nwritten to {out_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
