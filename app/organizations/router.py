import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.deps import IdempotencyDep, PageDep, PrincipalDep, SessionDep
from app.organizations import service
from app.organizations.schemas import (
    OrganizationCreate,
    OrganizationKind,
    OrganizationList,
    OrganizationRead,
    OrganizationUpdate,
)

router = APIRouter(prefix="/organizations", tags=["organizations"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_organization(
    body: OrganizationCreate, session: SessionDep, principal: PrincipalDep, idempotency: IdempotencyDep
) -> OrganizationRead:
    created = service.create(session, principal, body)
    return idempotency.remember(OrganizationRead.model_validate(created, from_attributes=True))


@router.get("")
def list_organizations(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    region: Annotated[str | None, Query(max_length=8, description="NUTS code prefix")] = None,
    kind: OrganizationKind | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name")] = None,
) -> OrganizationList:
    rows, total = service.page(session, principal, region=region, kind=kind, q=q, limit=page.limit, offset=page.offset)
    items = [OrganizationRead.model_validate(row, from_attributes=True) for row in rows]
    return OrganizationList(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{organization_id}")
def get_organization(organization_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> OrganizationRead:
    return OrganizationRead.model_validate(service.get(session, principal, organization_id), from_attributes=True)


@router.patch("/{organization_id}")
def update_organization(
    organization_id: uuid.UUID, body: OrganizationUpdate, session: SessionDep, principal: PrincipalDep
) -> OrganizationRead:
    organization = service.update(session, principal, organization_id, body)
    return OrganizationRead.model_validate(organization, from_attributes=True)
