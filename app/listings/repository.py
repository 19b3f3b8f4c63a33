import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Numeric, Select, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.listings.models import Listing
from app.organizations.models import Organization
from app.organizations.repository import in_regions

KM_PER_DEGREE = 111.2


@dataclass(frozen=True)
class ListingFilter:
    kind: str | None = None
    resource_type: str | None = None
    ewc: str | None = None
    organization_id: uuid.UUID | None = None
    region: str | None = None
    status: str | None = None
    q: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float = 50.0


def get(session: Session, listing_id: uuid.UUID) -> Listing | None:
    return session.get(Listing, listing_id)


def add(session: Session, listing: Listing) -> Listing:
    session.add(listing)
    session.flush()
    return listing


def open_transaction(session: Session) -> None:
    """Makes sure the database transaction has really begun, so that SAVEPOINTs nest inside it.

    Python's sqlite3 driver begins its transaction lazily, at the first INSERT, UPDATE or DELETE. A SAVEPOINT set
    before that begins a transaction of its own, and releasing it commits: a later rollback would not undo it.
    """
    connection = session.connection()
    driver = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and not getattr(driver, "in_transaction", True):
        connection.exec_driver_sql("BEGIN")


def of_organization(session: Session, organization_id: uuid.UUID) -> Sequence[Listing]:
    query = select(Listing).where(Listing.organization_id == organization_id).order_by(Listing.id)
    return session.scalars(query).all()


def delete(session: Session, listing: Listing) -> None:
    session.delete(listing)
    session.flush()


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """Which listings a caller may see at all; None means everything."""
    if principal.is_admin:
        return None
    shared = Listing.visibility.in_(("public", "anonymous"))
    if principal.is_agency:
        return and_(shared, in_regions(principal.regions))
    return or_(Listing.organization_id == principal.organization_id, shared)


def masked_for(principal: Principal) -> ColumnElement[bool]:
    """Listings whose owner and exact location this caller must not learn."""
    if principal.role != "member":
        return literal(False)
    return and_(Listing.visibility == "anonymous", Listing.organization_id != principal.organization_id)


def _location(principal: Principal) -> tuple[ColumnElement[float], ColumnElement[float]]:
    # Hidden owners are searched at the same rounded point the API shows, so a radius search cannot pin them.
    masked = masked_for(principal)
    lat = func.coalesce(Listing.lat, Organization.lat)
    lon = func.coalesce(Listing.lon, Organization.lon)

    def rounded(value: ColumnElement[float]) -> ColumnElement[float]:
        return cast(func.round(cast(value, Numeric), 1), Float)

    return case((masked, rounded(lat)), else_=lat), case((masked, rounded(lon)), else_=lon)


def _apply(query: Select[Any], principal: Principal, f: ListingFilter) -> Select[Any]:
    scope = visible_to(principal)
    if scope is not None:
        query = query.where(scope)
    if f.kind:
        query = query.where(Listing.kind == f.kind)
    if f.resource_type:
        query = query.where(Listing.resource_type == f.resource_type)
    if f.ewc:
        query = query.where(Listing.ewc.startswith(f.ewc))
    if f.organization_id:
        query = query.where(Listing.organization_id == f.organization_id, ~masked_for(principal))
    if f.region:
        query = query.where(Organization.region.startswith(f.region))
    if f.status:
        query = query.where(Listing.status == f.status)
    if f.q:
        pattern = f"%{f.q.lower()}%"
        query = query.where(or_(func.lower(Listing.title).like(pattern), func.lower(Listing.description).like(pattern)))
    if f.near:
        lat, lon = _location(principal)
        lat0, lon0 = f.near
        # Equirectangular distance: within 0.5 % of great-circle distance at the radii people search.
        dy = (lat - lat0) * KM_PER_DEGREE
        dx = (lon - lon0) * (KM_PER_DEGREE * math.cos(math.radians(lat0)))
        query = query.where(dx * dx + dy * dy <= f.radius_km * f.radius_km)
    return query


def page(
    session: Session, principal: Principal, f: ListingFilter, *, limit: int, offset: int
) -> tuple[Sequence[Listing], int]:
    query = _apply(select(Listing).join(Listing.organization), principal, f)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(Listing.created_at.desc(), Listing.id).limit(limit).offset(offset)
    return session.scalars(ordered).unique().all(), total
