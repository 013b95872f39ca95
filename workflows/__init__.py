"""Temporal workflows: one module per process, plus the shared approval step."""
