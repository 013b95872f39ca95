"""The business rules of Backoffice: aggregates, events, value objects, policies.

Nothing in this package does I/O or knows about Temporal; it imports only the
standard library, ``eventsourcing``'s base classes and pure calculators such as
``holidays``.
"""
