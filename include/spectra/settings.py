"""Where Spectra keeps its state, resolved the same way by the CLI, Airflow tasks and tests."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def spectra_home() -> Path:
    """SPECTRA_HOME, else the checkout this package was installed from (editable), else cwd."""
    env = os.environ.get("SPECTRA_HOME")
    if env:
        return Path(env).resolve()
    if (_PACKAGE_ROOT / "pyproject.toml").exists():
        return _PACKAGE_ROOT
    return Path.cwd()


def examples_dir() -> Path:
    """The shipped examples (briefs): in the checkout the package was installed from, like
    sql/gaql, so a demo with its own SPECTRA_HOME still finds them."""
    packaged = _PACKAGE_ROOT / "examples"
    return packaged if packaged.is_dir() else spectra_home() / "examples"


def gaql_dir() -> Path:
    """The GAQL query files (sql/gaql in the checkout the package was installed from)."""
    packaged = _PACKAGE_ROOT / "sql" / "gaql"
    return packaged if packaged.is_dir() else spectra_home() / "sql" / "gaql"
