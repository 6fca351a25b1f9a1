"""`spectra campaign create|show|list|launch`: the launch pipeline's commands.

``create --brief FILE`` validates a YAML brief (every bad field reported at once, exit 2) and
stores it in DRAFT; ``launch ID`` runs the pipeline for it outside Airflow (the spectra_launch
DAG runs the same functions); ``show`` prints its state, flags, steps and assets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

EXIT_INVALID = 2


def _actor(args: argparse.Namespace) -> str:
    return getattr(args, "by", None) or os.environ.get("USER") or "cli"


def cmd_campaign_create(args: argparse.Namespace) -> int:
    from spectra.launch.brief import BriefInvalid, load_brief
    from spectra.launch.lifecycle import LaunchError, create_draft
    from spectra.warehouse.db import make_engine

    try:
        brief = load_brief(args.brief)
    except BriefInvalid as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"{args.brief}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    engine = make_engine()
    try:
        launch, created = create_draft(engine, brief, actor=_actor(args))
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        engine.dispose()
    verb = "stored" if created else "already stored"
    print(
        f"launch {launch.id} {verb}: {launch.campaign_name!r} in account {launch.customer_id} "
        f"(tenant {launch.tenant_id}) is {launch.state.value}"
    )
    return 0


def describe(launch: Any, steps: dict[str, dict[str, Any]], assets: list[dict[str, Any]]) -> str:
    """A launch as a person reads it: state and why, flags, steps, assets, resources."""
    lines = [
        f"launch {launch.id}: {launch.campaign_name!r} (tenant {launch.tenant_id}, "
        f"account {launch.customer_id})",
        f"  state: {launch.state.value}"
        + (f" — {launch.state_reason}" if launch.state_reason else ""),
    ]
    if launch.campaign_id:
        lines.append(f"  campaign id: {launch.campaign_id}")
    for flag in launch.review_flags:
        lines.append(f"  REVIEW: {flag.get('kind')}: {flag.get('reason')}")
    for name, step in steps.items():
        lines.append(f"  step {name:<12} {step['status']:<9} (x{step['attempts']})")
    for asset in assets:
        lines.append(
            f"  asset {asset['kind']:<9} {asset['content_sha256'][:12]}  {asset['summary']}"
        )
    if launch.resources:
        lines.append(f"  resources ({len(launch.resources)}):")
        lines.extend(f"    {rn}" for rn in launch.resources)
    return "\n".join(lines)


def cmd_campaign_show(args: argparse.Namespace) -> int:
    from spectra.launch.service import launch_view
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        launch, steps, assets = launch_view(engine, tenant_id=args.tenant, launch_id=args.id)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        engine.dispose()
    if args.format == "json":
        out = {
            "id": launch.id,
            "state": launch.state.value,
            "state_reason": launch.state_reason,
            "review_flags": launch.review_flags,
            "resources": launch.resources,
            "campaign_id": launch.campaign_id,
            "steps": {k: {"status": v["status"], "detail": v["detail"]} for k, v in steps.items()},
            "assets": assets,
        }
        print(json.dumps(out, indent=2, default=str))
    else:
        print(describe(launch, steps, assets))
    return 0


def cmd_campaign_list(args: argparse.Namespace) -> int:
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.launch_store import list_briefs

    engine = make_engine()
    try:
        with engine.connect() as conn:
            rows = list_briefs(conn, tenant_id=args.tenant)
    finally:
        engine.dispose()
    for r in rows:
        flags = " REVIEW" if r["review_flags"] else ""
        print(f"{r['id']:>5} {r['state']:<19} {r['customer_id']} {r['campaign_name']}{flags}")
    return 0


def register(sub: Any) -> None:
    campaign = sub.add_parser("campaign", help="launch campaigns from briefs").add_subparsers(
        dest="campaign_command", required=True
    )
    p = campaign.add_parser("create", help="validate a YAML brief and store it in DRAFT")
    p.add_argument("--brief", required=True, help="the brief (YAML), e.g. examples/briefs/…")
    p.add_argument("--by", default=None, help="who creates it (default: $USER)")
    p.set_defaults(fn=cmd_campaign_create)

    p = campaign.add_parser("show", help="a launch's state, review flags, steps and assets")
    p.add_argument("id", type=int)
    p.add_argument("--tenant", required=True)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(fn=cmd_campaign_show)

    p = campaign.add_parser("list", help="a tenant's launches and their states")
    p.add_argument("--tenant", required=True)
    p.set_defaults(fn=cmd_campaign_list)
