"""Bulk registration: many listings at once, each created exactly as a single one is, each in its own SAVEPOINT."""

from collections.abc import Callable, Sequence

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.errors import Forbidden, ValidationFailed
from app.listings import bulk, repository, service
from app.listings.bulk import Row, RowsRejected
from app.listings.schemas import BulkResult, BulkRowError, BulkRowResult, ListingCreate

Progress = Callable[[str, int, int], None]


def create_from_upload(
    session: Session,
    principal: Principal,
    data: bytes,
    media_type: str,
    *,
    atomic: bool,
    limited: bool = True,
    progress: Progress | None = None,
    match: bool = True,
) -> BulkResult:
    """Reads a CSV or JSON upload (see `bulk.parse`) and creates its listings; `limited` applies the upload limits,
    `match` as service.create takes it."""
    service.check_writer(principal)
    rows = bulk.parse(data, media_type, limited=limited)
    return create_many(session, principal, rows, atomic=atomic, progress=progress, match=match)


def create_many(
    session: Session,
    principal: Principal,
    rows: Sequence[Row],
    *,
    atomic: bool,
    progress: Progress | None = None,
    match: bool = True,
) -> BulkResult:
    """Creates one listing per row with `service.create` (validation; the profile and matches when `match`).

    A bad row leaves nothing behind and is reported with its number and fields, while the good rows stay. When
    `atomic`, any bad row raises RowsRejected, so that the caller's transaction rolls back and nothing is stored.
    """
    service.check_writer(principal)
    repository.open_transaction(session)
    results: list[BulkRowResult] = []
    step = max(1, len(rows) // 100)
    for done, row in enumerate(rows, start=1):
        results.append(_create_row(session, principal, row, match))
        if progress and (done % step == 0 or done == len(rows)):
            progress("importing listings", done, len(rows))
    rejected = [result for result in results if result.status == "rejected"]
    if atomic and rejected:
        errors = [{"row": r.row, "field": e.field, "message": e.message} for r in rejected for e in r.errors]
        raise RowsRejected(errors, rejected=len(rejected), total=len(results))
    return BulkResult(created=len(results) - len(rejected), rejected=len(rejected), atomic=atomic, items=results)


def _create_row(session: Session, principal: Principal, row: Row, match: bool) -> BulkRowResult:
    errors = list(row.errors)
    try:
        data = ListingCreate.model_validate(row.values)
    except ValidationError as exc:
        if row.values or not errors:  # a row unreadable as a whole has nothing more to say
            errors.extend({"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors())
    if not errors:
        try:
            with session.begin_nested():
                listing = service.create(session, principal, data, match=match)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
        except Forbidden as exc:
            errors.append({"field": "organization_id", "message": exc.detail})
        else:
            return BulkRowResult(row=row.number, status="created", id=listing.id, errors=[])
    # A rule between fields names the request body for a single listing; here it is the row's.
    reported = [BulkRowError(field=_row_field(e["field"]), message=e["message"]) for e in errors]
    return BulkRowResult(row=row.number, status="rejected", id=None, errors=reported)


def _row_field(field: str) -> str:
    return "row" if field in ("", "body") else field
