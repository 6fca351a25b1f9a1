"""`spectra campaign create|show|list|launch|approve|reject|autopilot`: the launch commands.

``create --brief FILE`` validates a YAML brief (every bad field reported at once, exit 2) and
stores it in DRAFT; ``launch ID`` runs the pipeline for it outside Airflow (the spectra_launch
DAG runs the same functions) up to the approval, and deploys once approved or when the
tenant's launch autopilot is on; ``approve ID --by ann`` is an approver's answer; ``show``
prints its state, flags, steps and assets. A refusal (role) exits 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

EXIT_INVALID = 2
EXIT_DENIED = 3


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


def _gemini_settings(llm_port: int) -> Any:
    """``$SPECTRA_GEMINI_*`` (e.g. SPECTRA_GEMINI_BASE_URL), else the local stand-in."""
    from spectra.agent.settings import ENV_PREFIX, GeminiSettings

    if any(k.startswith(ENV_PREFIX) for k in os.environ):
        return GeminiSettings.from_env()
    return GeminiSettings(
        project="spectra-demo",
        base_url=f"http://127.0.0.1:{llm_port}",
        access_token="standin-access-token",
    )


def cmd_campaign_launch(args: argparse.Namespace) -> int:
    from spectra.agent.client import GeminiClient
    from spectra.agent.imagen import ImagenClient
    from spectra.guardrails.config import load_config
    from spectra.launch import pipeline
    from spectra.launch.service import launch_view
    from spectra.warehouse.db import make_engine

    settings = _gemini_settings(args.llm_port())
    client, creds = args.ads_client()
    engine = make_engine()
    tenant, launch_id = args.tenant, args.id
    try:
        launch = pipeline.generate_assets(
            engine, tenant_id=tenant, launch_id=launch_id, model=GeminiClient(settings),
            imagen=ImagenClient(settings), actor=_actor(args),
        )  # fmt: skip
        ready = pipeline.prepare_deployment(
            engine, client, creds, tenant_id=tenant, launch_id=launch_id,
            limits=load_config().structure,
        )  # fmt: skip
        launch = ready.launch
        if ready.ready:
            launch = pipeline.deploy(engine, client, creds, tenant_id=tenant, launch_id=launch_id)
        print(describe(*launch_view(engine, tenant_id=tenant, launch_id=launch_id)))
        if launch.state.value == "PENDING_DEPLOYMENT" and ready.ready:
            print(
                f"\nwaiting for approval: spectra campaign approve {launch_id} --tenant {tenant} "
                "--by APPROVER, then run `spectra campaign launch` again (or turn launch "
                f"autopilot on: spectra campaign autopilot on --tenant {tenant} --by ADMIN)"
            )
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        engine.dispose()
    return 0 if launch.state.value in ("ACTIVE", "PENDING_DEPLOYMENT", "DEPLOYING") else 1


def cmd_campaign_answer(args: argparse.Namespace) -> int:
    from spectra.guardrails.permissions import PermissionDenied
    from spectra.launch import pipeline
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        launch = pipeline.approve_launch(
            engine, tenant_id=args.tenant, launch_id=args.id, by=_actor(args),
            approved=args.campaign_command == "approve", reason=args.reason or "",
        )  # fmt: skip
    except PermissionDenied as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_DENIED
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        engine.dispose()
    print(f"launch {launch.id}: {args.campaign_command}d by {_actor(args)} ({launch.state.value})")
    return 0


def cmd_campaign_autopilot(args: argparse.Namespace) -> int:
    from spectra.guardrails.permissions import PermissionDenied
    from spectra.launch import pipeline
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        pipeline.set_launch_autopilot(
            engine, tenant_id=args.tenant, on=args.switch == "on", by=_actor(args)
        )
    except PermissionDenied as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_DENIED
    finally:
        engine.dispose()
    print(f"launch autopilot {args.switch} for tenant {args.tenant}")
    return 0


LAUNCH_DAG = "spectra_launch"
DEMO_BRIEF = "briefs/northwind-trail-running.yaml"  # under settings.examples_dir()


def demo_launch(client: Any, *, tenant_id: str = "demo") -> str:
    """The demo's launch: the shipped example brief stored in DRAFT and taken through
    ``spectra_launch`` (launch autopilot on for the demo tenant, so no approval waits);
    returns the launch as ``spectra campaign show`` prints it."""
    from spectra.launch import pipeline
    from spectra.launch.brief import BriefInvalid, load_brief
    from spectra.launch.lifecycle import LaunchError, create_draft
    from spectra.launch.service import launch_view
    from spectra.settings import examples_dir
    from spectra.warehouse.db import make_engine

    try:
        brief = load_brief(examples_dir() / DEMO_BRIEF)
    except BriefInvalid as exc:
        return f"## Launch\n\nthe example brief is not valid today:\n{exc}"
    engine = make_engine()
    try:
        launch, _ = create_draft(engine, brief, actor="admin")
        pipeline.set_launch_autopilot(engine, tenant_id=tenant_id, on=True, by="admin")
        client.unpause(LAUNCH_DAG)
        run_id = client.trigger(LAUNCH_DAG, conf={"tenant_id": tenant_id})
        print(f"launch      {LAUNCH_DAG} over examples/{DEMO_BRIEF} ({run_id})", flush=True)
        client.wait_settled(LAUNCH_DAG, run_id, ready="record_answers")
        text = describe(*launch_view(engine, tenant_id=tenant_id, launch_id=launch.id))
    except LaunchError as exc:
        return f"## Launch\n\n{exc}"
    finally:
        engine.dispose()
    return f"## Launch ({run_id})\n\n{text}\n"


def register(sub: Any, *, ads_client: Callable[[], Any], llm_port: Callable[[], int]) -> None:
    """The commands; ``ads_client`` and ``llm_port`` are cli.py's (how commands outside Airflow
    reach Google Ads and the LLM), passed in so this module does not import cli.py."""
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

    p = campaign.add_parser("launch", help="run the pipeline for a launch (outside Airflow)")
    p.add_argument("id", type=int)
    p.add_argument("--tenant", required=True)
    p.add_argument("--by", default=None)
    p.set_defaults(fn=cmd_campaign_launch, ads_client=ads_client, llm_port=llm_port)

    for name in ("approve", "reject"):
        p = campaign.add_parser(name, help=f"{name} a launch (an approver of the tenant)")
        p.add_argument("id", type=int)
        p.add_argument("--tenant", required=True)
        p.add_argument("--by", default=None, help="who answers (default: $USER)")
        p.add_argument("--reason", default=None)
        p.set_defaults(fn=cmd_campaign_answer)

    p = campaign.add_parser("autopilot", help="launches deploy without approval (an admin)")
    p.add_argument("switch", choices=("on", "off"))
    p.add_argument("--tenant", required=True)
    p.add_argument("--by", default=None)
    p.set_defaults(fn=cmd_campaign_autopilot)
