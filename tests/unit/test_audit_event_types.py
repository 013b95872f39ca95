"""The event types an audit filter may name: every event of every kind of aggregate."""

from __future__ import annotations

import importlib
import pkgutil

import domain
from domain.base import IdempotentAggregate
from projections.audit_log import AGGREGATES, event_types, unknown_event_type


def test_every_kind_of_aggregate_in_the_domain_is_one_whose_event_types_a_filter_may_name() -> None:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    kinds, found = [IdempotentAggregate], set()
    while kinds:
        for kind in kinds.pop().__subclasses__():
            kinds.append(kind)
            if kind.__module__.startswith("domain.") and not kind.__subclasses__():
                found.add(kind)

    assert found == set(AGGREGATES)


def test_an_aggregate_s_events_include_those_it_shares_with_every_case_but_no_generic_ones() -> (
    None
):
    assert {"LeaveRequest.Submitted", "LeaveRequest.TaskDecided"} <= event_types()
    assert not {
        kind for kind in event_types() if kind.endswith((".Created", ".Event", ".Snapshot"))
    }


def test_an_event_type_is_named_bare_or_with_its_aggregate_and_nothing_else() -> None:
    assert unknown_event_type("TaskDecided") is None
    assert unknown_event_type("LeaveRequest.TaskDecided") is None
    assert unknown_event_type("Case.TaskDecided") is not None
    assert unknown_event_type("taskdecided") is not None
