"""The account's structure as one frame of entities, with the rows ingest held back in place."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from spectra.quality.checks import STRUCTURE_TABLES
from spectra.quality.frames.batch import Batch, records_frame, with_row
from spectra.quality.screen import warehouse_row
from spectra.warehouse.quality_reads import STRUCTURE_COLUMNS, held_payloads, stored_structure

_NUMERIC = STRUCTURE_COLUMNS  # every structure column is numeric


def structure_frame(conn: Connection, batch: Batch) -> pd.DataFrame:
    """Campaigns, ad groups, keywords and ads of the account as one frame of entities.

    ``key`` is each entity's warehouse key as text (keywords and ads are keyed within their
    ad group); ``parent_known`` says whether the parent entity is there too. Rows ingest held
    back today replace stored rows of the same key, as for the facts.
    """
    parts = []
    for level, rows in stored_structure(conn, **batch.scope).items():
        frame = records_frame(rows, list(STRUCTURE_COLUMNS))
        frame["level"], frame["_origin"] = level, "warehouse"
        parts.append(frame)
    held_rows = []
    for payload in held_payloads(conn, **batch.day_scope, source_tables=STRUCTURE_TABLES):
        data = json.loads(payload)
        row = warehouse_row(data["query"], data["row"])
        if row["level"] == "campaign":
            row["parent_id"] = batch.customer_id
        held_rows.append({**row, "_origin": "ingest"})
    present = [p for p in parts if len(p)]
    frame = pd.concat(present, ignore_index=True) if present else parts[0]
    for column in _NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["key"] = structure_keys(frame)
    if held_rows:
        held = pd.DataFrame(held_rows)
        for column in _NUMERIC:
            held[column] = pd.to_numeric(held.get(column), errors="coerce")
        held["key"] = structure_keys(held)
        frame = frame[~frame["key"].isin(set(held["key"].dropna()))]
        frame = pd.concat([frame, held[frame.columns]], ignore_index=True)
    campaigns = set(frame.loc[frame["level"] == "campaign", "entity_id"].dropna())
    ad_groups = set(frame.loc[frame["level"] == "ad_group", "entity_id"].dropna())
    parents = {"ad_group": campaigns, "keyword": ad_groups, "ad": ad_groups}
    frame["parent_known"] = [
        level == "campaign" or pid in parents.get(level, ())
        for level, pid in zip(frame["level"], frame["parent_id"], strict=True)
    ]
    return with_row(frame)


def structure_keys(frame: pd.DataFrame) -> pd.Series:
    """The warehouse key of each entity as text (None when an id is missing)."""

    def key(level: str, entity: Any, parent: Any) -> str | None:
        if pd.isna(entity) or (level in ("keyword", "ad") and pd.isna(parent)):
            return None
        if level in ("keyword", "ad"):
            return f"{level}:{int(parent)}:{int(entity)}"
        return f"{level}:{int(entity)}"

    return pd.Series(
        [key(*v) for v in zip(frame["level"], frame["entity_id"], frame["parent_id"], strict=True)],
        index=frame.index,
        dtype=object,
    )
