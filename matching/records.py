"""The vocabulary every listing is written in, shared by the engine, the API and the data files."""

from typing import Literal, get_args

Kind = Literal["offer", "need"]
ResourceType = Literal["material", "energy", "water", "capacity"]
# Mass, volume, energy, count, area and time: what firms actually state their streams in.
Unit = Literal["t", "kg", "m3", "Nm3", "l", "MWh", "kWh", "GJ", "pcs", "m2", "h"]
Period = Literal["one-off", "day", "week", "month", "year"]
Form = Literal[
    "solid",
    "bulk",
    "powder",
    "granular",
    "pieces",
    "sludge",
    "paste",
    "liquid",
    "gas",
    "steam",
    "hot_water",
    "electricity",
    "other",
]
LegalStatus = Literal["by_product", "waste", "end_of_waste", "product"]
# Annex II of the Waste Framework Directive: recovery operations R1-R13.
RecoveryOperation = Literal["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11", "R12", "R13"]
Visibility = Literal["public", "anonymous", "private"]
Status = Literal["active", "paused", "closed"]

KINDS: tuple[str, ...] = get_args(Kind)
RESOURCE_TYPES: tuple[str, ...] = get_args(ResourceType)
UNITS: tuple[str, ...] = get_args(Unit)
PERIODS: tuple[str, ...] = get_args(Period)
FORMS: tuple[str, ...] = get_args(Form)
LEGAL_STATUSES: tuple[str, ...] = get_args(LegalStatus)
RECOVERY_OPERATIONS: tuple[str, ...] = get_args(RecoveryOperation)
VISIBILITIES: tuple[str, ...] = get_args(Visibility)
STATUSES: tuple[str, ...] = get_args(Status)
