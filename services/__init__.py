"""The service layer: the event-sourced application and its use cases."""
