"""The HTTP API: FastAPI routes over the workflows (commands) and the read models (queries)."""
