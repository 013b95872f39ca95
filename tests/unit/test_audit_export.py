"""The audit export's CSV: what a spreadsheet would run as a formula is written as text,
and names as they are written."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from projections.audit_log import AuditEntry, csv_lines


def entry(actor: str, on_behalf_of: str | None = None) -> AuditEntry:
    return AuditEntry(
        position=7,
        at="2027-01-04T09:00:00.000000+00:00",
        stream="6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47",
        version=1,
        aggregate="LeaveRequest",
        event="Submitted",
        actor=actor,
        on_behalf_of=on_behalf_of,
        command_id="api/1",
        correlation_id="leave-request-1",
        case_id=None,
        process="leave",
        data={"reason": '=HYPERLINK("http://evil")'},
    )


def rows(*entries: AuditEntry) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(csv_lines([list(entries)])))))


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text() -> None:
    [*formulas, plain] = rows(
        entry("=2+5"),
        entry("+1"),
        entry("-1", on_behalf_of="@SUM(A1)"),
        entry("\t=1"),
        entry("e-100"),
    )

    assert [row["actor"] for row in formulas] == ["'=2+5", "'+1", "'-1", "'\t=1"]
    assert formulas[2]["on_behalf_of"] == "'@SUM(A1)"
    assert plain["actor"] == "e-100"
    assert plain["position"] == "7"
    assert plain["data"] == '{"reason": "=HYPERLINK(\\"http://evil\\")"}'  # a JSON object


def test_a_name_with_a_letter_beyond_ascii_is_exported_as_written() -> None:
    renamed = replace(entry("e-8"), event="DetailsChanged", data={"name": "Zoë Ångström"})
    decided = replace(entry("e-5", on_behalf_of="e-2"), event="TaskDecided")

    def authority(entry: AuditEntry) -> dict[str, str] | None:
        return {"delegation": "congé-été"} if entry.event == "TaskDecided" else None

    lines = "".join(csv_lines([[renamed, decided]], authority))
    [name_changed, decision] = list(csv.DictReader(io.StringIO(lines)))

    assert name_changed["data"] == '{"name": "Zoë Ångström"}'
    assert decision["authority"] == '{"delegation": "congé-été"}'
