"""The `symbioza` command: serve, migrate, seed, keys, match, evaluate, import, import-taxonomy, bench."""

import argparse
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.config import get_settings

# Seconds a uvicorn worker may take to answer its supervisor's ping before it is killed and replaced.
WORKER_PING_TIMEOUT_S = 60

Handler = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level=args.log_level,
        # uvicorn kills a worker that misses its ping for 5 s. On a loaded 2-core machine a busy worker can (seen
        # at 100k listings under read load); its replacement then spends ~25 s of CPU loading the matching index.
        timeout_worker_healthcheck=WORKER_PING_TIMEOUT_S,
    )
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from app.migrate import load_catalogues, upgrade

    upgrade()
    ewc, nace = load_catalogues()
    print(f"schema at head; EWC codes +{ewc.added} ~{ewc.updated}; NACE codes +{nace.added} ~{nace.updated}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from app.db import session_scope
    from app.seed import load_demo

    with session_scope() as session:
        report = load_demo(session, args.file)
    if report.skipped:
        print("the database already holds organizations; demo data not loaded")
    else:
        print(f"loaded {report.organizations} organizations and {report.listings} listings")
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from app.auth.service import create_key
    from app.db import session_scope
    from app.organizations.models import Organization

    with session_scope() as session:
        organization = session.get(Organization, args.org) if args.org else None
        if args.org and organization is None:
            print(f"error: no organization {args.org}", file=sys.stderr)
            return 2
        if args.role != "admin" and organization is None:
            print("error: member and agency keys need --org", file=sys.stderr)
            return 2
        key, secret = create_key(session, organization, role=args.role, name=args.name, regions=args.region or [])
        print(f"{secret}\t{args.role}\t{organization.name if organization else '-'}\tid={key.id}")
    return 0


def _keys_demo(args: argparse.Namespace) -> int:
    from app.auth.service import create_key
    from app.db import session_scope
    from app.organizations.models import Organization
    from app.seed import demo_id

    with session_scope() as session:
        member_org = session.get(Organization, demo_id(DEMO_MEMBER))
        if member_org is None:
            print("error: the demo region is not loaded (run `symbioza seed`)", file=sys.stderr)
            return 2
        _, admin = create_key(session, None, role="admin", name="demo admin")
        _, member = create_key(session, member_org, role="member", name="demo member")
    print(f"demo admin key:  {admin}")
    print(f"demo member key: {member}  ({member_org.name})")
    return 0


def _import_taxonomy(args: argparse.Namespace) -> int:
    from app.db import session_scope
    from app.taxonomy.service import import_ewc_file

    with session_scope() as session:
        report = import_ewc_file(session, args.file)
    print(f"EWC: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
    return 0


def _import_listings(args: argparse.Namespace) -> int:
    from app.auth.principal import Principal
    from app.db import session_scope
    from app.errors import ValidationFailed
    from app.listings.bulk import RowsRejected
    from app.listings.bulk_service import create_from_upload
    from app.organizations.models import Organization

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    is_json = args.file.suffix.lower() == ".json"
    where = "item" if is_json else "line"
    # The command writes as a member of the organization would: rows naming another organization are rejected.
    principal = Principal(key_id=uuid.UUID(int=0), role="member", organization_id=args.org)
    try:
        with session_scope() as session:
            if session.get(Organization, args.org) is None:
                print(f"error: no organization {args.org}", file=sys.stderr)
                return 2
            result = create_from_upload(
                session,
                principal,
                data,
                "application/json" if is_json else "text/csv",
                atomic=args.atomic,
                limited=False,
                progress=_progress,
                match=not args.defer_matching,
            )
    except RowsRejected as exc:
        print(f"0 created, {exc.rejected} rejected of {exc.total} rows: nothing was stored (--atomic)")
        _print_row_errors(where, exc.errors)
        return 1
    except ValidationFailed as exc:
        print(f"error: {args.file} cannot be imported; nothing was stored", file=sys.stderr)
        _print_row_errors(where, exc.errors)
        return 1
    print(f"{result.created} created, {result.rejected} rejected")
    _print_row_errors(where, [{"row": i.row} | e.model_dump() for i in result.items for e in i.errors])
    return 1 if result.rejected else 0


def _print_row_errors(where: str, errors: list[dict[str, Any]]) -> None:
    for error in errors:
        place = f"{where} {error['row']}: " if "row" in error else ""
        print(f"{place}{error['field']}: {error['message']}")


_stage_started: dict[str, float] = {}  # stages under way: when each began


def _progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    if done == 0 or label not in _stage_started:
        _stage_started[label] = time.perf_counter()
    end = f" in {time.perf_counter() - _stage_started.pop(label):.1f} s\n" if done >= total else ""
    print(
        f"\r{label:<20} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True
    )


def _match(args: argparse.Namespace) -> int:
    from app.db import get_engine, session_scope
    from app.matches import repository
    from app.matches.sync import FirstLoadRefused, rebuild

    started = time.perf_counter()
    try:
        with session_scope() as session:
            report = rebuild(session, progress=_progress, first_load=args.first_load)
    except FirstLoadRefused as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    _progress("vacuuming tables", 0, 1)
    repository.vacuum(get_engine())
    _progress("vacuuming tables", 1, 1)
    seconds = time.perf_counter() - started
    print(
        f"{report.listings} listings, {report.matches} matches "
        f"({report.added} added, {report.changed} changed, {report.removed} removed) in {seconds:.1f} s"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from app.evaluate import run, run_codes

    if args.codes:
        return run_codes(args.codes, as_json=args.json)
    if args.casefile is None:
        print("error: give a CASEFILE, or --codes FILE.csv", file=sys.stderr)
        return 2
    return run(args.casefile, as_json=args.json)


DEMO_MEMBER = "ec-bienczyce"  # a CHP plant of the demo region: many by-products to offer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symbioza", description="Symbioza industrial-symbiosis matchmaking.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (use 2x cores in production)")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_serve)

    commands.add_parser("migrate", help="upgrade the schema and load the code catalogues").set_defaults(
        handler=_migrate
    )

    seed = commands.add_parser("seed", help="load the demo region into an empty database")
    seed.add_argument("--file", type=Path, default=get_settings().seed_data_dir / "demo" / "region.json")
    seed.set_defaults(handler=_seed)

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--org", type=uuid.UUID, help="organization id (required for member and agency keys)")
    create.add_argument("--role", choices=("member", "agency", "admin"), required=True)
    create.add_argument("--name", default="cli key")
    create.add_argument("--region", action="append", help="NUTS prefix an agency key may read (repeatable)")
    create.set_defaults(handler=_keys_create)
    keys.add_parser("demo", help="create a demo admin key and a demo member key").set_defaults(handler=_keys_demo)

    match = commands.add_parser("match", help="recompute stored matches")
    match.add_argument("--rebuild", action="store_true", required=True, help="recompute every profile and match")
    match.add_argument(
        "--first-load",
        action="store_true",
        help="no match is stored yet and the service is not serving: on PostgreSQL the indexes and foreign keys of "
        "matches and concepts are built after their rows (faster; readers of listings and matches wait until the "
        "rebuild commits)",
    )
    match.set_defaults(handler=_match)

    evaluate = commands.add_parser("evaluate", help="measure match quality on a case file (see CASEFILE.md)")
    evaluate.add_argument("casefile", type=Path, nargs="?")
    evaluate.add_argument("--codes", type=Path, help="measure EWC code suggestion on a labelled CSV instead")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    evaluate.set_defaults(handler=_evaluate)

    imports = commands.add_parser("import", help="register data from files").add_subparsers(
        dest="import_command", required=True
    )
    listings = imports.add_parser(
        "listings", help="register an organization's listings from a CSV file (or a .json file as for the API)"
    )
    listings.add_argument("file", type=Path, help="CSV: a header row of listing field names, one listing per row")
    listings.add_argument("--org", type=uuid.UUID, required=True, help="id of the organization the listings belong to")
    listings.add_argument("--atomic", action="store_true", help="store nothing when any row is rejected")
    listings.add_argument(
        "--defer-matching",
        action="store_true",
        help="store the listings without their profiles and matches, which the next `symbioza match --rebuild` "
        "computes (a new deployment's imports, then one rebuild with --first-load); until then matching does not "
        "see them",
    )
    listings.set_defaults(handler=_import_listings)

    importer = commands.add_parser("import-taxonomy", help="load an official code list (CSV) into the catalogue")
    importer.add_argument("catalogue", choices=("ewc",))
    importer.add_argument("file", type=Path)
    importer.set_defaults(handler=_import_taxonomy)

    from app.bench.commands import add_bench

    add_bench(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
