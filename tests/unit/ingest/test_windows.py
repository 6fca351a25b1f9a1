"""The ingest window and its date slices."""

from __future__ import annotations

import datetime as dt

import pytest

from spectra.ingest.daily import date_slices, ingest_window

D = dt.date


def test_slices_cover_the_window_once_in_order() -> None:
    start, end, _ = ingest_window(D(2026, 11, 24), 30)
    slices = date_slices(start, end, 7)
    assert slices[0][0] == start and slices[-1][1] == end
    days = [s + dt.timedelta(days=k) for s, e in slices for k in range((e - s).days + 1)]
    assert days == [start + dt.timedelta(days=k) for k in range(30)]
    assert [(e - s).days + 1 for s, e in slices] == [7, 7, 7, 7, 2]


def test_single_day_and_bad_slice() -> None:
    assert date_slices(D(2026, 1, 1), D(2026, 1, 1), 7) == [(D(2026, 1, 1), D(2026, 1, 1))]
    assert date_slices(D(2026, 1, 2), D(2026, 1, 1), 7) == []
    with pytest.raises(ValueError, match="slice days"):
        date_slices(D(2026, 1, 1), D(2026, 1, 9), 0)
