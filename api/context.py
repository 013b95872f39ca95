"""What every route needs, made once by the composition root and handed to ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client

from backoffice.settings import Settings
from projections.queries import ReadModels
from services.application import BackofficeApplication


@dataclass(frozen=True)
class ApiContext:
    """The API's dependencies: commands go to Temporal, the authoritative case is read
    from the event store (``application``) and lists from the read models."""

    settings: Settings
    client: Client
    application: BackofficeApplication
    read_models: ReadModels
