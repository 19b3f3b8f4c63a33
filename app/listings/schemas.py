import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from app.organizations.schemas import Day, Latitude, Longitude, Number
from matching.records import (
    Form,
    Kind,
    LegalStatus,
    Period,
    RecoveryOperation,
    ResourceType,
    Status,
    Unit,
    Visibility,
)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
EwcText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=12)]
PropertyKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _flat(value: object) -> object:
    """Quality attributes are one level deep: a nested object or list is refused naming properties.<key>."""
    if value is None or isinstance(value, dict | list):
        raise PydanticCustomError(
            "flat_property",
            "a quality attribute is a number, true/false or a text of at most 200 characters, not {kind}: "
            "give each attribute a key of its own in properties",
            {"kind": "null" if value is None else "a nested object" if isinstance(value, dict) else "a list"},
        )
    return value


PropertyValue = Annotated[
    float | int | bool | Annotated[str, StringConstraints(max_length=200)], BeforeValidator(_flat)
]

# Which units make sense for which resource: steam is sold by the tonne, biogas by the normal cubic metre.
UNITS_BY_RESOURCE: dict[str, frozenset[str]] = {
    "material": frozenset({"t", "kg", "m3", "Nm3", "l", "pcs", "m2"}),
    "energy": frozenset({"MWh", "kWh", "GJ", "t", "Nm3", "m3"}),
    "water": frozenset({"m3", "l"}),
    "capacity": frozenset({"t", "kg", "m3", "Nm3", "l", "MWh", "kWh", "GJ", "pcs", "m2", "h"}),
}


class ListingFields(BaseModel):
    """Every writable field of a listing, with the rules that hold between fields."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    resource_type: ResourceType
    title: Title
    description: Description = ""
    language: Language | None = None
    ewc: EwcText | None = Field(default=None, description="EWC code, e.g. '10 01 02'; suggested when missing")
    hazardous: bool | None = Field(default=None, description="Derived from the EWC code when omitted")
    form: Form | None = None
    quantity: Annotated[Number, Field(ge=0, le=1e12)] | None = None
    unit: Unit | None = None
    period: Period | None = None
    available_from: Day | None = None
    available_until: Day | None = None
    legal_status: LegalStatus | None = None
    recovery_operations: list[RecoveryOperation] = Field(default_factory=list, max_length=13)
    properties: dict[PropertyKey, PropertyValue] = Field(default_factory=dict, max_length=30)
    max_distance_km: Annotated[Number, Field(gt=0, le=20000)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    visibility: Visibility = "public"
    status: Status = "active"

    @model_validator(mode="after")
    def _fields_agree(self) -> Self:
        if self.quantity is not None and (self.unit is None or self.period is None):
            raise ValueError("quantity needs a unit and a period")
        if self.unit is not None and self.unit not in UNITS_BY_RESOURCE[self.resource_type]:
            allowed = ", ".join(sorted(UNITS_BY_RESOURCE[self.resource_type]))
            raise ValueError(f"unit {self.unit!r} does not fit resource_type {self.resource_type!r} ({allowed})")
        if self.available_from and self.available_until and self.available_until < self.available_from:
            raise ValueError("available_until is before available_from")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        if len(set(self.recovery_operations)) != len(self.recovery_operations):
            raise ValueError("recovery_operations lists a code twice")
        return self


class ListingCreate(ListingFields):
    organization_id: uuid.UUID | None = Field(default=None, description="Defaults to the caller's organization")


class ListingUpdate(BaseModel):
    """A partial change; the merged listing is checked against every rule of ListingFields."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    resource_type: ResourceType | None = None
    title: Title | None = None
    description: Description | None = None
    language: Language | None = None
    ewc: EwcText | None = None
    hazardous: bool | None = None
    form: Form | None = None
    quantity: Annotated[Number, Field(ge=0, le=1e12)] | None = None
    unit: Unit | None = None
    period: Period | None = None
    available_from: Day | None = None
    available_until: Day | None = None
    legal_status: LegalStatus | None = None
    recovery_operations: list[RecoveryOperation] | None = Field(default=None, max_length=13)
    properties: dict[PropertyKey, PropertyValue] | None = Field(default=None, max_length=30)
    max_distance_km: Annotated[Number, Field(gt=0, le=20000)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    visibility: Visibility | None = None
    status: Status | None = None


class OwnerRead(BaseModel):
    id: uuid.UUID
    name: str
    region: str | None


class ListingRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID | None = Field(description="Null while an anonymous owner stays hidden")
    organization: OwnerRead | None
    kind: Kind
    resource_type: ResourceType
    title: str
    description: str
    language: str | None
    ewc: str | None
    ewc_label: str | None
    suggested_ewc: str | None = Field(description="Suggested from the text when the firm gave no code")
    suggested_ewc_confidence: float | None
    hazardous: bool
    form: str | None
    quantity: float | None
    unit: str | None
    period: str | None
    available_from: date | None
    available_until: date | None
    legal_status: str | None
    recovery_operations: list[str]
    properties: dict[str, Any]
    max_distance_km: float | None
    lat: float | None
    lon: float | None
    location_precision: str = Field(description="'exact', or 'approximate' (about 10 km) for hidden owners")
    visibility: Visibility
    status: Status
    version: int
    created_at: datetime
    updated_at: datetime


class ListingList(BaseModel):
    items: list[ListingRead]
    total: int
    limit: int
    offset: int


class BulkRowError(BaseModel):
    field: str = Field(description="The listing field (or CSV column) at fault; 'row' for the row as a whole")
    message: str


class BulkRowResult(BaseModel):
    row: int = Field(description="Line in the CSV file (the header is line 1), or index in the JSON list")
    status: Literal["created", "rejected"]
    id: uuid.UUID | None = Field(description="The new listing's id; null when the row was rejected")
    errors: list[BulkRowError]


class BulkResult(BaseModel):
    created: int
    rejected: int
    atomic: bool = Field(description="True when any rejected row would have stored nothing at all")
    items: list[BulkRowResult]
