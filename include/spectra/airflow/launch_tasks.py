"""Bodies of ``spectra_launch``'s tasks: assets -> checks -> approval -> deploy, per launch.

XCom carries launch ids and states (:func:`_item`); everything else stays in the warehouse.
Approvals are Airflow's own HITL operator; who answered is checked against the tenant's roles
by :func:`spectra.launch.pipeline.approve_launch` (Airflow's auth managers are not per tenant).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger("spectra.launch")
# launches the pipeline still has work for
OPEN_STATES = ("DRAFT", "GENERATING_ASSETS", "PENDING_DEPLOYMENT", "DEPLOYING")


def _item(launch: Any, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": launch.tenant_id,
        "launch_id": launch.id,
        "state": launch.state.value,
        "reason": launch.state_reason,
        **extra,
    }


def select_launches(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The launches to work on: ``params.launch_id`` of ``params.tenant_id``, or every open
    launch of the tenant (of every tenant when none is given)."""
    from spectra.launch.lifecycle import Launch
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.launch_store import briefs_in_states

    engine = make_engine()
    try:
        with engine.connect() as conn:
            rows = briefs_in_states(conn, tenant_id=params.get("tenant_id"), states=OPEN_STATES)
    finally:
        engine.dispose()
    if params.get("launch_id") is not None:
        rows = [r for r in rows if int(r["id"]) == int(params["launch_id"])]
    return [_item(Launch.from_row(r)) for r in rows]


def _models(conn_id: str) -> tuple[Any, Any]:
    from airflow.exceptions import AirflowNotFoundException

    from spectra.agent.imagen import DEFAULT_IMAGE_MODEL, ImagenClient
    from spectra.airflow.hooks import GeminiHook

    try:
        hook = GeminiHook(conn_id)
        settings = hook.get_settings()
    except AirflowNotFoundException:
        log.warning("no Airflow connection %r: launches cannot generate copy", conn_id)
        return None, None
    model = os.environ.get("SPECTRA_IMAGE_MODEL", DEFAULT_IMAGE_MODEL)
    return hook.get_conn(), ImagenClient(settings, model=model)


def assets(item: Mapping[str, Any], *, conn_id: str, dag_run_id: str | None) -> dict[str, Any]:
    """Copy, keywords and images (text-only and flagged when images keep failing)."""
    from spectra.launch import pipeline
    from spectra.warehouse.db import make_engine

    llm, imagen = _models(conn_id)
    engine = make_engine()
    try:
        launch = pipeline.generate_assets(
            engine, tenant_id=item["tenant_id"], launch_id=int(item["launch_id"]),
            model=llm, imagen=imagen, dag_run_id=dag_run_id,
        )  # fmt: skip
    finally:
        engine.dispose()
    log.info("launch %s: %s (%s)", launch.id, launch.state.value, launch.state_reason)
    return _item(launch, flags=[f["kind"] for f in launch.review_flags])


def prepare(item: Mapping[str, Any], *, conn_id: str) -> dict[str, Any]:
    """Conversion tracking and account limits before anything is created."""
    from spectra.airflow.hooks import GoogleAdsHook
    from spectra.guardrails.config import load_config
    from spectra.launch import pipeline
    from spectra.warehouse.db import make_engine

    client, creds = GoogleAdsHook(conn_id).get_conn()
    engine = make_engine()
    try:
        ready = pipeline.prepare_deployment(
            engine, client, creds, tenant_id=item["tenant_id"], launch_id=int(item["launch_id"]),
            limits=load_config().structure,
        )  # fmt: skip
        needs = ready.ready and not (
            not pipeline.approval_required(engine, tenant_id=item["tenant_id"])
            or pipeline.is_approved(engine, ready.launch)
        )
    finally:
        engine.dispose()
    log.info("launch %s: %s — %s", ready.launch.id, ready.launch.state.value, ready.reason)
    return _item(ready.launch, ready=ready.ready, needs_approval=needs)


def approval_bodies(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """One Required Action per launch that is ready and waits for a person."""
    return [
        f"Launch {i['launch_id']} of tenant {i['tenant_id']} is ready to deploy: {i['reason']}. "
        f"`spectra campaign show {i['launch_id']} --tenant {i['tenant_id']}` lists its copy, "
        "keywords and images."
        for i in items
        if i.get("needs_approval")
    ]


def approved(
    items: Sequence[Mapping[str, Any]], responses: Sequence[Mapping[str, Any] | None] | None
) -> list[dict[str, Any]]:
    """The launches that go on: ready ones needing nobody, and those an approver approved."""
    from spectra.guardrails.permissions import PermissionDenied
    from spectra.guardrails.proposals import APPROVE, Answer
    from spectra.launch import pipeline
    from spectra.warehouse.db import make_engine

    waiting = [i for i in items if i.get("needs_approval")]
    go = [dict(i) for i in items if i.get("ready") and not i.get("needs_approval")]
    engine = make_engine()
    try:
        for item, response in zip(waiting, list(responses or []), strict=False):
            answer = Answer.from_hitl(response or {})
            if answer.responder is None:
                log.warning("launch %s: approval expired (rejected)", item["launch_id"])
                continue
            try:
                launch = pipeline.approve_launch(
                    engine, tenant_id=item["tenant_id"], launch_id=int(item["launch_id"]),
                    by=answer.responder, approved=answer.chosen == APPROVE,
                )  # fmt: skip
            except PermissionDenied as exc:
                log.warning("launch %s: %s", item["launch_id"], exc)
                continue
            if answer.chosen == APPROVE:
                go.append(_item(launch))
    finally:
        engine.dispose()
    return go


def deploy(item: Mapping[str, Any], *, conn_id: str) -> dict[str, Any]:
    """Budget → campaign → ad groups → keywords → ads → images; ACTIVE, or FAILED with why."""
    from spectra.airflow.hooks import GoogleAdsHook
    from spectra.launch import pipeline
    from spectra.warehouse.db import make_engine

    client, creds = GoogleAdsHook(conn_id).get_conn()
    engine = make_engine()
    try:
        launch = pipeline.deploy(
            engine, client, creds, tenant_id=item["tenant_id"], launch_id=int(item["launch_id"])
        )
    finally:
        engine.dispose()
    log.info("launch %s: %s (%s)", launch.id, launch.state.value, launch.state_reason)
    if launch.state.value == "FAILED":  # red in the UI, and no retry: a FAILED launch is final
        from airflow.exceptions import AirflowFailException

        raise AirflowFailException(f"launch {launch.id} failed: {launch.state_reason}")
    return _item(launch, resources=len(launch.resources), campaign_id=launch.campaign_id)


__all__ = ["approval_bodies", "approved", "assets", "deploy", "prepare", "select_launches"]
