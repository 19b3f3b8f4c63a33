import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.deps import IfMatchDep, PageDep, PrincipalDep, SessionDep, etag
from app.errors import InvalidField
from app.listings import service
from app.listings.repository import ListingFilter
from app.listings.schemas import ListingCreate, ListingList, ListingRead, ListingUpdate
from matching.records import Kind, ResourceType, Status

router = APIRouter(prefix="/listings", tags=["listings"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_listing(
    body: ListingCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> ListingRead:
    listing = service.create(session, principal, body)
    response.headers["ETag"] = etag(listing.version)
    response.headers["Location"] = f"/api/v1/listings/{listing.id}"
    return service.to_read(session, principal, [listing])[0]


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
