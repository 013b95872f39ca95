"""Benchmarks that print our figures beside baselines measured in the same run.

Run them with ``python -m bench`` (``--help`` for the options); see docs/performance.md.
"""
