"""A Backoffice worker in a process of its own, so that its memory can be measured.

``python -m bench.worker_process ADDRESS TASK_QUEUE STORE_URL`` connects, prints
``ready`` once it polls, and runs until its standard input is closed.
"""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client

from services.application import BackofficeApplication
from services.store import StoreLocation
from worker import build_worker
from workflows.messages import DATA_CONVERTER


async def serve(address: str, task_queue: str, store_url: str) -> None:
    client = await Client.connect(address, data_converter=DATA_CONVERTER)
    app = BackofficeApplication(env=StoreLocation(store_url).eventsourcing_env())
    try:
        async with build_worker(client, app, task_queue):
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        app.close()


def main() -> None:
    address, task_queue, store_url = sys.argv[1:4]
    asyncio.run(serve(address, task_queue, store_url))


if __name__ == "__main__":
    main()
