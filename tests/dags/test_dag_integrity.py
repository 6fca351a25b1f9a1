"""Every DAG file imports cleanly, fast, and carries tags, retries and an owner.

One test id per file, so a failure names the file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))


def _bag(path: Path) -> tuple[object, float]:
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(path))
    return bag, time.perf_counter() - started


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_imports_with_tags_retries_owner(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bag, seconds = _bag(path)
    assert not bag.import_errors, bag.import_errors  # type: ignore[attr-defined]
    dags = bag.dags  # type: ignore[attr-defined]
    assert dags, f"{path.name} defines no DAG"
    for dag_id, dag in dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
    with capsys.disabled():
        print(f"\n[parse] {path.name}: {seconds * 1000:.0f} ms for {len(dags)} DAG(s)")


def test_dag_folder_has_no_heavy_top_level_imports() -> None:
    """Heavy libraries are imported inside task bodies, so parsing stays well under a second."""
    heavy = ("great_expectations", "google.ads", "pandas", "statsmodels", "spectra.warehouse")
    for path in DAG_FILES:
        top = [ln for ln in path.read_text().splitlines() if ln.startswith(("import ", "from "))]
        offenders = [ln for ln in top if any(h in ln for h in heavy)]
        assert not offenders, f"{path.name} imports at top level: {offenders}"
