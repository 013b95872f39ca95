"""Read models built from the event log: the projections, their runner and queries.

Every read model lives in the same database as the events and records how far
it has read in ``projection_tracking`` in the same transaction as its rows, so
a read model is never ahead of or behind its own tracking position, and can be
thrown away and rebuilt from the log at any time.

- :class:`projections.runner.ProjectionRunner` applies new events in batches
  (``catch_up``, ``start``/``stop``, ``rebuild``).
- :class:`projections.queries.ReadModels` answers the API's questions and
  waits for a position (read-your-writes).
"""
