"""Every ORM model, imported in one place so that Alembic and the tests see the whole schema."""

from app.auth.models import ApiKey
from app.db import Base
from app.idempotency.models import IdempotencyKey
from app.listings.models import Listing
from app.matches.models import ListingChange, ListingConcept, Match, MatchEvent
from app.organizations.models import Organization
from app.taxonomy.models import EwcCode, NaceCode
from app.webhooks.models import WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiKey",
    "Base",
    "EwcCode",
    "IdempotencyKey",
    "Listing",
    "ListingChange",
    "ListingConcept",
    "Match",
    "MatchEvent",
    "NaceCode",
    "Organization",
    "WebhookDelivery",
    "WebhookSubscription",
]
