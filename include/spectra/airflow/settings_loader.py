"""Load airflow_settings.yaml (the Astro CLI format) into plain Airflow.

Plain Airflow ignores that file, and the Task SDK's Connection/Variable only work inside tasks,
so this converts it to the formats ``airflow connections|pools|variables import`` accept and
runs those commands. ``${VAR}`` is expanded from the environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml


class SettingsError(ValueError):
    """airflow_settings.yaml is malformed; the message names the entry."""


_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def _expand(value: Any) -> Any:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset variable without default is an error."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise SettingsError(f"environment variable {name} is not set (in {value!r})")

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def convert(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(connections, pools, variables) in the shapes Airflow's import commands read."""
    root = _expand((settings or {}).get("airflow") or {})
    connections: dict[str, Any] = {}
    for i, conn in enumerate(root.get("connections") or []):
        conn_id = conn.get("conn_id")
        if not conn_id or not conn.get("conn_type"):
            raise SettingsError(f"connections[{i}] needs conn_id and conn_type")
        entry: dict[str, Any] = {"conn_type": conn["conn_type"]}
        for key in ("host", "schema", "login", "password", "port"):
            value = conn.get(f"conn_{key}")
            if value not in (None, ""):
                entry[key] = int(value) if key == "port" else str(value)
        if conn.get("conn_extra"):
            entry["extra"] = json.dumps(conn["conn_extra"])
        connections[conn_id] = entry
    pools: dict[str, Any] = {}
    for i, pool in enumerate(root.get("pools") or []):
        if not pool.get("pool_name") or pool.get("pool_slot") is None:
            raise SettingsError(f"pools[{i}] needs pool_name and pool_slot")
        pools[pool["pool_name"]] = {
            "slots": int(pool["pool_slot"]),
            "description": pool.get("pool_description", ""),
            "include_deferred": False,
        }
    variables: dict[str, Any] = {}
    for i, var in enumerate(root.get("variables") or []):
        if not var.get("variable_name"):
            raise SettingsError(f"variables[{i}] needs variable_name")
        variables[var["variable_name"]] = var.get("variable_value")
    return connections, pools, variables


def load(path: Path, *, airflow_bin: str | None = None) -> dict[str, int]:
    """Import the file's connections, pools and variables (overwriting); returns counts.

    ``airflow_bin`` defaults to the ``airflow`` beside this interpreter (the venv's), so it
    works from a shell whose PATH lacks the venv.
    """
    airflow_bin = airflow_bin or str(Path(sys.executable).with_name("airflow"))
    connections, pools, variables = convert(yaml.safe_load(path.read_text()) or {})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        commands: list[list[str]] = []
        if connections:
            (work / "connections.json").write_text(json.dumps(connections))
            commands.append(
                [
                    airflow_bin,
                    "connections",
                    "import",
                    "--overwrite",
                    str(work / "connections.json"),
                ]
            )
        if pools:
            (work / "pools.json").write_text(json.dumps(pools))
            commands.append([airflow_bin, "pools", "import", str(work / "pools.json")])
        if variables:
            (work / "variables.json").write_text(json.dumps(variables))
            commands.append(
                [
                    airflow_bin,
                    "variables",
                    "import",
                    "-a",
                    "overwrite",
                    str(work / "variables.json"),
                ]
            )
        for cmd in commands:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SettingsError(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip()[-2000:]}")
    return {"connections": len(connections), "pools": len(pools), "variables": len(variables)}
