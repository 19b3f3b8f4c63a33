"""Who is calling: the role and scope of the API key on the request."""

import uuid
from dataclasses import dataclass
from typing import Literal

Role = Literal["member", "agency", "admin"]
ROLES: tuple[Role, ...] = ("member", "agency", "admin")


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    role: Role
    organization_id: uuid.UUID | None
    regions: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_agency(self) -> bool:
        return self.role == "agency"

    def owns(self, organization_id: uuid.UUID) -> bool:
        return self.role == "member" and self.organization_id == organization_id

    def covers_region(self, region: str | None) -> bool:
        """An agency reads what lies in its regions: NUTS codes nest, so PL21 covers PL213."""
        return region is not None and any(region.startswith(prefix) for prefix in self.regions)

    def sees_identities(self, organization_id: uuid.UUID, region: str | None) -> bool:
        """Owners, admins and agencies covering the owner's region see who stands behind an anonymous listing.

        The region matters where a match shows an agency its out-of-region side: that owner stays hidden."""
        return self.is_admin or self.owns(organization_id) or (self.is_agency and self.covers_region(region))
