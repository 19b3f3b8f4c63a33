from fastapi.testclient import TestClient

from tests.app.matches.scenario import build
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api


def test_summary_counts_the_region(api: Api, client: TestClient) -> None:
    s = build(api, client)
    summary = client.get("/api/v1/regions/PL21/summary?min_score=0", headers=s.agency).json()
    assert summary["organizations"] >= 3
    assert summary["listings_by_resource_type"]["material"] == {"offers": 1, "needs": 1}
    assert summary["offers_by_ewc_chapter"] == {"10": 1}
    assert summary["offered_per_year"] == {"t": 40000}
    assert summary["needed_per_year"] == {"t": 25000}
    assert summary["candidate_matches"] == 1
    assert summary["matches_by_status"] == {"proposed": 1}
    assert summary["realised"]["exchanges"] == 0
    assert summary["best_plan"]["quantity"] == {"t": 25000}


def test_only_agencies_of_the_region_and_admins_read_it(api: Api, client: TestClient) -> None:
    s = build(api, client)
    assert client.get("/api/v1/regions/PL213/summary", headers=s.agency).status_code == 200  # inside PL21
    assert client.get("/api/v1/regions/PL21/summary", headers=api.admin).status_code == 200
    for headers in (s.other_agency, s.buyer):
        response = client.get("/api/v1/regions/PL21/summary", headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/regions/PL2/summary", headers=s.agency).status_code == 403  # wider than PL21
    assert client.get("/api/v1/regions/kraków/plan", headers=s.agency).status_code == 422


def test_plan_is_feasible_and_uses_the_best_pairs(api: Api, client: TestClient) -> None:
    s = build(api, client)
    api.listing(s.buyer, **CEMENT_NEED | {"title": "Ash for concrete blocks", "quantity": 30000})
    plan = client.get("/api/v1/regions/PL21/plan", headers=s.agency).json()
    assert plan["status"] == "optimal"
    allocated = sum(a["quantity"] for a in plan["allocations"])
    assert 0 < allocated <= 40000  # never more than the one offer has
    for allocation in plan["allocations"]:
        assert allocation["offer_id"] == s.offer["id"]
    assert plan["co2e_avoided_t"] == round(sum(a["value"] for a in plan["allocations"]), 3)
    by_quantity = client.get("/api/v1/regions/PL21/plan?objective=quantity", headers=s.agency).json()
    assert by_quantity["total"] == 40000  # 25 000 + 30 000 wanted, 40 000 offered
    assert client.get("/api/v1/regions/PL21/plan?objective=luck", headers=s.agency).status_code == 422


def test_plan_leaves_out_pairs_across_the_border(api: Api, client: TestClient) -> None:
    s = build(api, client)
    silesia = api.organization(region="PL22A", lat=50.26, lon=19.02, nace=["23.51"])
    api.listing(api.key(silesia["id"]), **CEMENT_NEED)
    plan = client.get("/api/v1/regions/PL21/plan?objective=quantity", headers=s.agency).json()
    assert {a["need_id"] for a in plan["allocations"]} == {s.need["id"]}
    assert ASH["ewc"] == "10 01 02"
