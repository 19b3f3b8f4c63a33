"""Text no field accepts: the NUL character (U+0000).

PostgreSQL cannot store it in text at all (the statement fails), SQLite would keep it: refused up front with 422
naming the field, so that both databases answer the same and no request reaches the database with one.
"""

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from app.errors import InvalidField

NUL = "\x00"
MESSAGE = "must not contain the NUL character (U+0000)"


async def reject_nul_characters(request: Request) -> None:
    """A dependency of every API route: looks at the path, the query and a JSON or CSV body."""
    if NUL in request.url.path:
        raise InvalidField("path", MESSAGE)
    for name, value in parse_qsl(request.url.query, keep_blank_values=True):
        if NUL in name or NUL in value:
            raise InvalidField(name.replace(NUL, "") or "query", MESSAGE)
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    body = await request.body()  # kept by the request: the endpoint reads the same bytes
    if b"\x00" in body:
        raise InvalidField("body", MESSAGE)
    if b"\\u0000" in body:  # JSON writes NUL as an escape
        try:
            field = _field_with_nul(json.loads(body), "")
        except ValueError:
            return  # not JSON: the endpoint will say what is wrong with it
        if field is not None:
            raise InvalidField(field or "body", MESSAGE)


def _field_with_nul(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) holding a NUL, or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        name = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and NUL in key:
            return name.replace(NUL, "")
        found = _field_with_nul(item, name)
        if found is not None:
            return found
    return None
