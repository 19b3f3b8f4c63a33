"""Organizations: admins create them; members read and update their own; agencies read their regions."""

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.errors import Forbidden, InvalidField, NotFound
from app.listings import repository as listings
from app.matches import sync as matches
from app.organizations import repository
from app.organizations.models import Organization
from app.organizations.schemas import OrganizationCreate, OrganizationUpdate
from app.taxonomy import repository as taxonomy

# An owner's activity codes and place feed its listings' profiles and distances.
MATCHING_FIELDS = {"nace", "lat", "lon"}


def can_read(principal: Principal, organization: Organization) -> bool:
    return (
        principal.is_admin
        or principal.organization_id == organization.id
        or (principal.is_agency and principal.covers_region(organization.region))
    )


def get(session: Session, principal: Principal, organization_id: uuid.UUID) -> Organization:
    organization = repository.get(session, organization_id)
    if organization is None or not can_read(principal, organization):
        raise NotFound(f"No organization {organization_id} that you can see.")
    return organization


def create(session: Session, principal: Principal, data: OrganizationCreate) -> Organization:
    if not principal.is_admin:
        raise Forbidden("Only an admin can register organizations.")
    _check_location(data.lat, data.lon)
    _check_nace(session, data.nace)
    values = data.model_dump()
    return repository.add(session, Organization(**values))


def update(
    session: Session, principal: Principal, organization_id: uuid.UUID, data: OrganizationUpdate
) -> Organization:
    organization = get(session, principal, organization_id)
    if not (principal.is_admin or principal.owns(organization.id)):
        raise Forbidden("Only the organization itself or an admin can change it.")
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "kind", "country", "nace", "contact"):
        if field in changes and changes[field] is None:
            raise InvalidField(field, "may not be null")
    if "kind" in changes and not principal.is_admin:
        raise Forbidden("Only an admin can change an organization's kind.")
    _check_location(changes.get("lat", organization.lat), changes.get("lon", organization.lon))
    _check_nace(session, changes.get("nace") or [])
    if not changes:
        return organization
    matches.lock(session)  # before the row: writers hold the lock and read owners
    for field, value in changes.items():
        setattr(organization, field, value)
    session.flush()  # so the answer carries the new version and timestamp
    owned = listings.of_organization(session, organization.id)
    if changes.keys() & MATCHING_FIELDS:
        matches.refresh_organization(session, owned)
    else:
        matches.shown_changed(session, [listing.id for listing in owned])
    return organization


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
    return repository.page(session, principal, region=region, kind=kind, q=q, limit=limit, offset=offset)


def _check_location(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise InvalidField("lat" if lat is None else "lon", "give both lat and lon, or neither")


def _check_nace(session: Session, codes: Sequence[str]) -> None:
    known = taxonomy.all_nace(session)
    for index, code in enumerate(codes):
        if code not in known:
            raise InvalidField(f"nace.{index}", f"{code!r} is not a NACE Rev. 2 code in the catalogue")
