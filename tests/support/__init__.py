"""Test support shared by several test folders (on ``sys.path`` through pytest's
``pythonpath = ["tests"]``; subprocess workers and benchmarks add ``tests/`` themselves)."""
