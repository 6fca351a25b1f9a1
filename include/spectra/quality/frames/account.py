"""The account's settings: what this pull reported, and what the gate pinned before."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import Connection

from spectra.quality.checks import ACCOUNTS
from spectra.quality.frames.batch import Batch, with_row
from spectra.warehouse.quality_reads import account_settings, held_payloads, pinned_settings


def account_frame(conn: Connection, batch: Batch) -> pd.DataFrame:
    """One row: the currency and time zone to judge. Sets the batch's expected settings (the
    pinned ones, or these when none are pinned yet) and when they were pinned."""
    currency, time_zone = account_settings(conn, **batch.scope)
    pinned = pinned_settings(conn, **batch.scope)
    batch.settings_pinned = pinned is not None
    if pinned is None:
        batch.expected_currency, batch.expected_time_zone = currency, time_zone
    else:
        batch.expected_currency, batch.expected_time_zone, batch.pinned_on = pinned
    # A change ingest held (the account is not relabelled until a person accepts it) is what
    # this pull reported: judge that, not the pinned label the account kept.
    held = held_payloads(conn, **batch.day_scope, source_tables=[ACCOUNTS])
    if held:
        row = json.loads(held[0])["row"]
        currency = row.get("customer.currency_code", currency)
        time_zone = row.get("customer.time_zone", time_zone)
    return with_row(pd.DataFrame({"currency_code": [currency], "time_zone": [time_zone]}))
