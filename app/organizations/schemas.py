import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints
from pydantic_core import PydanticCustomError

OrganizationKind = Literal["company", "agency", "operator"]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# NUTS codes: the country's two letters, then up to three more characters per level (PL, PL2, PL21, PL213).
NutsCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[0-9A-Z]{0,3}$")]
NaceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}(\.\d{1,2})?$")]


def _not_a_boolean(value: Any) -> Any:
    """JSON true and false are not numbers, though Python counts them as 1 and 0: refused, naming the field."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_not_boolean", "must be a number, not true or false")
    return value


# A number in a request: what pydantic's float takes (numbers, and numeric text, as a CSV upload's cells are), but
# not true or false.
Number = Annotated[float, BeforeValidator(_not_a_boolean)]


def _not_a_number(value: Any) -> Any:
    """Dates and times are ISO 8601 text, as the schema says: pydantic would also take a number, or numeric text, for
    seconds since 1970 (0 was 1970-01-01). Refused, naming the field."""
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _numeric(value)):
        raise PydanticCustomError("date_not_number", "must be an ISO 8601 date or date-time such as 2026-01-31")
    return value


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# A date or a date-time in a request: ISO 8601 text (or a date already parsed), never a number.
Day = Annotated[date, BeforeValidator(_not_a_number)]
Moment = Annotated[datetime, BeforeValidator(_not_a_number)]
Latitude = Annotated[Number, Field(ge=-90, le=90)]
Longitude = Annotated[Number, Field(ge=-180, le=180)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+()\-. ]+$")


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: OrganizationKind = "company"
    country: CountryCode
    region: NutsCode | None = None
    city: str | None = Field(default=None, max_length=100)
    nace: list[NaceCode] = Field(default_factory=list, max_length=20)
    lat: Latitude | None = None
    lon: Longitude | None = None
    contact: Contact = Field(default_factory=Contact)


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    kind: OrganizationKind | None = None
    country: CountryCode | None = None
    region: NutsCode | None = None
    city: str | None = Field(default=None, max_length=100)
    nace: list[NaceCode] | None = Field(default=None, max_length=20)
    lat: Latitude | None = None
    lon: Longitude | None = None
    contact: Contact | None = None


class OrganizationRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: OrganizationKind
    country: str
    region: str | None
    city: str | None
    nace: list[str]
    lat: float | None
    lon: float | None
    contact: Contact
    version: int
    created_at: datetime
    updated_at: datetime


class OrganizationList(BaseModel):
    items: list[OrganizationRead]
    total: int
    limit: int
    offset: int
