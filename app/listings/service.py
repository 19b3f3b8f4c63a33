"""Offers and needs: who may write them, what makes one valid, and what each caller may see of it."""

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.errors import Forbidden, InvalidField, NotFound, ValidationFailed
from app.listings import repository
from app.listings.models import Listing
from app.listings.repository import ListingFilter
from app.listings.schemas import ListingCreate, ListingFields, ListingRead, ListingUpdate, OwnerRead
from app.matches import sync as matches
from app.organizations import repository as organizations
from app.taxonomy import repository as taxonomy
from app.versioning import check_if_match
from matching.taxonomy import normalise_ewc

APPROXIMATE_DEGREES = 1  # decimals kept for hidden owners: 0.1 degree is about 10 km


def is_masked(principal: Principal, listing: Listing) -> bool:
    owner = listing.organization
    return listing.visibility == "anonymous" and not principal.sees_identities(owner.id, owner.region)


def can_see(principal: Principal, listing: Listing) -> bool:
    if principal.is_admin or principal.owns(listing.organization_id):
        return True
    if listing.visibility == "private":
        return False
    return not principal.is_agency or principal.covers_region(listing.organization.region)


def get(session: Session, principal: Principal, listing_id: uuid.UUID) -> Listing:
    listing = repository.get(session, listing_id)
    if listing is None or not can_see(principal, listing):
        raise NotFound(f"No listing {listing_id} that you can see.")
    return listing


def create(
    session: Session,
    principal: Principal,
    data: ListingCreate,
    *,
    listing_id: uuid.UUID | None = None,
    match: bool = True,
) -> Listing:
    """A new listing, with its profile and matches stored; without `match`, the listing alone: its profile and
    matches wait for the next full rebuild, and until then matching does not see it (an import before a first load)."""
    organization_id = _writable_organization(session, principal, data.organization_id)
    fields = data.model_dump(exclude={"organization_id"})
    values = _checked(session, fields)
    listing = Listing(id=listing_id or uuid.uuid4(), organization_id=organization_id, version=1, **values)
    repository.add(session, listing)
    if match:
        matches.refresh(session, listing)
    return listing


def update(
    session: Session, principal: Principal, listing_id: uuid.UUID, data: ListingUpdate, if_match: int | None
) -> Listing:
    listing = _get_writable(session, principal, listing_id, if_match)
    changes = data.model_dump(exclude_unset=True)
    if "ewc" in changes and "hazardous" not in changes:
        changes["hazardous"] = None  # a new code brings its own hazard flag
    current = {name: getattr(listing, name) for name in ListingFields.model_fields}
    for field, value in _checked(session, current | changes).items():
        setattr(listing, field, value)
    listing.version += 1
    session.flush()
    matches.refresh(session, listing)
    return listing


def delete(session: Session, principal: Principal, listing_id: uuid.UUID, if_match: int | None) -> None:
    listing = _get_writable(session, principal, listing_id, if_match)
    matches.forget(session, listing)
    repository.delete(session, listing)


def page(
    session: Session, principal: Principal, f: ListingFilter, *, limit: int, offset: int
) -> tuple[Sequence[Listing], int]:
    if f.ewc:
        f = ListingFilter(**{**f.__dict__, "ewc": ewc_prefix(f.ewc)})
    return repository.page(session, principal, f, limit=limit, offset=offset)


def to_read(
    session: Session, principal: Principal, listings: Sequence[Listing], *, revealed: frozenset[uuid.UUID] = frozenset()
) -> list[ListingRead]:
    """What this caller may see of each listing: hidden owners and exact places are left out, except for the
    listings in `revealed` (counterparts of a match both parties said they are interested in)."""
    labels = taxonomy.labels(session, {x.ewc for x in listings if x.ewc})
    return [_read(principal, listing, labels, listing.id in revealed) for listing in listings]


def _read(principal: Principal, listing: Listing, labels: dict[str, str], revealed: bool) -> ListingRead:
    owner = listing.organization
    lat, lon = (listing.lat, listing.lon) if listing.lat is not None else (owner.lat, owner.lon)
    masked = is_masked(principal, listing) and not revealed
    if masked and lat is not None and lon is not None:
        lat, lon = round(lat, APPROXIMATE_DEGREES), round(lon, APPROXIMATE_DEGREES)
    values = {name: getattr(listing, name) for name in ListingFields.model_fields} | {
        "id": listing.id,
        "organization_id": None if masked else owner.id,
        "organization": None if masked else OwnerRead(id=owner.id, name=owner.name, region=owner.region),
        "ewc_label": labels.get(listing.ewc) if listing.ewc else None,
        "suggested_ewc": listing.suggested_ewc,
        "suggested_ewc_confidence": listing.suggested_ewc_confidence,
        "lat": lat,
        "lon": lon,
        "location_precision": "approximate" if masked else "exact",
        "version": listing.version,
        "created_at": listing.created_at,
        "updated_at": listing.updated_at,
    }
    return ListingRead.model_validate(values)


def check_writer(principal: Principal) -> None:
    """Before a batch of writes: agency keys (and keys of no organization) write no listings."""
    if not principal.is_admin and (principal.role != "member" or principal.organization_id is None):
        raise Forbidden("Agencies read listings; only member and admin keys write them.")


def _writable_organization(session: Session, principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    if principal.is_admin:
        if requested is None:
            raise InvalidField("organization_id", "an admin must say which organization the listing belongs to")
        if organizations.get(session, requested) is None:
            raise InvalidField("organization_id", f"no organization {requested}")
        return requested
    if principal.role != "member" or principal.organization_id is None:
        raise Forbidden("Agencies read listings; only member and admin keys write them.")
    if requested is not None and requested != principal.organization_id:
        raise Forbidden("A member writes listings only for its own organization.")
    return principal.organization_id


def _get_writable(session: Session, principal: Principal, listing_id: uuid.UUID, if_match: int | None) -> Listing:
    listing = get(session, principal, listing_id)
    if not (principal.is_admin or principal.owns(listing.organization_id)):
        raise Forbidden("Only the owning organization or an admin can change this listing.")
    check_if_match("listing", listing.version, if_match)
    return listing


def _checked(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    """Validates the whole listing (shape, then codes against the catalogue) and returns what to store."""
    try:
        valid = ListingFields.model_validate(fields).model_dump()
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        raise ValidationFailed(errors) from None
    valid["ewc"], valid["hazardous"] = _checked_ewc(session, valid["ewc"], valid["hazardous"])
    return valid


def _checked_ewc(session: Session, raw: str | None, hazardous: bool | None) -> tuple[str | None, bool]:
    if raw is None:
        return None, bool(hazardous)
    code = normalise_ewc(raw)
    entry = taxonomy.get_ewc(session, code) if code else None
    if entry is None or entry.level != "entry":
        raise InvalidField("ewc", f"{raw!r} is not a six-digit entry of the European List of Waste")
    starred = raw.strip().endswith("*")
    if (hazardous is not None and hazardous != entry.hazardous) or (starred and not entry.hazardous):
        state = "hazardous" if entry.hazardous else "non-hazardous"
        raise InvalidField("hazardous", f"EWC {code} is {state}; the hazardous flag must say so")
    return code, entry.hazardous


def ewc_prefix(raw: str) -> str:
    code = normalise_ewc(raw)
    if code is None:
        raise InvalidField("ewc", f"{raw!r} is not an EWC chapter, subchapter or entry")
    return code
