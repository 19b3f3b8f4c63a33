"""Benchmarks of the engine alone, without database or HTTP: a full rebuild, the naive all-pairs scan against
blocking, and the candidates of new listings arriving in a large index.

Each function returns plain figures (a dict) and is meant to run in a fresh process (see runner.py), so that its
peak memory is its own.
"""

import math
import pickle
import random
import statistics
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.bench.generate import eligible, generate, records
from app.bench.machine import peak_rss_mb
from app.config import get_settings
from app.matches import shortlist
from app.matches.forked import collector_paused
from matching.engine import Engine, Index
from matching.records import Listing, Profile
from matching.tally import Seen, Tally

ENRICH_BATCH = 500
BATCH = 500  # needs ranked between two tallies, as in a rebuild (app/matches/sync.py)
TOP_K = 20  # what a screen of candidates shows
SCORE_STEPS = (0.4, 0.5, 0.6, 0.7, 0.8)


def prepare(listings: int, seed: int, seed_dir: Path, path: Path) -> dict[str, Any]:
    """Generates a data set and writes the engine's records of it (every listing, and whether it takes part)."""
    started = time.perf_counter()
    dataset = generate(listings, seed=seed, seed_dir=seed_dir)
    taking_part = [eligible(raw) for raw in dataset.listings]
    with path.open("wb") as handle:
        pickle.dump((records(dataset), taking_part), handle, protocol=pickle.HIGHEST_PROTOCOL)
    return {"listings": listings, "organizations": len(dataset.organizations), "seconds": time.perf_counter() - started}


@lru_cache
def _engine(seed_dir: Path) -> Engine:
    return Engine.from_seed_data(seed_dir).fit()


def _load(path: Path) -> tuple[list[Listing], list[bool]]:
    with path.open("rb") as handle:
        loaded: tuple[list[Listing], list[bool]] = pickle.load(handle)
    return loaded


def _enrich(engine: Engine, listings: Sequence[Listing]) -> list[Profile]:
    profiles: list[Profile] = []
    for start in range(0, len(listings), ENRICH_BATCH):
        profiles.extend(engine.profiles(listings[start : start + ENRICH_BATCH]))
    return profiles


def rebuild(path: Path, seed_dir: Path, sample: int | None = None, seed: int = 1) -> dict[str, Any]:
    """What `symbioza match --rebuild` asks of the engine: enrich every listing, index those taking part, rank the
    offers for every need and the needs for every offer, and keep what the service stores (each listing's K best,
    see app/matches/shortlist.py). With `sample`, only that many offers and as many needs (drawn at random) are
    ranked and the times and the match count are scaled up to all of them: an estimate, and reported as one."""
    listings, taking_part = _load(path)
    engine = _engine(seed_dir)
    k = get_settings().matches_per_listing
    started = time.perf_counter()
    profiles = _enrich(engine, listings)
    enriched = time.perf_counter()
    index = Index(engine).add_profiles(p for p, keep in zip(profiles, taking_part, strict=True) if keep)
    indexed = time.perf_counter()
    offers = [p.listing.id for p in index.profiles.values() if p.listing.kind == "offer"]
    needs = [p.listing.id for p in index.profiles.values() if p.listing.kind == "need"]
    rng = random.Random(seed)
    ranked_offers = rng.sample(offers, sample) if sample and sample < len(offers) else offers
    ranked_needs = rng.sample(needs, sample) if sample and sample < len(needs) else needs
    tally = Tally(index.rows, k, engine.min_score)
    chosen = shortlist.chosen_by_needs(_ranked_needs(index, ranked_needs, k, tally))
    # A sample of needs tallies only some of each offer's pairs: sampled offers then rank over their own reach.
    tallied = tally.of_each() if len(ranked_needs) == len(needs) else None
    needs_done = time.perf_counter()
    matches, above = 0, dict.fromkeys(SCORE_STEPS, 0)
    for start in range(0, len(ranked_offers), BATCH):  # written a batch at a time, as a rebuild does
        pairs = [
            (offer, need)
            for offer in ranked_offers[start : start + BATCH]
            for need in shortlist.kept_needs(index, offer, chosen.get(offer, ()), k, _tallied(index, tallied, offer))
        ]
        with collector_paused():
            scores = shortlist.written_apart(index, pairs, {})[0].scores  # counted, not kept
        matches += len(scores)
        for step in SCORE_STEPS:
            above[step] += sum(score >= step for score in scores)
    done = time.perf_counter()
    offer_scale = len(offers) / len(ranked_offers) if ranked_offers else 1.0
    need_scale = len(needs) / len(ranked_needs) if ranked_needs else 1.0
    match_s = (needs_done - indexed) * need_scale + (done - needs_done) * offer_scale
    return {
        "listings": len(listings),
        "taking_part": len(index.profiles),
        "offers": len(offers),
        "needs": len(needs),
        "ranked": len(ranked_offers) + len(ranked_needs),
        "estimated": len(ranked_offers) < len(offers) or len(ranked_needs) < len(needs),
        "matches_per_listing": k,
        "enrich_s": enriched - started,
        "index_s": indexed - enriched,
        "match_s": match_s,
        "total_s": (enriched - started) + (indexed - enriched) + match_s,
        "matches": round(matches * offer_scale),
        # How many of them score at least this much.
        "matches_at_least": {f"{step:.1f}": round(count * offer_scale) for step, count in above.items()},
        "peak_rss_mb": peak_rss_mb(),
    }


def _tallied(index: Index, tallied: dict[int, Seen] | None, offer: str) -> Seen | None:
    """The pairs tallied for an offer (none seen: empty), or None when the offers rank over their own reach."""
    return tallied.get(index.row_of(offer), Seen.none()) if tallied is not None else None


def _ranked_needs(index: Index, needs: Sequence[str], k: int, tally: Tally) -> Iterator[tuple[str, list[str]]]:
    """Each need with its best offers, tallying what the needs' reaches saw in batches, as a rebuild does."""
    for start in range(0, len(needs), BATCH):
        chunk = needs[start : start + BATCH]
        best, seen, by = shortlist.rank_needs(index, chunk, k, tally.floors)
        tally.add(seen, by)
        yield from zip(chunk, best, strict=True)


def naive(path: Path, seed_dir: Path) -> dict[str, Any]:
    """Every offer against every need with the engine's own pair verdict (no index, no pre-filter), against the
    blocked search. Recall is the share of the naive scan's pairs (scoring at least the engine's min_score, the
    threshold for a stored and displayed match) that the blocked search also finds."""
    listings, taking_part = _load(path)
    engine = _engine(seed_dir)
    profiles = [p for p, keep in zip(_enrich(engine, listings), taking_part, strict=True) if keep]
    index = Index(engine).add_profiles(profiles)
    offers = [p for p in profiles if p.listing.kind == "offer"]
    needs = [p for p in profiles if p.listing.kind == "need"]
    started = time.perf_counter()
    blocked = {(c.offer_id, c.need_id) for offer in offers for c in index.candidates(offer.listing.id)}
    blocked_s = time.perf_counter() - started
    started = time.perf_counter()
    found = {
        (offer.listing.id, need.listing.id)
        for offer in offers
        for need in needs
        if engine.pair(offer, need) is not None
    }
    naive_s = time.perf_counter() - started
    kept = len(found & blocked)
    return {
        "listings": len(listings),
        "pairs_scanned": len(offers) * len(needs),
        "naive_pairs": len(found),
        "blocked_pairs": len(blocked),
        "missed": len(found - blocked),
        "extra": len(blocked - found),
        "recall": kept / len(found) if found else 1.0,
        "naive_s": naive_s,
        "blocked_s": blocked_s,
        "speedup": naive_s / blocked_s if blocked_s else float("inf"),
        "threshold": engine.min_score,
        "peak_rss_mb": peak_rss_mb(),
    }


def arrivals(path: Path, seed_dir: Path, samples: int, seed: int = 1) -> dict[str, Any]:
    """New listings arriving in an index of every listing of the data set: each is enriched and added, its
    candidates are found (all of them, and the best TOP_K), then it is taken out again."""
    listings, taking_part = _load(path)
    engine = _engine(seed_dir)
    started = time.perf_counter()
    index = Index(engine).add_profiles(
        p for p, keep in zip(_enrich(engine, listings), taking_part, strict=True) if keep
    )
    built_s = time.perf_counter() - started
    arriving = _arriving(samples, seed, seed_dir)
    add_ms, all_ms, top_ms, found = [], [], [], []
    for listing in arriving:
        t0 = time.perf_counter()
        index.add(listing)
        t1 = time.perf_counter()
        candidates = index.candidates(listing.id)
        t2 = time.perf_counter()
        index.candidates(listing.id, k=TOP_K)
        t3 = time.perf_counter()
        index.remove(listing.id)
        add_ms.append((t1 - t0) * 1000)
        all_ms.append((t2 - t0) * 1000)  # enrich and add, then every candidate
        top_ms.append((t1 - t0 + t3 - t2) * 1000)  # enrich and add, then the best TOP_K
        found.append(len(candidates))
    return {
        "listings": len(listings),
        "taking_part": len(index.profiles),
        "index_build_s": built_s,
        "samples": len(arriving),
        "add_ms": percentiles(add_ms),
        "all_candidates_ms": percentiles(all_ms),
        "top_candidates_ms": percentiles(top_ms),
        "top_k": TOP_K,
        "candidates": percentiles([float(n) for n in found]),
        "peak_rss_mb": peak_rss_mb(),
    }


def _arriving(samples: int, seed: int, seed_dir: Path) -> list[Listing]:
    """Listings that are not in the index: another seed's data, taking part in matching, with fresh ids."""
    extra = generate(samples * 2, seed=seed + 1000, seed_dir=seed_dir)
    fresh = [r for r, raw in zip(records(extra), extra.listings, strict=True) if eligible(raw)]
    return fresh[:samples]


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and the mean (nearest-rank percentiles: each is a value that was measured)."""
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "mean": float("nan")}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "mean": statistics.fmean(ordered)}
