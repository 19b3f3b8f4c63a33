"""Loads the demo region (seed_data/demo/region.json) through the same validation as the API."""

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.listings import service as listings
from app.listings.schemas import ListingCreate
from app.organizations.models import Organization
from app.organizations.schemas import OrganizationCreate

# Demo rows get ids derived from their slugs, so every fresh demo database has the same ids.
DEMO_NAMESPACE = uuid.UUID("5b1e7a0c-3f7e-4d55-9a43-0c6a2f1d9e10")
_LOADER = Principal(key_id=uuid.UUID(int=0), role="admin", organization_id=None)


@dataclass(frozen=True)
class SeedReport:
    organizations: int
    listings: int
    skipped: bool


def demo_id(slug: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, slug)


def load_demo(session: Session, path: Path) -> SeedReport:
    if session.scalar(select(func.count()).select_from(Organization)):
        return SeedReport(0, 0, skipped=True)
    data = json.loads(path.read_text(encoding="utf-8"))
    for record in data["organizations"]:
        session.add(_organization(record))
    session.flush()
    for record in data["listings"]:
        fields = {k: v for k, v in record.items() if k not in {"id", "organization"}}
        fields["organization_id"] = demo_id(record["organization"])
        listings.create(session, _LOADER, ListingCreate.model_validate(fields), listing_id=demo_id(record["id"]))
    return SeedReport(len(data["organizations"]), len(data["listings"]), skipped=False)


def _organization(record: dict[str, Any]) -> Organization:
    fields = OrganizationCreate.model_validate({k: v for k, v in record.items() if k != "id"})
    return Organization(id=demo_id(record["id"]), **fields.model_dump())
