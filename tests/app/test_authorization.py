"""The authorization matrix: every documented operation x every kind of caller x each visibility of the object.

One world is arranged per module (and database) through the API:

- four firms in Krakow (PL213), each owning one fly-ash offer: `public`, `anonymous`, `revealed` (anonymous, but
  both parties said interested, so the double opt-in opened identities to the counterpart) and `private`;
- a cement works in Silesia (PL22A), the `counterpart`, whose public need matches the three offers that take part
  in matching (private listings never do);
- a `stranger` firm in Krakow, an agency for Malopolska (`agency_in`, PL21) and one for Silesia (`agency_out`,
  PL22: outside the offers' region but inside the counterpart's, so it sees the matches from the other end),
  an admin, a revoked key of the owner, and no key at all.

Each row of ROWS says, per caller and object, which status an operation answers. Writes are sent so that an
authorized caller gets a telling answer without disturbing the world: DELETE goes to fresh objects, PATCH of a
listing or an organization sends values it already has, PATCH of a match asks for a step the workflow refuses
(409, reachable only after authorization). Every response body (lists, exports and errors too) is searched for
what that caller must not learn: names, ids, contacts and exact places of hidden organizations, the private
listing, other organizations' webhooks, API keys. A value the caller sent itself does not count as learnt.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from app import config, db
from app.auth.service import create_key
from app.main import create_app
from app.models import ApiKey, Listing, Organization, WebhookDelivery, WebhookSubscription
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api, bearer

PROBLEM = "application/problem+json"
OBJECTS = ("public", "anonymous", "revealed", "private")
MATCHED = ("public", "anonymous", "revealed")  # private listings take no part in matching
CALLERS = ("none", "revoked", "owner", "counterpart", "stranger", "agency_in", "agency_out", "admin")
MEMBERS = ("public", "anonymous", "revealed", "private", "counterpart", "stranger")
AGENCY_REGIONS = {"agency_in": "PL21", "agency_out": "PL22"}
PUBLIC_OWNERS = {"public", "counterpart"}  # they have public listings: their names and places are shown to all
MUTUAL = {("revealed", "counterpart"), ("counterpart", "revealed")}  # both said interested in their match
PRIVATE_TITLE = "Fly ash lot QX-7731 kept private"

# ASCII names, so that a leak cannot hide behind JSON's \u escapes.
ORGANIZATIONS: dict[str, dict[str, Any]] = {
    "public": {
        "name": "Alfa Open Power Plant",
        "region": "PL213",
        "lat": 50.0611,
        "lon": 19.9311,
        "nace": ["35.11"],
        "contact": {"person": "Adam Alfowski", "email": "adam@alfa-open.example", "phone": "+48 12 111 11 11"},
    },
    "anonymous": {
        "name": "Beta Hidden Heat Works",
        "region": "PL213",
        "lat": 50.0722,
        "lon": 19.9422,
        "nace": ["35.30"],
        "contact": {"person": "Barbara Betowska", "email": "barbara@beta-hidden.example", "phone": "+48 12 222 22 22"},
    },
    "revealed": {
        "name": "Gamma Steel Mill",
        "region": "PL213",
        "lat": 50.0833,
        "lon": 19.9533,
        "nace": ["24.10"],
        "contact": {
            "person": "Grzegorz Gamowski",
            "email": "grzegorz@gamma-steel.example",
            "phone": "+48 12 333 33 33",
        },
    },
    "private": {
        "name": "Delta Secret Chemicals",
        "region": "PL213",
        "lat": 50.0944,
        "lon": 19.9644,
        "nace": ["20.13"],
        "contact": {"person": "Dorota Deltowska", "email": "dorota@delta-secret.example", "phone": "+48 12 444 44 44"},
    },
    "counterpart": {
        "name": "Epsilon Silesian Cement",
        "region": "PL22A",
        "lat": 50.2649,
        "lon": 19.0238,
        "nace": ["23.51"],
        "contact": {"person": "Ewa Epsilonska", "email": "ewa@epsilon-cement.example", "phone": "+48 32 555 55 55"},
    },
    "stranger": {
        "name": "Zeta Unrelated Dairy",
        "region": "PL213",
        "lat": 50.0377,
        "lon": 19.9188,
        "nace": ["10.51"],
        "contact": {"person": "Zenon Zetowski", "email": "zenon@zeta-dairy.example", "phone": "+48 12 666 66 66"},
    },
    "agency_in": {
        "name": "Eta Malopolska Agency",
        "kind": "agency",
        "region": "PL21",
        "lat": None,
        "lon": None,
        "nace": [],
        "contact": {"person": "Ewelina Etowska", "email": "ewelina@eta-agency.example"},
    },
    "agency_out": {
        "name": "Theta Silesia Agency",
        "kind": "agency",
        "region": "PL22",
        "lat": None,
        "lon": None,
        "nace": [],
        "contact": {"person": "Tomasz Thetowski", "email": "tomasz@theta-agency.example"},
    },
}


# --- who may learn what ---------------------------------------------------------------------------------------


def sees_identity(party: str, org: str) -> bool:
    """Whether `party` may learn `org`'s name, id and exact place."""
    if party in ("admin", org):
        return True
    if party in AGENCY_REGIONS:
        return ORGANIZATIONS[org]["region"].startswith(AGENCY_REGIONS[party]) or org in PUBLIC_OWNERS
    return party in MEMBERS and (org in PUBLIC_OWNERS or (party, org) in MUTUAL)


def sees_contact(party: str, org: str) -> bool:
    if party in ("admin", org):
        return True
    if party in AGENCY_REGIONS:
        return bool(ORGANIZATIONS[org]["region"].startswith(AGENCY_REGIONS[party]))
    return (party, org) in MUTUAL


def party_of(caller: str, obj: str) -> str:
    """Whose knowledge a caller has: the owner is the object's organization; a revoked key knows nothing."""
    return {"owner": obj, "revoked": "none"}.get(caller, caller)


# --- the world ------------------------------------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    api: Api
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # party -> Authorization
    revoked: dict[str, dict[str, str]] = field(default_factory=dict)  # object -> a revoked key of its owner
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)  # object -> its offer
    need: dict[str, Any] = field(default_factory=dict)
    matches: dict[str, str] = field(default_factory=dict)  # object -> id of its offer's match with the need
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # organization -> its subscription
    key_secrets: list[str] = field(default_factory=list)
    _hidden: dict[str, dict[str, str]] = field(default_factory=dict)

    def admin(self, method: str, url: str, expect: int, **kwargs: Any) -> httpx.Response:
        headers = self.api.admin | kwargs.pop("headers", {})
        response: httpx.Response = self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == expect, (method, url, response.status_code, response.text)
        return response

    def if_match(self, url: str) -> dict[str, str]:
        """The current ETag of what `url` names, as If-Match (for writes that want one)."""
        tag = self.admin("GET", url, 200).headers.get("etag")
        return {"If-Match": tag} if tag else {}

    def fresh_key(self, obj: str) -> str:
        return str(
            self.admin("POST", f"/api/v1/organizations/{self.orgs[obj]['id']}/api-keys", 201, json={}).json()["id"]
        )

    def fresh_listing(self, obj: str) -> httpx.Response:
        """A listing of the object's owner and visibility, paused so that it matches nothing."""
        body = ASH | {
            "title": f"Throwaway {obj} offer",
            "organization_id": self.orgs[obj]["id"],
            "visibility": _visibility(obj),
            "status": "paused",
        }
        return self.admin("POST", "/api/v1/listings", 201, json=body)

    def fresh_webhook(self, obj: str) -> str:
        url = f"/api/v1/organizations/{self.orgs[obj]['id']}/webhooks"
        body = {"url": "https://throwaway.example/hook", "events": ["match.updated"]}
        return str(self.admin("POST", url, 201, json=body).json()["id"])

    def hidden_from(self, party: str) -> dict[str, str]:
        """Every value `party` must not find in a response body, with what it is."""
        if party not in self._hidden:
            self._hidden[party] = self._secrets(party)
        return self._hidden[party]

    def _secrets(self, party: str) -> dict[str, str]:
        hidden: dict[str, str] = {}
        for org, spec in ORGANIZATIONS.items():
            if not sees_identity(party, org):
                hidden[spec["name"]] = f"the name of {org}"
                hidden[self.orgs[org]["id"]] = f"the id of {org}"
                for axis in ("lat", "lon"):
                    if spec[axis] is not None:
                        hidden[str(spec[axis])] = f"the exact {axis} of {org}"
            if not sees_contact(party, org):
                hidden |= {value: f"the contact {name} of {org}" for name, value in spec["contact"].items()}
        if party not in ("admin", "private"):
            hidden[self.listings["private"]["id"]] = "the id of the private listing"
            hidden[PRIVATE_TITLE] = "the title of the private listing"
        for org, hook in self.webhooks.items():
            hidden[hook["secret"]] = f"the webhook secret of {org}"  # shown once, at creation, never again
            if party not in ("admin", org):
                hidden[hook["url"]] = f"the webhook URL of {org}"
        hidden |= {secret: "an API key" for secret in self.key_secrets}
        return hidden


def _visibility(obj: str) -> str:
    return "anonymous" if obj == "revealed" else obj


def _wipe(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        for model in (WebhookDelivery, WebhookSubscription, Listing, ApiKey, Organization):
            session.execute(delete(model))


def _arrange(world: World) -> None:
    api = world.api
    for name, spec in ORGANIZATIONS.items():
        world.orgs[name] = api.organization(**spec)
    for name in MEMBERS:
        world.headers[name] = api.key(world.orgs[name]["id"])
    for name in AGENCY_REGIONS:
        world.headers[name] = api.key(world.orgs[name]["id"], role="agency")
    world.headers["admin"] = api.admin
    for obj in OBJECTS:
        key = world.admin("POST", f"/api/v1/organizations/{world.orgs[obj]['id']}/api-keys", 201, json={}).json()
        world.admin("DELETE", f"/api/v1/api-keys/{key['id']}", 200)
        world.revoked[obj] = bearer(key["key"])
    world.key_secrets = [
        h["Authorization"].removeprefix("Bearer ") for h in (*world.headers.values(), *world.revoked.values())
    ]
    # Subscriptions first, so that the matches below leave deliveries in each log.
    for org in (*OBJECTS, "counterpart"):
        body = {"url": f"https://hooks.{org}.example/symbioza", "events": ["match.created", "match.updated"]}
        world.webhooks[org] = world.admin(
            "POST", f"/api/v1/organizations/{world.orgs[org]['id']}/webhooks", 201, json=body
        ).json()
    for obj in OBJECTS:
        title = PRIVATE_TITLE if obj == "private" else f"{ASH['title']} ({obj})"
        world.listings[obj] = api.listing(world.headers[obj], **ASH | {"title": title, "visibility": _visibility(obj)})
    world.need = api.listing(world.headers["counterpart"], **CEMENT_NEED)
    found = world.admin("GET", f"/api/v1/listings/{world.need['id']}/matches", 200).json()["items"]
    by_offer = {item["listing"]["id"]: item["id"] for item in found}
    assert set(by_offer) == {world.listings[obj]["id"] for obj in MATCHED}, "the need matches the shared offers only"
    world.matches = {obj: by_offer[world.listings[obj]["id"]] for obj in MATCHED}
    for party in ("revealed", "counterpart"):
        url = f"/api/v1/matches/{world.matches['revealed']}"
        headers = world.headers[party] | world.if_match(url)
        response = world.client.patch(url, json={"state": "interested"}, headers=headers)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def world(database_url: str) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYMBIOZA_WEBHOOKS_ENABLED", "false")  # deliveries stay queued: their log is what we read
        config.get_settings.cache_clear()
        engine = db.get_engine()
        _wipe(engine)
        with Session(engine) as session:
            _, admin_key = create_key(session, None, role="admin", name="matrix admin")
            session.commit()
        try:
            with TestClient(create_app()) as client:
                world = World(client, Api(client, admin_key))
                _arrange(world)
                yield world
        finally:
            _wipe(engine)
            config.get_settings.cache_clear()


# --- expected answers -----------------------------------------------------------------------------------------

Expect = Callable[[str, str], int]


def sees_org(caller: str, obj: str) -> bool:
    return caller in ("owner", "admin", "agency_in")


def sees_listing(caller: str, obj: str) -> bool:
    if caller in ("owner", "admin"):
        return True
    return obj != "private" and caller in ("counterpart", "stranger", "agency_in")


def reads_match(caller: str, obj: str) -> bool:
    # agency_out covers the counterpart's region: a match touching it is in its view.
    return caller in ("owner", "counterpart", "admin", "agency_in", "agency_out")


def agencies(caller: str, obj: str) -> bool:
    # Agency keys manage no webhooks at all: refused alike whether or not they see the organization.
    return caller.startswith("agency")


def _never(caller: str, obj: str) -> bool:
    return False


def _always(caller: str, obj: str) -> bool:
    return True


def everyone(status: int) -> Expect:
    return lambda caller, obj: 401 if caller in ("none", "revoked") else status


def allowed(who: tuple[str, ...], status: int, visible: Callable[[str, str], bool] = _never) -> Expect:
    """`status` for the callers in `who`; the others get 403 when they can see the object, else 404."""

    def expect(caller: str, obj: str) -> int:
        if caller in ("none", "revoked"):
            return 401
        if caller in who:
            return status
        return 403 if visible(caller, obj) else 404

    return expect


def readable(visible: Callable[[str, str], bool]) -> Expect:
    return lambda caller, obj: 401 if caller in ("none", "revoked") else 200 if visible(caller, obj) else 404


def listing_matches(caller: str, obj: str) -> int:
    """A listing's candidates: its owner, agencies that see the listing and admins; other members are refused."""
    if caller in ("none", "revoked"):
        return 401
    if not sees_listing(caller, obj):
        return 404
    return 200 if caller in ("owner", "admin", "agency_in") else 403


def bulk(caller: str, obj: str) -> int:
    if caller in ("none", "revoked"):
        return 401
    return 403 if caller.startswith("agency") else 200


# --- requests -------------------------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    url: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def sent(self) -> str:
        return self.url + json.dumps(self.json)


Build = Callable[[World, str, str], Call]  # (world, object, caller) -> request


def get(url: Callable[[World, str], str]) -> Build:
    return lambda w, obj, caller: Call("GET", url(w, obj))


def fixed(url: str) -> Build:
    return lambda w, obj, caller: Call("GET", url)


def org_url(suffix: str = "") -> Callable[[World, str], str]:
    return lambda w, obj: f"/api/v1/organizations/{w.orgs[obj]['id']}{suffix}"


def _new_organization(w: World, obj: str, caller: str) -> Call:
    return Call("POST", "/api/v1/organizations", {"name": "Matrix Newcomer", "country": "PL", "region": "PL213"})


def _patch_organization(w: World, obj: str, caller: str) -> Call:
    url = org_url()(w, obj)
    return Call("PATCH", url, {"city": "Krakow"}, w.if_match(url))


def _new_listing(w: World, obj: str, caller: str) -> Call:
    body = ASH | {"organization_id": w.orgs[obj]["id"], "visibility": _visibility(obj), "status": "paused"}
    return Call("POST", "/api/v1/listings", body)


def _bulk(w: World, obj: str, caller: str) -> Call:
    row = ASH | {"organization_id": w.orgs[obj]["id"], "visibility": _visibility(obj), "status": "paused"}
    return Call("POST", "/api/v1/listings/bulk", {"items": [row]})


def _patch_listing(w: World, obj: str, caller: str) -> Call:
    url = f"/api/v1/listings/{w.listings[obj]['id']}"
    return Call("PATCH", url, {"title": w.listings[obj]["title"]}, w.if_match(url))


def _delete_listing(w: World, obj: str, caller: str) -> Call:
    fresh = w.fresh_listing(obj)
    etag = fresh.headers.get("etag")
    return Call("DELETE", f"/api/v1/listings/{fresh.json()['id']}", headers={"If-Match": etag} if etag else {})


def _patch_match(w: World, obj: str, caller: str) -> Call:
    url = f"/api/v1/matches/{w.matches[obj]}"
    # Neither "proposed" nor "interested" may jump to "realised": a caller past authorization gets 409.
    body: dict[str, Any] = {"state": "realised", "quantity": 1, "start_date": "2026-01-01"}
    if caller == "admin":
        body["side"] = "offer"
    return Call("PATCH", url, body, w.if_match(url))


def _new_webhook(w: World, obj: str, caller: str) -> Call:
    body = {"url": "https://matrix.example/hook", "events": ["match.created"]}
    return Call("POST", org_url("/webhooks")(w, obj), body)


def _new_key(w: World, obj: str, caller: str) -> Call:
    return Call("POST", org_url("/api-keys")(w, obj), {"name": "matrix"})


def _suggest(w: World, obj: str, caller: str) -> Call:
    return Call("POST", "/api/v1/taxonomy/suggest", {"text": "popiol lotny z kotla"})


@dataclass(frozen=True)
class Row:
    method: str
    template: str  # exactly as in the OpenAPI schema
    expect: Expect
    build: Build
    objects: tuple[str, ...] = OBJECTS
    variant: str = ""
    # For lists: the id of the object that must appear in the body exactly when `sees(caller, object)`.
    listed: Callable[[World, str], str] | None = None
    sees: Callable[[str, str], bool] = _never
    # Checks beyond the status (an error message, or None) and clean-up of what an authorized write created.
    check: Callable[[str, str, httpx.Response], str | None] | None = None
    after: Callable[[World, httpx.Response], None] | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}{self.variant}"


def _remove_created_listing(w: World, response: httpx.Response) -> None:
    if response.status_code == 201:
        url = f"/api/v1/listings/{response.json()['id']}"
        w.admin("DELETE", url, 204, headers=w.if_match(url))


def _remove_bulk_listings(w: World, response: httpx.Response) -> None:
    if response.status_code == 200:
        for item in response.json()["items"]:
            if item["id"]:
                url = f"/api/v1/listings/{item['id']}"
                w.admin("DELETE", url, 204, headers=w.if_match(url))


def _bulk_created(caller: str, obj: str, response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    wanted = 1 if caller in ("owner", "admin") else 0
    created = response.json()["created"]
    return None if created == wanted else f"created {created} listings for another organization, expected {wanted}"


def _listing_id(w: World, obj: str) -> str:
    return str(w.listings[obj]["id"])


def _match_id(w: World, obj: str) -> str:
    return w.matches[obj]


API = "/api/v1"
ROWS: tuple[Row, ...] = (
    Row("GET", "/health", lambda c, o: 200, fixed("/health"), objects=("public",)),
    Row("GET", "/ready", lambda c, o: 200, fixed("/ready"), objects=("public",)),
    Row("POST", f"{API}/organizations", allowed(("admin",), 201, _always), _new_organization, objects=("public",)),
    Row(
        "GET",
        f"{API}/organizations",
        everyone(200),
        fixed(f"{API}/organizations"),
        listed=lambda w, o: str(w.orgs[o]["id"]),
        sees=sees_org,
    ),
    Row("GET", f"{API}/organizations/{{organization_id}}", readable(sees_org), get(org_url())),
    Row(
        "PATCH",
        f"{API}/organizations/{{organization_id}}",
        allowed(("owner", "admin"), 200, sees_org),
        _patch_organization,
    ),
    Row(
        "POST",
        f"{API}/organizations/{{organization_id}}/api-keys",
        allowed(("owner", "admin"), 201, sees_org),
        _new_key,
    ),
    Row(
        "GET",
        f"{API}/organizations/{{organization_id}}/api-keys",
        allowed(("owner", "admin"), 200, sees_org),
        get(org_url("/api-keys")),
    ),
    Row(
        "DELETE",
        f"{API}/api-keys/{{key_id}}",
        allowed(("owner", "admin"), 200),
        lambda w, o, c: Call("DELETE", f"{API}/api-keys/{w.fresh_key(o)}"),
    ),
    Row("GET", f"{API}/me", everyone(200), fixed(f"{API}/me"), objects=("public",)),
    Row(
        "POST",
        f"{API}/listings",
        allowed(("owner", "admin"), 201, _always),
        _new_listing,
        after=_remove_created_listing,
    ),
    Row(
        "GET",
        f"{API}/listings",
        everyone(200),
        fixed(f"{API}/listings"),
        listed=_listing_id,
        sees=sees_listing,
    ),
    Row("POST", f"{API}/listings/bulk", bulk, _bulk, check=_bulk_created, after=_remove_bulk_listings),
    Row(
        "GET",
        f"{API}/listings/{{listing_id}}",
        readable(sees_listing),
        get(lambda w, o: f"{API}/listings/{_listing_id(w, o)}"),
    ),
    Row("PATCH", f"{API}/listings/{{listing_id}}", allowed(("owner", "admin"), 200, sees_listing), _patch_listing),
    Row("DELETE", f"{API}/listings/{{listing_id}}", allowed(("owner", "admin"), 204, sees_listing), _delete_listing),
    Row(
        "GET",
        f"{API}/listings/{{listing_id}}/matches",
        listing_matches,
        get(lambda w, o: f"{API}/listings/{_listing_id(w, o)}/matches"),
    ),
    *(
        Row(
            "GET",
            f"{API}/matches",
            everyone(200),
            fixed(f"{API}/matches{query}"),
            objects=MATCHED,
            variant=f" {query}" if query else "",
            listed=_match_id,
            sees=reads_match,
        )
        for query in ("", "?format=csv", "?format=geojson")
    ),
    Row(
        "GET",
        f"{API}/matches/{{match_id}}",
        readable(reads_match),
        get(lambda w, o: f"{API}/matches/{_match_id(w, o)}"),
        objects=MATCHED,
    ),
    Row(
        "PATCH",
        f"{API}/matches/{{match_id}}",
        allowed(("owner", "counterpart", "admin"), 409, reads_match),
        _patch_match,
        objects=MATCHED,
    ),
    Row(
        "GET",
        f"{API}/matches/{{match_id}}/events",
        readable(reads_match),
        get(lambda w, o: f"{API}/matches/{_match_id(w, o)}/events"),
        objects=MATCHED,
    ),
    *(
        Row(
            "GET",
            f"{API}/regions/{{code}}/{report}",
            allowed(("admin", agency), 200, _always),
            fixed(f"{API}/regions/{code}/{report}"),
            objects=("public",),
            variant=f" {code}",
        )
        for report in ("summary", "plan")
        for code, agency in (("PL21", "agency_in"), ("PL22", "agency_out"))
    ),
    Row("GET", f"{API}/taxonomy/ewc", everyone(200), fixed(f"{API}/taxonomy/ewc?q=ash"), objects=("public",)),
    Row(
        "GET",
        f"{API}/taxonomy/ewc/{{code}}",
        everyone(200),
        fixed(f"{API}/taxonomy/ewc/10 01 02"),
        objects=("public",),
    ),
    Row(
        "GET",
        f"{API}/taxonomy/nace",
        everyone(200),
        fixed(f"{API}/taxonomy/nace?prefix=23"),
        objects=("public",),
    ),
    Row("POST", f"{API}/taxonomy/suggest", everyone(200), _suggest, objects=("public",)),
    Row(
        "POST",
        f"{API}/organizations/{{organization_id}}/webhooks",
        allowed(("owner", "admin"), 201, agencies),
        _new_webhook,
    ),
    Row(
        "GET",
        f"{API}/organizations/{{organization_id}}/webhooks",
        allowed(("owner", "admin"), 200, agencies),
        get(org_url("/webhooks")),
    ),
    Row(
        "DELETE",
        f"{API}/webhooks/{{webhook_id}}",
        allowed(("owner", "admin"), 204, agencies),
        lambda w, o, c: Call("DELETE", f"{API}/webhooks/{w.fresh_webhook(o)}"),
    ),
    Row(
        "GET",
        f"{API}/webhooks/{{webhook_id}}/deliveries",
        allowed(("owner", "admin"), 200, agencies),
        get(lambda w, o: f"{API}/webhooks/{w.webhooks[o]['id']}/deliveries"),
    ),
)


def _headers(world: World, caller: str, obj: str) -> dict[str, str]:
    if caller == "none":
        return {}
    if caller == "revoked":
        return world.revoked[obj]
    return world.headers[party_of(caller, obj)]


def _problems(world: World, row: Row, caller: str, obj: str) -> list[str]:
    call = row.build(world, obj, caller)
    response = world.client.request(
        call.method, call.url, json=call.json, headers=_headers(world, caller, obj) | call.headers
    )
    where = f"{caller} on the {obj} object: {call.method} {call.url}"
    problems: list[str] = []
    expected = row.expect(caller, obj)
    if response.status_code != expected:
        problems.append(f"{where} answered {response.status_code}, expected {expected}: {response.text[:300]}")
    if response.status_code >= 400 and response.headers.get("content-type") != PROBLEM:
        problems.append(f"{where} answered an error that is not problem+json")
    sent = call.sent()
    for secret, what in world.hidden_from(party_of(caller, obj)).items():
        if secret in response.text and secret not in sent:
            problems.append(f"{where} ({response.status_code}) shows {what}: {secret!r}")
    if row.listed and response.status_code == 200:
        present, wanted = row.listed(world, obj) in response.text, row.sees(caller, obj)
        if present != wanted:
            problems.append(f"{where} {'lists' if present else 'does not list'} the object")
    if row.check and (message := row.check(caller, obj, response)):
        problems.append(f"{where}: {message}")
    if row.after:
        row.after(world, response)
    return problems


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_authorization_matrix(world: World, row: Row) -> None:
    problems = [p for obj in row.objects for caller in CALLERS for p in _problems(world, row, caller, obj)]
    assert not problems, "\n".join(problems)


def test_every_documented_operation_has_a_row() -> None:
    documented = {
        (method.upper(), path) for path, operations in create_app().openapi()["paths"].items() for method in operations
    }
    covered = {(row.method, row.template) for row in ROWS}
    assert not documented - covered, f"add rows to ROWS for: {sorted(documented - covered)}"
    assert not covered - documented, f"rows for operations that no longer exist: {sorted(covered - documented)}"


def _listed(world: World, party: str, query: str) -> set[str]:
    response = world.client.get(f"/api/v1/matches?{query}", headers=world.headers[party])
    assert response.status_code == 200, response.text
    return {world_object for world_object, match_id in world.matches.items() if match_id in response.text}


def test_match_filters_do_not_unmask_hidden_owners(world: World) -> None:
    """Filters are questions too: asking for an organization, an activity or a box must not tell who or where an
    anonymous owner is. Hidden sides answer only to what the caller is shown: no owner, the rounded place."""
    hidden, revealed = world.orgs["anonymous"], world.orgs["revealed"]
    for party in ("counterpart", "agency_out"):
        assert _listed(world, party, f"organization_id={hidden['id']}") == set(), party
        assert _listed(world, party, f"nace={ORGANIZATIONS['anonymous']['nace'][0]}") == set(), party
    assert _listed(world, "counterpart", f"organization_id={revealed['id']}") == {"revealed"}  # opted in
    assert _listed(world, "agency_in", f"organization_id={hidden['id']}") == {"anonymous"}  # its own region
    assert _listed(world, "counterpart", f"nace={ORGANIZATIONS['public']['nace'][0]}") == {"public"}
    # The anonymous owner is shown at (50.1, 19.9), though it stands at (50.0722, 19.9422): a box whose east edge
    # falls between the two must answer as for the shown place, or moving the edge would find the exact one.
    for party in ("counterpart", "agency_out"):
        assert "anonymous" in _listed(world, party, "bbox=19.0,50.0,19.94,50.3"), party
        assert "anonymous" not in _listed(world, party, "bbox=19.0,50.0,19.89,50.3"), party
    assert "anonymous" not in _listed(world, "agency_in", "bbox=19.0,50.0,19.94,50.3")  # it knows the exact place
