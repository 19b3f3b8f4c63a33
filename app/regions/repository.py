from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.listings.models import Listing
from app.organizations.models import Organization


def count_organizations(session: Session, code: str) -> int:
    query = select(func.count()).select_from(Organization).where(Organization.region.startswith(code))
    return session.scalar(query) or 0


def active_listings(session: Session, code: str) -> Sequence[Listing]:
    """Active listings of the region's organizations that agencies may see (private ones stay out)."""
    query = (
        select(Listing)
        .join(Listing.organization)
        .where(Organization.region.startswith(code), Listing.status == "active", Listing.visibility != "private")
        .options(selectinload(Listing.organization))
        .order_by(Listing.id)
    )
    return session.scalars(query).unique().all()
