"""Ingest: Google Ads → warehouse."""
