"""`symbioza bench ...`: generate synthetic data and measure the engine, the database and the HTTP API.

Every command prints the machine it ran on and its figures; `--json FILE` also appends them to a JSON Lines file
(docs/PERFORMANCE.md and `bench plot` are made from such files). Measurements that need their own peak memory run
in a fresh process each.
"""

import argparse
import dataclasses
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from app.bench import engine_bench, machine, service_bench
from app.bench.generate import generate, iter_sizes
from app.config import get_settings

T = TypeVar("T")
READ_REGIONS = ("PL22", "PL21")  # Silesia and Małopolska: the agency of the benchmark reads these


def fresh(isolate: bool, function: Callable[..., T], *args: Any) -> T:
    """Runs `function` in a new interpreter (so that its peak memory is its own), or here when not isolating."""
    if not isolate:
        return function(*args)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _rebuild(isolate: bool, first_load: bool = False) -> dict[str, Any]:
    """service_bench.rebuild, fresh, with the most memory all of its processes held together (machine.SummedMemory):
    the figure a memory target is read against, where the peak RSS of each process counts shared pages in each."""
    with machine.SummedMemory(itself=not isolate) as memory:
        figures = fresh(isolate, service_bench.rebuild, first_load)
    return figures | {"processes_peak_pss_mb": memory.peak_mb}


class Report:
    """Prints figures as they come and keeps them for --json."""

    def __init__(self, json_path: Path | None) -> None:
        self.json_path = json_path
        self.machine: dict[str, str] = {}

    def header(self, database: str | None = None) -> None:
        self.machine = machine.describe(database)
        print("machine")
        for key, value in self.machine.items():
            print(f"  {key:<10} {value}")
        sys.stdout.flush()

    def add(self, name: str, figures: dict[str, Any]) -> None:
        print(f"\n{name}")
        for key, value in figures.items():
            print(f"  {key:<22} {_text(value)}")
        sys.stdout.flush()
        if self.json_path:
            with self.json_path.open("a", encoding="utf-8") as handle:
                record = {"benchmark": name, "at": time.strftime("%Y-%m-%d %H:%M"), "machine": self.machine}
                handle.write(json.dumps(record | {"figures": figures}) + "\n")


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="symbioza-bench-") as directory:
        yield Path(directory)


# --- commands ----------------------------------------------------------------------------------------------------


def _generate(args: argparse.Namespace) -> int:
    dataset = generate(args.listings, seed=args.seed, seed_dir=get_settings().seed_data_dir)
    if args.out:
        dataset.write(args.out)
        print(f"{len(dataset.organizations)} organizations, {len(dataset.listings)} listings -> {args.out}")
        return 0
    _use(args)
    if args.reset:
        service_bench.reset_database(get_settings().database_url)
    loaded = service_bench.load(dataset)
    print(
        f"{loaded['organizations']} organizations, {loaded['listings']} listings loaded in {loaded['seconds']:.1f} s; "
        "run `symbioza match --rebuild` to compute profiles and matches"
    )
    return 0


def _engine(args: argparse.Namespace) -> int:
    report = Report(args.json)
    report.header()
    seed_dir = get_settings().seed_data_dir
    for size in iter_sizes(args.sizes):
        with _scratch() as directory:
            data = directory / "records.pickle"
            fresh(True, engine_bench.prepare, size, args.seed, seed_dir, data)
            sample = args.sample if size >= args.sample_above else None
            report.add(f"engine rebuild, {size:,} listings", fresh(True, engine_bench.rebuild, data, seed_dir, sample))
    return 0


def _naive(args: argparse.Namespace) -> int:
    report = Report(args.json)
    report.header()
    seed_dir = get_settings().seed_data_dir
    with _scratch() as directory:
        data = directory / "records.pickle"
        fresh(True, engine_bench.prepare, args.listings, args.seed, seed_dir, data)
        report.add(
            f"naive scan vs blocking, {args.listings:,} listings", fresh(True, engine_bench.naive, data, seed_dir)
        )
    return 0


def _arrivals(args: argparse.Namespace) -> int:
    report = Report(args.json)
    report.header()
    seed_dir = get_settings().seed_data_dir
    with _scratch() as directory:
        data = directory / "records.pickle"
        fresh(True, engine_bench.prepare, args.listings, args.seed, seed_dir, data)
        figures = fresh(True, engine_bench.arrivals, data, seed_dir, args.samples, args.seed)
        report.add(f"new listings in an index of {args.listings:,}", figures)
    return 0


def _database(args: argparse.Namespace) -> int:
    url = _use(args)
    report = Report(args.json)
    seed_dir = get_settings().seed_data_dir
    for i, size in enumerate(iter_sizes(args.sizes)):
        service_bench.reset_database(url)
        if i == 0:
            report.header(service_bench.server_version())
        report.add(
            f"bulk load, {size:,} listings", service_bench.load(generate(size, seed=args.seed, seed_dir=seed_dir))
        )
        what = "first load through the database" if args.first_load else "rebuild through the database"
        report.add(f"{what}, {size:,} listings", _rebuild(True, args.first_load))
        report.add(f"rebuild again, nothing changed, {size:,} listings", _rebuild(True))
    return 0


def _incremental(args: argparse.Namespace) -> int:
    url = _use(args)
    report = Report(args.json)
    seed_dir = get_settings().seed_data_dir
    if args.load:
        service_bench.reset_database(url)
    report.header(service_bench.server_version())
    if args.load:
        dataset = generate(args.load, seed=args.seed, seed_dir=seed_dir)
        report.add(f"bulk load, {args.load:,} listings", service_bench.load(dataset))
        del dataset
        report.add(f"profiles stored, no matches, {args.load:,} listings", fresh(True, service_bench.store_profiles))
        service_bench.vacuum()
    admin, _ = service_bench.bench_keys(READ_REGIONS)
    bodies = service_bench.new_listings(args.requests + 3, args.seed, seed_dir)
    with service_bench.server(args.workers) as base:
        figures = service_bench.incremental(base, admin, bodies)
    report.add(f"create over HTTP until matches are stored ({args.workers} workers)", figures)
    return 0


@dataclasses.dataclass(frozen=True)
class Load:
    """How the read benchmarks drive the server."""

    workers: int
    seconds: float
    concurrency: int
    max_requests: int
    seed: int

    def title(self, label: str = "") -> str:
        return f"({self.workers} workers, {self.concurrency} concurrent clients{', ' + label if label else ''})"


def _reads(args: argparse.Namespace) -> int:
    """Listing reads with every page built (page cache off); then on a fresh server whose caches start empty (cold),
    while they fill (warming up: each worker builds each page once) and once filled (warm); then the region
    list."""
    _use(args)
    report = Report(args.json)
    report.header(service_bench.server_version())
    service_bench.vacuum()
    admin, agency = service_bench.bench_keys(READ_REGIONS)
    load = Load(args.workers, args.seconds, args.concurrency, args.max_requests, args.seed)
    with service_bench.server(args.workers, {"SYMBIOZA_PAGE_CACHE_MB": "0"}) as base:
        _listing_reads(report, base, admin, load, "page cache off")
        _regional_reads(report, base, agency, load, "totals counted every time")
    with service_bench.server(args.workers) as base:
        _listing_reads(report, base, admin, load, "page cache on, cold")
        warming = dataclasses.replace(load, seconds=args.warm_up)
        _listing_reads(report, base, admin, warming, f"page cache on, warming up for {args.warm_up:.0f} s")
        _listing_reads(report, base, admin, load, "page cache on, warm")
        _regional_reads(report, base, agency, load, "totals kept")
    return 0


def _read_figures(report: Report, base: str, load: Load) -> None:
    admin, agency = service_bench.bench_keys(READ_REGIONS)
    _listing_reads(report, base, admin, load)
    _regional_reads(report, base, agency, load)


def _listing_reads(report: Report, base: str, key: str, load: Load, label: str = "") -> None:
    listings = service_bench.listings_with_matches(1000, load.seed)
    paths = [f"/api/v1/listings/{listing_id}/matches" for listing_id in listings]
    figures = service_bench.reads(
        base,
        key,
        paths,
        seconds=load.seconds,
        concurrency=load.concurrency,
        max_requests=load.max_requests,
        use_wrk=True,
    )
    report.add(f"GET /listings/{{id}}/matches {load.title(label)}", figures | {"listings_read": len(paths)})


def _regional_reads(report: Report, base: str, agency: str, load: Load, label: str = "") -> None:
    """An agency paging through its regions' matches: the first ten pages of each."""
    paths = [
        f"/api/v1/matches?region={region}&limit=50&offset={offset}"
        for region in READ_REGIONS
        for offset in range(0, 500, 50)
    ]
    figures = service_bench.reads(
        base, agency, paths, seconds=load.seconds, concurrency=load.concurrency, max_requests=load.max_requests
    )
    report.add(f"GET /matches?region=... (agency key) {load.title(label)}", figures)


def _quick(args: argparse.Namespace) -> int:
    """Everything at one size, the database on SQLite in a temporary folder unless --url names one."""
    with _scratch() as directory:
        url = args.url or f"sqlite:///{directory / 'bench.db'}"
        quick(
            listings=args.listings,
            naive_listings=args.naive_listings,
            url=url,
            workers=args.workers,
            requests=args.requests,
            seconds=args.seconds,
            concurrency=args.concurrency,
            arrivals=args.arrivals,
            seed=args.seed,
            json_path=args.json,
            directory=directory,
        )
    return 0


def quick(
    *,
    listings: int,
    naive_listings: int,
    url: str,
    workers: int,
    requests: int,
    seconds: float,
    concurrency: int,
    arrivals: int,
    seed: int,
    json_path: Path | None,
    directory: Path,
    isolate: bool = True,
) -> Report:
    seed_dir = get_settings().seed_data_dir
    service_bench.reset_database(url)
    report = Report(json_path)
    report.header(service_bench.server_version())
    data, naive_data = directory / "records.pickle", directory / "naive.pickle"
    fresh(isolate, engine_bench.prepare, listings, seed, seed_dir, data)
    fresh(isolate, engine_bench.prepare, naive_listings, seed, seed_dir, naive_data)
    report.add(f"engine rebuild, {listings:,} listings", fresh(isolate, engine_bench.rebuild, data, seed_dir))
    figures = fresh(isolate, engine_bench.arrivals, data, seed_dir, arrivals, seed)
    report.add(f"new listings in an index of {listings:,}", figures)
    figures = fresh(isolate, engine_bench.naive, naive_data, seed_dir)
    report.add(f"naive scan vs blocking, {naive_listings:,} listings", figures)
    report.add(
        f"bulk load, {listings:,} listings", service_bench.load(generate(listings, seed=seed, seed_dir=seed_dir))
    )
    report.add(f"rebuild through the database, {listings:,} listings", _rebuild(isolate))
    report.add(f"rebuild again, nothing changed, {listings:,} listings", _rebuild(isolate))
    admin, _ = service_bench.bench_keys(READ_REGIONS)
    bodies = service_bench.new_listings(requests + 3, seed, seed_dir)
    with service_bench.server(workers) as base:
        figures = service_bench.incremental(base, admin, bodies)
        report.add(f"create over HTTP until matches are stored ({workers} workers)", figures)
        _read_figures(report, base, Load(workers, seconds, concurrency, 1_000_000, seed))
    return report


def _plot(args: argparse.Namespace) -> int:
    from app.bench.plot import plot

    plot(args.results, args.out)
    print(f"plot -> {args.out}")
    return 0


def _use(args: argparse.Namespace) -> str:
    url: str = args.url or get_settings().database_url
    service_bench.use_database(url)
    return url


# --- parser ------------------------------------------------------------------------------------------------------


def add_bench(commands: Any) -> None:
    """Adds `bench` and its subcommands to the `symbioza` parser."""
    bench = commands.add_parser("bench", help="synthetic data and performance benchmarks (see docs/PERFORMANCE.md)")
    sub = bench.add_subparsers(dest="bench_command", required=True)

    def common(parser: argparse.ArgumentParser, *, url: bool = False) -> None:
        parser.add_argument("--seed", type=int, default=1, help="the generator's seed (same seed, same data)")
        parser.add_argument("--json", type=Path, help="also append the figures to this JSON Lines file")
        if url:
            parser.add_argument("--url", help="database URL (default: SYMBIOZA_DATABASE_URL)")

    gen = sub.add_parser("generate", help="synthetic organizations and listings: to a file, or into the database")
    gen.add_argument("--listings", type=_size, required=True, help="how many, e.g. 10000 or 10k or 1M")
    gen.add_argument("--seed", type=int, default=1)
    where = gen.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="write region.json-style JSON (organizations and listings)")
    where.add_argument("--database", action="store_true", help="bulk-load into the database")
    gen.add_argument("--url", help="database URL (default: SYMBIOZA_DATABASE_URL)")
    gen.add_argument("--reset", action="store_true", help="wipe the database first (drops its public schema)")
    gen.set_defaults(handler=_generate)

    engine = sub.add_parser("engine", help="full rebuild by the engine alone: wall time and peak memory per size")
    engine.add_argument("--sizes", default="10k,30k,100k")
    engine.add_argument(
        "--sample", type=int, default=2000, help="at large sizes, rank this many offers and this many needs"
    )
    engine.add_argument("--sample-above", type=_size, default=_size("200k"), help="sizes from which to sample")
    common(engine)
    engine.set_defaults(handler=_engine)

    naive = sub.add_parser("naive", help="every offer x need without blocking, against blocking: speed and recall")
    naive.add_argument("--listings", type=_size, default=_size("10k"))
    common(naive)
    naive.set_defaults(handler=_naive)

    arrivals = sub.add_parser("arrivals", help="candidates of new listings in a large index (the engine alone)")
    arrivals.add_argument("--listings", type=_size, default=_size("1M"))
    arrivals.add_argument("--samples", type=int, default=200)
    common(arrivals)
    arrivals.set_defaults(handler=_arrivals)

    database = sub.add_parser("database", help="bulk load and full rebuild through the database (WIPES IT) per size")
    database.add_argument("--sizes", default="10k,30k")
    database.add_argument(
        "--first-load", action="store_true", help="the rebuild from empty as `symbioza match --rebuild --first-load`"
    )
    common(database, url=True)
    database.set_defaults(handler=_database)

    incremental = sub.add_parser("incremental", help="POST /listings until matches are stored, on the loaded database")
    incremental.add_argument("--requests", type=int, default=200)
    incremental.add_argument("--workers", type=int, default=4)
    incremental.add_argument(
        "--load", type=_size, help="first WIPE the database and load this many listings with profiles, no matches"
    )
    common(incremental, url=True)
    incremental.set_defaults(handler=_incremental)

    reads = sub.add_parser("reads", help="concurrent GETs from a separate load-generator process")
    reads.add_argument("--workers", type=int, default=4)
    reads.add_argument("--seconds", type=float, default=20.0)
    reads.add_argument("--concurrency", type=int, default=16)
    reads.add_argument("--max-requests", type=int, default=1_000_000)
    reads.add_argument(
        "--warm-up", type=float, default=180.0, help="seconds of reads between the cold and the warm pass"
    )
    common(reads, url=True)
    reads.set_defaults(handler=_reads)

    quick_parser = sub.add_parser("quick", help="every benchmark at 10k listings, in a few minutes (CI)")
    quick_parser.add_argument("--listings", type=_size, default=_size("10k"))
    quick_parser.add_argument("--naive-listings", type=_size, default=_size("3k"))
    quick_parser.add_argument("--workers", type=int, default=4)
    quick_parser.add_argument("--requests", type=int, default=50)
    quick_parser.add_argument("--seconds", type=float, default=10.0)
    quick_parser.add_argument("--concurrency", type=int, default=8)
    quick_parser.add_argument("--arrivals", type=int, default=50)
    common(quick_parser, url=True)
    quick_parser.set_defaults(handler=_quick)

    plot = sub.add_parser("plot", help="a PNG of cost against size from --json results (needs matplotlib)")
    plot.add_argument("results", type=Path, nargs="+")
    plot.add_argument("--out", type=Path, default=Path("docs/performance.png"))
    plot.set_defaults(handler=_plot)


def _size(text: str) -> int:
    return next(iter_sizes(text))
