"""Warehouse tables (SQLAlchemy 2). The same models run on SQLite and PostgreSQL.

Invariants every table keeps:
- every row that belongs to a customer carries ``tenant_id`` and every query filters on it;
- money is integer micros (``*_micros``), never floats, in the account's currency; every amount
  sent to Google is a multiple of the currency's billable unit (``ad_accounts``);
- a fact row's ``date`` is the account's own calendar day (``segments.date`` is in the
  account's time zone, ``ad_accounts.time_zone``), not a UTC day; ``logical_date`` is the
  pipeline run's day; timestamps are timezone-aware UTC;
- natural keys are unique constraints, so ingest can upsert and re-runs converge.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from spectra.domain.campaign_state import CampaignState

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CAMPAIGN_STATES = tuple(s.value for s in CampaignState)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    # Every model here maps a Table (none maps a join or a select): typed so, the stores' and
    # services' ``Model.__table__.insert()`` and ``bulk_upsert(conn, Model.__table__)`` check
    # (the declaration SQLAlchemy's maintainers recommend for this case, sqlalchemy#9130).
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def natural_key(model: type[Base] | Table) -> list[str]:
    """The columns a model's (or table's) rows are upserted by, read from its schema (never
    written out a second time): its one unique constraint, or else its primary key when that is
    the natural key (not a lone surrogate ``id``). Also the conflict target of its inserts."""
    table = model if isinstance(model, Table) else model.__table__
    unique = [
        [c.name for c in constraint.columns]
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    if len(unique) == 1:
        return unique[0]
    primary = [c.name for c in table.primary_key.columns]
    if not unique and primary and primary != ["id"]:
        return primary
    raise TypeError(
        f"{table.name} has {len(unique)} unique constraints and primary key {primary}: "
        "no one natural key"
    )


class Tenant(Base):
    """A customer of the platform; owns ad accounts and everything under them."""

    __tablename__ = "tenants"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdAccount(Base):
    """A Google Ads customer id registered to one tenant."""

    __tablename__ = "ad_accounts"
    __table_args__ = (UniqueConstraint("customer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    descriptive_name: Mapped[str] = mapped_column(String(255), default="")
    currency_code: Mapped[str] = mapped_column(String(3), default="USD")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The smallest amount Google bills in the account's currency (currency_constant): budgets
    # and bids must be multiples of it (10 000 micros for USD, 1 000 000 for JPY). Pulled by
    # ingest; None until the first pull.
    billable_unit_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Campaign(Base):
    """A campaign: Google's serving status plus Spectra's own lifecycle state."""

    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id", "campaign_id"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in CAMPAIGN_STATES) + ")",
            name="status_valid",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default=CampaignState.DRAFT.value)
    serving_status: Mapped[str] = mapped_column(String(32), default="UNKNOWN")
    advertising_channel_type: Mapped[str] = mapped_column(String(32), default="SEARCH")
    bidding_strategy_type: Mapped[str] = mapped_column(String(32), default="MANUAL_CPC")
    # the Smart Bidding target Google has set (None for manual CPC, or a Maximize strategy
    # without one): target CPA in micros, target ROAS as conversion value per unit of cost
    target_cpa_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    target_roas: Mapped[float | None] = mapped_column(Float, nullable=True)
    budget_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    max_daily_spend_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    total_spend_limit_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # the flight (the total spend limit is projected over its remaining days)
    flight_start: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    flight_end: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    # why the campaign is in its state, when it is FAILED (set by the apply executor)
    status_reason: Mapped[str] = mapped_column(Text, default="")


class CampaignVersion(Base):
    """An immutable snapshot of a campaign's settings; rollback re-applies one."""

    __tablename__ = "campaign_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id", "campaign_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdGroup(Base):
    __tablename__ = "ad_groups"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id", "ad_group_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    ad_group_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    serving_status: Mapped[str] = mapped_column(String(32))
    cpc_bid_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class Keyword(Base):
    """A keyword criterion (positive or negative) with its latest quality-score snapshot."""

    __tablename__ = "keywords"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id", "ad_group_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    ad_group_id: Mapped[int] = mapped_column(BigInteger)
    criterion_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(String(255))
    match_type: Mapped[str] = mapped_column(String(16))
    serving_status: Mapped[str] = mapped_column(String(32))
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    cpc_bid_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    quality_score: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Ad(Base):
    """A responsive search ad with its policy approval status."""

    __tablename__ = "ads"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id", "ad_group_id", "ad_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    ad_group_id: Mapped[int] = mapped_column(BigInteger)
    ad_id: Mapped[int] = mapped_column(BigInteger)
    ad_type: Mapped[str] = mapped_column(String(48))
    serving_status: Mapped[str] = mapped_column(String(32))
    approval_status: Mapped[str] = mapped_column(String(32), default="UNKNOWN")
    headlines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    descriptions: Mapped[list[Any]] = mapped_column(JSON, default=list)


class PerformanceDaily(Base):
    """One day of metrics for one entity (campaign, ad group or keyword).

    A keyword is (ad group, criterion): Google gives the same keyword text and match type one
    ``criterion_id`` in every ad group, so ``entity_id`` (the criterion id) alone is not a key.
    ``ad_group_id`` is part of the key on every level: the ad group itself on ad-group rows,
    ``0`` on campaign rows (Google ids are never 0). ``date`` is the account's own day.

    Google sends no row for an entity on a day it had no impressions: a missing row is zero,
    not a lost row (the quality gate tells the two apart). The newest day of a pull can be
    partial (the day had not ended in the account's time zone, plus Google's reporting delay,
    when it was pulled): ``ingest_runs.complete_through`` says which days were complete, and
    a later pull replaces the partial row.

    ``reported_as_of`` is the day the numbers were pulled: Google restates conversions for
    weeks, and an upsert only overwrites a row with numbers at least as fresh, so re-running
    an old day never regresses newer data.

    The natural key is the primary key and, on SQLite, the table is clustered on it (WITHOUT
    ROWID): every ingest upserts hundreds of thousands of these rows, and each extra index (a
    surrogate id, a second date index) cost about a third more write time, measured. Readers
    go by (tenant, account, level[, entity[, ad group]]) then date, which the key's order serves.
    """

    __tablename__ = "performance_daily"
    __table_args__ = ({"sqlite_with_rowid": False},)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    level: Mapped[str] = mapped_column(String(16), primary_key=True)  # campaign|ad_group|keyword
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ad_group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0 on campaign rows
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[float] = mapped_column(Float, default=0.0)
    conversions_value_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    search_impression_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    search_budget_lost_impression_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    search_rank_lost_impression_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    reported_as_of: Mapped[dt.date] = mapped_column(Date)


# The natural key ingest upserts performance rows by (the table's primary key).
PERFORMANCE_DAILY_KEY: tuple[str, ...] = tuple(natural_key(PerformanceDaily))


class SearchTermDaily(Base):
    """One day of metrics for one search term that triggered an ad group's ads.

    Keyed and clustered like :class:`PerformanceDaily`, for the same reason.
    """

    __tablename__ = "search_terms_daily"
    __table_args__ = ({"sqlite_with_rowid": False},)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ad_group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    search_term: Mapped[str] = mapped_column(String(512), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    term_status: Mapped[str] = mapped_column(String(32), default="NONE")
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[float] = mapped_column(Float, default=0.0)
    conversions_value_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    reported_as_of: Mapped[dt.date] = mapped_column(Date)


class ConversionLagBucket(Base):
    """A campaign's conversions by days from click to conversion, as one run pulled them.

    One histogram per (account, logical day) run over mature click days ``date_from`` ..
    ``date_to`` as Google reported them on ``reported_as_of``; analytics reads the latest one
    to complete recent days before the account has a week of lag snapshots. Keyed by the run
    (``pulled_for``), so re-running a day rewrites that day's histogram and nothing else.
    """

    __tablename__ = "conversion_lag_buckets"
    __table_args__ = ({"sqlite_with_rowid": False},)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pulled_for: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # the run's logical date
    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    conversion_lag_bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    date_from: Mapped[dt.date] = mapped_column(Date)
    date_to: Mapped[dt.date] = mapped_column(Date)
    reported_as_of: Mapped[dt.date] = mapped_column(Date)
    conversions: Mapped[float] = mapped_column(Float, default=0.0)
    conversions_value_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class CampaignAdSchedule(Base):
    """One ad schedule of a campaign (``campaign_criterion`` of type AD_SCHEDULE), as pulled.

    A campaign with schedules serves only inside them (hours in the account's time zone), so
    a day outside every schedule has no rows because Google had nothing to report: the quality
    gate reads these to tell such a day from a lost one. Replaced per account by every pull.
    """

    __tablename__ = "campaign_ad_schedules"
    __table_args__ = ({"sqlite_with_rowid": False},)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    criterion_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day_of_week: Mapped[str] = mapped_column(String(16))  # MONDAY .. SUNDAY
    start_hour: Mapped[int] = mapped_column(Integer)  # 0..23
    start_minute: Mapped[int] = mapped_column(Integer, default=0)  # 0, 15, 30, 45
    end_hour: Mapped[int] = mapped_column(Integer)  # 0..24
    end_minute: Mapped[int] = mapped_column(Integer, default=0)


class ChangeEvent(Base):
    """One change Google recorded to an entity of the account (``change_event``), as pulled.

    Google keeps change events for 30 days (the re-pull window) and ingest upserts the
    window's every run. ``changed_at`` is UTC (Google reports account-local times; ingest
    converts). ``old_values``/``new_values`` hold the changed fields' values, e.g.
    ``{"status": "PAUSED"}``: the quality gate reads campaign status changes to tell a day a
    campaign was paused (Google has nothing to report) from a day the pull lost.
    """

    __tablename__ = "change_events"
    __table_args__ = (
        Index("ix_change_events_account_time", "tenant_id", "customer_id", "changed_at"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    resource_name: Mapped[str] = mapped_column(String(255), primary_key=True)  # the event's
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resource_type: Mapped[str] = mapped_column(String(48))  # CAMPAIGN, AD_GROUP, ...
    change_resource_name: Mapped[str] = mapped_column(String(255))  # the changed entity
    operation: Mapped[str] = mapped_column(String(16))  # CREATE | UPDATE | REMOVE
    client_type: Mapped[str] = mapped_column(String(48), default="")
    user_email: Mapped[str] = mapped_column(String(255), default="")
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ad_group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    changed_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    old_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    new_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IngestRun(Base):
    """Bookkeeping for one (account, logical day) ingest; re-runs update the same row.

    ``pulled_at`` is the instant the pull saw Google's data as of (UTC; in the sandbox, the
    clock the request sent); ``complete_through`` is the newest account-local day that had
    ended there, plus Google's reporting delay, at that instant. Rows dated after it were
    partial when pulled: analytics and the quality gate judge only days up to it.
    """

    __tablename__ = "ingest_runs"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id", "logical_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    rows_by_table: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")
    pulled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    complete_through: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # status "failed": the pull that gave up (query, "date_from..date_to"), its attempts and
    # the last error; None on a run that succeeded (a later success clears them)
    failed_query: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failed_slice: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


# =========================================================================== data quality
# Tables of the quality gate (spectra.quality, issue 5). Appended as one block so the gate's
# schema reads in one place; every row belongs to a tenant. Statuses and severities are
# plain strings checked by constraints (pass|warn|block, block|warn).

QUALITY_STATUSES = ("pass", "warn", "block")
QUALITY_SEVERITIES = ("block", "warn")


class QualityRun(Base):
    """The gate's verdict for one account and logical day; a re-run updates the same row.

    ``blocking`` / ``warnings`` are the human-readable reasons shown in the task log, the
    alert and the DAG-level report.
    """

    __tablename__ = "quality_runs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id", "logical_date", name="uq_quality_runs_day"),
        CheckConstraint("status IN ('pass', 'warn', 'block')", name="status_valid"),
        Index("ix_quality_runs_tenant_date", "tenant_id", "logical_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8))
    blocking: Mapped[list[Any]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rows_validated: Mapped[int] = mapped_column(Integer, default=0)
    quarantined_rows: Mapped[int] = mapped_column(Integer, default=0)
    excluded_days: Mapped[list[Any]] = mapped_column(JSON, default=list)
    data_docs_path: Mapped[str] = mapped_column(Text, default="")
    dag_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    validated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QualityResult(Base):
    """One expectation's outcome in one (account, logical day) validation."""

    __tablename__ = "quality_results"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "suite",
            "expectation",
            name="uq_quality_results_expectation",
        ),
        CheckConstraint("severity IN ('block', 'warn')", name="severity_valid"),
        Index("ix_quality_results_tenant_date", "tenant_id", "logical_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[str] = mapped_column(String(128))
    suite: Mapped[str] = mapped_column(String(64))
    expectation: Mapped[str] = mapped_column(String(128))  # stable check id, e.g. perf.cost
    expectation_type: Mapped[str] = mapped_column(String(96))
    column_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    severity: Mapped[str] = mapped_column(String(8))
    success: Mapped[bool] = mapped_column(Boolean)
    observed_value: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON text
    unexpected_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    element_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unexpected_sample: Mapped[list[Any]] = mapped_column(JSON, default=list)
    validated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QualityQuarantine(Base):
    """A fact row held back from analytics, with the check it failed. Never deleted.

    ``stage`` says who caught it: ``ingest`` (the row could not be written: malformed, NaN,
    negative, duplicated key; ``payload`` is the row as the API sent it) or ``validate`` (the
    row is in the fact table but failed a row-level expectation). A stage re-run for the same
    day marks entries it no longer finds ``active = false`` instead of deleting them. The
    ``*_clean`` views hide fact rows that have an active entry for the same stored version
    (``reported_as_of``).
    """

    __tablename__ = "quality_quarantine"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "stage",
            "logical_date",
            "source_table",
            "row_fingerprint",
            "check_name",
            name="uq_quality_quarantine_entry",
        ),
        CheckConstraint("stage IN ('ingest', 'validate')", name="stage_valid"),
        CheckConstraint("severity IN ('block', 'warn')", name="severity_valid"),
        Index("ix_quality_quarantine_row", "tenant_id", "customer_id", "source_table", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    source_table: Mapped[str] = mapped_column(String(32))
    source_query: Mapped[str] = mapped_column(String(64), default="")
    stage: Mapped[str] = mapped_column(String(16))
    logical_date: Mapped[dt.date] = mapped_column(Date)
    reported_as_of: Mapped[dt.date] = mapped_column(Date)
    check_name: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    entity_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ad_group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    search_term: Mapped[str | None] = mapped_column(String(512), nullable=True)
    row_fingerprint: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # JSON text; NaN/inf spelled as strings
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    quarantined_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DataExclusion(Base):
    """A day whose data the optimizer must not learn from (Google Ads "data exclusions").

    Written by the tracking-outage check (conversions collapsed while clicks held); one row
    per excluded day and detecting run, so re-running a day only revisits its own findings.
    """

    __tablename__ = "quality_data_exclusions"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "kind",
            "date",
            "logical_date",
            name="uq_quality_data_exclusions_day",
        ),
        Index("ix_quality_data_exclusions_day", "tenant_id", "customer_id", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))  # tracking_outage
    date: Mapped[dt.date] = mapped_column(Date)
    logical_date: Mapped[dt.date] = mapped_column(Date)  # the validation that found it
    reason: Mapped[str] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[float] = mapped_column(Float, default=0.0)
    expected_conversions: Mapped[float] = mapped_column(Float, default=0.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AccountExpectation(Base):
    """The currency and time zone an account must keep (Google never changes either).

    Pinned from the first validated pull unless an operator configured it; a later pull
    that disagrees means the wrong account or a broken mapping, and blocks the account.
    """

    __tablename__ = "quality_account_expectations"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "customer_id", name="uq_quality_account_expectations_account"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    currency_code: Mapped[str] = mapped_column(String(3))
    time_zone: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="pinned")  # pinned | configured
    pinned_on: Mapped[dt.date] = mapped_column(Date)


# =========================================================================== analytics
# Tables of the analyze step (spectra.analytics, issue 6). Appended as one block so the
# analytics schema reads in one place. Every row belongs to a tenant; money is integer micros.
# All per-day tables are keyed by (tenant, account, logical_date, ...): the analyze step
# deletes an account's rows for the day and writes them again in one transaction, so
# re-running or backfilling a day replaces its results (no duplicates, nothing stale).
# ``analytics_lag_snapshots`` is the one cumulative table: what each pull reported for each
# campaign-day (one diagonal of the click-day x report-day triangle per daily run).


class AnalyticsRun(Base):
    """One account's analysis for one logical day: what it read, found and how long it took."""

    __tablename__ = "analytics_runs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id", "logical_date", name="uq_analytics_runs_day"),
        Index("ix_analytics_runs_tenant_date", "tenant_id", "logical_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    gate: Mapped[str] = mapped_column(String(8), default="")  # quality verdict it ran under
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    lag_source: Mapped[str] = mapped_column(String(32), default="none")
    lag_usable: Mapped[bool] = mapped_column(Boolean, default=False)
    tail_factor: Mapped[float] = mapped_column(Float, default=1.0)
    conversions_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    windows: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seasonality: Mapped[list[Any]] = mapped_column(JSON, default=list)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dag_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    analyzed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LagSnapshot(Base):
    """A campaign-day's conversions as one pull reported them (``report_date`` = its clock)."""

    __tablename__ = "analytics_lag_snapshots"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "campaign_id",
            "click_date",
            "report_date",
            name="uq_analytics_lag_snapshots_cell",
        ),
        Index("ix_analytics_lag_snapshots_account", "tenant_id", "customer_id", "report_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    click_date: Mapped[dt.date] = mapped_column(Date)
    report_date: Mapped[dt.date] = mapped_column(Date)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[float] = mapped_column(Float, default=0.0)
    conversions_value_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class LagCurveRow(Base):
    """The account's lag CDF at one age, as fitted on ``fit_date`` (one row per age)."""

    __tablename__ = "analytics_lag_curves"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "age_days",
            name="uq_analytics_lag_curves_age",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    fit_date: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32))
    usable: Mapped[bool] = mapped_column(Boolean, default=True)
    age_days: Mapped[int] = mapped_column(Integer)
    cdf_conversions: Mapped[float] = mapped_column(Float)
    cdf_value: Mapped[float] = mapped_column(Float)
    se_cdf_conversions: Mapped[float] = mapped_column(Float, default=0.0)
    se_cdf_value: Mapped[float] = mapped_column(Float, default=0.0)
    tail_factor: Mapped[float] = mapped_column(Float, default=1.0)
    tail_factor_value: Mapped[float] = mapped_column(Float, default=1.0)


class Nowcast(Base):
    """A recent campaign-day's conversions completed for lag, with uncertainty and status."""

    __tablename__ = "analytics_nowcasts"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "campaign_id",
            "date",
            name="uq_analytics_nowcasts_day",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[dt.date] = mapped_column(Date)
    age_days: Mapped[int] = mapped_column(Integer)
    maturity: Mapped[float] = mapped_column(Float)
    lag_status: Mapped[str] = mapped_column(String(16))  # completing | too_immature
    conversions_observed: Mapped[float] = mapped_column(Float)
    conversions_nowcast: Mapped[float] = mapped_column(Float)
    conversions_nowcast_se: Mapped[float] = mapped_column(Float)
    conversions_value_observed_micros: Mapped[int] = mapped_column(BigInteger)
    conversions_value_nowcast_micros: Mapped[int] = mapped_column(BigInteger)
    conversions_value_nowcast_se_micros: Mapped[int] = mapped_column(BigInteger)


class Verdict(Base):
    """One significance test of the day (recent window vs the one before), BH-adjusted across
    the account's whole batch. Only tests are stored: an entity-metric without a row had too
    little volume for a verdict (the run's ``counts`` say how many)."""

    __tablename__ = "analytics_verdicts"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "level",
            "entity_id",
            "ad_group_id",
            "metric",
            name="uq_analytics_verdicts_test",
        ),
        Index("ix_analytics_verdicts_tenant_date", "tenant_id", "logical_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ad_group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    metric: Mapped[str] = mapped_column(String(16))  # ctr | cpc | cvr | cpa | roas
    test: Mapped[str] = mapped_column(String(48))
    baseline_start: Mapped[dt.date] = mapped_column(Date)
    baseline_end: Mapped[dt.date] = mapped_column(Date)
    test_start: Mapped[dt.date] = mapped_column(Date)
    test_end: Mapped[dt.date] = mapped_column(Date)
    estimate_baseline: Mapped[float | None] = mapped_column(Float, nullable=True)
    estimate_test: Mapped[float | None] = mapped_column(Float, nullable=True)
    effect: Mapped[float | None] = mapped_column(Float, nullable=True)
    effect_kind: Mapped[str] = mapped_column(String(16))
    relative_effect: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_value: Mapped[float] = mapped_column(Float)
    p_adjusted: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(32))


class AnomalyRow(Base):
    """A metric of an entity far from its seasonal expectation, with the evidence."""

    __tablename__ = "analytics_anomalies"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "entity_level",
            "entity_id",
            "metric",
            "date",
            name="uq_analytics_anomalies_metric",
        ),
        Index("ix_analytics_anomalies_tenant_date", "tenant_id", "logical_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    entity_level: Mapped[str] = mapped_column(String(16))  # account | campaign
    entity_id: Mapped[int] = mapped_column(BigInteger)
    metric: Mapped[str] = mapped_column(String(16))  # spend | conversions | cpc | ctr | cpa
    date: Mapped[dt.date] = mapped_column(Date)
    observed: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(8))
    direction: Mapped[str] = mapped_column(String(8))
    adverse: Mapped[bool] = mapped_column(Boolean)
    flagged: Mapped[bool] = mapped_column(Boolean)  # an alert (False: suppressed, see reason)
    method: Mapped[str] = mapped_column(String(16))
    holiday_window: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ChangeEffectRow(Base):
    """The estimated effect of one applied change on one metric, as judged on this day."""

    __tablename__ = "analytics_change_effects"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "campaign_id",
            "change_date",
            "metric",
            name="uq_analytics_change_effects_change",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    change_date: Mapped[dt.date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(16))
    look: Mapped[str] = mapped_column(String(8))  # interim | final
    did_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    did_ci_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    did_ci_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    did_p: Mapped[float | None] = mapped_column(Float, nullable=True)
    vs_expectation_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    sequential_p: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_controls: Mapped[int] = mapped_column(Integer, default=0)
    verdict: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Envelope(Base):
    """What the next change to one entity may do: direction and maximum magnitude, with the
    absolute target for a replay-safe mutation. Campaign budgets: every campaign; keyword
    bids: only keywords the evidence lets move (no row = hold); ``target``: a Smart Bidding
    campaign's tCPA (micros) or tROAS (the ratio in micros, 4.0 = 4 000 000; evidence names
    the strategy) — its lever instead of keyword bids."""

    __tablename__ = "analytics_envelopes"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "kind",
            "entity_id",
            "ad_group_id",
            name="uq_analytics_envelopes_entity",
        ),
        CheckConstraint("kind IN ('budget', 'bid', 'target')", name="kind_valid"),
        CheckConstraint("direction IN ('increase', 'decrease', 'hold')", name="direction_valid"),
        Index("ix_analytics_envelopes_tenant_date", "tenant_id", "logical_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))  # budget | bid (keyword) | target (Smart Bidding)
    entity_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    ad_group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    current_micros: Mapped[int] = mapped_column(BigInteger)
    target_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    next_micros: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(8))
    max_change_pct: Mapped[float] = mapped_column(Float, default=0.0)
    expected_value_delta_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --------------------------------------------------------------------------- apply and audit


class ApplyLease(Base):
    """One writer per scope (a campaign, a multi-step operation) at a time, across processes.

    ``token`` is the fencing token: it only ever grows, each acquisition takes the next one,
    and every write of the executor checks it is still the current one, so a holder that was
    paused past its lease (GC, a stopped process, a slow network) is refused when it wakes.
    """

    __tablename__ = "apply_leases"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    acquired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AppliedChange(Base):
    """The ledger of approved changes and the phase each has reached (Stripe-style recovery
    points). Keyed by the tenant's idempotency key: the same key is the same change."""

    __tablename__ = "apply_changes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index(
            "ix_apply_changes_campaign_phase", "tenant_id", "customer_id", "campaign_id", "phase"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    entity_key: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(64))
    target: Mapped[Any] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin_kind: Mapped[str] = mapped_column(String(16))
    origin_ref: Mapped[str] = mapped_column(String(200))
    phase: Mapped[str] = mapped_column(String(16))
    fencing_token: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # rounds that tried to land it
    sends: Mapped[int] = mapped_column(Integer, default=0)  # mutate requests that carried it
    before_value: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    after_value: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    version_before: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version_after: Mapped[int | None] = mapped_column(Integer, nullable=True)
    effective_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    deferred_until: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FailedJob(Base):
    """A dead letter: a change that exhausted its retries, waiting for a person.

    One row per change (idempotency key): a retried job that fails again is reopened, with its
    first failure kept and its last one updated.
    """

    __tablename__ = "failed_jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        CheckConstraint("status IN ('open', 'retried', 'discarded')", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    change_id: Mapped[int] = mapped_column(ForeignKey("apply_changes.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    first_failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApplyOperation(Base):
    """A multi-step operation (create budget and campaign, ad groups, keywords, ads)."""

    __tablename__ = "apply_operations"
    __table_args__ = (UniqueConstraint("tenant_id", "operation_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    operation_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    # set while the breaker is open or the daily quota is spent (Google's retry_delay)
    deferred_until: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApplyOperationStep(Base):
    """A completed step of a multi-step operation and the resources it created or found."""

    __tablename__ = "apply_operation_steps"

    operation_id: Mapped[int] = mapped_column(ForeignKey("apply_operations.id"), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    found_existing: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRow(Base):
    """One append-only, hash-chained audit record (see ``spectra.domain.audit``)."""

    __tablename__ = "audit_log"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(200), default="")
    change_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    before: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    after: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    evidence_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    prompt_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last row of each tenant's audit chain: catches rows removed from the end."""

    __tablename__ = "audit_chain_heads"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    row_hash: Mapped[str] = mapped_column(String(64))


class CircuitBreakerRow(Base):
    """A circuit breaker's shared state (pybreaker storage on the embedded default).

    Not tenant data: a breaker guards an integration (Google Ads, Gemini) for every tenant.
    """

    __tablename__ = "circuit_breakers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="closed")
    fail_counter: Mapped[int] = mapped_column(Integer, default=0)
    success_counter: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# --------------------------------------------------------------------------- proposal agent
# Migration 0008. Every AI call and every proposal names the prompt version and model that
# produced it; cost is integer USD micros computed from the call's token counts and the
# model's price row, so cost per campaign and per tenant is a plain sum of the call log.


class PromptVersion(Base):
    """A prompt file as first used: id, version and content hash (the registry).

    A prompt whose text changed without a new version is refused (spectra.agent.prompts), so a
    version names exactly one text.
    """

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("prompt_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelPrice(Base):
    """What one model's tokens cost from a date on, and where that figure comes from.

    Not tenant data. Prices are integer USD micros per million tokens; output includes
    thinking tokens (Google bills thoughts as output).
    """

    __tablename__ = "model_prices"
    __table_args__ = (UniqueConstraint("model", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(128))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    input_micros_per_mtok: Mapped[int] = mapped_column(BigInteger)
    output_micros_per_mtok: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(Text)  # the page the figure was read from
    source_date: Mapped[dt.date] = mapped_column(Date)  # when it was read
    note: Mapped[str] = mapped_column(Text, default="")


class AiCall(Base):
    """One request to the LLM (a repair request is its own row): who, why, tokens, cost, outcome."""

    __tablename__ = "ai_calls"
    __table_args__ = (
        Index("ix_ai_calls_tenant_day", "tenant_id", "logical_date"),
        Index("ix_ai_calls_campaign", "tenant_id", "customer_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(String(32))  # propose | repair | brand_review | ...
    model: Mapped[str] = mapped_column(String(128))
    prompt_id: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str] = mapped_column(String(32))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    thinking_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    price_id: Mapped[int | None] = mapped_column(ForeignKey("model_prices.id"), nullable=True)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    # ok | invalid (failed validation) | error (no usable answer) | skipped (budget/breaker)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text, default="")
    response_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    dag_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


PROPOSAL_KINDS = (
    "keyword_bid",
    "campaign_budget",
    "target_cpa",
    "target_roas",
    "pause_keyword",
    "enable_keyword",
    "negative_keyword",
    "rsa_copy",
)


class Proposal(Base):
    """One suggested change that passed validation, with the absolute new value.

    Keyed by (tenant, account, logical date, option): a re-run of the day replaces the
    account's pending proposals and never duplicates one. ``source`` says whether the model's
    answer (``llm``), its repaired answer (``repair``) or the deterministic envelope
    (``fallback``, with ``fallback_reason``) produced it.
    """

    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id", "logical_date", "option_key"),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in PROPOSAL_KINDS) + ")", name="kind_valid"
        ),
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'applied', 'superseded')",
            name="status_valid",
        ),
        CheckConstraint("source IN ('llm', 'repair', 'fallback')", name="source_valid"),
        Index("ix_proposals_tenant_day", "tenant_id", "logical_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    option_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    ad_group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    criterion_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entity_label: Mapped[str] = mapped_column(Text, default="")
    current_value: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON)  # absolute: micros, a status, a text, copy
    expected_value_delta_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expected_low_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expected_high_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    evidence_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16))
    fallback_reason: Mapped[str] = mapped_column(Text, default="")
    prompt_id: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str] = mapped_column(String(32))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    ai_call_id: Mapped[int | None] = mapped_column(ForeignKey("ai_calls.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    dag_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # spectra_apply's verdict (accepted | requires_approval | rejected) and who decided
    guardrail_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    guardrail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    guarded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    apply_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    approval_map_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ProposalRejection(Base):
    """Generated content refused before it became a proposal (brand safety), with the reasons.

    ``check`` says which check refused it: ``deterministic`` (banned terms, trademarks, claims,
    Google's editorial rules, nonsense) or ``llm_review`` (the review prompt).
    """

    __tablename__ = "proposal_rejections"
    __table_args__ = (
        Index("ix_proposal_rejections_tenant_day", "tenant_id", "logical_date"),
        CheckConstraint("check_kind IN ('deterministic', 'llm_review')", name="check_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    logical_date: Mapped[dt.date] = mapped_column(Date)
    option_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    ad_group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    check_kind: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    prompt_version: Mapped[str] = mapped_column(String(32), default="")
    ai_call_id: Mapped[int | None] = mapped_column(ForeignKey("ai_calls.id"), nullable=True)
    dag_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- guardrails


class GuardrailLock(Base):
    """A person's lock on a campaign (``field`` NULL) or one of its fields, with an expiry:
    agent changes there are refused until it expires or is lifted (``spectra lock``)."""

    __tablename__ = "guardrail_locks"
    __table_args__ = (
        Index("ix_guardrail_locks_campaign", "tenant_id", "customer_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TenantRole(Base):
    """A principal's role in one tenant (viewer, editor, approver, admin)."""

    __tablename__ = "tenant_roles"
    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'editor', 'approver', 'admin')", name="role_valid"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    principal: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TenantSetting(Base):
    """Per-tenant switches: autopilot (low-impact changes apply without a person)."""

    __tablename__ = "tenant_settings"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    autopilot: Mapped[bool] = mapped_column(Boolean, default=False)
    # launches (new campaigns) deploy without a person's approval (spectra campaign autopilot on)
    launch_autopilot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_by: Mapped[str] = mapped_column(String(128), default="system")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GuardrailDecision(Base):
    """The guardrails' verdict on one candidate change: every rule's result and reason, and
    whether a person must approve. Keyed by the candidate's ref, so a re-run overwrites."""

    __tablename__ = "guardrail_decisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "candidate_ref"),
        Index("ix_guardrail_decisions_campaign", "tenant_id", "customer_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    candidate_ref: Mapped[str] = mapped_column(String(200))
    entity_key: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    origin_kind: Mapped[str] = mapped_column(String(16))
    candidate: Mapped[dict[str, Any]] = mapped_column(JSON)
    accepted: Mapped[bool] = mapped_column(Boolean)
    requires_approval: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    results: Mapped[list[Any]] = mapped_column(JSON)
    approval_reasons: Mapped[list[Any]] = mapped_column(JSON)
    as_of: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitorPause(Base):
    """An entity a monitor paused, and why: the re-enable rule depends on the reason
    (a daily spend limit resets the next account day, a total limit never by itself, a policy
    disapproval when the ad is approved again). ``resumed_at`` is set when it was re-enabled."""

    __tablename__ = "monitor_pauses"
    __table_args__ = (
        UniqueConstraint("tenant_id", "change_key", name="uq_monitor_pauses_change"),
        Index("ix_monitor_pauses_open", "tenant_id", "customer_id", "resumed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    entity_key: Mapped[str] = mapped_column(String(128))  # campaign:1 | ad:1/2~3
    reason: Mapped[str] = mapped_column(String(32))  # daily_limit | total_limit | policy
    local_date: Mapped[dt.date] = mapped_column(Date)  # the account's day of the pause
    paused_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    change_key: Mapped[str] = mapped_column(String(64))  # the apply ledger's idempotency key
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resumed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resume_change_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Alert(Base):
    """One episode of a condition (a spend limit reached, a disapproval, an anomaly): opened
    once, its severity updated while it persists, resolved when it ends. ``dedup_key`` names
    the condition; at most one open episode per key (enforced by the monitors' store)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_open", "tenant_id", "dedup_key", "status"),
        CheckConstraint("status IN ('open', 'resolved')", name="status_valid"),
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    monitor: Mapped[str] = mapped_column(String(16))  # spend | policy | anomaly
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="open")
    title: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AlertEvent(Base):
    """The outbox of alert notifications: one row per opening, change of severity and
    resolution; notifiers deliver undelivered rows and stamp them, so a notifier that fails
    loses nothing and a persisting condition is never re-sent."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_pending", "tenant_id", "delivered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    event: Mapped[str] = mapped_column(String(16))  # opened | escalated | deescalated | resolved
    severity: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)


class LaunchBrief(Base):
    """A campaign to launch, from its validated brief, with Spectra's lifecycle state.

    ``state`` moves only through ``spectra.domain.campaign_state`` (audited); ``state_reason``
    says why it is there (a FAILED launch's reason, a PENDING_DEPLOYMENT's blocker);
    ``review_flags`` are what a person must look at (e.g. launched text-only); ``resources``
    the Google Ads resource names created so far. One brief per campaign name and account.
    """

    __tablename__ = "launch_briefs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id", "campaign_name"),
        Index("ix_launch_briefs_state", "tenant_id", "state"),
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in CAMPAIGN_STATES) + ")",
            name="state_valid",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_name: Mapped[str] = mapped_column(String(255))
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    brief_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), default=CampaignState.DRAFT.value)
    state_reason: Mapped[str] = mapped_column(Text, default="")
    review_flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    resources: Mapped[list[Any]] = mapped_column(JSON, default=list)
    operation_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LaunchStep(Base):
    """The latest outcome of one pipeline step of a brief (assets, conversion, limits, ...)."""

    __tablename__ = "launch_steps"
    __table_args__ = (UniqueConstraint("tenant_id", "brief_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    brief_id: Mapped[int] = mapped_column(ForeignKey("launch_briefs.id"))
    step: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # done | degraded | blocked | failed
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LaunchAsset(Base):
    """A generated asset, content-addressed: ``request_key`` hashes what was asked (model,
    prompt, parameters), ``content_sha256`` what came back. A retry that asks the same finds
    the row and never pays for the generation again."""

    __tablename__ = "launch_assets"
    __table_args__ = (UniqueConstraint("tenant_id", "request_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.tenant_id"))
    request_key: Mapped[str] = mapped_column(String(64))
    content_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # rsa_copy | keywords | image
    model: Mapped[str] = mapped_column(String(128))
    mime_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # text assets; an image's metadata
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # an image's bytes
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
