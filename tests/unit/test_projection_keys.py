"""Every read model table declares its primary key, by which ``verify-projections`` names
the rows that differ."""

from __future__ import annotations

from backoffice.projection_check import key_columns
from projections.registry import all_projections


def test_every_read_model_table_declares_the_key_its_differences_are_named_by() -> None:
    keys = {
        table: key_columns(definition)
        for projection in all_projections()
        for table, definition in projection.tables.items()
    }

    assert [table for table, key in keys.items() if not key] == []
    assert keys["leave_cases"] == ("case_id",)
    assert keys["inbox"] == ("case_id", "task_id", "assignee_id")
