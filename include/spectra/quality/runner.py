"""The validate step: run the suites on one account's freshly loaded window and decide.

``validate_account`` reads the batch back from the warehouse, runs the Great Expectations
suites, classifies every failure by its check's severity and then, in one transaction:
stores every expectation result, quarantines the failing fact rows (warnings), records
tracking-outage days as data exclusions, pins the account's settings and writes the verdict
(pass / warn / block). Data Docs are rebuilt for the day, and warnings and blocks raise an
alert. Re-running a day gives the same rows (see spectra.warehouse.quality_store).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from spectra.domain.windows import ingest_window
from spectra.quality.alerts import QualityAlert, emit
from spectra.quality.checks import INGEST_ONLY, GateStatus, QualityConfig, Severity, check
from spectra.quality.docs import make_context, publish, run_name
from spectra.quality.frames import (
    ACCOUNT,
    PERF_COVERAGE,
    PERF_DAYS,
    PERF_ROWS,
    ST_DAYS,
    ST_ROWS,
    STRUCTURE,
    Batch,
    load_batch,
)
from spectra.quality.suites import ROW_SUITES, ColumnFamily, SuiteSpec, build_suites
from spectra.warehouse import quality_store as store
from spectra.warehouse.db import unit_of_work
from spectra.warehouse.models import utcnow

log = logging.getLogger(__name__)

SAMPLE_ROWS = 5
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["_row"],
    "return_unexpected_index_query": False,
}


@dataclass
class ExpectationOutcome:
    """One expectation's result, as the gate and the warehouse see it."""

    suite: str
    key: str
    expectation_type: str
    column: str | None
    severity: Severity
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    element_count: int | None = None
    missing_count: int | None = None  # rows without a value: not judged by the expectation
    rows: list[int] = field(default_factory=list)  # ``_row`` of the failing rows
    sample: list[Any] = field(default_factory=list)
    error: str | None = None
    reason: str = ""


@dataclass
class GateOutcome:
    """The verdict for one account and day, with the reasons behind it."""

    tenant_id: str
    customer_id: int
    logical_date: dt.date
    run_id: str
    status: GateStatus
    blocking: list[str]
    warnings: list[str]
    rows_validated: int
    quarantined_rows: int
    excluded_days: list[str]
    data_docs_path: str
    seconds: float = 0.0
    expectations: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def passed_gate(self) -> bool:
        """Downstream may read this account's data today (pass or warn)."""
        return self.status is not GateStatus.BLOCK

    def as_dict(self) -> dict[str, Any]:
        """Ids, counts and reasons only: this goes to XCom and the task log."""
        return {
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "logical_date": self.logical_date.isoformat(),
            "run_id": self.run_id,
            "status": self.status.value,
            "blocking": self.blocking,
            "warnings": self.warnings,
            "rows_validated": self.rows_validated,
            "quarantined_rows": self.quarantined_rows,
            "excluded_days": self.excluded_days,
            "data_docs_path": self.data_docs_path,
            "seconds": round(self.seconds, 3),
        }


def validate_account(
    engine: Engine,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    repull_days: int = 30,
    config: QualityConfig | None = None,
    dag_run_id: str | None = None,
    data_docs: bool = True,
) -> GateOutcome:
    """Validate the account's window for ``logical_date`` and record the verdict.

    The window is the one ingest re-pulled for that day (``ingest_window``). Returns the
    outcome; never raises for bad data (that is what the verdict is for), only for
    infrastructure errors, which the task's retries handle.
    """
    started = time.perf_counter()
    config = config or QualityConfig()
    window_start, _, as_of = ingest_window(logical_date, repull_days)
    with engine.connect() as conn:
        batch = load_batch(
            conn,
            tenant_id=tenant_id,
            customer_id=customer_id,
            logical_date=logical_date,
            window_start=window_start,
            as_of=as_of,
            config=config,
        )
    context = make_context(config)
    results, outcomes = judge(context, batch, config)
    run = run_name(tenant_id, customer_id, logical_date)
    status = status_of(outcomes)
    docs_path = (
        publish(
            context,
            results,
            run=run,
            logical_date=logical_date,
            config=config,
            verdict=_docs_verdict(run, tenant_id, customer_id, logical_date, status, outcomes),
        )
        if data_docs
        else None
    )
    quarantine = _quarantine_rows(batch, outcomes)
    exclusions = _exclusion_rows(batch, outcomes)
    outcome = GateOutcome(
        tenant_id=tenant_id,
        customer_id=customer_id,
        logical_date=logical_date,
        run_id=run,
        status=status,
        blocking=[o.reason for o in outcomes if not o.success and o.severity is Severity.BLOCK],
        warnings=[o.reason for o in outcomes if not o.success and o.severity is Severity.WARN],
        rows_validated=batch.rows_validated,
        quarantined_rows=_held_rows(batch)
        + len({(r["source_table"], r["row_fingerprint"]) for r in quarantine}),
        excluded_days=sorted({r["date"].isoformat() for r in exclusions}),
        data_docs_path=str(docs_path) if docs_path else "",
        expectations=outcomes,
    )
    # A writer's unit of work: on SQLite it takes the write lock up front (BEGIN IMMEDIATE), so
    # parallel validate tasks queue on the busy timeout instead of failing half-way.
    with unit_of_work(engine) as uow:
        conn = uow.connection
        for write, rows in (
            (store.write_results, _result_rows(outcome)),
            (store.write_quarantine, quarantine),
            (store.write_exclusions, exclusions),
        ):
            write(
                conn,
                rows,
                tenant_id=tenant_id,
                customer_id=customer_id,
                logical_date=logical_date,
            )
        if not batch.settings_pinned:
            settings = batch.frames["account_settings"].iloc[0]
            store.pin_account_settings(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                currency_code=str(settings["currency_code"]),
                time_zone=str(settings["time_zone"]),
                logical_date=logical_date,
            )
        store.write_run(conn, _run_row(outcome, dag_run_id))
        uow.commit()
    outcome.seconds = time.perf_counter() - started
    if status is not GateStatus.PASS:
        emit(
            QualityAlert(
                tenant_id=tenant_id,
                customer_id=customer_id,
                logical_date=logical_date,
                status=status.value,
                reasons=outcome.blocking + outcome.warnings,
                data_docs_path=outcome.data_docs_path,
            )
        )
    log.info(
        "quality gate %s/%s %s: %s (%d rows, %d quarantined, %.2f s)",
        tenant_id,
        customer_id,
        logical_date,
        status.value,
        outcome.rows_validated,
        outcome.quarantined_rows,
        outcome.seconds,
    )
    return outcome


def judge(
    context: Any, batch: Batch, config: QualityConfig
) -> tuple[list[tuple[str, Any]], list[ExpectationOutcome]]:
    """Run the suites on ``batch`` in ``context`` and classify: GX's results per suite (for
    Data Docs) and every outcome with its reason, the screen's unreported findings included.

    Pure of storage: the gate's verdict is :func:`status_of` the outcomes.
    """
    specs = {spec.name: spec for spec in build_suites(batch, config)}
    results = _run_suites(context, batch, list(specs.values()))
    outcomes = [
        o
        for name, suite_result in results
        for o in _outcomes(suite_result, specs[name], batch.frames[name])
    ]
    for o in outcomes:
        o.reason = describe(o, batch)
    return results, outcomes + screen_outcomes(batch, outcomes)


SCREEN_SUITE = "ingest_screen"


def screen_outcomes(batch: Batch, outcomes: list[ExpectationOutcome]) -> list[ExpectationOutcome]:
    """Failures ingest's screen recorded that no suite re-judges (bounds, text, account
    settings held, days lost in a re-pull), as outcomes with the screen's own reasons.

    A held row sits in the batch, so most checks fail again in the suites; a check the
    suites did not fail is reported from the screen's entries instead, so nothing the screen
    held or found passes unreported. The lag histogram's checks stay unreported by design
    (``INGEST_ONLY``: a held cell never changes the verdict).
    """
    failed = {o.key for o in outcomes if not o.success}
    by_key: dict[str, list[str]] = {}
    for key, _severity, reason in batch.ingest_entries:
        if key in failed or check(key).name in INGEST_ONLY:
            continue
        by_key.setdefault(key, []).append(reason)
    out = []
    for key, reasons in by_key.items():
        severity = check(key).severity
        shown = "; ".join(reasons[:3])
        more = f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else ""
        out.append(
            ExpectationOutcome(
                suite=SCREEN_SUITE,
                key=key,
                expectation_type="spectra_ingest_screen",
                column=key.split(":", 1)[1] if ":" in key else None,
                severity=severity,
                success=False,
                unexpected_count=len(reasons),
                reason=f"{key} [{severity.value}]: {len(reasons)} at ingest: {shown}{more}",
            )
        )
    return out


# --------------------------------------------------------------------------- running


def _run_suites(context: Any, batch: Batch, specs: list[SuiteSpec]) -> list[tuple[str, Any]]:
    import great_expectations as gx

    # The datasource with every frame's asset and batch definition in one add: GX saves
    # (serialises) the whole project config on each add, and 15 adds cost ~70 ms a run.
    source = context.data_sources.add_pandas(
        name="spectra_warehouse",
        assets=[
            {"name": spec.name, "type": "dataframe", "batch_definitions": [{"name": "batch"}]}
            for spec in specs
        ],
    )
    results = []
    for spec in specs:
        definition = source.get_asset(spec.name).get_batch_definition("batch")
        # One add with all expectations: add_expectation() re-saves the suite each time.
        suite = context.suites.add(
            gx.ExpectationSuite(name=spec.name, expectations=[e for _, e in spec.expectations])
        )
        frame = spec.frame_for(batch.frames[spec.name])
        gx_batch = definition.get_batch(batch_parameters={"dataframe": frame})
        results.append((spec.name, gx_batch.validate(suite, result_format=_RESULT_FORMAT)))
    return results


def _outcomes(suite_result: Any, spec: SuiteSpec, frame: pd.DataFrame) -> list[ExpectationOutcome]:
    suite_name = suite_result.suite_name
    out = []
    for r in suite_result.results:
        config = r.expectation_config
        key = config.meta["check"]
        result = r.result or {}
        error = None
        info = r.exception_info or {}
        if info.get("raised_exception"):
            error = str(info.get("exception_message") or "expectation raised")
        index_rows = result.get("unexpected_index_list") or []
        if key in spec.families:
            out += _family_outcomes(
                spec.families[key], suite_name, config.type, result, error, frame
            )
            continue
        out.append(
            ExpectationOutcome(
                suite=suite_name,
                key=key,
                expectation_type=config.type,
                column=config.kwargs.get("column"),
                severity=check(key).severity,
                # An expectation that errored is a failure: the data was not proven sound.
                success=bool(r.success) and error is None,
                observed=_plain(result.get("observed_value")),
                unexpected_count=_int_or_none(result.get("unexpected_count")),
                element_count=_int_or_none(result.get("element_count")),
                missing_count=_int_or_none(result.get("missing_count")),
                rows=[int(d["_row"]) for d in index_rows if isinstance(d, dict) and "_row" in d],
                sample=_plain(result.get("partial_unexpected_list") or [])[:SAMPLE_ROWS],
                error=error,
            )
        )
    return out


def _family_outcomes(
    family: ColumnFamily,
    suite_name: str,
    expectation_type: str,
    result: dict[str, Any],
    error: str | None,
    frame: pd.DataFrame,
) -> list[ExpectationOutcome]:
    """One outcome per column of a family's expectation: the rows whose flags have the
    column's bit, as a column-by-column expectation would have reported them."""
    flagged = [
        (int(d["_row"]), int(d[family.flag_column]))
        for d in result.get("unexpected_index_list") or []
        if isinstance(d, dict) and "_row" in d
    ]
    out = []
    for bit, column in enumerate(family.columns):
        rows = [row for row, flags in flagged if flags >> bit & 1]
        values = frame[column].iloc[rows[:SAMPLE_ROWS]].tolist()  # ``_row`` is the position
        key = check(family.check).key(column)
        out.append(
            ExpectationOutcome(
                suite=suite_name,
                key=key,
                expectation_type=expectation_type,
                column=column,
                severity=check(key).severity,
                success=not rows and error is None,
                unexpected_count=len(rows),
                element_count=_int_or_none(result.get("element_count")),
                missing_count=family.missing(frame, column),
                rows=rows,
                sample=[None if pd.isna(v) else _plain(v) for v in values],
                error=error,
            )
        )
    return out


def status_of(outcomes: list[ExpectationOutcome]) -> GateStatus:
    """The verdict: block if a blocking check failed, else warn if a warning did, else pass."""
    failed = {o.severity for o in outcomes if not o.success}
    if Severity.BLOCK in failed:
        return GateStatus.BLOCK
    if Severity.WARN in failed:
        return GateStatus.WARN
    return GateStatus.PASS


# --------------------------------------------------------------------------- reasons


def describe(o: ExpectationOutcome, batch: Batch) -> str:
    """A one-line, human reason for a failed expectation (empty when it passed)."""
    if o.success:
        return ""
    head = f"{o.key} [{o.severity.value}]"
    if o.error:
        return f"{head}: the expectation errored ({o.error})"
    if o.suite == ACCOUNT:
        return f"{head}: {_settings_change(o, batch)}"
    frame = batch.frames.get(o.suite)
    if o.rows and frame is not None:
        shown = "; ".join(_describe_row(frame.iloc[i], o) for i in o.rows[:3])
        more = f" (+{len(o.rows) - 3} more)" if len(o.rows) > 3 else ""
        return f"{head}: {len(o.rows)} of {_judged(o, len(frame))}: {shown}{more}"
    if o.key.endswith(".fresh"):
        return f"{head}: newest day is {o.observed or 'none'}, expected {batch.logical_date}"
    if o.observed is not None:
        return f"{head}: observed {o.observed}"
    return f"{head}: {o.unexpected_count or 0} unexpected values"


def _settings_change(o: ExpectationOutcome, batch: Batch) -> str:
    """What the account reports, what was pinned, and how to accept a real change."""
    from spectra.quality.screen import accept_command

    column, what, expected = (
        ("currency_code", "currency", batch.expected_currency)
        if o.key == "account.currency_expected"
        else ("time_zone", "time zone", batch.expected_time_zone)
    )
    reported = batch.frames[ACCOUNT][column].iloc[0]
    return (
        f"the account reports {what} {reported!r}, pinned {expected} on {batch.pinned_on}; "
        f"the change is held (the account and its history stay {expected}); if it is real, "
        f"accept it with `{accept_command(batch.tenant_id, batch.customer_id)}`"
    )


def _judged(o: ExpectationOutcome, frame_rows: int) -> str:
    """The rows an expectation judged: rows without a value are not counted against it."""
    unit = "days" if o.suite in (PERF_DAYS, ST_DAYS) else "rows"
    total = o.element_count if o.element_count is not None else frame_rows
    missing = o.missing_count or 0
    if not missing:
        return f"{total} {unit}"
    return f"{total - missing} {unit} judged ({missing} of {total} without a value to judge)"


def _docs_verdict(
    run: str,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    status: GateStatus,
    outcomes: list[ExpectationOutcome],
) -> dict[str, Any]:
    """What Data Docs say next to GX's pages: Spectra's verdict and each check's counts."""
    failed = [o for o in outcomes if not o.success]
    return {
        "run": run,
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "account": f"{tenant_id}/{customer_id}",
        "logical_date": logical_date.isoformat(),
        "status": status.value,
        "blocking": [o.reason for o in failed if o.severity is Severity.BLOCK],
        "warnings": [o.reason for o in failed if o.severity is Severity.WARN],
        "expectations": [
            {
                "suite": o.suite,
                "key": o.key,
                "severity": o.severity.value,
                "success": o.success,
                "unexpected": o.unexpected_count,
                "judged": None
                if o.element_count is None
                else o.element_count - (o.missing_count or 0),
                "rows": o.element_count,
                "reason": o.reason,
            }
            for o in outcomes
        ],
    }


def _describe_row(row: pd.Series, o: ExpectationOutcome) -> str:
    """One failing row in words: which entity (or day) and the values that failed."""
    day = row.get("date")
    day_text = day.date().isoformat() if isinstance(day, pd.Timestamp) else str(day)
    base = o.key.split(":", 1)[0]
    columns = (o.column,) if o.column else _DETAIL.get(base.split(".", 1)[1], ())
    values = ", ".join(f"{c}={_fmt(row.get(c))}" for c in columns if c in row)
    if o.suite == PERF_ROWS:
        who = f"{row['level']} {_fmt(row['entity_id'])} on {day_text}"
        if row.get("level") == "keyword":
            who = (
                f"keyword {_fmt(row['entity_id'])} (ad group {_fmt(row.get('ad_group_id'))}) "
                f"on {day_text}"
            )
    elif o.suite == ST_ROWS:
        who = f"term {row['search_term']!r} (ad group {_fmt(row['ad_group_id'])}) on {day_text}"
    elif o.suite == PERF_COVERAGE:
        return f"{row['level']} {_fmt(row['entity_id'])} has no rows on {day_text}"
    elif o.suite in (PERF_DAYS, ST_DAYS):
        who = day_text
    elif o.suite == STRUCTURE:
        who = f"{row['level']} {_fmt(row['entity_id'])} (parent {_fmt(row['parent_id'])})"
    else:
        return values
    return f"{who} ({values})" if values else who


# Columns worth showing for a failing row, by check (without its table prefix).
_DETAIL = {
    "clicks_le_impressions": ("clicks", "impressions"),
    "ctr_plausible": ("ctr", "clicks", "impressions"),
    "cpc_plausible": ("cpc_micros", "cost_micros", "clicks"),
    "cvr_plausible": ("cvr", "conversions", "clicks"),
    "tracking_ok": ("clicks", "conversions", "expected_conversions"),
    "row_count_stable": ("rows", "trailing_median_rows"),
    "keys_unique": ("key", "reported_as_of"),
}


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "NaN"
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- rows to store


def _result_rows(outcome: GateOutcome) -> list[dict[str, Any]]:
    rows = []
    for o in outcome.expectations:
        observed = o.observed
        if observed is None and o.unexpected_count is not None:
            observed = {"unexpected_count": o.unexpected_count, "element_count": o.element_count}
        rows.append(
            {
                "tenant_id": outcome.tenant_id,
                "customer_id": outcome.customer_id,
                "logical_date": outcome.logical_date,
                "run_id": outcome.run_id,
                "suite": o.suite,
                "expectation": o.key,
                "expectation_type": o.expectation_type,
                "column_name": o.column,
                "severity": o.severity.value,
                "success": o.success,
                "observed_value": None if observed is None else _dumps(observed),
                "unexpected_count": o.unexpected_count,
                "element_count": o.element_count,
                "unexpected_sample": _plain(o.sample),
                "validated_at": utcnow(),
            }
        )
    return rows


def _run_row(outcome: GateOutcome, dag_run_id: str | None) -> dict[str, Any]:
    return {
        "tenant_id": outcome.tenant_id,
        "customer_id": outcome.customer_id,
        "logical_date": outcome.logical_date,
        "run_id": outcome.run_id,
        "status": outcome.status.value,
        "blocking": outcome.blocking,
        "warnings": outcome.warnings,
        "rows_validated": outcome.rows_validated,
        "quarantined_rows": outcome.quarantined_rows,
        "excluded_days": outcome.excluded_days,
        "data_docs_path": outcome.data_docs_path,
        "dag_run_id": dag_run_id,
        "validated_at": utcnow(),
    }


_ROW_COLUMNS = {
    "performance_daily": ["level", "entity_id", "campaign_id", "ad_group_id", "date"],
    "search_terms_daily": ["search_term", "campaign_id", "ad_group_id", "date"],
}


def _quarantine_rows(batch: Batch, outcomes: list[ExpectationOutcome]) -> list[dict[str, Any]]:
    """Validate-stage entries for stored fact rows that failed a row-level expectation.

    Rows ingest held back are already in quarantine (stage ``ingest``) and are skipped.
    """
    out = []
    for o in outcomes:
        table = ROW_SUITES.get(o.suite)
        if o.success or table is None or not o.rows:
            continue
        frame = batch.frames[o.suite]
        picked = frame.iloc[o.rows]
        picked = picked[picked["_origin"] == "warehouse"]
        for _, row in picked.iterrows():
            identity = {c: _identity_value(c, row.get(c)) for c in _ROW_COLUMNS[table]}
            identity["date"] = row["date"].date().isoformat()
            identity["reported_as_of"] = _as_iso(row["reported_as_of"])
            payload = json.dumps(
                {"table": table, "row": {**identity, **_metrics(row)}}, sort_keys=True
            )
            fingerprint = hashlib.sha1(
                json.dumps([table, identity], sort_keys=True).encode()
            ).hexdigest()
            out.append(
                {
                    "tenant_id": batch.tenant_id,
                    "customer_id": batch.customer_id,
                    "source_table": table,
                    "source_query": "",
                    "stage": "validate",
                    "logical_date": batch.logical_date,
                    "reported_as_of": dt.date.fromisoformat(identity["reported_as_of"]),
                    "check_name": o.key,
                    "severity": o.severity.value,
                    "reason": _describe_row(row, o),
                    "date": row["date"].date(),
                    "level": identity.get("level"),
                    "entity_id": identity.get("entity_id"),
                    "ad_group_id": identity.get("ad_group_id"),
                    "search_term": identity.get("search_term"),
                    "row_fingerprint": fingerprint,
                    "payload": payload,
                    "active": True,
                    "resolved_at": None,
                }
            )
    return out


def _identity_value(column: str, value: Any) -> Any:
    """Key values as the warehouse types them (pandas holds nullable ids as floats)."""
    value = _plain(value)
    if column.endswith("_id") and value is not None:
        return int(value)
    return value


def _held_rows(batch: Batch) -> int:
    """Rows ingest held back for this day (they never reached the fact tables)."""
    return sum(int((batch.frames[name]["_origin"] == "ingest").sum()) for name in ROW_SUITES)


def _metrics(row: pd.Series) -> dict[str, Any]:
    names = ["impressions", "clicks", "cost_micros", "conversions", "conversions_value_micros"]
    return {n: _plain(row.get(n)) for n in names}


def _exclusion_rows(batch: Batch, outcomes: list[ExpectationOutcome]) -> list[dict[str, Any]]:
    """Tracking-outage days become data exclusions (the optimizer must not learn from them)."""
    failed = [o for o in outcomes if o.key == "perf.tracking_ok" and not o.success and o.rows]
    if not failed:
        return []
    days = batch.frames[PERF_DAYS].iloc[failed[0].rows]
    out = []
    for _, day in days.iterrows():
        expected = float(day["expected_conversions"])
        conversions = float(day["conversions"])
        out.append(
            {
                "tenant_id": batch.tenant_id,
                "customer_id": batch.customer_id,
                "kind": "tracking_outage",
                "date": day["date"].date(),
                "logical_date": batch.logical_date,
                "reason": (
                    f"{conversions:.1f} conversions where {expected:.1f} were due "
                    f"with {int(day['clicks'])} clicks: conversion tracking, not demand"
                ),
                "clicks": int(day["clicks"]),
                "conversions": round(conversions, 6),
                "expected_conversions": round(expected, 6),
                "active": True,
                "resolved_at": None,
            }
        )
    return out


# --------------------------------------------------------------------------- helpers


def _plain(value: Any) -> Any:
    """Numpy/pandas values → JSON-able Python values (NaN → None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _dumps(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, default=str)


def _as_iso(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
