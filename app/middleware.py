"""What every request goes through: a request id, one JSON log line, security headers; CORS only when configured.

RequestContext is the outermost middleware of the app (inside Starlette's own error catcher), so its headers reach
every answer: endpoints, errors, 413s of the body limit, CORS preflights and the 500 it writes itself for an
exception nothing else handled.
"""

import logging
import re
import time
import uuid

from fastapi import FastAPI, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs
from app.config import Settings
from app.errors import unexpected

REQUEST_ID = "X-Request-ID"
# A caller's own id is kept when it is short and plain (no spaces or control characters to forge log lines or
# headers with); anything else is replaced by a fresh one.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
KEY_MARK = "sbz_"

# JSON needs no sources at all; the documentation pages load Swagger UI / ReDoc from their CDN and run an inline
# script to start them, so only they get a policy that allows it.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")

CORS_METHODS = ["GET", "POST", "PATCH", "DELETE"]
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "Idempotency-Key", REQUEST_ID]
CORS_EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "Content-Disposition", REQUEST_ID]

access_log = logging.getLogger("symbioza.access")


def security_headers(path: str, api_prefix: str) -> dict[str, str]:
    docs = any(path == p or path.startswith(p + "/") for p in DOCS_PATHS)
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": DOCS_CSP if docs else STRICT_CSP,
    }
    if path == api_prefix or path.startswith(api_prefix + "/"):
        headers["Cache-Control"] = "no-store"  # answers depend on the key: no shared or browser cache keeps them
    return headers


def request_id_from(header: str | None) -> str:
    if header and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def key_prefix(authorization: str | None) -> str | None:
    """The public prefix of a Symbioza key on the request, the most of a key any log may hold. Other credentials
    (a password pasted by mistake, say) leave nothing at all."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(KEY_MARK) or len(token) < 32:
        return None
    return token[: logs.KEY_PREFIX_LENGTH]


class RequestContext:
    """Request id (X-Request-ID in and out, request.state.request_id, every log record), security headers, one
    access log line per request, and a problem+json 500 for anything unhandled."""

    def __init__(self, app: ASGIApp, *, api_prefix: str) -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        request_id = request_id_from(request_headers.get(REQUEST_ID))
        scope.setdefault("state", {})["request_id"] = request_id
        token = logs.request_id.set(request_id)
        added = security_headers(scope["path"], self.api_prefix) | {REQUEST_ID: request_id}
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    headers.setdefault(name, value)
                headers[REQUEST_ID] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if response_started:
                raise  # too late for an error answer: the server drops the connection, the client sees a cut body
            await unexpected(Request(scope), exc)(scope, receive, send_with_headers)
        finally:
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "key_prefix": key_prefix(request_headers.get("authorization")),
            }
            # The record factory of app.logs adds the request id, still set here.
            access_log.info("%s %s %s", scope["method"], scope["path"], status, extra=fields)
            logs.request_id.reset(token)


def install_middleware(app: FastAPI, settings: Settings, api_prefix: str) -> None:
    """Adds CORS (only for configured origins) and, outermost, RequestContext. Call it after every other
    add_middleware, so that nothing answers without its headers."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,  # keys travel in Authorization, never in cookies
            max_age=600,
        )
    app.add_middleware(RequestContext, api_prefix=api_prefix)
