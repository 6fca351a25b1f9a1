"""Airflow loads this folder's plugins (AIRFLOW__CORE__PLUGINS_FOLDER); Spectra's lives in the
package, so the UI pages and the run-note listener are tested like the rest of it."""

from spectra.airflow.plugin import SpectraPlugin

__all__ = ["SpectraPlugin"]
