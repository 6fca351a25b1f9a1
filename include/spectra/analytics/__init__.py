"""Analytics: conversion-lag completion, seasonality, significance with FDR, change effects,
anomalies and budget allocation — pure functions over pandas DataFrames (no I/O, no Airflow).

The DAG's analyze step calls ``analyze_account``; the modules are usable on their own:
``lag``, ``seasonality``, ``significance``, ``effects``, ``anomalies``, ``allocation``.
"""

from spectra.analytics.config import AnalyticsConfig
from spectra.analytics.engine import AnalysisInputError, AnalysisResult, analyze_account

__all__ = ["AnalysisInputError", "AnalysisResult", "AnalyticsConfig", "analyze_account"]
