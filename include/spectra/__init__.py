"""Spectra: safe, autonomous optimisation of Google Ads accounts, run as Airflow DAGs."""

__version__ = "0.1.0"
