"""Schemathesis fuzzes every operation of the live OpenAPI schema of a real uvicorn process.

An admin key and a member key take turns; path parameters point at real organizations, listings, matches, keys
and webhooks most of the time, so that generated requests get past the 404 into the code that does the work.
Checks: no 5xx, every status code and content type documented, every body and header as the schema says, and
schema-invalid requests (negative mode) refused with a 4xx.
"""

import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from tests.reliability.servers import uvicorn

pytestmark = pytest.mark.reliability

MIN_REQUESTS = 1000
# Examples per operation and generation mode: (31 operations) x (26 + 10) is about 1,100 requests.
EXAMPLES = {GenerationMode.POSITIVE: 26, GenerationMode.NEGATIVE: 10}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]
ADMIN_KEY = "sbz_fuzz_admin_" + secrets.token_urlsafe(32)


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


@pytest.fixture
def server(engine: Engine, database_url: str) -> Iterator[str]:
    # `engine` empties the tables afterwards; the server writes to the same database.
    with uvicorn(database_url, env={"SYMBIOZA_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY}) as urls:
        yield urls[0]


def _arrange(url: str) -> tuple[str, dict[str, list[str]]]:
    """Real objects for the path parameters; returns the member key and the values of each parameter."""
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:

        def post(path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
            response = admin.post(path, json=body)
            assert response.status_code == expect, response.text
            return dict(response.json())

        own = post(
            "/organizations", {"name": "Fuzz CHP", "country": "PL", "region": "PL213", "lat": 50.07, "lon": 20.0}
        )
        other = post(
            "/organizations", {"name": "Fuzz Cement", "country": "PL", "region": "PL22", "lat": 50.3, "lon": 19.2}
        )
        member = post(f"/organizations/{own['id']}/api-keys", {"role": "member"})["key"]
        spare_keys = [post(f"/organizations/{other['id']}/api-keys", {"name": f"spare {n}"})["id"] for n in range(3)]
        listings = [
            post("/listings", body | {"organization_id": org["id"], "visibility": visibility})["id"]
            for org, body, visibility in (
                (own, _FLY_ASH, "public"),
                (own, _FLY_ASH | {"title": "Popiół lotny, partia druga"}, "anonymous"),
                (own, _HEAT, "private"),
                (other, _ASH_NEED, "public"),
                (other, _ASH_NEED | {"title": "Fly ash for blended cement"}, "anonymous"),
            )
        ]
        matches = admin.get("/matches").json()["items"]
        assert matches, "the arranged listings should match"
        webhook = post(
            f"/organizations/{own['id']}/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["match.created"]}
        )
    values = {
        "organization_id": [own["id"], other["id"]],
        "listing_id": listings,
        "match_id": [m["id"] for m in matches],
        "key_id": spare_keys,
        "webhook_id": [webhook["id"]],
        "code": ["PL21", "PL213", "PL22", "10 01 02", "100102"],
        "if-match": ['"1"', '"2"'],
    }
    return member, values


_FLY_ASH = {
    "kind": "offer",
    "resource_type": "material",
    "title": "Popiół lotny z kotła pyłowego",
    "description": "Suchy popiół lotny klasy F, strata prażenia poniżej 5 %.",
    "ewc": "10 01 02",
    "quantity": 40000,
    "unit": "t",
    "period": "year",
}
_HEAT = {
    "kind": "offer",
    "resource_type": "energy",
    "title": "Waste heat from flue gas, 90 °C",
    "quantity": 12000,
    "unit": "MWh",
    "period": "year",
    "properties": {"temperature_c": 90},
}
_ASH_NEED = {
    "kind": "need",
    "resource_type": "material",
    "title": "Fly ash as cement replacement",
    "description": "Siliceous fly ash for concrete, loss on ignition up to 5 %.",
    "quantity": 30000,
    "unit": "t",
    "period": "year",
}


def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    server: str, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    member, values = _arrange(server)
    # Every request carries a key; the 401s of requests without one are tested in tests/app/test_main.py.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json", config=config)
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    # Deleting and revoking come last, so that the other operations still find the arranged objects.
    operations.sort(key=lambda o: (o.method.upper() == "DELETE", o.label))
    fuzzer = Fuzzer(server, {"admin": ADMIN_KEY, "member": member}, values)
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            fuzzer.fuzz(operation, mode, examples)

    tally = fuzzer.tally
    statuses = dict(sorted(tally.statuses.items()))
    with capsys.disabled():
        print(
            f"\nfuzzing ({database_url.split(':')[0]}): {tally.requests} requests sent to {len(operations)} "
            f"operations, statuses {statuses}, failures = {len(tally.failures)}"
        )
    summary = "\n".join(f"{count:4} x {kind}" for kind, count in sorted(tally.kinds.items()))
    assert not tally.failures, summary + "\n\n" + "\n\n".join(tally.failures[:5])
    assert tally.requests >= MIN_REQUESTS


class Fuzzer:
    def __init__(self, base_url: str, keys: dict[str, str], values: dict[str, list[str]]) -> None:
        self.base_url = base_url
        self.keys = keys
        self.values = values
        self.http = requests.Session()
        self.tally = Tally()

    def fuzz(self, operation: Operation, mode: GenerationMode, examples: int) -> None:
        """Sends `examples` generated requests to the operation and checks every answer."""

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # no shrinking: failures are collected, not raised
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            who=st.sampled_from(sorted(self.keys)),
            real=st.integers(0, 3),
            index=st.integers(0, 1000),
        )
        def run(case: AnyCase, who: str, real: int, index: int) -> None:
            if mode is GenerationMode.POSITIVE and real:  # three times in four: real objects, not generated values
                self._use_real_objects(case, index)
            self.send(case, who, mode)

        try:
            run()
        except Unsatisfiable:  # nothing in this operation can be made invalid (e.g. no parameters)
            assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request could be generated"

    def _use_real_objects(self, case: AnyCase, index: int) -> None:
        for container in (case.path_parameters, case.headers):
            for name in list(container or {}):
                pool = self.values.get(name.lower())
                if pool and container is not None:
                    container[name] = pool[index % len(pool)]

    def send(self, case: AnyCase, who: str, mode: GenerationMode) -> None:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        response = case.call(base_url=self.base_url, session=self.http, headers=headers, timeout=60)
        self.tally.requests += 1
        self.tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as failures:
            label = case.operation.label
            self.tally.failures.append(f"{label} as {who} ({mode.value}): {failures}")
            for failure in failures.exceptions:
                self.tally.kinds[f"{label} [{response.status_code}] {failure.code} {failure.title}"] += 1
