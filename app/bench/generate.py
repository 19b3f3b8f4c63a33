"""Synthetic organizations and listings for benchmarks: a country's worth of firms that look like real ones.

Firms sit around Polish cities (drawn by population, scattered over a few km of industrial outskirts). A firm
produces the wastes of its sector (EWC chapter -> NACE activity) and needs what the knowledge routes say its
activity takes in, so offers and needs meet the way they do in practice: fly ash near cement works, heat near
greenhouses. Titles and descriptions are composed from the catalogue's own labels and synonyms and the routes'
need terms, in Polish, English, German, Czech, Slovak and Hungarian. Quantities are log-normal (a few large
streams, many small ones), rounded the way firms round. Everything follows one seeded random generator: the same
size and seed give the same data, byte for byte.
"""

import itertools
import json
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from app.bench.cities import CITIES, City
from matching.knowledge import Knowledge, Route, Stream
from matching.records import Listing as ListingRecord
from matching.taxonomy import EwcEntry, read_ewc_catalogue

LANGUAGES = {"pl": 0.58, "en": 0.24, "de": 0.08, "cs": 0.05, "sk": 0.03, "hu": 0.02}
# Which activities produce each EWC chapter's wastes, and how common such producers are on a platform.
CHAPTER_PRODUCERS: dict[str, tuple[float, tuple[str, ...]]] = {
    "01": (3, ("08.11", "05.10")),
    "02": (12, ("10.11", "10.51", "10.81", "11.05", "01.11", "10.39", "10.61", "10.13", "10.41")),
    "03": (6, ("16.10", "17.12", "17.11", "31.01")),
    "04": (2, ("15.11", "13.10")),
    "05": (1, ("19.20",)),
    "06": (2, ("20.13", "20.15")),
    "07": (5, ("20.14", "20.16", "21.10", "20.59", "22.21", "22.29")),
    "08": (2, ("20.30",)),
    "09": (0.5, ("71.20",)),
    "10": (12, ("35.11", "35.30", "24.10", "24.42", "24.51", "23.51", "23.13", "23.32", "24.43")),
    "11": (2, ("25.61",)),
    "12": (6, ("25.62", "28.11", "29.10")),
    "13": (2, ("45.20", "49.41")),
    "14": (0.5, ("25.61",)),
    "15": (8, ("52.10", "10.71", "22.29")),
    "16": (5, ("29.10", "45.20")),
    "17": (10, ("41.20", "43.11", "42.11")),
    "18": (1, ("86.10",)),
    "19": (8, ("38.21", "37.00", "36.00", "38.32", "38.22")),
    "20": (5, ("38.11", "81.30")),
}
# Energy, water and capacity offers: which stream, how often.
OFFER_STREAMS = {
    "energy": {"heat_low": 30, "heat_medium": 25, "heat_high": 10, "steam": 10, "biogas": 8, "co2": 8, "syngas": 3},
    "water": {"water_cooling": 3, "water_treated_effluent": 3, "water_rain": 2, "water_process": 3, "water_grey": 1},
    "capacity": {
        "capacity_storage": 3,
        "capacity_transport": 3,
        "capacity_processing": 2,
        "capacity_testing": 1,
        "capacity_land": 1,
    },
}
OFFER_STREAMS["energy"]["hydrogen"] = 2
TEMPERATURE_C = {"heat_low": (25, 58), "heat_medium": (60, 115), "heat_high": (120, 320), "steam": (140, 400)}
RESOURCE_SHARE = {"material": 0.72, "energy": 0.14, "water": 0.09, "capacity": 0.05}

OFFER_WORDS = {
    "pl": ("Oferujemy", "Do odbioru", "Sprzedamy", "Przekażemy"),
    "en": ("Available", "For sale", "We offer", "Surplus"),
    "de": ("Abzugeben", "Wir bieten", "Verfügbar"),
    "cs": ("Nabízíme", "K odběru"),
    "sk": ("Ponúkame", "Na odber"),
    "hu": ("Kínálunk", "Elvihető"),
}
NEED_WORDS = {
    "pl": ("Poszukujemy", "Kupimy", "Przyjmiemy"),
    "en": ("Wanted", "We are looking for", "Seeking"),
    "de": ("Gesucht", "Wir suchen", "Wir kaufen"),
    "cs": ("Poptáváme", "Hledáme"),
    "sk": ("Hľadáme", "Kúpime"),
    "hu": ("Keresünk", "Vásárolunk"),
}
AMOUNT_WORDS = {"pl": "ilość ok.", "en": "about", "de": "ca.", "cs": "cca", "sk": "cca", "hu": "kb."}
PERIOD_WORDS = {
    "pl": {
        "year": "rocznie",
        "month": "miesięcznie",
        "week": "tygodniowo",
        "day": "dziennie",
        "one-off": "jednorazowo",
    },
    "en": {"year": "per year", "month": "per month", "week": "per week", "day": "per day", "one-off": "one-off"},
    "de": {"year": "pro Jahr", "month": "pro Monat", "week": "pro Woche", "day": "pro Tag", "one-off": "einmalig"},
    "cs": {"year": "ročně", "month": "měsíčně", "week": "týdně", "day": "denně", "one-off": "jednorázově"},
    "sk": {"year": "ročne", "month": "mesačne", "week": "týždenne", "day": "denne", "one-off": "jednorazovo"},
    "hu": {"year": "évente", "month": "havonta", "week": "hetente", "day": "naponta", "one-off": "egyszeri"},
}
# Common firm names by activity division (the first two digits of NACE), in Polish as firms register them.
FIRM_WORDS = {
    "35": "Elektrociepłownia",
    "24": "Huta",
    "23": "Zakłady Mineralne",
    "10": "Zakłady Spożywcze",
    "11": "Browar",
    "16": "Tartak",
    "17": "Papiernia",
    "20": "Zakłady Chemiczne",
    "37": "Oczyszczalnia",
    "38": "Zakład Gospodarki Odpadami",
    "41": "Budownictwo",
    "43": "Rozbiórki",
    "01": "Gospodarstwo",
}
SURNAMES = ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński", "Szymański")
FIRST_NAMES = ("Anna", "Piotr", "Katarzyna", "Tomasz", "Agnieszka", "Marek", "Ewa", "Paweł", "Joanna", "Michał")


@dataclass(frozen=True)
class Dataset:
    """Organizations and listings as the API takes them (listing `organization` names its owner's `id`)."""

    organizations: list[dict[str, Any]]
    listings: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The layout of seed_data/demo/region.json, so `symbioza seed --file` reads it too."""
        return {"name": "synthetic", "organizations": self.organizations, "listings": self.listings}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> "Dataset":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["organizations"], data["listings"])


def records(dataset: Dataset) -> list[ListingRecord]:
    """The listings as the engine sees them (the owner's place, activities and region filled in)."""
    owners = {o["id"]: o for o in dataset.organizations}
    found = []
    for raw in dataset.listings:
        owner = owners[raw["organization"]]
        located = raw.get("lat") is not None
        found.append(
            ListingRecord(
                id=raw["id"],
                organization_id=raw["organization"],
                kind=raw["kind"],
                resource_type=raw["resource_type"],
                title=raw["title"],
                description=raw["description"],
                language=raw["language"],
                ewc=raw["ewc"],
                hazardous=raw["hazardous"],
                quantity=raw["quantity"],
                unit=raw["unit"],
                period=raw["period"],
                available_from=date.fromisoformat(raw["available_from"]) if raw["available_from"] else None,
                available_until=date.fromisoformat(raw["available_until"]) if raw["available_until"] else None,
                legal_status=raw["legal_status"],
                recovery_operations=tuple(raw["recovery_operations"]),
                properties=raw["properties"],
                max_distance_km=raw["max_distance_km"],
                lat=raw["lat"] if located else owner["lat"],
                lon=raw["lon"] if located else owner["lon"],
                nace=tuple(owner["nace"]),
                region=owner["region"],
            )
        )
    return found


def eligible(listing: dict[str, Any]) -> bool:
    return bool(listing["status"] == "active" and listing["visibility"] != "private")


class Generator:
    """Draws organizations and listings from the project's catalogues (see the module docstring)."""

    def __init__(self, seed_dir: Path, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.knowledge = Knowledge.load(seed_dir / "knowledge")
        catalogue = read_ewc_catalogue(seed_dir / "taxonomy" / "ewc")
        self.codes = {e.code: e for e in catalogue}
        self.entries = {e.code: e for e in catalogue if e.level == "entry"}
        self.routes = [self.knowledge.routes[r] for r in sorted(self.knowledge.routes)]
        covering = {code: self.knowledge.routes_for_code(code) for code in self.entries}
        self.covering = covering
        self.route_codes = {r.id: sorted(c for c in self.entries if r.covers(c)) for r in self.routes}
        self.by_chapter: dict[str, list[tuple[EwcEntry, float]]] = defaultdict(list)
        for code, entry in self.entries.items():
            # Materials with a known use are what firms bring to a symbiosis platform; catch-alls less so.
            weight = (1.0 + 3.0 * len(covering[code])) * math.exp(self.rng.gauss(0, 0.8))
            weight *= 0.4 if entry.hazardous else 1.0
            weight *= 0.5 if code.endswith("99") else 1.0
            self.by_chapter[code[:2]].append((entry, weight))
        self.receivers: dict[str, float] = defaultdict(float)
        self.routes_by_receiver: dict[tuple[str, str], list[Route]] = defaultdict(list)
        self.routes_by_type: dict[str, list[Route]] = defaultdict(list)
        for route in self.routes:
            self.routes_by_type[route.resource_type].append(route)
            for nace in route.receivers:
                self.receivers[nace] = 1.0
                self.routes_by_receiver[(nace, route.resource_type)].append(route)

    # --- organizations ---------------------------------------------------------------------------------------

    def organization(self, number: int) -> dict[str, Any]:
        rng = self.rng
        city = _pick(rng, CITIES, [c.population for c in CITIES])
        chapter = None
        nace: list[str] = []
        if rng.random() < 0.75:
            chapter = _pick(rng, list(CHAPTER_PRODUCERS), [w for w, _ in CHAPTER_PRODUCERS.values()])
            nace.append(rng.choice(CHAPTER_PRODUCERS[chapter][1]))
        if chapter is None or rng.random() < 0.45:
            names = sorted(self.receivers)
            nace.append(_pick(rng, names, [self.receivers[n] for n in names]))
        nace = list(dict.fromkeys(nace))
        lat, lon = _scatter(rng, city, km=rng.uniform(1.0, 12.0))
        word = FIRM_WORDS.get(nace[0][:2], "Przedsiębiorstwo Produkcyjne")
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        return {
            "id": str(_uuid(rng)),
            "name": f"{word} {city.name} {number} {rng.choice(('Sp. z o.o.', 'S.A.', 'sp.j.'))}",
            "kind": "company",
            "country": "PL",
            "region": city.region,
            "city": city.name,
            "nace": nace,
            "lat": lat,
            "lon": lon,
            "contact": {"person": f"{first} {last}", "email": f"kontakt{number}@firma{number}.example.pl"},
            "_chapter": chapter,  # the sector its wastes come from; dropped before the data leaves the generator
        }

    # --- listings --------------------------------------------------------------------------------------------

    def listing(self, owner: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        produces = owner["_chapter"] is not None
        receives = any(self.routes_by_receiver.get((n, "material")) for n in owner["nace"])
        offer_share = 0.55 if produces and receives else 0.85 if produces else 0.15
        kind = "offer" if rng.random() < offer_share else "need"
        resource_type = _pick(rng, list(RESOURCE_SHARE), list(RESOURCE_SHARE.values()))
        language = _pick(rng, list(LANGUAGES), list(LANGUAGES.values()))
        if resource_type == "material":
            body = self._material_offer(owner, language) if kind == "offer" else self._material_need(owner, language)
        else:
            body = self._stream_listing(owner, kind, resource_type, language)
        body |= {"id": str(_uuid(rng)), "organization": owner["id"], "kind": kind, "resource_type": resource_type}
        return _complete(rng, body, owner)

    def _material_offer(self, owner: dict[str, Any], language: str) -> dict[str, Any]:
        rng = self.rng
        chapter = owner["_chapter"] or rng.choice(("15", "20", "17"))  # everyone has packaging and rubble
        pool = self.by_chapter[chapter]
        entry = _pick(rng, [e for e, _ in pool], [w for _, w in pool])
        language, names = self._words_for(entry, language)
        name = rng.choice(names)
        routes = self.covering[entry.code]
        route = rng.choice(routes) if routes else None
        quantity, unit, period = _amount(rng, "material")
        offer = rng.choice(OFFER_WORDS[language])
        context = self._context(entry, language)
        amount = f"{AMOUNT_WORDS[language]} {_number_text(quantity)} {unit} {PERIOD_WORDS[language][period]}"
        description = f"{offer}: {name.lower()}. {context} {amount}."
        waste = rng.random() < 0.6
        properties: dict[str, Any] = {}
        if rng.random() < 0.4:
            properties["moisture_pct"] = round(rng.uniform(1, 45), 1)
        if route is not None:
            for key, limit in route.constraint_properties.items():
                # Offers state the property a need's limit looks at about half the time, around that limit.
                if rng.random() < 0.5 and key.startswith(("max_", "min_")):
                    properties[key[4:]] = round(float(limit) * rng.uniform(0.5, 1.4), 2)
        return {
            "title": _title(name, rng),
            "description": description,
            "language": language,
            "ewc": entry.code if rng.random() < 0.7 else None,
            "hazardous": entry.hazardous,
            "quantity": quantity,
            "unit": unit,
            "period": period,
            "legal_status": "waste" if waste else rng.choice(("by_product", "by_product", "product", None)),
            "recovery_operations": list(route.recovery_operations) if waste and route and rng.random() < 0.6 else [],
            "properties": properties,
            "max_distance_km": _stated_distance(rng, route.max_distance_km if route else None, entry.code),
            "_code": entry.code,
        }

    def _material_need(self, owner: dict[str, Any], language: str) -> dict[str, Any]:
        rng = self.rng
        route = self._route_for(owner, "material")
        language, term = self._need_term(route.need_terms, language)
        code = self._code_of(route)
        entry = self.entries[code] if code else None
        quantity, unit, period = _amount(rng, "material")
        process = route.process_pl if language == "pl" else route.process_en if language == "en" else ""
        amount = f"{AMOUNT_WORDS[language]} {_number_text(quantity)} {unit} {PERIOD_WORDS[language][period]}"
        properties = {
            k: v
            for k, v in route.constraint_properties.items()
            if rng.random() < 0.35 and k.startswith(("max_", "min_"))
        }
        coded = entry is not None and rng.random() < 0.35
        return {
            "title": _title(f"{rng.choice(NEED_WORDS[language])}: {term}", rng),
            "description": " ".join(x for x in (f"{process[:300]}." if process else "", f"{amount}.") if x),
            "language": language,
            "ewc": code if coded else None,
            "hazardous": bool(entry and entry.hazardous and coded),
            "quantity": quantity,
            "unit": unit,
            "period": period,
            "legal_status": None,
            "recovery_operations": list(route.recovery_operations) if rng.random() < 0.5 else [],
            "properties": properties,
            "max_distance_km": _stated_distance(rng, route.max_distance_km, code),
        }

    def _stream_listing(self, owner: dict[str, Any], kind: str, resource_type: str, language: str) -> dict[str, Any]:
        rng = self.rng
        streams = self.knowledge.streams
        route = None
        if kind == "need" and resource_type != "capacity":
            route = self._route_for(owner, resource_type)
            stream = streams[rng.choice(route.streams)]
            language, term = self._need_term(route.need_terms, language)
        else:
            choices = OFFER_STREAMS[resource_type]
            stream = streams[_pick(rng, list(choices), list(choices.values()))]
            language, term = self._need_term(
                (f"en:{stream.label_en}", f"pl:{stream.label_pl}", *stream.terms), language
            )
        quantity, unit, period = _amount(rng, resource_type, stream.id)
        words = OFFER_WORDS if kind == "offer" else NEED_WORDS
        label = stream.label_pl if language == "pl" else stream.label_en
        amount = f"{AMOUNT_WORDS[language]} {_number_text(quantity)} {unit} {PERIOD_WORDS[language][period]}"
        properties: dict[str, Any] = {}
        if stream.id in TEMPERATURE_C:
            low, high = TEMPERATURE_C[stream.id]
            key = "temperature_c" if kind == "offer" else "min_temperature_c"
            if kind == "offer" or rng.random() < 0.5:
                properties[key] = round(rng.uniform(low, high) / 5) * 5
        return {
            "title": _title(f"{rng.choice(words[language])}: {term}", rng),
            "description": f"{label}. {amount}.",
            "language": language,
            "ewc": None,
            "hazardous": False,
            "quantity": quantity,
            "unit": unit,
            "period": period,
            "legal_status": None,
            "recovery_operations": [],
            "properties": properties,
            "max_distance_km": _stream_distance(rng, stream, route),
        }

    def _route_for(self, owner: dict[str, Any], resource_type: str) -> Route:
        """Mostly a route the owner's activity is a documented user of; otherwise any route of that type."""
        own = [r for n in owner["nace"] for r in self.routes_by_receiver.get((n, resource_type), [])]
        if own and self.rng.random() < 0.8:
            return self.rng.choice(own)
        return self.rng.choice(self.routes_by_type[resource_type])

    def _code_of(self, route: Route) -> str | None:
        """An entry a route takes (a route naming a subchapter takes any of its entries)."""
        codes = self.route_codes[route.id]
        return self.rng.choice(codes) if codes else None

    def _words_for(self, entry: EwcEntry, language: str) -> tuple[str, list[str]]:
        """What a firm writing in `language` calls this material; Polish or English when the catalogue has no word."""
        terms = _by_language([f"en:{entry.label_en}", *([f"pl:{entry.label_pl}"] if entry.label_pl else [])])
        for term in entry.synonyms:
            lang, _, word = term.partition(":")
            terms[lang].append(word)
        if not terms.get(language):
            language = "pl" if self.rng.random() < 0.6 and terms.get("pl") else "en"
        return language, terms[language]

    def _need_term(self, terms: Sequence[str], language: str) -> tuple[str, str]:
        by_language = _by_language(terms)
        if not by_language.get(language):
            language = "pl" if by_language.get("pl") and self.rng.random() < 0.6 else "en"
            if not by_language.get(language):
                language = sorted(by_language)[0]
        return language, self.rng.choice(by_language[language])

    def _context(self, entry: EwcEntry, language: str) -> str:
        """Where the material comes from, in the firm's words: the subchapter's label when it has one."""
        parent = read_label(self.codes.get(entry.code[:5]), language)
        return f"{parent}." if parent else ""


def read_label(entry: EwcEntry | None, language: str) -> str | None:
    if entry is None:
        return None
    return entry.label_pl if language == "pl" else entry.label_en if language == "en" else None


def generate(listings: int, *, seed: int = 1, seed_dir: Path) -> Dataset:
    """`listings` listings of about listings / 3 organizations (firms list one to a dozen streams)."""
    generator = Generator(seed_dir, seed)
    organizations: list[dict[str, Any]] = []
    made: list[dict[str, Any]] = []
    while len(made) < listings:
        owner = generator.organization(len(organizations) + 1)
        organizations.append(owner)
        count = 1 + min(int(generator.rng.expovariate(1 / 2.3)), 11)
        for _ in range(min(count, listings - len(made))):
            made.append(generator.listing(owner))
    for owner in organizations:
        del owner["_chapter"]
    for listing in made:
        listing.pop("_code", None)
    return Dataset(organizations, made)


def iter_sizes(text: str) -> Iterator[int]:
    """'10k,30k,1M' -> 10000, 30000, 1000000."""
    for part in text.split(","):
        part = part.strip().lower()
        factor = 1_000_000 if part.endswith("m") else 1_000 if part.endswith("k") else 1
        yield int(float(part.rstrip("km")) * factor)


# --- helpers ----------------------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


T = TypeVar("T")


def _pick(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(items, cum_weights=list(itertools.accumulate(weights)), k=1)[0]


def _scatter(rng: random.Random, city: City, km: float) -> tuple[float, float]:
    """A point about `km` from the city centre, in a random direction (industrial estates ring the towns)."""
    angle = rng.uniform(0, 2 * math.pi)
    distance = abs(rng.gauss(0, km))
    lat = city.lat + distance * math.cos(angle) / 111.2
    lon = city.lon + distance * math.sin(angle) / (111.2 * math.cos(math.radians(city.lat)))
    return round(lat, 5), round(lon, 5)


def _by_language(terms: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for term in terms:
        lang, sep, word = term.partition(":")
        if sep and len(lang) == 2 and word.strip():
            found[lang].append(word.strip())
    return found


# Medians and spreads of annual streams by what they are (log-normal: many small streams, a few very large).
AMOUNTS = {
    "material": ("t", 600.0, 1.5),
    "energy": ("MWh", 6000.0, 1.3),
    "water": ("m3", 40000.0, 1.4),
    "capacity": ("h", 2000.0, 1.0),
}
GAS_UNIT = {"biogas": "Nm3", "co2": "t", "hydrogen": "t", "syngas": "Nm3"}
GAS_MEDIAN = {"Nm3": 2_000_000.0, "t": 3000.0}


def _amount(rng: random.Random, resource_type: str, stream: str | None = None) -> tuple[float, str, str]:
    unit, median, sigma = AMOUNTS[resource_type]
    if stream in GAS_UNIT:
        unit = GAS_UNIT[stream]
        median = GAS_MEDIAN[unit]
    yearly = median * math.exp(rng.gauss(0, sigma))
    period = _pick(rng, ("year", "month", "one-off", "week"), (0.8, 0.12, 0.05, 0.03))
    if resource_type == "capacity" and stream in ("capacity_storage", "capacity_land"):
        unit, yearly = "m2", 1500.0 * math.exp(rng.gauss(0, 1.0))
    per = {"year": 1, "month": 12, "week": 52, "one-off": 1}[period]
    return _round_like_a_firm(yearly / per), unit, period


def _round_like_a_firm(value: float) -> float:
    """Two significant digits: 12 345 -> 12 000, 0.0347 -> 0.035."""
    if value <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(value))
    return float(round(value, digits))


def _number_text(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if value >= 10 else f"{value:g}"


def _title(text: str, rng: random.Random) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text[:200] if len(text) >= 3 else f"{text} ({rng.randint(100, 999)})"


NEAR = ("01", "17 01", "17 05", "17 09", "10 01", "10 12", "10 13", "20 02")
FAR = ("12 01", "17 04", "19 10", "19 12 02", "19 12 03", "13", "14", "16 01 17", "16 01 18")


def _stated_distance(rng: random.Random, route_km: float | None, code: str | None) -> float | None:
    """Four firms in five say how far they would carry a material; bulk minerals near, metals far."""
    if rng.random() < 0.2:
        return None
    if route_km:
        base = float(route_km)
    elif code and code.startswith(FAR):
        base = 800.0
    elif code and code.startswith(NEAR):
        base = 150.0
    else:
        base = 250.0
    return float(max(5, round(base * rng.uniform(0.3, 1.1) / 5) * 5))


def _stream_distance(rng: random.Random, stream: Stream, route: Route | None) -> float | None:
    if rng.random() < 0.2:
        return None
    if route and route.max_distance_km:
        base = float(route.max_distance_km)
    elif stream.resource_type == "energy":
        base = 60.0 if stream.id in ("co2", "hydrogen") else 10.0
    elif stream.resource_type == "water":
        base = 25.0
    else:
        base = 100.0
    return float(max(1, round(base * rng.uniform(0.4, 1.2))))


def _complete(rng: random.Random, body: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """The fields every listing has: form, availability, place, visibility and status."""
    forms = {
        "material": ("bulk", "powder", "granular", "pieces", "sludge", "liquid", "solid"),
        "energy": ("hot_water", "steam", "gas"),
        "water": ("liquid",),
        "capacity": ("other",),
    }
    windowed = rng.random() < 0.08
    start = date(2027, 1, 1) + timedelta(days=rng.randint(0, 180)) if windowed else None
    until = start + timedelta(days=rng.randint(60, 720)) if start else None
    own_site = rng.random() < 0.1
    lat, lon = (
        (owner["lat"] + rng.uniform(-0.05, 0.05), owner["lon"] + rng.uniform(-0.05, 0.05))
        if own_site
        else (
            None,
            None,
        )
    )
    return body | {
        "form": rng.choice(forms[body["resource_type"]]),
        "available_from": start.isoformat() if start else None,
        "available_until": until.isoformat() if until else None,
        "lat": round(lat, 5) if lat is not None else None,
        "lon": round(lon, 5) if lon is not None else None,
        "visibility": _pick(rng, ("public", "anonymous", "private"), (0.8, 0.12, 0.08)),
        "status": _pick(rng, ("active", "paused", "closed"), (0.92, 0.05, 0.03)),
    }
