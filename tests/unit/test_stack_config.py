"""How ``backoffice up`` configures uvicorn."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from backoffice.settings import Settings
from backoffice.stack import api_config


async def test_the_api_up_serves_does_not_take_a_client_address_from_forwarded_headers() -> None:
    """``up`` listens on 127.0.0.1, the address uvicorn trusts proxy headers from by
    default: any local client could otherwise claim any address to the sign-in limit."""
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    config = api_config(app, Settings())
    config.load()
    scope: Scope = {
        "type": "http",
        "scheme": "http",
        "client": ("127.0.0.1", 50000),
        "headers": [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-proto", b"https")],
    }

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    await config.loaded_app(scope, receive, send)

    [served] = seen
    assert served["client"] == ("127.0.0.1", 50000)
    assert served["scheme"] == "http"
