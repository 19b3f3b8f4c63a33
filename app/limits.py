"""Request body size limit: a pure ASGI middleware that counts the bytes as they arrive.

A declared Content-Length above the limit is refused before anything is read. A body sent without one (chunked) is
counted message by message and refused as soon as it passes the limit, so no more than the limit is ever read.
Either way the answer is 413 problem+json, and the endpoint's own answer (if it got that far) is dropped.
"""

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes the limit; whatever the app makes of it, the answer is 413."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, ceilings: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.ceilings = dict(ceilings or {})  # path -> its own limit (e.g. the bulk upload's)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.ceilings.get(scope["path"].rstrip("/"), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit)
            return

        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's own answer to the interrupted body is replaced by the 413 below
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(scope, send, limit)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    body = {
        "type": "about:blank",
        "title": "Payload too large",
        "status": 413,
        "detail": f"The request body is larger than {limit} bytes.",
        "instance": scope["path"],
        "errors": [{"field": "body", "message": f"at most {limit} bytes"}],
    }
    content = json.dumps(body).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": content})
