import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.deps import IdempotencyDep, IfMatchDep, PageDep, PrincipalDep, SessionDep, etag
from app.errors import InvalidField
from app.listings import bulk, bulk_service, service
from app.listings.repository import ListingFilter
from app.listings.schemas import BulkResult, ListingCreate, ListingList, ListingRead, ListingUpdate
from matching.records import Kind, ResourceType, Status

router = APIRouter(prefix="/listings", tags=["listings"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_listing(
    body: ListingCreate, session: SessionDep, principal: PrincipalDep, idempotency: IdempotencyDep, response: Response
) -> ListingRead:
    listing = service.create(session, principal, body)
    response.headers["ETag"] = etag(listing.version)
    response.headers["Location"] = f"/api/v1/listings/{listing.id}"
    return idempotency.remember(service.to_read(session, principal, [listing])[0], response.headers)


async def _upload(request: Request) -> tuple[str, bytes]:
    """The raw body and its media type, read no further than the upload limit."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        bulk.check_size(int(declared))
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        bulk.check_size(len(data))
    return media_type, bytes(data)


_BULK_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "UTF-8, a header row of listing field names (properties.<name> for one quality "
                "attribute), one listing per row; ',' or ';' between cells; empty cells mean 'not given'.",
            },
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        # A row that is no valid listing is reported in the answer (200), not refused: any object.
                        "items": {"anyOf": [{"$ref": "#/components/schemas/ListingCreate"}, {"type": "object"}]},
                    }
                },
            },
        },
    },
}


@router.post(
    "/bulk",
    openapi_extra={"requestBody": _BULK_BODY},
    responses={
        413: {"description": f"More than {bulk.MAX_ROWS} listings or {bulk.MAX_BYTES} bytes in one upload"},
        415: {"description": "Neither text/csv nor application/json"},
        422: {"description": "A bad header or file; with atomic=true, any bad row (each error names row and field)"},
    },
)
def create_listings_in_bulk(
    session: SessionDep,
    principal: PrincipalDep,
    idempotency: IdempotencyDep,  # before the upload: it reads (and keeps) the body to compare retries
    upload: Annotated[tuple[str, bytes], Depends(_upload)],
    atomic: Annotated[bool, Query(description="Store nothing when any row is bad")] = False,
) -> BulkResult:
    """Registers many listings from a CSV file or a JSON list and reports each row: created, or rejected and why."""
    media_type, data = upload
    return idempotency.remember(bulk_service.create_from_upload(session, principal, data, media_type, atomic=atomic))


@router.get("")
def list_listings(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    kind: Kind | None = None,
    resource_type: ResourceType | None = None,
    ewc: Annotated[str | None, Query(max_length=12, description="EWC code or prefix: '10', '10 01', '100102'")] = None,
    organization_id: uuid.UUID | None = None,
    region: Annotated[str | None, Query(max_length=8, pattern=r"^[A-Z]{2}[0-9A-Z]{0,3}$")] = None,
    status: Status | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=100, description="Words in title or description")] = None,
    near: Annotated[str | None, Query(description="'lat,lon': only listings within radius_km of it")] = None,
    radius_km: Annotated[float, Query(gt=0, le=2000)] = 50.0,
) -> ListingList:
    point = _point(near) if near else None
    filters = ListingFilter(kind, resource_type, ewc, organization_id, region, status, q, point, radius_km)
    rows, total = service.page(session, principal, filters, limit=page.limit, offset=page.offset)
    items = service.to_read(session, principal, rows)
    return ListingList(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{listing_id}")
def get_listing(listing_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, response: Response) -> ListingRead:
    listing = service.get(session, principal, listing_id)
    response.headers["ETag"] = etag(listing.version)
    return service.to_read(session, principal, [listing])[0]


@router.patch("/{listing_id}")
def update_listing(
    listing_id: uuid.UUID,
    body: ListingUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: IfMatchDep,
    response: Response,
) -> ListingRead:
    listing = service.update(session, principal, listing_id, body, if_match)
    response.headers["ETag"] = etag(listing.version)
    return service.to_read(session, principal, [listing])[0]


@router.delete("/{listing_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_listing(listing_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, if_match: IfMatchDep) -> None:
    service.delete(session, principal, listing_id, if_match)


def _point(near: str) -> tuple[float, float]:
    try:
        lat, lon = (float(part) for part in near.split(","))
    except ValueError:
        raise InvalidField("near", "expected 'lat,lon', e.g. '50.06,19.94'") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidField("near", "latitude must lie in [-90, 90] and longitude in [-180, 180]")
    return lat, lon
