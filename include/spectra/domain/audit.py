"""The audit chain's arithmetic: how a row is hashed and how a chain is checked (pure).

Each tenant's audit rows form one chain: ``row_hash = sha256(prev_hash || canonical(row))`` where
``canonical`` is sorted-key JSON of every recorded field, ``seq`` included. Editing a row breaks
its own hash; removing or reordering rows breaks the next row's link (``prev_hash``) or leaves a
gap in ``seq``; dropping rows at the end is caught against the chain head stored beside it. This
is tamper *evidence* for an append-only log (in the spirit of RFC 6962's hash chaining), not
tamper proofing: whoever can rewrite every row and the head can forge a consistent chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64

# The fields that are hashed, in the order they are documented (the JSON is key-sorted anyway).
HASHED_FIELDS = (
    "tenant_id",
    "seq",
    "recorded_at",
    "actor",
    "action",
    "entity",
    "change_key",
    "before",
    "after",
    "reasoning",
    "evidence_ids",
    "prompt_version",
    "request_id",
    "detail",
)


def _canonical_time(value: Any) -> str:
    if isinstance(value, dt.datetime):
        # SQLite gives naive datetimes back: they were written as UTC.
        aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed for one row."""
    data = {f: row.get(f) for f in HASHED_FIELDS}
    data["recorded_at"] = _canonical_time(data["recorded_at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"|" + canonical(row)).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with a chain, naming the row (``seq``) where it shows."""

    seq: int
    kind: str  # edited | removed | reordered | truncated
    message: str


def verify_chain(
    rows: Iterable[Mapping[str, Any]], *, head_seq: int | None, head_hash: str | None
) -> list[ChainProblem]:
    """Every problem in one tenant's chain; ``rows`` in storage order (by ``seq``).

    ``head_seq``/``head_hash`` are the stored chain head (the last row appended). A row whose
    link points at a row other than its predecessor was moved (reordered); a row whose content
    no longer matches its hash was edited; a gap in ``seq`` is a removal.
    """
    rows = list(rows)
    seq_of_hash = {str(r["row_hash"]): int(r["seq"]) for r in rows}
    problems: list[ChainProblem] = []
    expected_seq = 1
    prev = GENESIS
    for row in rows:
        seq = int(row["seq"])
        link = str(row["prev_hash"])
        if seq > expected_seq:
            missing = str(expected_seq) if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
            problems.append(
                ChainProblem(seq, "removed", f"row(s) {missing} missing before row {seq}")
            )
        linked_to = seq_of_hash.get(link, 0 if link == GENESIS else None)
        moved = linked_to is not None and linked_to != seq - 1
        if row_hash(link, row) != row["row_hash"]:
            if moved:
                problems.append(
                    ChainProblem(
                        seq,
                        "reordered",
                        f"row {seq}: was chained after row {linked_to}, now stands after row "
                        f"{seq - 1} (rows reordered)",
                    )
                )
            else:
                problems.append(
                    ChainProblem(
                        seq, "edited", f"row {seq}: content does not match its hash (edited)"
                    )
                )
        elif link != prev and seq == expected_seq:
            kind = "reordered" if moved else "removed"
            problems.append(
                ChainProblem(
                    seq,
                    kind,
                    f"row {seq}: its link does not match row {seq - 1}'s hash "
                    + (
                        f"(it was chained after row {linked_to})"
                        if moved
                        else "(a row before it was replaced or removed)"
                    ),
                )
            )
        prev = str(row["row_hash"])
        expected_seq = seq + 1
    last_seq = expected_seq - 1
    if head_seq is not None and (head_seq != last_seq or (head_hash or GENESIS) != prev):
        if head_seq > last_seq:
            problems.append(
                ChainProblem(
                    last_seq + 1,
                    "removed",
                    f"chain head is row {head_seq} but the log ends at row {last_seq} "
                    f"(rows {last_seq + 1}..{head_seq} removed)",
                )
            )
        else:
            problems.append(
                ChainProblem(
                    last_seq,
                    "edited",
                    f"chain head (row {head_seq}) does not match the last row {last_seq}",
                )
            )
    return problems


__all__ = ["GENESIS", "HASHED_FIELDS", "ChainProblem", "canonical", "row_hash", "verify_chain"]
