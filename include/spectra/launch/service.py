"""The launch pipeline's service API: what the CLI and the spectra_launch DAG call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from spectra.launch.lifecycle import Launch, get_launch
from spectra.warehouse import launch_store as store


def _summary(asset: dict[str, Any]) -> str:
    content = asset["content"] or {}
    if asset["kind"] == "rsa_copy":
        return f"{len(content.get('headlines', []))} headlines, {len(content.get('descriptions', []))} descriptions"
    if asset["kind"] == "keywords":
        return f"{len(content.get('keywords', []))} keywords"
    if asset["kind"] == "image":
        return f"{content.get('width')}x{content.get('height')} {asset['mime_type']}"
    return ""


def launch_view(
    engine: Engine, *, tenant_id: str, launch_id: int
) -> tuple[Launch, dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """A launch with its steps and the assets it uses (for ``spectra campaign show``)."""
    with engine.connect() as conn:
        launch = get_launch(conn, tenant_id=tenant_id, launch_id=launch_id)
        steps = store.steps_of(conn, tenant_id=tenant_id, brief_id=launch_id)
        keys = [k for s in steps.values() for k in s["detail"].get("asset_keys", [])]
        assets = []
        if keys:
            rows = store.assets_by_keys(conn, tenant_id=tenant_id, request_keys=keys)
            assets = [
                {
                    "kind": r["kind"],
                    "request_key": r["request_key"],
                    "content_sha256": r["content_sha256"],
                    "mime_type": r["mime_type"],
                    "summary": _summary(r),
                }
                for r in rows
            ]
    return launch, steps, assets
