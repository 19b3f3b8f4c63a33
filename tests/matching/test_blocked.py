"""matching.blocked finds for many pairs at once exactly what Engine.blocked finds pair by pair."""

from typing import Any

from matching.blocked import Blocked, ProfileTable, blocked
from matching.engine import Engine, Index
from matching.records import Evidence, Listing, Profile


def _pair_by_pair(matcher: Engine, pairs: list[tuple[Profile, Profile]]) -> Blocked:
    columns: list[list[Any]] = [[] for _ in Blocked._fields]
    for i, (offer, need) in enumerate(pairs):
        pair = matcher.blocked(offer, need)
        if pair is not None:
            best = pair.shared[0]
            dot = sum(s.offer.weight * s.need.weight for s in pair.shared)  # what text_measure sums
            facts = (i, best.strength, best.rule, dot, pair.route, pair.distance_km, pair.limit_km)
            for column, value in zip(columns, facts, strict=True):
                column.append(value)
    return Blocked(*columns)


def test_the_pairs_of_a_country_are_blocked_as_pair_by_pair(
    matcher: Engine, country_index: Index, country_pairs: list[tuple[Profile, Profile]]
) -> None:
    pairs = country_pairs
    expected = _pair_by_pair(matcher, pairs)

    assert blocked(matcher, pairs) == expected
    assert blocked(matcher, pairs, country_index.profile_table()) == expected
    # A table lacking some of the profiles is not read: one is made for the call.
    assert blocked(matcher, pairs, ProfileTable([pairs[0][0]])) == expected
    assert len(expected.at) > 5000
    # What the order of the shared concepts decides is exercised: ties in strength, several routes to pick from.
    shared = [matcher.blocked(*pairs[i]).shared for i in expected.at]  # type: ignore[union-attr]
    assert sum(len(s) > 1 and s[0].strength == s[1].strength for s in shared) > 100
    assert sum(sum(c.concept.startswith("route:") for c in s) > 1 for s in shared) > 100
    assert len({route.id for route in expected.routes if route}) > 10 and None in expected.routes
    assert len(set(expected.rules)) >= 5


def test_no_pairs_and_pairs_sharing_nothing_pass_nothing(matcher: Engine, country_index: Index) -> None:
    assert blocked(matcher, []) == Blocked([], [], [], [], [], [], [])
    profiles = list(country_index.profiles.values())
    same_kind = [(p, p) for p in profiles[:50]]
    assert blocked(matcher, same_kind).at == []


def _profile(kind: str, concepts: dict[str, Evidence]) -> Profile:
    listing = Listing(id=f"{kind}-1", organization_id=f"{kind}-org", kind=kind, resource_type="material", title="x")
    return Profile(listing, concepts)


def test_ties_in_strength_go_by_name_and_routes_by_their_rounded_strength(matcher: Engine) -> None:
    """The two orders blocking.shared_concepts and Engine._route decide by: equal strengths by concept name (here
    it decides the rule: the first by name was found in text), and routes whose strengths round alike by the
    farther limit (coal-fly-ash-to-cement, 300 km, is a shade weaker than coal-ash-to-road-embankments, 100 km)."""
    offer = _profile(
        "offer",
        {
            "ewc:10 01 02": Evidence(0.5, "code"),
            "ewc:10 01 01": Evidence(0.5, "text"),
            "route:coal-ash-to-road-embankments": Evidence(0.40000001, "code"),
            "route:coal-fly-ash-to-cement": Evidence(0.4, "code"),
        },
    )
    need = _profile(
        "need",
        {
            "route:coal-fly-ash-to-cement": Evidence(0.5, "text"),
            "route:coal-ash-to-road-embankments": Evidence(0.5, "text"),
            "ewc:10 01 02": Evidence(1.0, "code"),
            "ewc:10 01 01": Evidence(1.0, "code"),
        },
    )
    expected = _pair_by_pair(matcher, [(offer, need)])

    assert blocked(matcher, [(offer, need)]) == expected
    assert expected.rules == ["text_neighbour"]
    assert [route.id for route in expected.routes if route] == ["coal-fly-ash-to-cement"]


def test_an_index_makes_its_table_again_after_a_change(matcher: Engine, country_index: Index) -> None:
    index = Index(matcher).add_profiles(list(country_index.profiles.values())[:40])
    table = index.profile_table()
    assert index.profile_table() is table
    assert sorted(p.listing.id for p in table.profiles) == sorted(index.profiles)
    listing = next(iter(index.profiles.values())).listing
    index.remove(listing.id)
    assert listing.id not in {p.listing.id for p in index.profile_table().profiles}
    profile = index.add(listing)
    assert any(p is profile for p in index.profile_table().profiles)


def test_places_limits_owners_and_resources_are_read_as_pair_by_pair(matcher: Engine) -> None:
    """Every mix of what blocking reads of the listings besides their concepts: a place or none, a stated limit of
    none, 0 (none) or some, a route's limit or none, one owner or two, one resource type or two."""
    concepts = {"ewc:10 01 02": Evidence(1.0, "code"), "route:coal-fly-ash-to-cement": Evidence(0.5, "text")}
    route_only = {"route:coal-fly-ash-to-cement": Evidence(0.5, "text")}
    code_only = {"ewc:10 01 02": Evidence(1.0, "code")}
    places = [(None, None), (50.06, 19.94), (50.1, 20.0), (54.35, 18.65), (52.23, None)]
    profiles = []
    for kind in ("offer", "need"):
        for i, ((lat, lon), limit, resource, owner, held) in enumerate(
            zip(
                places * 6,
                [None, 0.0, 30.0, 700.0, 1.0] * 6,
                ["material", "material", "energy"] * 10,
                ["a", "b"] * 15,
                [concepts, route_only, code_only] * 10,
                strict=True,
            )
        ):
            listing = Listing(
                id=f"{kind}-{i}",
                organization_id=owner,
                kind=kind,
                resource_type=resource,
                title="x",
                lat=lat,
                lon=lon,
                max_distance_km=limit,
            )
            profiles.append(Profile(listing, held))
    pairs = [(offer, need) for offer in profiles for need in profiles]
    expected = _pair_by_pair(matcher, pairs)

    assert blocked(matcher, pairs) == expected
    assert 100 < len(expected.at) < len(pairs) / 8
    assert None in expected.distances and 0.0 in expected.distances
