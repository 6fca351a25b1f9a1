"""The data-quality gate: Great Expectations suites, quarantine, data exclusions, Data Docs.

Every day's pull is validated before anything downstream may read it:

- ``spectra.quality.screen``: ingest's hook; rows the API got wrong are quarantined, not
  written (and never silently dropped);
- ``spectra.quality.runner.validate_account``: the validate step (suites → verdict → stored
  results, quarantine, data exclusions, Data Docs, alert);
- ``spectra.quality.frames``: the batch the suites validate, read back from the warehouse;
- ``spectra.quality.report``: the per-day, per-account pass / warn / block report;
- ``spectra.quality.settings``: a person accepts a held currency / time zone change.

Its SQL lives in the warehouse: ``quality_reads`` (what the gate reads), ``quality_store``
(what it writes) and ``clean_views`` (the fact tables minus quarantined rows and excluded
days: what analytics reads).

This package root stays light (no pandas, no Great Expectations): ingest imports from it.
"""

from __future__ import annotations

from spectra.quality.checks import CHECKS, GateStatus, QualityConfig, Severity
from spectra.quality.docs import data_docs_dir, data_docs_index

__all__ = [
    "CHECKS",
    "GateStatus",
    "QualityConfig",
    "Severity",
    "data_docs_dir",
    "data_docs_index",
]
