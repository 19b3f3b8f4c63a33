"""Domain errors carry their HTTP status; one handler renders every error as RFC 9457 problem+json."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5  # told to clients when the database cannot be reached
logger = logging.getLogger("symbioza")


class SymbiozaError(Exception):
    status = 500
    title = "Internal server error"

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers: dict[str, str] = {}


class BadRequest(SymbiozaError):
    status = 400
    title = "Bad request"


class Unauthorized(SymbiozaError):
    status = 401
    title = "Unauthorized"


class Forbidden(SymbiozaError):
    status = 403
    title = "Forbidden"


class NotFound(SymbiozaError):
    status = 404
    title = "Not found"


class Conflict(SymbiozaError):
    status = 409
    title = "Conflict"


class PreconditionFailed(SymbiozaError):
    status = 412
    title = "Precondition failed"


class PayloadTooLarge(SymbiozaError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(SymbiozaError):
    status = 415
    title = "Unsupported media type"


class PreconditionRequired(SymbiozaError):
    status = 428
    title = "Precondition required"


class TooManyRequests(SymbiozaError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class ValidationFailed(SymbiozaError):
    """Values that are wrong for this service; each error names its field."""

    status = 422
    title = "Validation failed"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


class InvalidField(ValidationFailed):
    def __init__(self, field: str, message: str) -> None:
        super().__init__([{"field": field, "message": message}])


def problem(status: int, title: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)  # set by app.middleware.RequestContext
    if request_id:
        body["request_id"] = request_id  # quote it when reporting a problem: it finds the request in the logs
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[int | str, ...]) -> str:
    # FastAPI locations start with where the value came from ("body", "query", ...); the field is the rest.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [{"field": _field_name(tuple(e["loc"])), "message": e["msg"], "in": str(e["loc"][0])} for e in exc.errors()]


def database_unavailable(exc: BaseException) -> bool:
    """The database is down, restarting, refusing or dropping connections, or every pooled connection is busy:
    not the request's fault, and worth a retry. (SQL errors that are the code's fault are not this.)"""
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def unavailable(request: Request) -> JSONResponse:
    """503 with Retry-After; the body says nothing of the statement or the driver's message."""
    detail = "The database cannot be reached just now. Try again shortly."
    response = problem(503, "Service unavailable", detail, request)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The answer to an exception nothing else handled (also written by app.middleware.RequestContext)."""
    if database_unavailable(exc):
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return unavailable(request)
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal server error", "The server failed to handle this request.", request)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SymbiozaError)
    async def _domain(request: Request, exc: SymbiozaError) -> JSONResponse:
        extra = {"errors": exc.errors} if exc.errors else {}
        response = problem(exc.status, exc.title, exc.detail, request, **extra)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # A versioned row (listing, match) changed between reading it and writing it: a concurrent write won.
        detail = "Someone else changed this meanwhile; read it again (for its new ETag) and retry."
        errors = [{"field": "If-Match", "message": "not current any more"}]
        return problem(412, "Precondition failed", detail, request, errors=errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Validation failed", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        response = problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail), request)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return unexpected(request, exc)

    # Database errors are answered inside the app; the catch-all also sees those raised in a middleware.
    app.add_exception_handler(DBAPIError, _unexpected)
    app.add_exception_handler(PoolTimeout, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
