"""Bulk registration input: a CSV file or a JSON body turned into numbered rows of listing fields.

Pure functions: nothing here touches the database. Each row keeps the number a person can find it by (its line
in the CSV file, the header being line 1; its index in the JSON list) and the problems found while reading it.
Problems with the upload as a whole (encoding, header, size) raise a domain error instead.
"""

import csv
import io
import json
import re
from typing import Any, NamedTuple

from app.errors import PayloadTooLarge, SymbiozaError, UnsupportedMediaType, ValidationFailed
from app.listings.schemas import ListingCreate

MAX_ROWS = 5000  # listings per upload
MAX_BYTES = 5 * 1024 * 1024  # bytes per upload

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})
JSON_MEDIA_TYPES = frozenset({"application/json"})

COLUMNS = tuple(ListingCreate.model_fields)
PROPERTY_PREFIX = "properties."
NUMBER_COLUMNS = frozenset({"quantity", "max_distance_km", "lat", "lon"})
DELIMITERS = (",", ";", "\t")

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_SPACES = re.compile(r"[ \u00a0\u202f]")  # thousands separators: space, no-break space, narrow no-break space
_OPERATION_SEPARATORS = re.compile(r"[;|,]")


class RowsRejected(ValidationFailed):
    """An atomic upload with bad rows: nothing is stored; `errors` names each bad row's line, field and message."""

    def __init__(self, errors: list[dict[str, Any]], *, rejected: int, total: int) -> None:
        detail = f"{rejected} of {total} rows were rejected, so nothing was stored (atomic upload)."
        SymbiozaError.__init__(self, detail, errors=errors)
        self.rejected = rejected
        self.total = total


class Row(NamedTuple):
    number: int
    values: dict[str, Any]
    errors: list[dict[str, str]]


def check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise PayloadTooLarge(f"The upload is larger than {MAX_BYTES} bytes; split it into several files.")


def parse(data: bytes, media_type: str, *, limited: bool = True) -> list[Row]:
    """Reads an upload of `media_type` ('text/csv' or 'application/json'); `limited` applies the upload limits."""
    if limited:
        check_size(len(data))
    if media_type in CSV_MEDIA_TYPES:
        rows = parse_csv(_text(data))
    elif media_type in JSON_MEDIA_TYPES:
        rows = parse_json(_text(data))
    else:
        raise UnsupportedMediaType(
            f"Cannot read {media_type or 'a body without a Content-Type'}; send text/csv or application/json."
        )
    if limited and len(rows) > MAX_ROWS:
        raise PayloadTooLarge(f"The upload holds {len(rows)} listings; at most {MAX_ROWS} are taken at once.")
    return rows


def parse_csv(text: str) -> list[Row]:
    """One listing per row under a header of listing field names; empty cells mean "not given"."""
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next((cells for cells in reader if any(c.strip() for c in cells)), None)
        if header is None:
            raise _file_error(1, "body", "the file is empty; expected a header row of listing field names")
        header_line = reader.line_num
        columns = _columns(header, header_line)
        rows: list[Row] = []
        while True:
            number = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                return rows
            if any(cell.strip() for cell in cells):
                rows.append(_csv_row(number, columns, cells, decimal_comma=delimiter == ";"))
    except csv.Error as exc:
        raise _file_error(reader.line_num, "body", f"not readable as CSV: {exc}") from None


def parse_json(text: str) -> list[Row]:
    """`{"items": [{...listing...}, ...]}`; each item is numbered by its index in the list."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _file_error(None, "body", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise _file_error(None, "items", 'expected an object with a list of listings: {"items": [...]}')
    for key in document:
        if key != "items":
            raise _file_error(None, key, "unknown key; the body holds only 'items'")
    return [
        Row(index, item, []) if isinstance(item, dict) else Row(index, {}, [_error("row", "expected a JSON object")])
        for index, item in enumerate(document["items"])
    ]


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # also drops the byte-order mark spreadsheets put first
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _file_error(
            line, "body", f"the file is not UTF-8 (line {line}); save it as 'CSV UTF-8' or convert it"
        ) from None


def _delimiter(text: str) -> str:
    """Spreadsheets set to Polish (and most continental) locales write ';', since ',' is their decimal mark."""
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str], line: int) -> list[str | None]:
    """Column names in order; None for an unnamed column (a trailing delimiter), whose cells must stay empty."""
    columns: list[str | None] = []
    errors: list[dict[str, Any]] = []
    for raw in header:
        name = raw.strip().lstrip("\ufeff").lower()
        if not name:
            columns.append(None)
            continue
        if name in columns:
            errors.append({"row": line, "field": name, "message": "this column appears twice in the header"})
        elif name not in COLUMNS and not (name.startswith(PROPERTY_PREFIX) and len(name) > len(PROPERTY_PREFIX)):
            expected = ", ".join(COLUMNS)
            message = f"unknown column {raw.strip()!r}; columns are {expected} and properties.<name>"
            errors.append({"row": line, "field": raw.strip(), "message": message})
        columns.append(name)
    if errors:
        raise ValidationFailed(errors)
    return columns


def _csv_row(number: int, columns: list[str | None], cells: list[str], *, decimal_comma: bool) -> Row:
    values: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for position, raw in enumerate(cells):
        cell = raw.strip()
        if not cell:
            continue
        name = columns[position] if position < len(columns) else None
        if name is None:
            errors.append(_error("row", f"a value in column {position + 1}, which the header does not name"))
        elif name.startswith(PROPERTY_PREFIX):
            properties[name.removeprefix(PROPERTY_PREFIX)] = _scalar(cell, decimal_comma)
        elif name == "properties":
            try:
                document = json.loads(cell)
            except json.JSONDecodeError as exc:
                errors.append(_error("properties", f"not a JSON object: {exc.msg}"))
                continue
            if isinstance(document, dict):
                values["properties"] = document
            else:
                errors.append(_error("properties", 'expected a JSON object, e.g. {"moisture_pct": 12}'))
        elif name == "recovery_operations":
            values[name] = [code.strip().upper() for code in _OPERATION_SEPARATORS.split(cell) if code.strip()]
        elif name in NUMBER_COLUMNS:
            values[name] = _number_text(cell, decimal_comma)
        else:
            values[name] = cell
    if properties:
        both = sorted(set(properties) & set(values.get("properties", {})))
        errors.extend(_error(f"properties.{key}", "given in the properties column and in its own") for key in both)
        values["properties"] = values.get("properties", {}) | properties
    return Row(number, values, errors)


def _number_text(cell: str, decimal_comma: bool) -> str:
    """'12 000,5' -> '12000.5' in a ';'-separated file; anything that is no number is left for validation."""
    text = _SPACES.sub("", cell)
    if decimal_comma and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return text if _NUMBER.match(text) else cell


def _scalar(cell: str, decimal_comma: bool) -> Any:
    """A quality attribute in its own column: a number or a yes/no when it reads as one, else the text."""
    number = _number_text(cell, decimal_comma)
    if _INTEGER.match(number):
        return int(number)
    if _NUMBER.match(number):
        return float(number)
    if cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    return cell


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _file_error(row: int | None, field: str, message: str) -> ValidationFailed:
    """A problem with the upload as a whole; `row` is the line it was found on, when there is one."""
    error: dict[str, Any] = {"field": field, "message": message}
    if row is not None:
        error = {"row": row} | error
    return ValidationFailed([error])
