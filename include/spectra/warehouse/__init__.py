"""The warehouse: SQLAlchemy models, migrations, bulk loads and tenant-scoped repositories.

Entry points (import the submodules directly; this package imports nothing heavy so the DAG
folder parses fast):

- ``db``: ``database_url()``, ``make_engine(url=None)``, ``migrate(url_or_engine=None)``,
  ``unit_of_work(engine)`` / ``session_scope(engine)``;
- ``upsert``: ``bulk_upsert(conn, table, rows, keys=..., freshness_column=...)`` (its plan,
  and one module per dialect: SQLite multi-row VALUES, PostgreSQL COPY into a staging table);
- ``checksums``: ``table_checksums(conn, tables, tenant_id=...)``, the idempotency measure;
- ``repositories``: tenants, ad accounts, campaign state changes and versions;
- ``models``: the tables. Schema changes go through a new Alembic revision in
  ``migrations/versions`` (see ``alembic.ini`` in this folder).
"""
