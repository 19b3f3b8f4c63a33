import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.auth.principal import Role
from app.organizations.schemas import NutsCode, OrganizationRead


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = "api key"
    role: Role = "member"
    regions: list[NutsCode] = Field(default_factory=list, max_length=50, description="Agency keys only")


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    organization_id: uuid.UUID | None
    regions: list[str]
    prefix: str = Field(description="The first characters of the key, to recognise it")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key. It is shown only this once.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
    total: int


class Me(BaseModel):
    key_id: uuid.UUID
    role: Role
    regions: list[str]
    organization: OrganizationRead | None
