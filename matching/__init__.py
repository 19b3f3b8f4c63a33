"""Symbioza's matching engine: pure Python, no web framework and no database."""

from matching.records import (
    FORMS,
    KINDS,
    LEGAL_STATUSES,
    PERIODS,
    RECOVERY_OPERATIONS,
    RESOURCE_TYPES,
    STATUSES,
    UNITS,
    VISIBILITIES,
)

__all__ = [
    "FORMS",
    "KINDS",
    "LEGAL_STATUSES",
    "PERIODS",
    "RECOVERY_OPERATIONS",
    "RESOURCE_TYPES",
    "STATUSES",
    "UNITS",
    "VISIBILITIES",
]
