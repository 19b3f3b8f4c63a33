import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.organizations.models import Organization


def get(session: Session, organization_id: uuid.UUID) -> Organization | None:
    return session.get(Organization, organization_id)


def add(session: Session, organization: Organization) -> Organization:
    session.add(organization)
    session.flush()
    return organization


def in_regions(regions: Sequence[str]) -> ColumnElement[bool]:
    """Organizations whose NUTS code lies inside one of the given prefixes."""
    if not regions:
        return false()
    return or_(*(Organization.region.startswith(prefix) for prefix in regions))


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    if principal.is_admin:
        return None
    if principal.is_agency:
        return in_regions(principal.regions)
    return Organization.id == principal.organization_id


def page(
    session: Session,
    principal: Principal,
    *,
    region: str | None,
    kind: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Organization], int]:
    query = select(Organization)
    scope = visible_to(principal)
    if scope is not None:
        query = query.where(scope)
    if region:
        query = query.where(Organization.region.startswith(region))
    if kind:
        query = query.where(Organization.kind == kind)
    if q:
        query = query.where(func.lower(Organization.name).like(f"%{q.lower()}%"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Organization.name, Organization.id).limit(limit).offset(offset)).all()
    return rows, total
