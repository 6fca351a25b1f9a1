"""Revisions, chained on a single head (``0001``, ``0002``, ...)."""
