"""Alembic migrations for the warehouse; an ``__init__`` so setuptools ships them."""
