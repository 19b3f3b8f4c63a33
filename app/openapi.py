"""The OpenAPI document says how every operation can fail: each error is RFC 9457 application/problem+json."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.errors import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names each offending field.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}

# What any operation under the API prefix may answer besides its success.
API_ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("The request cannot be read", {}),
    "401": ("No API key, or an unknown or revoked one", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
    "403": ("The key may not do this", {}),
    "404": ("No such object that this key may see", {}),
    "409": ("The request conflicts with the current state (or with a request under way)", {}),
    "413": ("The request body is too large", {}),
    "422": ("Invalid values; each error names its field", {}),
    "429": ("Too many requests for this key", _RETRY_AFTER),
    "503": ("The database cannot be reached; try again later", _RETRY_AFTER),
}
# What a conditional write (PATCH, DELETE) may answer besides: a stale or a missing If-Match.
WRITE_ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "412": ("If-Match names an older version: read the object again", {}),
    "428": ("If-Match is required: send the ETag you read", {}),
}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def document_problems(schema: dict[str, Any], api_prefix: str) -> dict[str, Any]:
    """Adds the shared error responses to every API operation and gives every error response a problem body."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if path.startswith(api_prefix):
                shared = API_ERRORS | (WRITE_ERRORS if method in {"patch", "delete"} else {})
                for code, (description, headers) in shared.items():
                    entry = responses.setdefault(code, {"description": description})
                    if headers:
                        entry.setdefault("headers", headers)
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = problem
            operation["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _VALIDATION_SCHEMAS:  # FastAPI's own 422 body, replaced above by the problem
        components.pop(name, None)
    components["Problem"] = PROBLEM_SCHEMA
    return schema


def install_openapi(app: FastAPI, api_prefix: str) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate(), api_prefix)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
