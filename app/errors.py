"""Domain errors carry their HTTP status; one handler renders every error as RFC 9457 problem+json."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("symbioza")


class SymbiozaError(Exception):
    status = 500
    title = "Internal server error"

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


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
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[int | str, ...]) -> str:
    # FastAPI locations start with where the value came from ("body", "query", ...); the field is the rest.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [{"field": _field_name(tuple(e["loc"])), "message": e["msg"], "in": str(e["loc"][0])} for e in exc.errors()]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SymbiozaError)
    async def _domain(request: Request, exc: SymbiozaError) -> JSONResponse:
        extra = {"errors": exc.errors} if exc.errors else {}
        return problem(exc.status, exc.title, exc.detail, request, **extra)

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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal server error", "The server failed to handle this request.", request)
