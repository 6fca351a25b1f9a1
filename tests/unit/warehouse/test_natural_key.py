"""The upsert keys read from the models' schema (``models.natural_key``)."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from spectra.warehouse import models as m


class _Scratch(DeclarativeBase):
    pass


class _SurrogateOnly(_Scratch):
    __tablename__ = "surrogate_only"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(10))


class _TwoUnique(_Scratch):
    __tablename__ = "two_unique"
    __table_args__ = (UniqueConstraint("a"), UniqueConstraint("b"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    a: Mapped[str] = mapped_column(String(10))
    b: Mapped[str] = mapped_column(String(10))


def test_a_unique_constraint_beats_the_surrogate_primary_key() -> None:
    # A keyword is (ad group, criterion): Google shares criterion ids across ad groups.
    assert m.natural_key(m.Keyword) == ["tenant_id", "customer_id", "ad_group_id", "criterion_id"]


def test_a_composite_primary_key_is_the_key_when_there_is_no_unique_constraint() -> None:
    assert m.natural_key(m.ChangeEvent) == ["tenant_id", "customer_id", "resource_name"]
    assert m.PERFORMANCE_DAILY_KEY == (
        "tenant_id", "customer_id", "level", "entity_id", "ad_group_id", "date",
    )  # fmt: skip


def test_a_table_is_read_like_its_model() -> None:
    # the conflict target of a step's insert: one row per (operation, step)
    assert m.natural_key(m.ApplyOperationStep.__table__) == ["operation_id", "step"]


@pytest.mark.parametrize("model", [_SurrogateOnly, _TwoUnique])
def test_no_single_natural_key_is_refused(model: type) -> None:
    with pytest.raises(TypeError, match="no one natural key"):
        m.natural_key(model)
