"""Activities: the only bridge between workflows and the event store."""
