import uuid

from fastapi import APIRouter, status

from app.auth import service
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyRead, Me
from app.deps import IdempotencyDep, PrincipalDep, SessionDep
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationRead

router = APIRouter(tags=["api keys"])


@router.post("/organizations/{organization_id}/api-keys", status_code=status.HTTP_201_CREATED)
def create_api_key(
    organization_id: uuid.UUID,
    body: ApiKeyCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency: IdempotencyDep,
) -> ApiKeyCreated:
    organization = organizations.get(session, principal, organization_id)
    key, secret = service.issue_key(
        session, principal, organization, role=body.role, name=body.name, regions=body.regions
    )
    created = ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(key, from_attributes=True).model_dump(), "key": secret}
    )
    return idempotency.remember(created, secret="key")  # the secret itself is never stored for a retry


@router.get("/organizations/{organization_id}/api-keys")
def list_api_keys(organization_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ApiKeyList:
    organizations.get(session, principal, organization_id)
    keys = service.list_keys(session, principal, organization_id)
    return ApiKeyList(items=[ApiKeyRead.model_validate(k, from_attributes=True) for k in keys], total=len(keys))


@router.delete("/api-keys/{key_id}")
def revoke_api_key(key_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ApiKeyRead:
    return ApiKeyRead.model_validate(service.revoke_key(session, principal, key_id), from_attributes=True)


@router.get("/me", tags=["me"])
def me(session: SessionDep, principal: PrincipalDep) -> Me:
    organization = (
        organizations.get(session, principal, principal.organization_id) if principal.organization_id else None
    )
    return Me(
        key_id=principal.key_id,
        role=principal.role,
        regions=list(principal.regions),
        organization=OrganizationRead.model_validate(organization, from_attributes=True) if organization else None,
    )
