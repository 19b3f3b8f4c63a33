"""Matching and the workflow queue webhook deliveries for the parties that subscribed."""

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.webhooks.models import WebhookDelivery
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api


def _subscribe(client: TestClient, headers: dict[str, str], organization_id: str, **body: object) -> str:
    response = client.post(
        f"/api/v1/organizations/{organization_id}/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["match.created", "match.updated"]} | body,
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_new_matches_and_workflow_steps_are_announced(api: Api, client: TestClient, session: Session) -> None:
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(lat=50.02, lon=19.80, nace=["23.51"])
    seller, buyer = api.key(power["id"]), api.key(cement["id"])
    _subscribe(client, seller, power["id"])
    _subscribe(client, buyer, cement["id"], min_score=0.99)  # too demanding for this pair
    api.listing(seller, **ASH)
    need = api.listing(buyer, **CEMENT_NEED)

    def events() -> list[tuple[str, str]]:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at)).all()
        session.expire_all()
        return [(row.event, str(row.payload.get("listing_id", row.payload.get("match_id")))) for row in rows]

    created = [e for e in events() if e[0] == "match.created"]
    assert len(created) == 1  # the seller's subscription; the buyer's threshold is above the score
    match = client.get(f"/api/v1/listings/{need['id']}/matches", headers=buyer).json()["items"][0]
    url = f"/api/v1/matches/{match['id']}"
    assert client.patch(url, json={"state": "interested"}, headers=api.current(url, buyer)).status_code == 200
    updated = [e for e in events() if e[0] == "match.updated"]
    assert updated == [("match.updated", match["id"])] * 2  # both subscriptions hear of workflow steps
