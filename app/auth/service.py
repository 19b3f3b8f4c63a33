"""API keys: random secrets shown once, stored as SHA-256 hashes, looked up by a clear prefix."""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy.orm import Session

from app.auth import repository
from app.auth.models import ApiKey
from app.auth.principal import Principal, Role
from app.db import utcnow
from app.errors import Forbidden, InvalidField, NotFound, Unauthorized
from app.organizations.models import Organization

KEY_MARK = "sbz_"
PREFIX_LENGTH = 12


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return KEY_MARK + secrets.token_urlsafe(32)


def authenticate(session: Session, secret: str) -> Principal:
    key = repository.credentials(session, secret[:PREFIX_LENGTH]) if len(secret) >= 32 else None
    # Compare even when no row matched, so that timing says nothing about which prefixes exist.
    expected = key.secret_hash if key else _hash("")
    if not hmac.compare_digest(expected, _hash(secret)) or key is None or key.revoked_at is not None:
        raise Unauthorized("The API key is missing, unknown or revoked.")
    return Principal(key.id, cast(Role, key.role), key.organization_id, tuple(key.regions))


def create_key(
    session: Session,
    organization: Organization | None,
    *,
    role: Role,
    name: str,
    regions: Sequence[str] = (),
    secret: str | None = None,
) -> tuple[ApiKey, str]:
    if role == "agency" and not regions:
        regions = [organization.region] if organization and organization.region else []
        if not regions:
            raise InvalidField("regions", "an agency key needs at least one NUTS region")
    secret = secret or new_secret()
    key = ApiKey(
        prefix=secret[:PREFIX_LENGTH],
        secret_hash=_hash(secret),
        name=name,
        role=role,
        organization_id=organization.id if organization else None,
        regions=list(regions) if role == "agency" else [],
    )
    return repository.add(session, key), secret


def issue_key(
    session: Session,
    principal: Principal,
    organization: Organization,
    *,
    role: Role,
    name: str,
    regions: Sequence[str],
) -> tuple[ApiKey, str]:
    """A key issued over the API: members issue member keys for themselves, admins issue any key."""
    if not principal.is_admin:
        if not principal.owns(organization.id):
            raise Forbidden("Only the organization itself or an admin can issue its keys.")
        if role != "member":
            raise Forbidden("Only an admin can issue agency or admin keys.")
    if role == "agency" and organization.kind != "agency":
        raise InvalidField("role", "agency keys are issued only to organizations of kind 'agency'")
    return create_key(session, organization, role=role, name=name, regions=regions)


def list_keys(session: Session, principal: Principal, organization_id: uuid.UUID) -> Sequence[ApiKey]:
    if not (principal.is_admin or principal.owns(organization_id)):
        raise Forbidden("Only the organization itself or an admin can list its keys.")
    return repository.list_for_organization(session, organization_id)


def revoke_key(session: Session, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    key = repository.get(session, key_id)
    if key is None or not (principal.is_admin or (key.organization_id and principal.owns(key.organization_id))):
        raise NotFound(f"No API key {key_id} that you can manage.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def ensure_bootstrap_admin(session: Session, secret: str) -> bool:
    """Creates the configured admin key once; returns whether it was created now."""
    existing = repository.get_by_prefix(session, secret[:PREFIX_LENGTH])
    if existing is not None:
        if not hmac.compare_digest(existing.secret_hash, _hash(secret)):
            raise ValueError("SYMBIOZA_BOOTSTRAP_ADMIN_KEY shares its first characters with another key")
        return False
    create_key(session, None, role="admin", name="bootstrap admin", secret=secret)
    return True
